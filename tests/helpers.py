"""Test helpers importable as tests.helpers (random chunkings, cramp onsets of the
default pipeline, Ctrl-C as in a terminal)."""
from __future__ import annotations

import signal
from contextlib import contextmanager

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


def load_script(path):
    """A script that is not a package module (``benchmarks/*.py``), imported from its file."""
    import importlib.util
    from pathlib import Path
    path = Path(path)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def cramp_onsets(x: np.ndarray, fs: float, ch_names, mode: str = "awake", step_s: float = 0.5,
                 model=None) -> list:
    """The cramp onset events of the pipeline (the default model, or ``model``)
    on ``x`` replayed in ``step_s`` chunks (:func:`replay_chunks`)."""
    return [e for e in replay_chunks(x, fs, ch_names, mode, step_s, model)
            if e.kind == "cramp" and e.status == "onset"]


@contextmanager
def ctrl_c_enabled():
    """Ctrl-C (SIGINT) acts as in a terminal for the block: ``KeyboardInterrupt``.

    A test runner started with SIGINT ignored (a background job of a
    non-interactive shell: ``cmd &`` in a CI script) or blocked passes that on
    to this process and to every child it starts, and emgpipe then rightly
    keeps ignoring Ctrl-C; a Ctrl-C test would then see no stop at all. Inside
    the block SIGINT is neither ignored nor blocked here, nor in children
    started here (an ignored signal stays ignored across ``exec``, a handled
    one is reset to the default). POSIX only; call it from the main thread.
    """
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        signal.signal(signal.SIGINT, old)


def replay_chunks(x: np.ndarray, fs: float, ch_names, mode: str = "awake", chunk_s: float = 1.0,
                  model=None) -> list:
    """Every event of the pipeline (onsets and finals, as announced) over ``x``
    replayed in ``chunk_s`` chunks (:func:`emgpipe.pipeline.run_recording`)."""
    from emgpipe.io.base import Recording
    from emgpipe.pipeline import run_recording
    rec = Recording("<array>", fs, tuple(ch_names), [(0, np.asarray(x, dtype=float))])
    return run_recording(rec, mode=mode, model=model, chunk_s=chunk_s).announced
