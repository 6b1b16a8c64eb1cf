"""Electrode pops: steps in the raw signal, found causally and chunk-invariantly.

An electrode pop is a sudden change of the electrode-skin half-cell potential
(a cable tug, a drying gel, an electrode lifting at night): the raw signal
*jumps within one sample* and then decays back with the electrode's time
constant (tens of ms to seconds), or, behind an AC-coupled front end, with the
front end's high-pass (about 16 ms at 10 Hz, 8 ms at 20 Hz). After the
detector's own 20 Hz high-pass such a step looks like a large monophasic
spike, which the potential finder would take for a fasciculation.

What tells a pop from a motor-unit potential (fasciculation) in the raw signal:

* the rise: a pop reaches at least ``rise_frac`` of its height in the one
  sample of its edge; a motor-unit potential builds up over its first phase;
* the hold: after the edge the signal stays on the step's side of the level
  before it (above ``hold_frac`` of the step) for ``hold_s``; a motor-unit
  potential's phases last 1-8 ms and it is bi- or triphasic (needle FPs:
  duration 12.6 +- 4.4 ms, 3.25 phases, physiology notes §2, ``docs/physiology.md``);
* the smoothness: over the hold it decays, changing by at most
  ``smooth_frac`` of the step per sample (an interference pattern goes on
  jumping after its first large change);
* the size: ``min_uv`` and ``k`` times the mean sample-to-sample change of the
  ``pre_s`` before it (so an interference pattern, where large changes are
  ordinary, never makes a pop).

The scanner keeps the last few samples of each channel between chunks, so each
edge is judged once with its full context whatever the chunking; a gap resets
it. At 200-250 Hz the hold spans only 2 samples and a pop behind a 20 Hz
high-pass is hard to tell from a potential: pops are then found mainly on
DC-coupled devices (Cyton).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..dsp import _kernels


#: A stretch moving less than this (µV) is a flat line (lead-off, a clipped rail).
_FLAT_UV = 1e-6


@dataclass(frozen=True)
class PopSettings:
    min_uv: float = 60.0        # smallest step (µV); reported pops are 100 µV and more
    k: float = 8.0              # ... and this x the mean sample-to-sample change before it
    rise_frac: float = 0.6      # share of the step reached in the edge's one sample
    hold_s: float = 0.008       # the signal stays on the step's side this long ...
    hold_frac: float = 0.3      # ... above this fraction of the step (at least 3 samples)
    smooth_frac: float = 0.25   # ... changing by at most this fraction of the step per sample
    pre_s: float = 0.05         # the level and noise before the edge


class PopScanner:
    """Find pops in raw chunks; call with ``(data, fs, seq)``, returns ``[(channel index, time s)]``.

    Times are sample times ``(seq + i) / fs`` of the edge sample. A pop is
    reported once its ``hold_s`` after the edge has arrived.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(1).normal(0, 3, (2000, 1))
    >>> x[1200:, 0] += 150 * np.exp(-np.arange(800) / 80.0)     # a pop at 1.2 s
    >>> [(c, round(t, 3)) for c, t in PopScanner()(x, 1000.0, 0)]
    [(0, 1.2)]
    """

    def __init__(self, settings: PopSettings | None = None):
        self.settings = settings or PopSettings()
        self._carry = None       # (n_carry, C) raw samples before the next unscanned edge's context
        self._next = 0           # absolute index of the next edge to judge
        self._fs = None
        self._end = None

    def reset(self):
        self._carry, self._fs = None, None

    def __call__(self, data: np.ndarray, fs: float, seq: int) -> list:
        s = self.settings
        if self._fs != fs or self._carry is None or self._carry.shape[1] != data.shape[1] \
                or self._end != seq:
            # new stream, new rate or a jump of the sample index (gap): start over
            self._fs, self._carry, self._next = fs, data[:0], seq
        self._end = seq + len(data)
        x = np.concatenate([self._carry, data]) if len(self._carry) else data
        base = self._end - len(x)                      # absolute index of x[0]
        n_pre = max(2, int(round(s.pre_s * fs)))
        n_hold = max(3, int(math.ceil(s.hold_s * fs)))
        lo = max(self._next - base, n_pre)             # first edge (index into x) to judge
        hi = len(x) - n_hold                           # edges before this have their hold
        out = []
        if hi > lo and len(x) > 1:
            # edges i in [lo, hi) whose change |x[i] - x[i-1]| is min_uv and k x the mean
            # |change| over the n_pre - 1 changes before it (one compiled pass)
            cand = _kernels.pop_candidates(x, lo, hi, n_pre, s.min_uv, s.k)
            if len(cand):
                out = self._steps(x, cand, n_pre, n_hold, base, fs)
            self._next = base + hi
        self._carry = x[max(self._next - base - n_pre, 0):].copy()
        out.sort(key=lambda p: (p[1], p[0]))
        return out

    def _steps(self, x: np.ndarray, cand: np.ndarray, n_pre: int, n_hold: int, base: int, fs: float) -> list:
        """The candidate edges ``cand`` ((m, 2) rows ``(i, channel)``) that are
        steps: ``[(channel, time s)]``. All candidates at once (a chunk of
        bursting EMG gives hundreds, ~30 µs each one by one, issue 15); each
        test is the same float operation as on one candidate, and a row's mean
        over axis 1 is numpy's mean of that row, so the result is bit for bit
        that of a loop over them (tests/detect/test_pops.py)."""
        s = self.settings
        i, ch = cand[:, 0], cand[:, 1]
        pre = x[i[:, None] + np.arange(-n_pre, 0)[None, :], ch[:, None]]      # (m, n_pre)
        seg = x[i[:, None] + np.arange(n_hold)[None, :], ch[:, None]]         # (m, n_hold)
        # each test rejects as the loop's "if ...: continue" did (a NaN rejects nothing)
        # into or out of a flat line: a lead-off (a signal_loss), not a pop
        ok = ~(np.ptp(pre, axis=1) < _FLAT_UV) & ~(np.ptp(seg, axis=1) < _FLAT_UV)
        ref = pre.mean(axis=1)
        step = x[i, ch] - ref
        mag = np.abs(step)
        ok &= ~(mag < s.min_uv) & ~(np.abs(x[i, ch] - x[i - 1, ch]) < s.rise_frac * mag)
        after = np.sign(step)[:, None] * (seg - ref[:, None])
        ok &= ~(after.min(axis=1) < s.hold_frac * mag)
        # an interference pattern goes on after its edge: not a step
        ok &= ~(np.abs(np.diff(seg, axis=1)).mean(axis=1) > s.smooth_frac * mag)
        return [(int(c), (base + int(j)) / fs) for j, c in cand[ok]]
