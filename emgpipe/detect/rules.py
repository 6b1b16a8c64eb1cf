"""When an activity run is a cramp.

A run's *context* (what came before it: evidence, rest, a hold, sleep, a
leg-movement series) is fixed when it starts (:func:`context`,
:func:`evidence`) and sets how long and how strong it must be (:func:`rule`,
the table in :mod:`emgpipe.detect.detector`'s docstring). :func:`decide` then
tests, while the run lasts, its duty, steadiness, strength (against the
baseline, the muscle's working level and the levels the wearer dismissed,
:func:`answer_floor`) and localisation, and announces the cramp with a
:func:`confidence`. :func:`learn` takes the wearer's answers into a channel's
memory.
"""
from __future__ import annotations

import math
from collections import deque

import numpy as np

from ..types import Event
from . import fasciculations, runs
from .settings import (ANSWER_CONFIRMED_FRAC, CONF_DIGITS, CONF_DUTY_WEIGHT, CONF_EPS, CONF_EVIDENCE,
                       CONF_PER_S, DECIDE_EVERY, HUM_SLACK_S, PRECURSOR_MAX_BURSTY, PRECURSOR_MIN_COVER,
                       HOLD_PCT, PLACED_FIRST_S, PRESS_FIRST_S, PRESS_LAST_S, RHYTHM_RISE, RHYTHM_SWINGS, RISE_S,
                       TIME_EPS_S, UNLOAD_S,
                       CrampSettings)

#: the contexts of a run while asleep (the wearer's answers are kept per mode)
SLEEP_CONTEXTS = ("sleep", "sleep_evidence", "series")
#: the contexts of a run from rest while awake, where the other leg's unloading is asked (:func:`unloaded`)
UNLOAD_CONTEXTS = ("rest", "evidence")


def evidence(ch, t: float, hist_rms: np.ndarray, hist_bases: np.ndarray, batch_rms: np.ndarray,
             batch_bases: np.ndarray, hop: float, s: CrampSettings, rest: float = 0.0) -> str:
    """Why a cramp may be announced early: fasciculations or a precursor
    before ``t`` (the run's start; ``hist_rms`` and ``hist_bases`` are this
    channel's levels and baselines of the windows before the current batch,
    :func:`.baseline.keep_history`, ``batch_rms`` and ``batch_bases`` its windows
    of the current batch before ``t``; ``rest`` its rest level before ``t``,
    :func:`.fasciculations.rest_level`, asleep; 0 where not used)."""
    if t < ch.no_evidence_until:
        return ""
    beats = fasciculations.cardiac_times(ch.fasc_times)     # (the heart's rhythm is no evidence)
    n = sum(v for tt, v in ch.fasc_times if t - s.evidence_window_s <= tt <= t and tt not in beats)
    why = []
    if n >= s.evidence_fasc:
        why.append(f"{n:.0f} fasciculations in the minute before")
    n_pre = int(round(s.precursor_s / hop))
    # the last n_pre windows before t, as lists (numpy on ~160 floats per run
    # start cost more than the arithmetic, issue 15)
    lv, bs = batch_rms[-n_pre:].tolist(), batch_bases[-n_pre:].tolist()
    if len(lv) < n_pre:
        i = max(len(hist_rms) - (n_pre - len(lv)), 0)
        lv, bs = hist_rms[i:].tolist() + lv, hist_bases[i:].tolist() + bs
    b0 = next((b for b in bs if b == b), None)        # the first known baseline
    if b0 is not None and 0.0 < rest < b0:
        # against the rest level (the lowest baseline of the last minutes) where
        # it is lower: the adaptive baseline rises toward a precursor of 20-60 s
        # with its 60-s time constant, so by the start of the precursor_s window
        # it may have learned half of it
        b0 = rest
    if b0 is not None and len(lv) >= PRECURSOR_MIN_COVER * n_pre:
        # against b0 (the baseline from before the precursor window, asleep the
        # rest level if lower): a slow precursor at ~2x rest teaches the rising
        # baseline
        vals = [v / b0 for v in lv] if b0 else (np.asarray(lv) / b0).tolist()   # (numpy's x / 0)
        med = median(vals)
        # a precursor is a raised tension well below a contraction's level
        # (Chaney & Sherman: ~2x), not a stretch of voluntary bursts
        bursty = fraction_at_least(vals, s.cramp_ratio)
        if med >= s.precursor_ratio and bursty < PRECURSOR_MAX_BURSTY:
            why.append(f"precursor at {med:.1f}x baseline")
    return ", ".join(why)


