"""Lost samples from a device's wrapping packet counter, sized with the host clock.

A counter that wraps (Cyton 0-255, Ganglion GUI files 0-200) shows a loss only
modulo one counter cycle, and a BLE reconnection resets it. The host arrival
timestamp (epoch seconds, or the GUI's HH:MM:SS.mmm) shows a loss of any
length, but only to within its arrival jitter (tens of ms over BLE). This
module combines the two:

1. Consecutive rows with the same counter value form one packet (BrainFlow's
   Ganglion puts 2 samples in each packet id); the usual step between packets
   is learned from the data (1 for Cyton; 2 for a Daisy counter).
   ``round(step / usual) - 1`` packets are lost at each counter jump.
2. Where the clock advances more than half a counter cycle beyond what the
   counter says, the extra time is measured from the *lower envelope* of the
   clock offset (``clock - sample_position / fs``) in windows of up to 2 s on
   either side. Arrival latency is never negative, so the minimum offset is
   the best estimate of the clock alignment; a stall that delivers buffered
   samples late raises the offset only briefly and so adds nothing, while a
   real loss raises it for good (the NTP "minimum delay" idea).
3. If the extra time is a whole number of counter cycles (within 0.1 cycle),
   the counter is right modulo its cycle and those cycles are added (exact);
   otherwise the counter restarted (BLE reconnect resets the board,
   protocols.md §4.3) and the clock's count is used.

Clock steps backwards (a host clock adjustment) are ignored; a clock jump
forward without a loss (NTP step) would be taken for a loss.
"""
from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from .base import segments_from_missing

log = logging.getLogger(__name__)

#: Lower-envelope window each side of a suspected clock gap (s): long enough to
#: contain a few minimum-latency arrivals, short against host/device drift
#: (~0.1 % measured in the OpenBCI GUI sample = 2 ms per window).
ENVELOPE_S = 2.0
#: Half a counter cycle beyond the counter's count flags a clock gap.
CANDIDATE_CYCLES = 0.5
#: Whole cycles are accepted when the clock agrees within this fraction of a cycle.
CYCLE_TOLERANCE = 0.1

REASON_COUNTER = "dropped packets (sample index jump)"
REASON_CLOCK = "dropped packets (clock jump; sample index restarted or wrapped)"


def counter_missing(index: np.ndarray, modulo: int | None = None):
    """Samples lost after each row according to the counter alone.

    Parameters
    ----------
    index : (n,) array
        Device packet/sample counter per row.
    modulo : int, optional
        The counter's cycle (256 for Cyton); default ``max(index) + 1``.

    Returns
    -------
    missing : (n,) int64
        Samples lost after row ``i``.
    cycle : int
        Samples in one counter cycle.

    Examples
    --------
    >>> counter_missing(np.array([254, 255, 2, 3]), 256)[0].tolist()
    [0, 2, 0, 0]
    >>> counter_missing(np.array([7, 7, 8, 8, 11, 11]), 200)[0].tolist()  # 2 rows per packet
    [0, 0, 0, 4, 0, 0]
    """
    index = np.asarray(index, dtype=np.int64)
    n = len(index)
    missing = np.zeros(n, np.int64)
    m = int(modulo) if modulo else int(index.max()) + 1 if n else 1
    if n < 2:
        return missing, m
    change = np.flatnonzero(index[1:] != index[:-1])      # row i -> i+1 starts a packet
    if change.size == 0:
        return missing, m
    sizes = np.diff(np.concatenate(([-1], change, [n - 1])))
    per_packet = max(1, int(np.median(sizes)))
    step = np.mod(index[change + 1] - index[change], m)
    pos = step[step > 0]
    usual = int(np.bincount(pos).argmax()) if pos.size else 1
    lost_packets = np.maximum(0, np.rint(step / usual).astype(np.int64) - 1)
    missing[change] = lost_packets * per_packet
    return missing, int(round(m / usual)) * per_packet


def clock_refine(missing: np.ndarray, clock: np.ndarray, fs: float, cycle: int):
    """Add losses the clock shows beyond the counter (see module doc).

    Returns
    -------
    missing : (n,) int64
        Updated copy.
    by_clock : (n,) bool
        Rows whose loss was sized by the clock (counter restarted).
    """
    missing = np.array(missing, dtype=np.int64)
    by_clock = np.zeros(len(missing), bool)
    clock = np.asarray(clock, dtype=np.float64)
    n = len(clock)
    if n < 2:
        return missing, by_clock
    pos = np.arange(n) + np.concatenate(([0], np.cumsum(missing[:-1])))
    off = clock - pos / fs
    cycle_s = cycle / fs
    jump = np.diff(off)                              # clock advance beyond the counter's
    cand = np.flatnonzero(jump > max(CANDIDATE_CYCLES * cycle_s, 0.25))
    if cand.size == 0:
        return missing, by_clock
    w = max(1, int(ENVELOPE_S * fs))
    bounds = np.concatenate(([-1], cand, [n - 1]))
    for k, i in enumerate(cand):
        lo = max(bounds[k] + 1, i + 1 - w)
        hi = min(bounds[k + 2] + 1, i + 1 + w)
        extra = (off[i + 1:hi].min() - off[lo:i + 1].min()) * fs   # samples
        cycles = round(extra / cycle)
        if cycles >= 1 and abs(extra - cycles * cycle) <= CYCLE_TOLERANCE * cycle:
            missing[i] += cycles * cycle
        elif extra > CYCLE_TOLERANCE * cycle:
            missing[i] = int(round(missing[i] + extra))
            by_clock[i] = True
    return missing, by_clock


def split_missing(data: np.ndarray, missing: np.ndarray, fs: float, reason: str):
    """:func:`~emgpipe.io.base.segments_from_missing` with plain ``int`` sample indices."""
    segments, gaps = segments_from_missing(data, missing, fs, reason=reason)
    return ([(int(s), d) for s, d in segments],
            [replace(g, seq=int(g.seq), n_missing=int(g.n_missing)) for g in gaps])


def segments_from_counter(path, data: np.ndarray, index: np.ndarray, fs: float, *,
                          modulo: int | None = None, clock: np.ndarray | None = None):
    """Segments and gaps of a recording with a packet counter and optional clock.

    Returns
    -------
    segments, gaps : list of (seq, data), list of Gap
    """
    missing, cycle = counter_missing(index, modulo)
    by_clock = np.zeros(len(missing), bool)
    if clock is not None and len(clock) == len(missing) and np.isfinite(clock).all():
        missing, by_clock = clock_refine(missing, clock, fs, cycle)
    segments, gaps = split_missing(data, missing, fs, REASON_COUNTER)
    rows = np.flatnonzero(missing > 0)
    gaps = [replace(g, reason=REASON_CLOCK) if by_clock[r] else g for g, r in zip(gaps, rows)]
    if gaps:
        log.info("%s: %d gap(s), %.3f s lost", path, len(gaps), sum(g.n_missing for g in gaps) / fs)
    return segments, gaps
