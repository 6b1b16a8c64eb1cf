"""Fasciculations: isolated potentials on an otherwise quiet channel.

The features find potentials (``pot_*``: rising edges ``spike_k`` x the
window's noise floor, located to the sample, each reported by one window).
Here, per window, they are counted (:func:`potentials`: under low tonic firing
or on a working muscle only a clear one counts), grouped into episodes
(:class:`_Episode`, potentials at most ``fasc_merge_s`` apart), cleared of the
potentials that were the recruitment leading into activity or into a
contraction too weak to be active (:func:`drop_onset`, :func:`began_working`)
or electrode pops and their band-pass ringing
(:meth:`_Episode.drop_pops`), and reported when the episode ends
(:func:`finish`). The physiology is in ``docs/physiology.md`` §2 and the
detector's module docstring (:mod:`emgpipe.detect.detector`).
"""
from __future__ import annotations

import math
from collections import deque

import numpy as np

from ..dsp import _kernels
from ..types import Event
from .settings import (CARDIAC_BEATS, CARDIAC_QRS_S, CARDIAC_RR, CARDIAC_TOL, COMMON_S, EPISODE_KEEP,
                       FASC_TIMES_MARGIN_S, POP_KEEP_S, POP_RING_S, POP_TOL_S,
                       POT_LEAD_S, POT_TAIL_S, REST_BLOCK_S, REST_MEMORY_S, CrampSettings)


class _Episode:
    """A fasciculation episode: its start, and its potentials as one (first
    edge, last edge, count) entry per window that found some; only the latest
    ``keep`` entries are held (memory stays flat in a long storm), the older
    ones as their count and last edge."""

    def __init__(self, part: tuple, keep: int = EPISODE_KEEP):
        self.start_s = part[0] - POT_LEAD_S
        self.parts = deque([part])
        self.keep = keep
        self.n_old = 0.0
        self.edge_old = -math.inf

    def add(self, part: tuple):
        self.parts.append(part)
        if len(self.parts) > self.keep:
            old = self.parts.popleft()
            self.n_old += old[2]
            self.edge_old = old[1]

    def drop_pops(self, times, before: float, after: float):
        """Take out the potentials that were electrode pops: a window entry
        whose edges all lie from ``before`` s before to ``after`` s after a
        pop's edge (the band-pass rings after a step) goes; one that only holds
        a pop's edge loses one potential."""
        parts = deque()
        for a, b, n in self.parts:
            if any(t - before <= a and b <= t + after for t in times):
                continue
            n -= sum(1 for t in times if a - before <= t <= b + before)
            if n > 0.5:
                parts.append((a, b, n))
        if len(parts) != len(self.parts) and parts and self.n_old == 0:
            self.start_s = parts[0][0] - POT_LEAD_S
        self.parts = parts

    @property
    def last_edge(self) -> float:
        return self.parts[-1][1] if self.parts else self.edge_old

    @property
    def end_s(self) -> float:
        return self.last_edge + POT_TAIL_S

    @property
    def n(self) -> float:
        return self.n_old + sum(p[2] for p in self.parts)

    @property
    def empty(self) -> bool:
        return not self.parts and self.n_old == 0

    def drop_onset(self, t: float, gap: float) -> float:
        """Drop the trailing potentials that led into activity starting at ``t``:
        the chain, each at most ``gap`` after the one before, whose newest is
        within ``gap`` of ``t``. Returns the time of the first one dropped."""
        cut = t
        while self.parts and self.parts[-1][1] >= cut - gap:
            cut = min(cut, self.parts.pop()[0])   # (one may lie after t: inside the onset window)
        return cut


