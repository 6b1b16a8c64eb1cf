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


def is_counter(index) -> bool:
    """Whether a column can be a device counter: finite whole numbers in 0 .. MAX_COUNTER."""
    idx = np.asarray(index, dtype=np.float64)
    return bool(idx.size == 0 or (np.isfinite(idx).all() and idx.min() >= 0
                                  and idx.max() < MAX_COUNTER and np.all(idx == np.rint(idx))))


def _usual_step(pos: np.ndarray) -> int:
    """The most frequent positive counter step (the smallest on a tie; no bincount over
    a huge range)."""
    if not pos.size:
        return 1
    vals, counts = np.unique(pos, return_counts=True)
    return int(vals[int(np.argmax(counts))])


def _clock_extra_ok(extra: float, fs: float) -> bool:
    return bool(np.isfinite(extra)) and extra <= MAX_CLOCK_GAP_S * fs

#: Lower-envelope window each side of a suspected clock gap (s): long enough to
#: contain a few minimum-latency arrivals, short against host/device drift
#: (~0.1 % measured in the OpenBCI GUI sample = 2 ms per window).
ENVELOPE_S = 2.0
#: Half a counter cycle beyond the counter's count flags a clock gap.
CANDIDATE_CYCLES = 0.5
#: Whole cycles are accepted when the clock agrees within this fraction of a cycle.
CYCLE_TOLERANCE = 0.1

#: A device counter never gets this large (Cyton 0-255, Ganglion 0-200, BrainFlow
#: package_num 0-255, BITalino nSeq 0-15); larger values are corrupt, not counters.
MAX_COUNTER = 1 << 32
#: The longest loss a clock jump may size (s): beyond a week it is a corrupt or
#: absurd clock value (e.g. an 11-digit number), not a loss, and is ignored.
MAX_CLOCK_GAP_S = 7 * 86400.0

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
    usual = _usual_step(step[step > 0])
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
        with np.errstate(all="ignore"):
            extra = (off[i + 1:hi].min() - off[lo:i + 1].min()) * fs   # samples
        if not _clock_extra_ok(extra, fs):
            log.warning("clock jumps by %.3g s after row %d: not a loss (corrupt clock value?); "
                        "ignored", extra / fs, int(i) + 1)
            continue
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