def median(vals: list) -> float:
    """``float(np.median(vals))`` of a non-empty list of floats, bit for bit
    (the middle value of a sorted copy, or the mean of the two middle ones as
    numpy takes it, ``(a + b) / 2``), without numpy's per-call overhead; with a
    NaN, numpy's own."""
    if not vals or any(v != v for v in vals):
        return float(np.median(vals))
    v = sorted(vals)
    h = len(v) // 2
    return v[h] if len(v) % 2 else (v[h - 1] + v[h]) / 2


def fraction_at_least(vals: list, thr: float) -> float:
    """``float(np.mean(np.asarray(vals) >= thr))`` of a non-empty list (the
    count over the length, as numpy's mean of booleans gives it)."""
    return sum(1 for v in vals if v >= thr) / len(vals)


def context(ch, t0: float, evidence: str, channels: list, mode: str, s: CrampSettings) -> str:
    """What came before a contraction of ``ch`` starting at ``t0`` (a run, or a
    stretch inside one) with this ``evidence`` (see the detector's module docstring)."""
    if mode == "sleep":
        if evidence:
            return "sleep_evidence"
        series = any(t0 - c.last_move_end <= s.series_context_s for c in channels)
        return "series" if series else "sleep"
    # a muscle that has been holding (exercise, driving, standing) first: its
    # steady work looks like a precursor, and people who are exercising
    # twitch (fasciculations are no evidence there)
    if t0 - ch.last_hold_end <= s.hold_context_s:
        return "hold"
    # a contraction that begins as standing ends (weight onto one leg: a
    # single-leg raise or hold, a weight shift) is a voluntary transition
    if t0 - max(c.last_stance for c in channels) <= s.stance_gap_s:
        return "hold"
    return "evidence" if evidence else "rest"


def rule(context: str, s: CrampSettings) -> tuple[float, float]:
    """How long a run in this context must last (s), and how many times its
    baseline it must reach, to be announced (the detector docstring's table)."""
    return {"evidence": (s.min_s_evidence, s.cramp_ratio_rest),
            "sleep_evidence": (s.min_s_sleep_evidence, s.cramp_ratio_rest),
            "rest": (s.min_s, s.cramp_ratio_rest),
            "hold": (s.min_s_after_hold, s.cramp_ratio),
            "sleep": (s.min_s_sleep, s.cramp_ratio_rest),
            "series": (s.min_s_sleep_series, s.cramp_ratio)}[context]


def detail(run) -> str:
    return "sustained localised contraction" + (f"; {run.evidence}" if run.evidence else "")


def swings(levels: list) -> int:
    """How many times ``levels`` rose to ``RHYTHM_RISE`` x the lowest level
    since the last such rise (the first from the first level), each rise
    counted only after the level has fallen again to 1 / ``RHYTHM_RISE`` of
    the highest since that rise: full bursts, not a ramp (one rise) or a
    cramp's modulation."""
    if not levels:
        return 0
    n, armed = 0, True
    trough = peak = levels[0]
    for v in levels:
        if armed:
            trough = min(trough, v)
            if v >= RHYTHM_RISE * trough:
                n += 1
                armed, peak = False, v
        else:
            peak = max(peak, v)
            if v * RHYTHM_RISE <= peak:
                armed, trough = True, v
    return n


def press_first(recent, start: float) -> float | None:
    """The level of a contraction started at ``start`` over its first
    ``PRESS_FIRST_S`` (the median of its windows in ``recent``), None without any."""
    first = [x[1] for x in recent if start - TIME_EPS_S <= x[0] < start + PRESS_FIRST_S - TIME_EPS_S]
    return median(first) if first else None