class TonicHistory:
    """What :func:`potentials` keeps of the windows before a batch, per channel
    (columns): the largest potential of the last ``fasc_tonic_s`` of windows,
    and the noise floor over the rest level and the count of small potentials
    of the windows before (zeros stand for the time before the stream started)."""

    def __init__(self, n_channels: int, hop: float, s: CrampSettings):
        n_keep = max(1, int(round(s.fasc_tonic_s / hop)))
        self.peak = np.zeros((n_keep, n_channels))
        self.floor = np.zeros((n_keep - 1, n_channels))
        self.small = np.zeros((n_keep - 1, n_channels))
        self.last_at = np.full(n_channels, np.nan)   # the last window's largest potential (s), for coincidence
        # windows in a row (up to the last) whose floor is fasc_work_floor x the rest level (:func:`began_working`)
        self.high = np.zeros(n_channels, dtype=np.int64)
        self.hop = hop
        # whether each of the last windows was under tonic firing (:func:`began_working`)
        self.tonic = np.zeros((max(1, int(round(s.min_voluntary_s / hop))), n_channels), dtype=bool)


def rest_level(channels: list, bases: np.ndarray, hop: float) -> np.ndarray:
    """Per window and channel: the lowest baseline (µV) of the last
    ``REST_MEMORY_S`` (in whole blocks of ``REST_BLOCK_S`` aligned on the
    stream's window count, so the same whatever the chunking), and the
    block so far; 0 while the baseline is unknown. Updates each channel's
    block minima (the channels of one stream see the same windows: their
    blocks end together, and all channels are taken at once)."""
    per = max(1, int(round(REST_BLOCK_S / hop)))
    keep = max(1, int(round(REST_MEMORY_S / REST_BLOCK_S)))
    n_win = len(bases)
    out = np.zeros(bases.shape)
    b = np.where(bases > 0, bases, np.inf)                 # (NaN or 0: not known)
    i = 0
    while channels and i < n_win:
        pos = channels[0].rest_n % per                   # place in the current block
        j = min(n_win, i + per - pos)
        first = np.array([[ch.rest_cur for ch in channels]])
        run = np.minimum.accumulate(np.concatenate((first, b[i:j])), axis=0)[1:]
        past = np.array([min(ch.rest_blocks) if ch.rest_blocks else np.inf for ch in channels])
        out[i:j] = np.minimum(run, past)
        for ch, cur in zip(channels, run[-1].tolist()):
            ch.rest_cur = cur
            ch.rest_n += j - i
            if ch.rest_n % per == 0:                     # block complete
                ch.rest_blocks.append(ch.rest_cur)
                if len(ch.rest_blocks) > keep:
                    ch.rest_blocks.popleft()
                ch.rest_cur = np.inf
        i = j
    out[~np.isfinite(out)] = 0.0
    return out


