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

Behind an AC-coupled front end whose high-pass is near the EMG band (a
MyoWare's 20 Hz band-pass before a Ganglion: 2nd order, so the step's response
crosses zero after ~9 ms) and a sinc decimator at 200 Hz, the step does not
hold: it is an edge of one or two samples and then an *opposite lobe* that
lasts the high-pass's time scale (~35 ms at 20 Hz) and carries the edge's
area back (a high-pass passes no DC, so the response's area is zero). A
motor-unit potential has no such phase: a whole fasciculation potential lasts
5-25 ms (physiology notes §2), and the area of its main phase is balanced by
the phases on both sides of it. So an edge is also a pop (the AC test) when:

* the level before it is near zero (within the swing below: a high-pass
  passes no DC, while a DC-coupled amplifier carries the electrodes' offset
  of millivolts, and there steps hold), and quiet (no excursion of half that
  swing in the ``pre_s`` before: not a later phase of a potential);
* the opposite lobe after it lasts at least ``lobe_s`` (25 ms, the longest
  whole potential), carries at least the edge lobe's area, and is one broad
  hump over ``lobe_s``: its mean is half its extreme at least (a 2nd-order
  high-pass's step response: 0.68 at 20 Hz), which it reaches before
  ``lobe_s`` is over, and after it it only decays (a rise back of more than
  the noise is another potential's phase);
* the swing from the edge's peak to the lobe's is ``min_uv`` and ``k`` x the
  mean sample-to-sample change before it, as for a step.

The first potential of a contraction out of rest (a stride, a press) can pass
the AC test: those pops (:attr:`PopScanner.unheld`) are no fasciculations,
which are not looked for in a contraction anyway. The quality stage reports
one as an artefact only once it is known to stand alone (no other pop edge
within 1.5 s) with the channel back at rest after it (model 0.7.15,
:meth:`.quality.QualityDetector._ac_judge`; reported unconditionally, those of
the test's first version made 140 false electrode-pop events on the standard
set, most of them fragments of cable motion while walking).

The scanner keeps the last few samples of each channel between chunks, so each
edge is judged once with its full context whatever the chunking; a gap resets
it. It judges an edge once :func:`wait_samples` after it has arrived (the
hold, or the AC test's edge and lobe).
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
    lobe_s: float = 0.025       # AC test: the opposite lobe lasts this long (inf: no AC test)


#: AC test: the edge lobe is shorter than ``lobe_s`` (a 20 Hz high-pass's crosses
#: zero after ~9 ms, a 10 Hz one's after ~18 ms), and the opposite lobe's area is
#: taken over at most this many x ``lobe_s`` (a 20 Hz high-pass's lasts ~35 ms)
_AC_SPAN = 2


def _n_lobe(s: PopSettings, fs: float) -> int:
    return max(2, int(math.ceil(s.lobe_s * fs - 1e-9)))


def wait_samples(s: PopSettings, fs: float) -> int:
    """Samples after an edge that its judgement needs: the hold, and with the
    AC test its edge lobe and opposite lobe (``lobe_s`` and ``_AC_SPAN`` x ``lobe_s``)."""
    n_hold = max(3, int(math.ceil(s.hold_s * fs)))
    if not math.isfinite(s.lobe_s):
        return n_hold
    return max(n_hold, (1 + _AC_SPAN) * _n_lobe(s, fs))


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
        #: the pops of the last call found by the AC test alone (their edge does not hold)
        self.unheld: set = set()

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
        hi = len(x) - wait_samples(s, fs)              # edges before this have all they are judged on
        out = []
        self.unheld = set()
        if hi > lo and len(x) > 1:
            # edges i in [lo, hi) whose change |x[i] - x[i-1]| is min_uv and k x the mean
            # |change| over the n_pre - 1 changes before it (one compiled pass)
            cand = _kernels.pop_candidates(x, lo, hi, n_pre, s.min_uv, s.k)
            if len(cand):
                out = self._steps(x, cand, n_pre, n_hold, base, fs)
            if math.isfinite(s.lobe_s):
                held = set(out)
                self.unheld = {p for p in self._ac_steps(x, max(lo, n_pre + 1), hi, n_pre, base, fs)
                               if p not in held}
                out += self.unheld
            self._next = base + hi
        self._carry = x[max(self._next - base - n_pre - 1, 0):].copy()
        out.sort(key=lambda p: (p[1], p[0]))
        return out

    def _ac_steps(self, x: np.ndarray, lo: int, hi: int, n_pre: int, base: int, fs: float) -> list:
        """The AC test (module docstring) on edges ``lo <= i < hi``:
        ``[(channel, time s)]`` (one compiled pass, :func:`.._kernels.ac_pops`)."""
        s = self.settings
        n_lobe = _n_lobe(s, fs)
        rows = _kernels.ac_pops(x, lo, hi, n_pre, n_lobe, _AC_SPAN * n_lobe, s.min_uv, s.k, _FLAT_UV)
        return [(int(c), (base + int(i)) / fs) for i, c in rows]

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