def press_levels(recent, start: float, t1: float, first: float | None = None) -> tuple[float, float] | None:
    """The level of a contraction (started at ``start``; ``recent`` its
    windows) over its first ``PRESS_FIRST_S`` and over the last
    ``PRESS_LAST_S`` before ``t1`` (medians), None without both. ``first``:
    that first level as kept when the run began (``run.press_first``), for
    when the decision window no longer holds the run's start."""
    if first is None:
        first = press_first(recent, start)
    last = [x[1] for x in recent if x[0] >= t1 - PRESS_LAST_S - TIME_EPS_S]
    return (first, median(last)) if first is not None and last else None


def unloaded(run, s: CrampSettings) -> tuple[float, float] | None:
    """Whether the other leg let go of a steady load as this contraction began:
    its most loaded channel before the run (``run.load_before``,
    :func:`.runs.load_before`) is, as its median level over the run's first
    ``UNLOAD_S`` (``run.load_during``), ``coactive_ratio`` x lower than before (the mirror
    of co-activation: a foot lifted off the ground, its calf unloaded, as in a
    single-leg raise from standing; a calf that cramps is unloaded by the
    wearer, so the other leg takes more weight, not less). Returns (before,
    during) in µV, or None."""
    if run.load_before is None or not run.load_during:
        return None
    before = run.load_before[1]
    during = median(run.load_during)
    return (before, during) if during * s.coactive_ratio <= before else None


def placed(ch, t0: float, antagonists: list, s: CrampSettings, quiet_from: float | None = None,
           louder: bool = False, moved: bool = False) -> bool:
    """Whether a contraction of ``ch`` starting at ``t0`` places the foot: one
    of the same leg's antagonists (``antagonists``, the shin for a calf) was
    active from at least ``RISE_S`` before it (its run goes on, or ended at
    most ``stance_gap_s`` before). Moving the foot onto a pedal or a step is
    reciprocal: the shin lifts the foot (a tibialis burst on each release of a
    pedal, Khamis 2018), then the calf presses. A cramp is not preceded by a
    movement of its antagonist; cross-talk of the calf's own contraction on
    the shin begins with it, not before. ``quiet_from``: for a contraction
    inside a run (a stretch), when this muscle last fell quiet; then, instead
    of the first test, an antagonist must have begun since then (within
    ``RISE_S`` before), which is no cross-talk of it (the shin lifting the
    foot off the brake in the pause before the accelerator): one active since
    before is this muscle's own cross-talk (model 0.7.6). ``louder``: for a
    stretch, an antagonist was louder than this muscle in a window of its
    pause (the detector's ``_louder_in_pause``): it moved the foot even if it
    began before the pause (co-contracting at the end of a brake), where
    cross-talk of this muscle's own contraction, a fraction of it, is not.
    ``moved``: for a stretch, an antagonist was louder than this muscle in a
    window of its pause *and* at least ``off_ratio`` x its own baseline there:
    it moved the foot even without an activity run of its own (a brief lift of
    the foot under ``on_ratio`` on a noisy device; model 0.7.9)."""
    if quiet_from is not None and moved:
        return True
    for a in antagonists:
        if a.run is not None and quiet_from is not None:
            # a stretch: the antagonist began as this muscle fell quiet or after
            # (one that began while this muscle was contracting is its cross-talk:
            # a cramp on the shin, through the cramp's own dips; model 0.7.6)
            if louder or a.run.start_s >= quiet_from - RISE_S - TIME_EPS_S:
                return True
        elif a.run is not None and a.run.start_s <= t0 - RISE_S + TIME_EPS_S:
            return True
        if a.run is None and t0 - s.stance_gap_s - TIME_EPS_S <= a.last_run_end <= t0 + TIME_EPS_S:
            return True
    return False


def first_level(run, t0: float, start: float | None = None) -> float | None:
    """A placed contraction's level over its first ``PLACED_FIRST_S`` (the
    press test's reference, kept in ``run.first_level`` or, for a stretch
    starting at ``start``, ``run.stretch_first``, when the decision window
    slides past it), once the window starting at ``t0`` is past it; else None."""
    at = run.start_s if start is None else start
    if t0 < at + PLACED_FIRST_S - TIME_EPS_S:
        return None
    lv = [x[1] for x in run.recent if at - TIME_EPS_S <= x[0] < at + PLACED_FIRST_S - TIME_EPS_S]
    return median(lv) if lv else float("nan")