def potentials(values: dict, bases: np.ndarray, rest: np.ndarray, starts: np.ndarray, s: CrampSettings,
               hist: TonicHistory, common: np.ndarray | None = None):
    """Per window: (count, first edge, last edge, edge of the largest
    potential if it is a clear one else NaN, the time of the window before's
    largest potential if it turned out common-mode else NaN) of its new
    potentials, times in s.

    On a quiet channel every potential the features found counts (``spike_k``
    x the window's noise floor). Under low tonic firing (see the module
    docstring of :mod:`emgpipe.detect.detector`) only the window's largest
    potential counts, and only if it is a clear one: ``fasc_tonic_k`` x the
    floor, and ``fasc_tonic_base`` x the baseline or ``fasc_tonic_above`` x the
    largest potential of the windows in the last ``fasc_tonic_s`` (and
    ``fasc_tonic_base_min`` x the baseline). Each channel's noise-floor,
    potential-count and largest-potential histories (``hist``) are updated.
    ``rest`` is the rest level of every window (:func:`rest_level`, computed
    once per batch by the caller, which also judges the precursor against it).
    ``common[k, j]``: channels ``k`` and ``j`` are not known to be on the same
    leg, so a potential on both at once is common-mode (:func:`coincident`).
    None when the features do not include the potential timings.
    """
    if "pot_n" not in values or "floor" not in values:
        return None
    # the rest level: the lowest baseline of the last REST_MEMORY_S. A muscle
    # held at a low level for minutes (a pedal, standing) teaches the baseline
    # its working level; fasciculations are discharges at rest, so the floor
    # is compared with the rest level, not with the working one
    with np.errstate(invalid="ignore", divide="ignore"):
        fr = np.where(rest > 0, values["floor"] / np.where(rest > 0, rest, 1.0), 0.0)
    # the floor of one window flickers with the firing: take the mean over
    # the last fasc_tonic_s; and steady firing of a few units at 5-10 Hz may
    # hardly raise it but gives many small potentials: count them too
    n_keep = len(hist.peak)
    # a clear potential: well above the floor, and either well above the
    # rest level or above every potential of the last fasc_tonic_s (a unit
    # other than the few firing tonically, which repeat at 5-10 Hz)
    pk = values["pot_peak"]
    before, hist.peak = _kernels.max_before(hist.peak, pk)   # largest potential in the windows before
    big = (pk >= s.fasc_tonic_k * values["floor"]) & (
        (pk >= s.fasc_tonic_base * bases)
        | ((pk >= s.fasc_tonic_above * before) & (pk >= s.fasc_tonic_base_min * bases)))
    small = np.where(big, 0.0, values["pot_n"])       # windows of small potentials only
    level, hist.floor = _kernels.moving_sums(hist.floor, fr)
    count, hist.small = _kernels.moving_sums(hist.small, small)
    level /= n_keep
    working = level >= s.fasc_work_floor
    tonic = (level >= s.fasc_tonic_ratio) | (count / s.fasc_tonic_s >= s.fasc_tonic_rate)
    rise = began_working(fr >= s.fasc_work_floor, tonic, starts, hist, s)
    # under tonic firing only a potential that stands well above both the
    # floor and the rest level counts (one per window: the largest)
    n = np.where(tonic, big.astype(float), values["pot_n"])
    # on a working muscle only a potential both well above the rest level
    # and above every potential of the last fasc_tonic_s by more than two of
    # its own units discharging together make (superposed peaks add: up to
    # twice the largest; model 0.7.7)
    clear = big & (pk >= s.fasc_tonic_base * bases) & (pk >= s.fasc_work_above * before)
    n[working] = clear[working]
    at = starts[:, None] + values["pot_peak_at"]
    late = np.full(n.shape, np.nan)
    if common is not None:
        # the heart's QRS reaches every leg channel at once: a potential whose
        # window's largest one coincides with one on a channel of the other leg
        # (in the same window or the one before: the two edges may straddle a
        # window's boundary) is common-mode (ECG pickup), not a motor unit of
        # this muscle; ``late`` gives the time of a channel's potential of the
        # window before that turned out to be such a one (the detector takes it back)
        prev = np.concatenate((hist.last_at[None, :], at[:-1]))
        shared = coincident(at, n > 0, common, prev)
        late = np.where(coincident(prev, ~np.isnan(prev), common, at, same=False), prev, np.nan)
        hist.last_at = at[-1].copy()
        n = np.where(shared, 0.0, n)
        big = big & ~shared
    return (n, np.where(tonic, at, starts[:, None] + values["pot_first"]),
            np.where(tonic, at, starts[:, None] + values["pot_last"]), np.where(big, at, np.nan), late, rise)


def began_working(high: np.ndarray, tonic: np.ndarray, starts: np.ndarray, hist: TonicHistory,
                  s: CrampSettings) -> np.ndarray:
    """Per window and channel: where the window's noise floor has been
    ``fasc_work_floor`` x the rest level (``high``) in every window of the last
    ``min_voluntary_s``, this window completing it, and the window before the
    first of them was not under tonic firing (``tonic``: the muscle was at rest,
    this is no return after a dip of its firing), the start of the first of
    them (s): the muscle began to work there; else NaN. ``hist`` carries each
    channel's count of such windows in a row and its last ``tonic`` flags
    between batches.

    A window's floor is its quietest sub-block, which one potential cannot
    raise; a storm's potentials raise it for a window or two; a muscle that
    begins a contraction, even one too weak to be active (a shin steering a
    pedal, a foot taking weight), keeps it up (AASM: a movement lasts at least
    0.5 s). The potentials just before are that contraction's recruitment."""
    n_win = len(high)
    k = len(hist.tonic)
    idx = np.arange(n_win)[:, None]
    last_low = np.maximum.accumulate(np.where(high, -1, idx), axis=0)       # the last window not high
    count = np.where(last_low >= 0, idx - last_low, idx + 1 + hist.high[None, :])
    count = np.where(high, count, 0)
    flags = np.concatenate((hist.tonic, tonic))
    was = flags[:n_win]              # the tonic flag of the window k before each (the one before a stretch of k)
    if n_win:
        hist.high = count[-1].astype(np.int64)
        hist.tonic = flags[-k:].copy()
    return np.where((count == k) & ~was, starts[:, None] - (k - 1) * hist.hop, np.nan)


