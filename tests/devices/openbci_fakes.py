"""Test helpers: stream collection, firmware-3 decoding oracle, exact firmware-2 signals.

The Ganglion's firmware encoders and its emulator at the bleak API boundary live in
:mod:`emgpipe.devices.ganglion.emulator` (``GanglionEmulator``, ``ble_api``).
"""
from __future__ import annotations

import threading

import numpy as np

from emgpipe.devices.ganglion.emulator import fw3_field


def random_uv(n: int, n_ch: int, seed: int = 0, scale: float = 200.0) -> np.ndarray:
    """Random µV samples (well within full scale at every gain)."""
    return np.random.default_rng(seed).normal(0.0, scale, (n, n_ch))


def collect(src, n_samples: int, timeout: float = 10.0, on_chunk=None, until=None) -> list:
    """Chunks from ``src`` until ``n_samples`` samples (not counting gaps) arrived.

    ``on_chunk(chunk, total)`` runs after each chunk (to inject faults);
    ``until(chunks)``, if given, must also be true before collection stops
    (wait for an effect, not for a sample count that a lagging consumer may
    reach before the effect). A stuck source is stopped after ``timeout`` s
    so the test fails, not hangs.
    """
    out, got = [], 0
    timer = threading.Timer(timeout, src.stop)
    timer.start()
    try:
        for chunk in src:
            out.append(chunk)
            got += chunk.n_samples
            if on_chunk is not None:
                on_chunk(chunk, got)
            if got >= n_samples and (until is None or until(out)):
                break
    finally:
        timer.cancel()
    assert got >= n_samples, f"only {got} of {n_samples} samples within {timeout} s"
    assert until is None or until(out), f"condition not met within {timeout} s"
    return out


def samples_after_gap(chunks) -> int:
    """Samples received after the first gap (-1 while there is none)."""
    for i, c in enumerate(chunks):
        if c.gaps:
            return sum(x.n_samples for x in chunks[i:])
    return -1


def assemble(chunks) -> tuple:
    """(seq of every sample, stacked data, all gaps); checks chunk/gap continuity."""
    seqs, data, gaps, nxt = [], [], [], 0  # a fresh source starts at seq 0
    for c in chunks:
        missing = sum(g.n_missing for g in c.gaps)
        if c.gaps:
            assert c.gaps[0].seq == nxt, (c.gaps, nxt)
        assert c.seq == nxt + missing, (c, nxt, missing)
        seqs.append(c.seq + np.arange(c.n_samples))
        data.append(c.data)
        gaps.extend(c.gaps)
        nxt = c.next_seq
    return np.concatenate(seqs), np.concatenate(data), gaps


def fw3_expected(counts: np.ndarray, bits: int = 19) -> np.ndarray:
    """What a correct fw3 decoder returns: the sent field shifted back."""
    shift = 24 - bits
    return np.vectorize(lambda v: fw3_field(v, bits) << shift)(counts)


def exact_fw2_counts(n: int, rng, step: int = 3000) -> np.ndarray:
    """Counts whose fw2 deltas already have bit0 == sign, so fw2 decodes exactly."""
    d = rng.integers(-step, step, size=(n, 4))
    d = np.where(d >= 0, d & ~1, d | 1)  # positive even, negative odd
    start = rng.integers(-100000, 100000, size=(1, 4))
    return start - np.cumsum(np.vstack([np.zeros((1, 4), int), d[1:]]), axis=0)