def stance_drop(lv: np.ndarray, k: int, cols: list, hop: float, s: CrampSettings) -> tuple | None:
    """A single-leg stance that channel ``k`` is making now, found in ``lv``
    (the levels in µV of the last windows, oldest first, windows x channels,
    the last row the window being decided): the latest window at which a
    channel of the other leg (``cols``) let go of a steady load (over
    ``hold_min_s``, :func:`.runs.steady_hold`'s test) as ``k`` took it (over
    the ``UNLOAD_S`` after, the other ``coactive_ratio`` x lower than that load
    and ``k`` ``coactive_ratio`` x higher than it was), since which ``k`` has
    stayed at the level it took (its last ``PRESS_LAST_S`` under ``press_rise``
    x its level at the end of that second, as a press) while that leg was off
    within the last ``min_s_press``. Returns ``(windows ago it fell, the
    other channel, its load before in µV, k's level taken in µV, windows ago
    it was last off)``, or None. The contraction may have begun before
    (standing heavily enough to be a run of its own), unlike
    :func:`unloaded`, which judges a contraction's first second; and ``k``
    must still have been at its standing level ``RISE_S`` before the other
    leg fell: a cramp after which the wearer sat down (or lifted the other
    foot) had risen first."""
    n = len(lv)
    nu = max(1, int(round(UNLOAD_S / hop)))
    nh = max(2, int(round(s.hold_min_s / hop)))
    nf = max(1, int(round(PRESS_FIRST_S / hop)))
    nl = max(1, int(round(PRESS_LAST_S / hop)))
    n_press = int(round(s.min_s_press / hop))
    n_rise = int(round(RISE_S / hop))
    if n < nh + nu + nl or not cols:
        return None
    x = lv[:, k].tolist()
    last = median(x[-nl:])
    best = None
    for j in cols:
        y = lv[:, j].tolist()
        for d in range(n - nu, nh - 1, -1):       # d: the first window after its steady load
            if best is not None and d <= best[0]:
                break
            held = sorted(y[d - nh:d])
            if not runs._steady_sorted(held, s.hold_steady):
                continue
            load = runs._median_sorted(held)
            if median(y[d:d + nu]) * s.coactive_ratio > load:
                continue                      # it did not let go within UNLOAD_S
            mine = sorted(x[d - nh:d])
            if not runs._steady_sorted(mine, s.hold_steady):
                continue                      # this one was rising already (a cramp, then the wearer sat down)
            if median(x[d:d + nu]) < s.coactive_ratio * runs._median_sorted(mine):
                continue                      # this one did not take the weight
            # together: RISE_S before the other fell (its latest crossing below
            # its load / coactive_ratio) this one was still at its level before
            # (under coactive_ratio x the low end, HOLD_PCT[0], of the
            # hold_min_s before that): a cramp that began before the wearer sat
            # down or lifted the other foot had risen first
            fell = next((m + 1 for m in range(d + nu - 1, -1, -1) if y[m] * s.coactive_ratio > load), 0)
            b = fell - n_rise
            if b - 1 < 0 or b + 1 > n:
                continue
            low = runs._percentile_sorted(sorted(x[max(b - nh, 0):b]), HOLD_PCT[0])
            if median(x[b - 1:b + 1]) >= s.coactive_ratio * low:
                continue
            ref = median(x[d + nu - nf:d + nu])
            if last >= s.press_rise * ref:
                continue                      # it has risen on since: not a stance
            off = [m for m in range(max(d + nu, n - n_press), n + 1)
                   if median(y[m - nu:m]) * s.coactive_ratio <= load]
            if off:
                best = (d, j, load, ref, off[-1], fell)
            break                             # the latest drop of this channel decides
    return None if best is None else (n - best[5], best[1], best[2], best[3], n - best[4])