def coincident(at: np.ndarray, counted: np.ndarray, common: np.ndarray,
               other: np.ndarray | None = None, same: bool = True) -> np.ndarray:
    """Per window and channel ``k``: ``counted`` and its largest potential's
    time ``at`` (s, NaN for none) within ``COMMON_S`` of the largest potential
    of a channel ``j`` with ``common[k, j]`` in the same window (``at``; not
    with ``same`` False) or, where given, at the time ``other[:, j]`` of that
    window."""
    near = np.zeros(at.shape + (at.shape[1],), dtype=bool)          # [window, k, j]
    with np.errstate(invalid="ignore"):
        if same:
            near |= np.abs(at[:, :, None] - at[:, None, :]) <= COMMON_S
        if other is not None:
            near |= np.abs(at[:, :, None] - other[:, None, :]) <= COMMON_S
    return counted & (near & common[None]).any(axis=2)


def step(ch, t0: float, t1: float, ratio: float, active: bool, fcand: bool, pot: tuple,
         s: CrampSettings, out: list, detector: str, source: str, leg_holds: bool = False) -> None:
    """One window of channel ``ch`` (``t0``-``t1`` s): count its potentials into
    the open episode (or start one) when the channel is quiet, finish the
    episode once ``fasc_merge_s`` has passed without one, forget potential
    times older than the evidence window needs.

    Quiet means: no activity run, and ``fasc_after_s`` since the last one
    ended, and no other muscle of its leg holding a voluntary contraction
    (``leg_holds``: a calf on a pedal, standing; its antagonist co-contracts at
    a few per cent of its maximum, where units near their recruitment
    threshold fire intermittently, one potential at a time, and fasciculations
    are assessed in a relaxed limb); or an announced cramp's end pause, where
    only a clear potential (the tonic rule) counts: fasciculations follow
    cramps (Miller & Layzer 2005).
    """
    n, ta, tb, big_at, late, rise = pot
    if late == late:
        take_back(ch, late)
    if rise == rise:
        # the muscle began to work: the chain of potentials leading into it
        # was its recruitment (model 0.7.8)
        drop_onset(ch, rise, s)
    run = ch.run
    quiet = run is None and t0 - ch.last_run_end >= s.fasc_after_s and not leg_holds
    if (fcand and run is not None and run.cramp is not None and not active and ratio < s.off_ratio
            and t0 - run.last_on_s >= s.fasc_after_s):
        quiet = not math.isnan(big_at)
        n, ta, tb = 1.0, big_at, big_at
    if fcand and quiet:
        ep = ch.fasc
        if ep is not None and ta - ep.last_edge <= s.fasc_merge_s:
            ep.add((ta, tb, n))
        else:
            finish(ch, out, t1, detector, source)
            ch.fasc = _Episode((ta, tb, n))
        ch.fasc_times.append((tb, n))
    elif ch.fasc is not None and t1 - ch.fasc.last_edge > s.fasc_merge_s:
        finish(ch, out, t1, detector, source)
    while ch.fasc_times and ch.fasc_times[0][0] < t1 - s.evidence_window_s - FASC_TIMES_MARGIN_S:
        ch.fasc_times.popleft()


