"""Test helpers importable as tests.helpers (random chunkings)."""
from __future__ import annotations

import numpy as np

from emgpipe.types import Chunk


def split_points(n: int, rng: np.random.Generator, max_len: int | None = None, p_empty=0.2):
    """Random uneven split points of n samples, including zero-length pieces."""
    max_len = max_len or max(1, n // 3)
    cuts, pos = [0], 0
    while pos < n:
        step = 0 if rng.random() < p_empty else int(rng.integers(1, max_len + 1))
        pos = min(n, pos + step)
        cuts.append(pos)
    cuts.append(n)  # a trailing empty chunk
    return cuts


def random_chunks(x: np.ndarray, fs: float, rng, seq0: int = 0, ch_names=None, **kw):
    """Chunks of x in random uneven sizes (some empty), consecutive seq."""
    cuts = split_points(len(x), rng, **kw)
    for a, b in zip(cuts[:-1], cuts[1:]):
        yield Chunk(x[a:b], fs=fs, seq=seq0 + a, ch_names=ch_names or ())