def single_leg(run, t1: float, lookback, hop: float, s: CrampSettings) -> str:
    """Why a contraction about to be announced is a single-leg stance (see
    :func:`stance_drop`; ``lookback()`` gives ``(levels, k, cols)`` for it),
    or "". A stance found is followed from window to window (``run.stance_hold``)
    for as long as the other leg stays off (or came back less than
    ``min_s_press`` ago) and this one stays at the level it took, however
    long it lasts (a balance exercise: 30 s and more)."""
    lv, k, cols = lookback()
    nu = max(1, int(round(UNLOAD_S / hop)))
    nl = max(1, int(round(PRESS_LAST_S / hop)))
    held = run.stance_hold
    if held is not None:
        j, load, ref, t_off = held
        if median(lv[-nu:, j].tolist()) * s.coactive_ratio <= load:
            t_off = t1
        if t1 - t_off < s.min_s_press - TIME_EPS_S and median(lv[-nl:, k].tolist()) < s.press_rise * ref:
            run.stance_hold = (j, load, ref, t_off)
            return f"single-leg stance: the other leg's load of {load:.1f} µV let go"
        run.stance_hold = None
    found = stance_drop(lv, k, cols, hop, s)
    if found is None:
        return ""
    ago, j, load, ref, off_ago = found
    run.stance_hold = (j, load, ref, t1 - off_ago * hop)
    return f"single-leg stance since {t1 - ago * hop:.1f} s: the other leg's load of {load:.1f} µV let go"


def interfered(ch, t1: float, need: float) -> float | None:
    """The start of a mains-interference episode of ``ch`` (announced by the
    quality stage, :meth:`.detector.CrampDetector.note_interference`) that had
    begun by ``t1`` and goes on, or ended less than ``need`` (the time a
    contraction must last) before it; else None. A loose electrode's hum is
    rarely a pure sine: the notches take its 50/60 Hz line, but its harmonics
    (a clipped or distorted hum, switching supplies) pass the band-pass as a
    steady, localised level that looks like a contraction. While such an
    episode goes on, the channel's level is not the muscle's (the quality
    stage reports it as an artefact), so nothing is announced from it; a
    contraction that goes on after it must then last as long as it must on
    its own. (A cramp that began before the hum was announced before it.)"""
    for a, b in hum_known(ch, t1):
        if a <= t1 and (b is None or t1 - b < need):
            return a
    return None


def hum_known(ch, t: float) -> list:
    """The mains-interference episodes of ``ch`` as the window ending at ``t``
    knows them, ``[(start, end or None)]``: those the quality stage had
    announced by ``t``, an end only once it had found it (each note's known
    time, :meth:`.detector.CrampDetector.note_interference`), so that a
    window's view does not depend on the chunk its notes came with."""
    return [(a, b if b is not None and kb <= t + TIME_EPS_S else None)
            for a, b, ka, kb in ch.hum if ka <= t + TIME_EPS_S]


def began_with_hum(ch, start: float, t: float) -> bool:
    """Whether a run of ``ch`` that started at ``start`` began with a
    mains-interference episode, as known at ``t`` (:func:`hum_known`): one that
    started before it, or at most ``HUM_SLACK_S`` after it (the quality stage's
    windows and the detector's are a window apart), and had not ended by then."""
    return any(a <= start + HUM_SLACK_S and (b is None or b >= start) for a, b in hum_known(ch, t))


def humming(ch, t: float, known_at: float) -> bool:
    """Whether a mains-interference episode of ``ch`` that had begun by ``t``
    goes on, as known at ``known_at`` (the window's end, :func:`hum_known`):
    the window at ``t`` is the hum's (see :func:`interfered`), as are all the
    windows of a run that began with one (:func:`began_with_hum`: its windows
    after the episode are the hum's tail)."""
    return any(b is None and a <= t for a, b in hum_known(ch, known_at))


def is_press(recent, start: float, t1: float, s: CrampSettings, first: float | None = None) -> tuple[float, float] | None:
    """A contraction from rest that was at its level from its first
    ``PRESS_FIRST_S``: its level over the last ``PRESS_LAST_S`` before ``t1``
    is under ``press_rise`` x its first (a deliberate press, a brake or a held
    raise, reaches its force at once and holds it). Returns those two levels
    (:func:`press_levels`; ``first`` as there) when it is a press, else None."""
    lv = press_levels(recent, start, t1, first)
    return lv if lv is not None and lv[1] < s.press_rise * lv[0] else None