class CounterStream:
    """:func:`segments_from_counter` for a file read block by block.

    The counter's statistics that the one-shot form learns from the whole
    file (samples per packet, the usual counter step, the counter's cycle when
    no ``modulo`` is given) are learned from a *prefix* (the reader's first
    block, up to :data:`~emgpipe.io._text.STREAM_LINES` rows); so a file that
    fits in the prefix gets exactly the one-shot result, and a longer one the
    same unless its counter behaves differently after the prefix. Everything
    else is carried across blocks exactly: the counter step between blocks,
    the sample positions, and the clock's lower envelope, for which rows are
    held back until ``ENVELOPE_S`` of look-ahead (or the next candidate gap)
    has been read. Memory: one block plus ``2 * ENVELOPE_S`` of rows.

    Parameters
    ----------
    path : str
        For the log line.
    fs : float
    prefix_index : array
        The counter column of the prefix.
    modulo : int, optional
        As in :func:`counter_missing`.
    use_clock : bool
        Whether a clock column is fed (decided on the prefix by the reader).
    """

    def __init__(self, path, fs: float, prefix_index, modulo: int | None = None, use_clock: bool = False):
        from .base import Splitter
        idx = np.asarray(prefix_index, dtype=np.int64)
        n = len(idx)
        self.path, self.fs, self.use_clock = path, float(fs), use_clock
        self.m = int(modulo) if modulo else int(idx.max()) + 1 if n else 1
        change = np.flatnonzero(idx[1:] != idx[:-1]) if n >= 2 else np.empty(0, np.int64)
        if change.size == 0:
            self.per_packet, self.usual, self.cycle = 1, 1, self.m
        else:
            sizes = np.diff(np.concatenate(([-1], change, [n - 1])))
            self.per_packet = max(1, int(np.median(sizes)))
            step = np.mod(idx[change + 1] - idx[change], self.m)
            self.usual = _usual_step(step[step > 0])
            self.cycle = int(round(self.m / self.usual)) * self.per_packet
        self.w = max(1, int(ENVELOPE_S * fs))
        self.splitter = Splitter(self.fs)
        # buffered rows (uncommitted ones plus look-back context)
        self._row0 = 0                          # global row index of the buffer's first row
        self._idx = np.empty(0, np.int64)
        self._pos = np.empty(0, np.float64)     # sample position (counter gaps only)
        self._off = np.empty(0, np.float64)
        self._data = None
        self._miss = np.empty(0, np.int64)      # counter missing after each buffered row (last: unknown)
        self._commit = 0                        # global row: first row whose final 'missing' is unknown
        self._emitted = 0                       # global row: first row not yet emitted
        self._last_before = 0                   # loss before row _emitted (from the last commit)
        self._last_reason = REASON_COUNTER
        self._clock_warned = False

    def feed(self, data: np.ndarray, index: np.ndarray, clock: np.ndarray | None = None):
        """Add rows; yields the :class:`~emgpipe.io.base.Block` s now final."""
        index = np.asarray(index, dtype=np.int64)
        k = len(index)
        if k == 0:
            return
        if self.use_clock and (clock is None or not np.isfinite(clock).all()):
            if not self._clock_warned:
                log.warning("%s: host clock column unusable after row %d; gaps from the counter "
                            "only from there", self.path, self._row0 + len(self._idx))
                self._clock_warned = True
            clock = None
        # counter missing of the previous buffered row, then of the new rows except the last
        idx_all = np.concatenate((self._idx[-1:], index))
        step = np.mod(np.diff(idx_all), self.m)
        lost = np.where(step != 0, np.maximum(0, np.rint(step / self.usual).astype(np.int64) - 1)
                        * self.per_packet, 0)
        had_prev = len(self._idx) > 0
        if had_prev:
            self._miss[-1] = lost[0]
            new_miss = lost[1:]
        else:
            new_miss = lost
        start_pos = (self._pos[-1] + 1 + self._miss[-1]) if had_prev else 0
        pos_new = start_pos + np.arange(k) + np.concatenate(([0], np.cumsum(new_miss)))
        off_new = (clock - pos_new / self.fs) if clock is not None else np.full(k, np.nan)
        self._idx = np.concatenate((self._idx, index))
        self._pos = np.concatenate((self._pos, pos_new.astype(np.float64)))
        self._off = np.concatenate((self._off, off_new))
        self._miss = np.concatenate((self._miss, new_miss, [0]))
        self._data = data if self._data is None else np.concatenate((self._data, data))
        yield from self._advance(final=False)

    def finish(self):
        """End of file: yields the remaining blocks."""
        yield from self._advance(final=True)
        if self.splitter.gaps:
            g = self.splitter.gaps
            log.info("%s: %d gap(s), %.3f s lost", self.path, len(g), sum(x.n_missing for x in g) / self.fs)

    def _advance(self, final: bool):
        n = len(self._idx)
        end = self._row0 + n                     # global rows buffered: [row0, end)
        # rows whose missing can be finalised: [commit, c1)
        c1 = end if final else end - (self.w + 2)
        c1 = max(c1, self._commit)
        miss = self._miss.copy()
        reasons = {}
        if self.use_clock and c1 > self._commit and np.isfinite(self._off).any():
            off = self._off
            jump = np.diff(off)
            thr = max(CANDIDATE_CYCLES * self.cycle / self.fs, 0.25)
            with np.errstate(invalid="ignore"):
                cand = np.flatnonzero(jump > thr)             # local rows i: gap after row i
            for j, i in enumerate(cand):
                gi = self._row0 + i
                if gi < self._commit or gi >= c1:
                    continue
                prev_c = cand[j - 1] if j > 0 else -1
                next_c = cand[j + 1] if j + 1 < len(cand) else n - 1
                lo = max(prev_c + 1, i + 1 - self.w)
                hi = min(next_c + 1, i + 1 + self.w)
                with np.errstate(all="ignore"):
                    extra = (off[i + 1:hi].min() - off[lo:i + 1].min()) * self.fs
                if not _clock_extra_ok(extra, self.fs):
                    if not self._clock_warned:
                        log.warning("%s: host clock jumps by %.3g s after row %d: not a loss "
                                    "(corrupt clock value?); ignored", self.path, extra / self.fs, gi + 1)
                        self._clock_warned = True
                    continue
                cycles = round(extra / self.cycle)
                if cycles >= 1 and abs(extra - cycles * self.cycle) <= CYCLE_TOLERANCE * self.cycle:
                    miss[i] += cycles * self.cycle
                elif extra > CYCLE_TOLERANCE * self.cycle:
                    miss[i] = int(round(miss[i] + extra))
                    reasons[i] = REASON_CLOCK
        # emit rows [emitted, c1 + 1) (or to end): row r's loss-before is miss[r - 1]
        e1 = end if final else c1
        if e1 > self._emitted:
            a, b = self._emitted - self._row0, e1 - self._row0
            before = np.empty(b - a, np.int64)
            before[0] = self._last_before
            before[1:] = miss[a:b - 1]
            why = [self._last_reason] + [reasons.get(r, REASON_COUNTER) for r in range(a, b - 1)]
            yield from self.splitter.feed(self._data[a:b], before, lambda r: why[r])
            self._last_before = int(miss[b - 1])
            self._last_reason = reasons.get(b - 1, REASON_COUNTER)
            self._emitted = e1
        self._commit = c1
        # keep look-back context for the envelope: rows >= commit - w - 2
        keep = max(0, min(self._commit - self.w - 2, self._emitted) - self._row0)
        if keep:
            self._row0 += keep
            self._idx, self._pos, self._off = self._idx[keep:], self._pos[keep:], self._off[keep:]
            self._miss, self._data = self._miss[keep:], self._data[keep:]