def take_back(ch, t: float) -> None:
    """The potential ``ch`` found at ``t`` s in the window before coincided
    with one on the other leg in this window (:func:`coincident`): not a
    fasciculation. If the open episode counted it, its newest entry (the
    window's edges around ``t``) goes, and its time from the evidence."""
    ep = ch.fasc
    if ep is None or not ep.parts:
        return
    a, b, _ = ep.parts[-1]
    if not (a - COMMON_S <= t <= b + COMMON_S):
        return
    ep.parts.pop()
    if ch.fasc_times and ch.fasc_times[-1][0] == b:
        ch.fasc_times.pop()
    if ep.empty:
        ch.fasc = None


def drop_onset(ch, t0: float, s: CrampSettings) -> None:
    """Activity starts on ``ch`` at ``t0``: if the latest "potentials" were its
    onset (each within ``fasc_onset_gap_s`` of the next), they are not
    fasciculations; earlier ones of the episode still count."""
    if ch.fasc is not None and ch.fasc.last_edge >= t0 - s.fasc_onset_gap_s:
        cut = ch.fasc.drop_onset(t0, s.fasc_onset_gap_s)
        ch.fasc_times = deque(x for x in ch.fasc_times if x[0] < cut)
        ch.fasc = None if ch.fasc.empty else ch.fasc


def cardiac_times(times) -> set:
    """The times of the ``(time, n)`` potentials (in order) that belong to the
    heart's rhythm, ECG picked up by this channel. Potentials within
    ``CARDIAC_QRS_S`` of the first of them are one beat (a QRS's phases, or
    its two halves in two windows); beats in runs of at least ``CARDIAC_BEATS``,
    each interval ``CARDIAC_RR`` (40-180 beats per minute) and within
    ``CARDIAC_TOL`` of the one before (beat-to-beat variation at rest is a few
    %, with breathing ~10 %; one of twice that bridges a beat not seen), are
    the heart's. Fasciculations fire irregularly,
    typically seconds apart: chance runs of such regularity are rare."""
    beats: list = []                      # [first time, [times]]
    for t, _ in times:
        if beats and t - beats[-1][0] <= CARDIAC_QRS_S:
            beats[-1][1].append(t)
        else:
            beats.append([t, [t]])
    out: set = set()
    run: list = []
    last = None
    for beat in beats:
        if run:
            d = beat[0] - run[-1][0]
            if last is not None and abs(d - 2 * last) <= CARDIAC_TOL * last:
                run.append(beat)      # a beat missed between (too small, or under a movement)
            elif CARDIAC_RR[0] <= d <= CARDIAC_RR[1]:
                if last is None or abs(d - last) <= CARDIAC_TOL * last:
                    run.append(beat)
                else:
                    run = [run[-1], beat]
                last = d
            else:
                run, last = [beat], None
        else:
            run = [beat]
        if len(run) >= CARDIAC_BEATS:
            for b_ in run:
                out.update(b_[1])
    return out


def finish(ch, out: list, now: float, detector: str, source: str) -> None:
    """End ``ch``'s open episode at stream time ``now``: its fasciculation event
    goes to ``out`` unless all its potentials were electrode pops or the
    heart's rhythm (:func:`cardiac_times`)."""
    ep, ch.fasc = ch.fasc, None
    if ep is None:
        return
    if ch.pops:
        while ch.pops and ch.pops[0] < ep.start_s - POP_KEEP_S:
            ch.pops.popleft()
        ep.drop_pops(ch.pops, POP_TOL_S, POP_RING_S)
        if not ep.parts and ep.n_old == 0:
            return
    beats = cardiac_times(ch.fasc_times)
    if beats:
        kept = deque(p for p in ep.parts if p[1] not in beats)
        if not kept:
            return            # the heart's rhythm, from its first potential (older ones were its too)
        if len(kept) != len(ep.parts):
            ep.parts = kept
            if ep.n_old == 0:
                ep.start_s = kept[0][0] - POT_LEAD_S
    n = max(1, int(round(ep.n)))
    out.append(Event("fasciculation", ch.name, ep.start_s, ep.end_s, alert_s=max(now, ep.end_s),
                     n_potentials=n, detail=f"{n} potential{'s' if n > 1 else ''}",
                     detector=detector, source_id=source))