def confidence(duty: float, ratio: float, co: float, evidence: bool, dur: float, s: CrampSettings) -> float:
    """A logistic of: the duty's margin over ``min_duty``, the level over
    ``cramp_ratio`` (log), the co-activation (log), evidence, and duration."""
    z = (CONF_DUTY_WEIGHT * (duty - s.min_duty) / (1 - s.min_duty + CONF_EPS) + math.log(ratio / s.cramp_ratio)
         - math.log(max(co, 1.0)) + (CONF_EVIDENCE if evidence else 0.0) + CONF_PER_S * dur)
    return round(1.0 / (1.0 + math.exp(-z)), CONF_DIGITS)


def decide(run, ch, t1: float, base: float, on: bool, s: CrampSettings, hop: float, uv_scale: float,
           mode: str, detector: str, source: str, newest: float | None = None,
           lookback=None) -> Event | None:
    """The cramp decision for a run not yet announced, at the end ``t1`` of its
    latest window (baseline ``base`` µV; ``newest``: the level of the window's
    quietest hop, the ``floor`` feature, None where not computed; ``lookback``:
    what :func:`single_leg` asks, None without another leg): the onset event,
    or None (the reason kept in ``run.why``)."""
    if run.dismissed:
        return None   # the wearer said this contraction is not a cramp
    dur = t1 - run.start_s
    need = run.need_s
    if dur < need or not on:
        return None   # announced only while it lasts (not in the pause after it stopped)
    hum = interfered(ch, t1, need)
    if hum is not None:
        run.why = f"mains interference on this channel since {hum:.1f} s"
        return None
    if newest is not None and newest < s.off_ratio * base:
        # a window still holds the last of a contraction for a hop after it
        # stopped: one of its hops below off_ratio (the run has lasted need_s,
        # so it is the newest) means it has ended, or paused, and is not announced
        run.why = f"quiet hop {newest:.1f} µV"
        return None
    recent = run.recent
    need_ratio = run.need_ratio
    context = run.context
    if (run.on_from is not None and run.on_from > run.start_s + TIME_EPS_S
            and t1 - run.on_from >= run.stretch_rule[0]):
        # a contraction that began inside the run (after walking, after a pedal
        # gap) and has lasted as long as its own context asks: judged on its own
        # windows and by its own rule, not on the bursts or holds before it; and
        # still by its own rule once the decision window holds nothing else
        # (until model 0.7.5 the run's rule came back then: an accelerator hold
        # after the first brake of a drive, judged after a hold, waited 8 s;
        # 15 s in, it was a contraction from rest again, due after 3.5 s)
        recent = [x for x in recent if x[0] >= run.on_from - TIME_EPS_S]
        need, need_ratio, start, context = run.stretch_rule
        duty = 1.0
        stance = run.rise_ref if run.step_from is not None and run.on_from == run.step_from else None
    elif (run.stretch_placed and run.on_from is not None and run.on_from > run.start_s + TIME_EPS_S
          and run.on_from == run.stretch_rule[2] and t1 - run.on_from < run.stretch_rule[0]):
        # a contraction inside the run that the shin placed (the accelerator
        # after a brake: the shin lifted the foot in the pause before it) is a
        # new movement: judged by its own rule once due, not by the run's rule
        # over the brake and the pause (model 0.7.6)
        run.why = f"placed at {run.on_from:.1f} s, judged by its own rule from {run.on_from + run.stretch_rule[0]:.1f} s"
        return None
    elif run.step_from is not None and run.on_from == run.step_from and t1 - run.on_from < run.stretch_rule[0]:
        # a contraction that rose out of this run's steady hold (runs.rise): a
        # working muscle's press (a brake from the pedal, a raise from standing)
        # until it has lasted as long as the rule after a hold asks
        run.why = f"rose out of a hold at {run.step_from:.1f} s"
        return None
    else:
        duty = run.recent_on / len(recent)
        stance = None
        start = run.start_s
    if duty < s.min_duty:
        run.why = f"duty {duty:.2f}"
        return None
    if run.n_windows % DECIDE_EVERY and dur >= need + hop:
        return None   # the costlier tests every other window (0.25 s) once due
    if context in UNLOAD_CONTEXTS and start == run.start_s and t1 - start < s.min_s_press - TIME_EPS_S:
        fell = unloaded(run, s)
        if fell is not None:
            # the other leg let go of its load as this one took it: the weight
            # moved onto this leg, a single-leg raise or hold from standing (up
            # to 6 s): it waits as long as a press does, min_s_press; a longer
            # single-leg stance is then told by single_leg, below
            run.why = f"weight onto this leg: the other leg {fell[0]:.1f} -> {fell[1]:.1f} µV"
            return None
    # (the run's first level as kept when it began with a steady hold: once the
    # decision window has passed the run's start, a brake and the weaker pedal
    # hold after it are still a press and a weaker one, not a contraction of
    # unknown start; model 0.7.6)
    kept = run.press_first if start == run.start_s and run.press_first == run.press_first else None
    press = is_press(recent, start, t1, s, kept) if context == "rest" else None
    if not press and context == "rest" and mode != "sleep" and start == run.start_s \
            and start - ch.last_held[0] <= s.hold_context_s:
        now = [x[1] for x in recent if x[0] >= t1 - PRESS_LAST_S - TIME_EPS_S]
        level_now = median(now) if now else None
        if level_now is not None and level_now < s.press_rise * ch.last_held[1]:
            # a repetition: this muscle held a contraction at least as strong
            # (within press_rise) in the last hold_context_s and ended it itself
            # (an exercise set's next raise or hold, the next brake): it waits
            # as a press does
            press = (ch.last_held[1], level_now)
    if press and t1 - max(start, run.on_from) < s.min_s_press - TIME_EPS_S:
        # a press is announced once it has lasted min_s_press since its latest
        # pause (one that dips and comes back at its level goes on as itself)
        run.why = f"a press: at its level since {start:.1f} s"
        return None
    if press and run.on_from > start + TIME_EPS_S:
        first, last = press
        if last * s.press_rise < first:
            # it paused and came back press_rise x weaker: another movement (a
            # brake, then the foot on the accelerator), judged as its latest
            # stretch by that stretch's own rule once due
            run.why = f"a press, then a weaker one since {run.on_from:.1f} s"
            return None
    levels = [x[1] for x in recent]
    level = median([x[1] for x in recent if x[2]])
    # steady from where it first reached steady_frac x its level: a build-up
    # (a cramp's discharge recruiting over seconds) is not a dip between bursts
    thr = s.steady_frac * level
    first = next((i for i, v in enumerate(levels) if v >= thr), 0)
    steady = fraction_at_least(levels[first:], thr)
    if steady < s.min_steady:
        run.why = f"steady {steady:.2f}"
        return None
    # rhythmic (walking, stairs, raise sets): bursts over the span it must
    # have lasted; with one sensor nothing else tells them from a cramp
    n_swings = swings([x[1] for x in recent if x[0] >= t1 - need - TIME_EPS_S])
    if n_swings >= RHYTHM_SWINGS:
        run.why = f"rhythmic: {n_swings} bursts of {RHYTHM_RISE} x in {need:.1f} s"
        return None
    strong = level >= need_ratio * base          # this window's baseline, not the batch's last
    strong = strong and level >= (s.cramp_mvc * ch.mvc if ch.mvc else s.cramp_min_uv * uv_scale)
    if not strong:
        run.why = f"weak {level:.1f} µV"
        return None
    work = runs.work_level(ch.work, recent[0][0], s) if mode != "sleep" else None
    if work is not None:       # (awake: asleep, muscles do no steady work)
        # above work_ratio x the working level for as long as a cramp must last
        # (not a brief stronger press, like braking, inside a long hold)
        last = [x[1] for x in recent if x[0] >= t1 - need]
        above = fraction_at_least(last, s.work_ratio * work) if last else 0.0
        if above < s.min_duty:
            run.why = f"{above:.2f} of {need:.0f} s above {s.work_ratio} x its working level"
            return None
    # the wearer's dismissed contractions stand in for the working level where
    # none is known (the first press of a drive, a first exercise hold); where
    # the muscle is working now, its working level is the better reference
    floor = answer_floor(ch, s) if work is None else None
    if floor is not None:
        # the wearer dismissed contractions of this muscle at about this level:
        # a cramp must rise clearly above them (answer_ratio x) for as long as it must last
        last = [x[1] for x in recent if x[0] >= t1 - need]
        above = fraction_at_least(last, s.answer_ratio * floor * base) if last else 0.0
        if above < s.min_duty:
            run.why = f"{above:.2f} of {need:.0f} s above {s.answer_ratio} x dismissed contractions"
            return None
    rows = [x[3] for x in recent if x[3] is not None]
    co = 0.0
    if rows:
        med = np.median(np.asarray(rows), axis=0)
        if stance is not None:          # rose out of a stance: the other calf's own rise counts
            med = runs.stance_relative(med, stance, s)
        co = float(np.max(med))
    if co >= s.coactive_ratio:
        run.why = f"co-active {co:.1f}"
        return None
    if start == run.start_s:
        placed_press, lv0 = run.placed, run.first_level
    else:   # a stretch inside the run: the accelerator after a brake, past the shin's burst
        placed_press, lv0 = run.stretch_placed, run.stretch_first
    if placed_press and lv0 is not None and lv0 == lv0:     # (not NaN)
        last = [x[1] for x in recent if x[0] >= t1 - PRESS_LAST_S - TIME_EPS_S]
        if last and median(last) < s.press_rise * lv0:
            # the foot was placed (its antagonist moved it just before) and the
            # press holds its level: a brake held at a stop, a foot on a step
            run.why = f"a placed press: the foot moved just before {start:.1f} s, at its level since"
            return None
    if lookback is not None and mode != "sleep":
        why = single_leg(run, t1, lookback, hop, s)
        if why:
            run.why = why
            return None
    conf = confidence(duty, level / base, co, bool(run.evidence), dur, s)
    # onset: the run's start, or (after a long voluntary stretch) the first
    # active window of the stretch that made the decision
    onset = run.start_s if recent[0][0] <= run.start_s + TIME_EPS_S else next(x[0] for x in recent if x[2])
    run.recent = deque()
    run.cramp = Event("cramp", ch.name, onset, t1, alert_s=t1, confidence=conf,
                      peak_uv=run.peak, detail=detail(run), status="onset",
                      features={"rms_uv": level, "baseline_uv": base, "duty": duty,
                                "coactive": co, "evidence": run.evidence, "context": context,
                                "min_s": max(need, s.min_s_press) if press else need},
                      detector=detector, source_id=source)
    return run.cramp


