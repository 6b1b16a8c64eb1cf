"""Activity runs: consecutive active windows of one channel.

A window is *active* when its RMS is ``on_ratio`` x the baseline (and
``min_active_uv`` above it, and smooth: an interference pattern, not spikes).
Once a run has started, a window stays *on* down to ``off_ratio`` x the
baseline (hysteresis; inside an announced cramp also ``off_frac`` of its
plateau). Pauses shorter than ``merge_s`` stay in the run (``end_pause_s``
inside a cramp). Here a run is opened, advanced window by window (:func:`advance`,
:func:`record`: duty, peak, the longest stretch above ``off_ratio``, steady
holds and the muscle's working level), and finished (:func:`finish`: a cramp's
final event, or a voluntary event).
"""
from __future__ import annotations

import bisect
import logging
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ..types import Event
from .settings import HOLD_PCT, NO_EVIDENCE_AFTER_CRAMP, REPEAT_HELD_S, RISE_S, TIME_EPS_S, CrampSettings

log = logging.getLogger(__name__)


@dataclass
class _Run:
    start_s: float
    last_on_s: float
    n_windows: int = 0
    context: str = ""                                 # see rules.context
    held_from: float | None = None                    # start of the current stretch above off_ratio
    held_s: float = 0.0                               # longest such stretch (a steady hold)
    need_s: float = 0.0                               # how long it must last to be announced ...
    need_ratio: float = 0.0                           # ... and how strong (x baseline), from its context
    # the decision looks at the run's most recent decision_s only (bounded cost,
    # and a cramp that follows walking without a pause is still recognised)
    recent: deque = field(default_factory=deque)      # (start_s, rms, on, others' ratios)
    recent_on: int = 0                                # how many of ``recent`` are on
    on_from: float | None = None                      # start of the current stretch of on windows
    stretch_rule: tuple = (0.0, 0.0, None, "")        # ... and its own (need_s, need_ratio), its start and its context
    step_from: float | None = None                    # a stretch that rose out of a hold without a pause (rise)
    rise_ref: np.ndarray | None = None                # ... and the others' levels (x baseline) in the hold before it
    cramp: Event | None = None                        # the announced onset event
    peak: float = 0.0
    evidence: str = ""
    load_before: tuple | None = None                  # the other leg's most loaded channel before it (:func:`load_before`) ...
    load_during: list = field(default_factory=list)   # ... and its levels (µV) in the run's first UNLOAD_S
    stance_hold: tuple | None = None                  # a single-leg stance being followed (rules.single_leg)
    placed: bool = False                              # it began as its antagonist had just moved the foot (rules.placed) ...
    first_level: float | None = None                  # ... and its level over its first PLACED_FIRST_S (µV)
    press_first: float | None = None                  # its level over its first PRESS_FIRST_S when it began with a steady hold (µV, NaN if not; rules.is_press)
    stretch_placed: bool = False                      # the current stretch (stretch_rule) began so too ...
    stretch_first: float | None = None                # ... and its level over its first PLACED_FIRST_S (µV)
    why: str = ""                                     # last reason it was not a cramp (debugging)
    was_hold: bool = False                            # it held steadily (>= hold_min_s): a hold
    hum: bool = False                                 # it began with mains interference (rules.began_with_hum)
    dismissed: bool = False                           # the wearer answered "not a cramp": voluntary
    label: str = ""                                   # the wearer's answer to its cramp alert


def carry_cramp(run: _Run, rms: np.ndarray, t0: float, t1: float):
    """What :func:`advance` and :func:`record` do over consecutive active
    windows (``t0`` the first one's start, ``t1`` the last one's end) of an
    announced cramp with no fasciculation episode open: each is on and above
    off_ratio."""
    run.n_windows += len(rms)
    run.held_from = t0 if run.held_from is None else run.held_from
    run.held_s = max(run.held_s, t1 - run.held_from)
    run.last_on_s = t1
    run.peak = max(run.peak, float(rms.max()))