# ---------------------------------------------------------------------- the wearer's answers
def learn(ch, answer, context, level_uv, baseline_uv, mode: str, s: CrampSettings) -> None:
    """Take one answer (stored or just given) into ``ch``'s memory: the level
    of the contraction, as a ratio to its baseline (electrodes move between
    sessions; the ratio travels better than µV), kept per mode."""
    if answer not in ("cramp", "not_cramp"):
        return
    asleep = isinstance(context, str) and context in SLEEP_CONTEXTS
    if asleep != (mode == "sleep"):
        return
    try:
        ratio = float(level_uv) / float(baseline_uv)
    except (TypeError, ValueError, ZeroDivisionError):
        return
    if not math.isfinite(ratio) or ratio <= 0:
        return
    keep = max(1, int(s.answer_keep))
    memory = ch.dismissed if answer == "not_cramp" else ch.confirmed
    memory.append(ratio)
    del memory[:-keep]


def answer_floor(ch, s: CrampSettings) -> float | None:
    """The level (x baseline) a cramp on ``ch`` must clear by ``answer_ratio``:
    the median of the contractions the wearer dismissed, lowered so that
    a cramp half as strong as any the wearer confirmed would still be
    announced (cramps of one muscle vary in strength); None without answers.

    Until ``ch`` has answers of its own, those of the same muscle on the other
    leg (``ch.mirrors``) stand in: the everyday holds a wearer dismisses (a
    foot put down at a stop, a pedal, a weight shift) are made with either leg,
    and their level as a ratio to rest is the activity's, not the side's.
    Cramps confirmed on either side lower the floor."""
    mirrors = ch.mirrors
    dismissed = ch.dismissed or [r for m in mirrors for r in m.dismissed]
    if not dismissed:
        return None
    floor = float(np.median(dismissed))
    confirmed = ch.confirmed + [r for m in mirrors for r in m.confirmed]
    if confirmed:
        floor = min(floor, ANSWER_CONFIRMED_FRAC * min(confirmed) / s.answer_ratio)
    return floor