def advance(run: _Run, r: float, ratio: float, t0: float, t1: float, active: bool, smooth: bool,
            s: CrampSettings) -> tuple[bool, bool]:
    """One more window (RMS ``r`` µV, ``ratio`` x baseline) of ``run``:
    returns (is it on, was the run an announced cramp)."""
    run.n_windows += 1
    in_cramp = run.cramp is not None
    # a cramp goes on while its interference pattern stays above off_ratio x
    # baseline and off_frac of its plateau (isolated spikes don't count)
    # (hysteresis: once a run has started, off_ratio keeps a window on)
    on = active or (smooth and ratio >= s.off_ratio
                    and (not in_cramp or r >= s.off_frac * run.cramp.features["rms_uv"]))
    if ratio >= s.off_ratio:
        run.held_from = t0 if run.held_from is None else run.held_from
        run.held_s = max(run.held_s, t1 - run.held_from)
    else:
        run.held_from = None
    if on:
        if run.on_from is None:
            run.on_from = t0
        elif (not in_cramp and run.step_from is None and ratio >= s.on_ratio * s.off_ratio
              and run.held_from is not None):
            rise(run, r, t0, s)
        run.last_on_s = t1
        run.peak = max(run.peak, r)
    elif t1 - run.last_on_s >= s.stretch_gap_s - TIME_EPS_S:
        run.on_from = run.step_from = run.rise_ref = None
    return on, in_cramp


def rise(run: _Run, r: float, t0: float, s: CrampSettings) -> None:
    """A new contraction that rises out of a steady hold without a pause (a
    cramp of a standing calf, or of the calf on the pedal): the hold's level
    stands in for the baseline, and a level ``on_ratio`` x above it for
    ``RISE_S`` (as a window ``on_ratio`` x its baseline is active from rest)
    starts a stretch of its own at the rise (``run.on_from``,
    ``run.step_from``), judged by its own windows (:func:`.rules.decide`).
    ``on_ratio`` (2.5 in the default model) is above the doubling of one calf's
    load when the body's weight moves onto that leg, and every window of the
    ``RISE_S`` must reach it, so a weight shift starts no stretch. The other
    channels' levels in the hold (``run.rise_ref``) are kept for
    :func:`stance_relative`."""
    since = t0 - RISE_S
    if max(run.held_from, run.on_from) > since - s.hold_min_s + TIME_EPS_S:
        return                      # the stretch held for less than hold_min_s before the rise
    risen, before, rows = [r], [], []
    for x in reversed(run.recent):
        if x[0] >= since - TIME_EPS_S:
            risen.append(x[1])
        elif x[0] >= since - s.hold_min_s - TIME_EPS_S:
            before.append(x[1])
            if x[3] is not None:
                rows.append(x[3])
        else:
            break
    if len(before) < 2:
        return
    before.sort()
    if _percentile_sorted(before, HOLD_PCT[0]) < s.hold_steady * _percentile_sorted(before, HOLD_PCT[1]):
        return                      # not a steady hold (a ramp, bursts): see steady_hold
    ref = before[len(before) // 2]
    if min(risen) >= s.on_ratio * ref:
        start = min(x[0] for x in run.recent if x[0] >= since - TIME_EPS_S) if len(risen) > 1 else t0
        run.on_from = run.step_from = start
        run.rise_ref = np.median(np.asarray(rows), axis=0) if rows else None


def stance_relative(med: np.ndarray, ref: np.ndarray, s: CrampSettings) -> np.ndarray:
    """The other channels' co-activation ``med`` (x baseline) over a stretch
    that rose out of a hold, for the channels that were holding too at the
    rise (``ref`` >= ``off_ratio``: the other calf standing): one that rises
    ``on_ratio`` x its own level of the hold counts as ``coactive_ratio`` (as
    both calves do in a raise from standing), so bearing the body's weight
    (twice its load: the wearer takes the weight off a cramping leg) does not
    make a cramp that starts while standing co-active; the others as they are."""
    holding = ref >= s.off_ratio
    if not holding.any():
        return med
    return np.where(holding, s.coactive_ratio * med / (s.on_ratio * np.where(holding, ref, 1.0)), med)


def coactivity(k: int, r: float, base: float, ratios_row, rms_row, bases_row,
               same_leg: np.ndarray, xt_frac: np.ndarray) -> np.ndarray:
    """The other channels' ratios to their baselines in this window (channel
    ``k``'s own set to 0); a same-leg channel at cross-talk level (its
    noise-corrected amplitude at most ``xt_frac`` of this one's: cross-talk is a
    fraction of the signal, not of its noise) counts as at most its baseline."""
    row = np.array(ratios_row, dtype=float)
    row[k] = 0.0
    amp = np.sqrt(np.maximum(rms_row ** 2 - bases_row ** 2, 0.0))
    xt = same_leg & (amp <= xt_frac * math.sqrt(max(r * r - base * base, 0.0)))
    row[xt] = np.minimum(row[xt], 1.0)   # same leg, at cross-talk level
    return row


def coactivity_batch(ratios: np.ndarray, rms: np.ndarray, bases0: np.ndarray, same_leg: np.ndarray,
                     xt_frac: np.ndarray) -> np.ndarray:
    """:func:`coactivity` of every window ``i`` and channel ``k`` of a batch at
    once, ``[i, k]`` (windows x channels x channels), bit for bit (the same
    operations element by element; ``bases0`` the baselines with 0 where a
    channel is not ready, and ``k``'s own baseline ready wherever its window is
    stepped): the detector computed it per window, ~5 µs of numpy on a handful of
    floats, the costliest line of a replay of eight channels (issue 15)."""
    n_ch = rms.shape[1]
    amp = np.sqrt(np.maximum(rms ** 2 - bases0 ** 2, 0.0))          # (windows, channels)
    row = np.repeat(np.asarray(ratios, dtype=float)[:, None, :], n_ch, axis=1)
    diag = np.arange(n_ch)
    row[:, diag, diag] = 0.0
    xt = same_leg[None] & (amp[:, None, :] <= xt_frac[None] * amp[:, :, None])
    return np.where(xt, np.minimum(row, 1.0), row)


def record(run: _Run, ch, t0: float, t1: float, r: float, on: bool, row, s: CrampSettings,
           uv_scale: float, learn: bool = True) -> None:
    """Keep a window of a run not (yet) announced as a cramp in its recent
    ``decision_s``; a steady hold (not the bursts of walking or cycling) marks
    the run as a hold or the channel as standing, and teaches the working level
    (not with ``learn`` False: a window under mains interference, whose steady
    level is the hum's, :func:`.rules.humming`, or a run that began with it)."""
    run.recent.append((t0, r, on, row))
    run.recent_on += on
    while run.recent and run.recent[0][0] < t1 - s.decision_s:
        run.recent_on -= run.recent.popleft()[2]
    since = t1 - s.hold_min_s
    if learn and on and run.held_from is not None and t1 - run.held_from >= s.hold_min_s \
            and steady_hold(run.recent, since, s.hold_steady):
        # a steady hold teaches the working level, until the contraction is called a cramp
        # exercise or a pedal: one leg's hold, or a strong one (bilateral
        # low holds are posture: standing, which makes no deliberate presses).
        # A hold is one leg's unless the other leg held too over the
        # hold_min_s its steadiness is judged on (_other_leg_holds)
        if (row is None or r >= s.exercise_uv * uv_scale
                or not _other_leg_holds(run.recent, since, ch.other_cols, s.coactive_ratio)):
            run.was_hold = True
            ch.last_hold_end = t1
        else:
            ch.last_stance = t1      # both legs holding weakly: standing
        if t1 - run.held_from >= s.work_min_s:
            ch.work.append(t0, r, t0 - s.hold_context_s)


def forget_cramp(ch, onset: float) -> None:
    """Take the windows of a contraction from ``onset`` on out of ``ch``'s
    working level: the wearer confirmed it was a cramp, or an announced
    contraction not answered "not a cramp" has ended (:func:`finish`). A
    cramp's first seconds are a steady hold, so they joined the working level
    before the decision; but a cramp's level is not what the muscle was
    doing. Kept, the next cramp of that muscle within ``hold_context_s``
    (cramps come in clusters) has to reach ``work_ratio`` x the first one's
    level, and one as strong as the first is missed.

    An unanswered alert's windows stay while its run goes on (model 0.7.12;
    forgetting them at the alert was tried in model 0.7.6's work): an
    announced contraction may be a brake inside a drive, whose level is part
    of the working level that keeps the drive's next brakes from being
    announced. The hold it marked stays either way: the muscle was working or
    cramping, and a cramp's next seconds are judged by the rule after a hold."""
    ch.work.drop_from(onset)


def _other_leg_holds(recent, since: float, cols: list, coactive_ratio: float) -> bool:
    """Whether the other leg holds too (standing) during a steady hold: a
    channel of the other leg (``cols``, its columns in the co-activation
    rows; with one leg's channels only, all the others) is ``coactive_ratio``
    x its baseline, as its median over the windows of ``recent`` from
    ``since`` on. The same leg's channels (the antagonist steering a pedal)
    say nothing about standing; and a quiet channel's level flickers about
    its baseline window by window, so the median over the span decides, not
    one window: standing that ends leg by leg is still standing in the last
    calf's final windows, and a pedal hold stays one leg's. (Python medians
    of a few floats: this runs on every window of a hold, issue 15.)"""
    rows = []
    for x in reversed(recent):
        if x[0] < since:
            break
        if x[3] is not None:
            rows.append(x[3])
    for j in cols if rows else ():
        if _median_sorted(sorted([row.item(j) for row in rows])) >= coactive_ratio:
            return True
    return False


def steady_hold(recent, since: float, hold_steady: float) -> bool:
    """The windows from ``since`` on are steady: their 10th percentile is at
    least ``hold_steady`` of their 90th (a pedal or postural hold is
    modulated by some +-30 %; a walking or cycling burst falls towards rest
    between steps, even in a smoothed envelope)."""
    lv = []
    for x in reversed(recent):
        if x[0] < since:
            break
        lv.append(x[1])
    if len(lv) < 2:
        return False
    if any(v != v for v in lv):                      # NaN (never from real RMS): numpy's own rules
        lo, hi = np.percentile(lv, HOLD_PCT)
        return lo >= hold_steady * hi
    lv.sort()
    return _steady_sorted(lv, hold_steady)


def _steady_sorted(levels: list, hold_steady: float) -> bool:
    """:func:`steady_hold`'s test on levels already sorted (no NaN)."""
    return _percentile_sorted(levels, HOLD_PCT[0]) >= hold_steady * _percentile_sorted(levels, HOLD_PCT[1])


def _median_sorted(v: list) -> float:
    """The median of a non-empty sorted list, as numpy takes it (the mean of the two middle values)."""
    m = len(v) // 2
    return v[m] if len(v) % 2 else 0.5 * (v[m - 1] + v[m])


def load_before(cols: list, hist_rms: np.ndarray, hist_bases: np.ndarray, batch_rms: np.ndarray,
                batch_bases: np.ndarray, hop: float, s: CrampSettings) -> tuple | None:
    """The other leg's load before a contraction from rest: over the
    ``hold_min_s`` that ended ``stance_gap_s`` before it (the weight moves onto
    one leg over about a second before the other foot lifts;
    ``batch_rms``/``batch_bases``: the batch's windows before it, all channels;
    ``hist_rms``/``hist_bases``: the windows before the batch,
    :func:`.baseline.keep_history`), of the other leg's channels
    (``cols``) that held steadily (:func:`steady_hold`'s test: standing, not
    walking's bursts), the one highest above its baseline: ``(column, its
    median level in µV)``, or None (none steady, or too few windows). Quiet
    channels count too: their level stays at their noise during the
    contraction, so they never tell an unloading (:func:`.rules.unloaded`).
    Levels, not ratios: an adaptive baseline follows a falling level within
    a second or two."""
    n = int(round(s.hold_min_s / hop))
    gap = int(round(s.stance_gap_s / hop))
    best, best_ratio = None, -math.inf
    for j in cols:
        lv, bs = batch_rms[-n - gap:, j].tolist(), batch_bases[-n - gap:, j].tolist()
        if len(lv) < n + gap:
            i = max(len(hist_rms) - (n + gap - len(lv)), 0)
            lv, bs = hist_rms[i:, j].tolist() + lv, hist_bases[i:, j].tolist() + bs
        lv, bs = lv[-n - gap:len(lv) - gap], bs[-n - gap:len(bs) - gap]
        pairs = [(v, b) for v, b in zip(lv, bs) if b == b and b > 0 and v == v]
        if len(pairs) < n:
            return None
        levels = sorted(v for v, _ in pairs)
        if not _steady_sorted(levels, s.hold_steady):
            continue                      # bursts (walking): no steady load to lose
        ratio = _median_sorted(sorted(v / b for v, b in pairs))
        if ratio > best_ratio:
            best, best_ratio = (j, _median_sorted(levels)), ratio
    return best


def _percentile_sorted(v: list, q: float) -> float:
    """``np.percentile(v, q)`` (method "linear") of a sorted list of floats,
    bit for bit (numpy's virtual index, and its two-sided lerp), without
    numpy's per-call overhead: the steady-hold test runs on most windows of
    a hold (issue 15)."""
    x = (len(v) - 1) * (q / 100)
    i = math.floor(x)
    g = x - i
    a = v[i]
    b = v[min(i + 1, len(v) - 1)]
    d = b - a
    return b - d * (1 - g) if g >= 0.5 else a + d * g


def work_level(work, t: float, s: CrampSettings) -> float | None:
    """The muscle's working level before ``t``: the ``work_pct`` percentile of
    its steady-hold windows (``work``, a :class:`WorkMemory`) in the
    ``hold_context_s`` before, None without."""
    return work.percentile(t - s.hold_context_s, t, s.work_pct)


class WorkMemory:
    """A channel's steady-hold windows ``(start s, RMS µV)``, oldest first, with
    :meth:`percentile` over a time range kept as a sorted list that moves with
    the range (the decision asks for the working level every other window of a
    run, over up to ``hold_context_s`` of windows: sorting them all each time
    was the costliest line of an awake replay, issue 15). The values in a range
    are the same whichever way they were sorted, so the percentile is the same
    bit for bit as on a sorted copy (:func:`_percentile_sorted`)."""

    #: dropped entries are cut from the front of the lists once this many
    COMPACT = 1024

    def __init__(self):
        self.times: list = []
        self.values: list = []
        self.start = 0               # entries before this one were dropped
        self.nan = False             # a NaN value was ever kept: numpy's rules, no sorted list
        self._range = (0, 0)         # the entries in _sorted
        self._sorted: list = []

    def __len__(self) -> int:
        return len(self.times) - self.start

    def __iter__(self):
        return zip(self.times[self.start:], self.values[self.start:])

    def append(self, t0: float, r: float, keep_from: float) -> None:
        """Keep ``(t0, r)`` (times must not decrease) and drop the entries older than ``keep_from``."""
        self.times.append(t0)
        self.values.append(r)
        self.nan = self.nan or r != r
        times = self.times
        while times[self.start] < keep_from:
            self.start += 1
        if self.start >= self.COMPACT:
            cut = self.start
            del self.times[:cut], self.values[:cut]
            a, b = self._range
            if a >= cut:
                self._range = (a - cut, b - cut)
            else:                                     # it held dropped entries: sort anew next time
                self._range, self._sorted = (0, 0), []
            self.start = 0

    def drop_from(self, t: float) -> None:
        """Forget the entries with ``t0 >= t`` (the newest ones)."""
        cut = max(bisect.bisect_left(self.times, t), self.start)
        if cut < len(self.times):
            del self.times[cut:], self.values[cut:]
            self._range, self._sorted = (0, 0), []

    def percentile(self, t_from: float, t_to: float, q: float) -> float | None:
        """``np.percentile`` of the values of the kept entries with ``t_from <= t0 < t_to``
        (None without any)."""
        a = max(bisect.bisect_left(self.times, t_from), self.start)
        b = max(bisect.bisect_left(self.times, t_to), a)
        if a == b:
            return None
        if self.nan:
            return float(np.percentile(self.values[a:b], q))
        self._move(a, b)
        return _percentile_sorted(self._sorted, q)

    def _move(self, a: int, b: int) -> None:
        ca, cb = self._range
        v, srt = self.values, self._sorted
        if b <= ca or a >= cb or (abs(a - ca) + abs(b - cb)) * 8 > b - a:
            self._sorted = sorted(v[a:b])                      # far from the last range: sort anew
        else:
            for i in list(range(ca, min(a, cb))) + list(range(max(b, ca), cb)):   # entries that left
                del srt[bisect.bisect_left(srt, v[i])]
            for i in list(range(a, min(ca, b))) + list(range(max(cb, a), b)):     # entries that came
                bisect.insort(srt, v[i])
        self._range = (a, b)


def finish(ch, out: list, now: float, s: CrampSettings, detector: str, source: str,
           held: list | None = None) -> None:
    """End ``ch``'s current run; ``now`` is the stream time of the decision.
    An announced cramp gets its final event; another run of at least
    ``min_voluntary_s`` is a voluntary event (into ``held``, as ``(ch,
    event)``, when given: reported once a hum that began with it would be
    known, :meth:`.detector.CrampDetector._release`)."""
    run, ch.run = ch.run, None
    if run is None:
        return
    end = min(run.last_on_s, now)
    ch.last_run_end = end
    if run.cramp is not None:
        ch.no_evidence_until = end + NO_EVIDENCE_AFTER_CRAMP * s.evidence_window_s
        e = run.cramp
        # the contraction is over: its level was not what the muscle works at
        # (forget_cramp), whether confirmed or not answered ("not a cramp"
        # left run.cramp None: a voluntary run, whose level stays)
        forget_cramp(ch, e.start_s)
        out.append(Event("cramp", ch.name, e.start_s, max(end, e.alert_s), alert_s=e.alert_s,
                         confidence=e.confidence, peak_uv=run.peak, detail=e.detail,
                         features=dict(e.features), detector=detector, source_id=source,
                         label=run.label))
        return
    if run.why:
        log.debug("%s: %.1f-%.1f s not a cramp: %s", ch.name, run.start_s, end, run.why)
    dur = end - run.start_s
    if run.was_hold:
        ch.last_hold_end = end
    if run.held_s >= REPEAT_HELD_S and 2 * run.held_s >= dur and not run.hum:
        # one held contraction (held for most of the run: a raise or hold, a
        # brake; not walking's or cycling's bursts), ended by itself: what a
        # repetition of it is judged against (rules.decide)
        ch.last_held = (end, run.peak)
    if dur < s.min_voluntary_s or run.hum:
        return      # (one that began with mains interference is the hum: an artefact, reported as one)
    ch.last_move_end = end
    ev = Event("voluntary", ch.name, run.start_s, end, alert_s=now, peak_uv=run.peak, detail="activity",
               detector=detector, source_id=source)
    if held is None:
        out.append(ev)
    else:
        held.append((ch, ev))
