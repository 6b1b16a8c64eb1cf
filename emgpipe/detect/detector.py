"""The cramp / fasciculation / voluntary-activity detector.

Per channel, causally, from the window features (RMS, kurtosis, potentials) of
the filtered signal. Design, with the physiology it rests on
(``docs/physiology.md``; the modules, the detector protocol and every constant
in ``docs/detector.md``):

* **Baseline.** Each channel's rest level is tracked online in the log domain:
  it falls fast toward quiet windows and rises slowly, and never learns from
  windows well above it, so minutes of cramp or walking do not pull it up. A
  calibration profile (``emgpipe calibrate``) can seed it and adds an MVC
  reference. Every threshold is a ratio to this baseline (or a % of MVC).
* **Activity runs.** A window is *active* when its RMS is ``on_ratio`` times
  the baseline. Consecutive active windows, bridging pauses shorter than
  ``merge_s``, form a run.
* **Cramp** = a run that is *sustained* (active in at least ``min_duty`` of
  its windows: walking is bursty, ~30-50 % duty; and not bursting over the
  span it must last, ``RHYTHM_SWINGS`` rises of ``RHYTHM_RISE`` x: a calf that
  walks never quite rests between strides, but its level keeps tripling),
  *strong* (median RMS
  ``cramp_ratio`` times baseline, or ``cramp_mvc`` of MVC), *localised* (no
  channel on the other leg is co-active, and channels on the same leg are at
  most at cross-talk level: cramps stay in one muscle or one head, Ross &
  Thomas 1995, Khan & Burne 2007; tiptoe, squats and heel raises are
  bilateral, pressing co-activates the shin) and has lasted long enough.
  How long, and how strong, depends on what came before the run (its
  *context*, fixed when it starts):

  ========== ============================================== ================ =================
  context    what came before                               lasted           strong
  ========== ============================================== ================ =================
  evidence   fasciculations in the minute before (Miller &  min_s_evidence   cramp_ratio_rest
             Layzer 2005) or a raised-tension precursor     (asleep:
             (Chaney & Sherman; asleep against the rest     min_s_sleep_
             level of the last minutes)                     evidence)
  rest       awake: rest, walking or running                min_s            cramp_ratio_rest
             (min_s_press for a press: at its level from    (min_s_press)
             its first half second, not risen press_rise x
             since: a brake, a toe press, a held raise)
  hold       awake: a steady hold of this muscle (above     min_s_after_hold cramp_ratio
             off_ratio >= hold_min_s, ended by itself) in
             the last hold_context_s: someone exercising it
             makes deliberate presses of a few seconds
  sleep      asleep, no movement in the last                min_s_sleep      cramp_ratio
             series_context_s
  series     asleep inside a periodic-limb-movement series  min_s_sleep_     cramp_ratio
             (AASM: LMs of 0.5-10 s, 5-90 s apart)          series (> 10 s)
  ========== ============================================== ================ =================

  Awake, a run from rest (or after evidence) during whose first ``UNLOAD_S``
  the other leg let go of a steady load (``rules.unloaded``: the other foot
  lifted, as in a single-leg raise or hold, even from standing too light for
  its baselines to show) is a single-leg raise or hold: it waits
  ``min_s_press``, as a press does. A contraction about to be announced in
  whose last ``decision_s`` the other leg let go of a steady load as this
  muscle took it, this muscle still at its standing level ``RISE_S`` before
  (``rules.single_leg``), is a single-leg stance: it is not announced while
  it stays at the level it took (under ``press_rise`` x) and the other foot
  stays off the ground (or came down less than ``min_s_press`` ago), however
  long (model 0.6.7). A contraction that began just after the same leg's
  antagonist moved the foot (``rules.placed``: the shin active from
  ``RISE_S`` before it, or ended at most ``stance_gap_s`` before: a brake at a
  stop, a foot on a step) is not announced while it stays at the level of
  its first half second (model 0.6.8).

  The cramp event is announced (status ``onset``, the stretch prompt) at that
  moment with its onset at the run's start, and finalised when activity has
  stayed below ``off_ratio`` for ``end_pause_s``: a cramp that pauses for a
  few seconds stays one event.
* **Fasciculations** = isolated potentials (features ``pot_*``: rising edges
  ``spike_k`` x the window's noise floor, located to the sample, each reported
  by one window) in spiky windows (high kurtosis) while the channel is
  otherwise quiet; potentials at most ``fasc_merge_s`` apart form one episode,
  whose ``n_potentials`` counts them. Low tonic firing (a cramp's precursor or
  after-activity: a few units at 5-10 Hz, Chaney & Sherman) also makes such
  spikes: where the noise floor has been ``fasc_tonic_ratio`` x the rest level
  (the lowest baseline of the last ``REST_MEMORY_S``: a hold of minutes
  teaches the baseline its working level, and fasciculations are discharges
  at rest) over ``fasc_tonic_s``, or small potentials come at ``fasc_tonic_rate`` per
  second, and in a cramp's end pause, only a potential ``fasc_tonic_k`` x the
  floor counts, and only if it is ``fasc_tonic_base`` x the baseline or
  ``fasc_tonic_above`` x every potential of the last ``fasc_tonic_s`` (a unit
  other than the tonic ones, which repeat at 5-10 Hz). Where the floor has been
  ``fasc_work_floor`` x the rest level, units fire in every sub-block: the muscle
  is contracting (a pedal, a posture too weak to be active) and a potential
  must pass both tests (well above the rest level *and* ``fasc_work_above`` x
  every recent one: two of its own units discharging together superpose up to
  twice the largest, model 0.7.7).
  Potentials leading into
  activity (each within ``fasc_onset_gap_s`` of the next) are its recruitment,
  not fasciculations; earlier ones in the same episode still count. So are
  those leading into a floor that stays ``fasc_work_floor`` x the rest level
  for ``min_voluntary_s`` after rest (a contraction too weak to be active,
  ``fasciculations.began_working``, model 0.7.8). Potentials
  inside voluntary runs are not looked for (clinical FP analysis excludes
  voluntary activity too, Bashford et al. 2020), nor while another muscle of
  the channel's leg holds a voluntary contraction (its antagonist
  co-contracts, firing units near their threshold one at a time; model 0.7.14).
* **Voluntary** = every other activity run (walking bouts, holds, leg
  movements, posture shifts), reported when it ends.

This module orchestrates the stages: :mod:`.baseline` (rest level),
:mod:`.fasciculations` (potentials and episodes), :mod:`.runs` (activity
runs, holds, voluntary events), :mod:`.rules` (context, cramp decision,
the wearer's answers); :mod:`.settings` holds the parameters and constants,
:mod:`.channel` the per-channel state. :class:`CrampDetector` follows
:class:`emgpipe.detect.protocol.Detector`.

Examples
--------
>>> import numpy as np
>>> from emgpipe.types import Chunk
>>> from emgpipe.graph import Pipeline
>>> rng = np.random.default_rng(0)
>>> fs = 1000.0
>>> x = rng.normal(0, 3, (int(60 * fs), 2))
>>> x[int(20 * fs):int(50 * fs), 0] *= 40            # 30 s sustained, one channel
>>> p = Pipeline("default", detectors=[CrampDetector(CrampSettings())])
>>> ev = []
>>> _ = p.events.sink(ev.append)
>>> p.push(Chunk(x, fs=fs, ch_names=("calf_left", "calf_right"))); p.close()
>>> [(e.kind, e.channel, e.status) for e in ev if e.kind == "cramp"]
[('cramp', 'calf_left', 'onset'), ('cramp', 'calf_left', 'final')]
"""
from __future__ import annotations

import math

import numpy as np

from ..channels import parse_channel
from ..dsp.features import POTENTIAL_FEATURES
from ..types import Event
from . import baseline, fasciculations, rules, runs
from .channel import _Channel
from .settings import HUM_KEEP, HUM_NOTE_S, HUM_SLACK_S, TIME_EPS_S, UNLOAD_S, CrampSettings, band_fraction


class CrampDetector:
    """Causal cramp / fasciculation / voluntary detector over all channels of a stream.

    Parameters
    ----------
    settings : CrampSettings
    mode : "awake", "sleep" or None (awake rules)
    profile : dict, optional
        Calibration: ``{channel: {"rest_uv": .., "mvc_uv": ..}}``.
    detector : str
        Model tag recorded in every event.
    answers : list of dict, optional
        The wearer's stored answers to past cramp alerts (``channel``,
        ``answer``, ``context``, ``level_uv``, ``baseline_uv``).

    Use ``update(features) -> list[Event]`` per feature batch and
    ``close(end_s)`` at the end of the stream (the
    :class:`~emgpipe.detect.protocol.Detector` protocol).
    """

    #: carry an announced cramp's active windows forward in one step (same
    #: events as window by window, which tests compare by turning this off)
    carry = True
    #: the window features it reads (the pipeline computes no others for it)
    features = ("rms", "kurtosis", "floor", *POTENTIAL_FEATURES)

    def __init__(self, settings: CrampSettings | None = None, mode: str | None = None,
                 profile: dict | None = None, detector: str = "", answers: list | None = None):
        self.settings = settings or CrampSettings()
        self.answers = list(answers or [])
        self.mode = mode or "awake"
        self.profile = profile or {}
        self.detector = detector
        self._ch: list[_Channel] = []
        self._names: tuple = ()
        self._hop = None
        self._uv_scale = 1.0
        self._index: dict = {}
        self._source = ""
        self._early_pops: list = []          # pops noted before the first features
        self._early_hum: list = []           # ... and mains-interference episodes
        self._held: list = []                # (channel, voluntary event) until a hum with it would be known

    # ------------------------------------------------------------------ setup
    def _setup(self, features):
        self._names = features.ch_names
        self._hop = features.n_hop / features.fs
        prof = self.profile
        self._ch = [_Channel(n, self.settings, (prof.get(n) or {}).get("rest_uv"),
                             (prof.get(n) or {}).get("mvc_uv")) for n in self._names]
        # µV floors refer to the full sEMG band: scale them to what this rate keeps
        self._uv_scale = band_fraction(features.fs)
        legs = [c.leg for c in self._ch]
        self._same_leg = np.array([[a is not None and a == b for b in legs] for a in legs], dtype=bool)
        # pairs whose coincident potentials are common-mode (ECG), not one unit's cross-talk
        self._common = ~self._same_leg & ~np.eye(len(legs), dtype=bool)
        if not self._common.any():
            self._common = None
        for k, c in enumerate(self._ch):
            # the channels whose holding tells standing (runs.record): the other
            # leg's; with one leg's channels only (or legs unknown), all the others
            other = [j for j in range(len(self._ch)) if j != k and not self._same_leg[k, j]]
            c.other_cols = other or [j for j in range(len(self._ch)) if j != k]
            # the other leg's channels where both legs are known (a single-leg stance, rules.single_leg)
            c.stance_cols = [j for j in other if c.leg is not None and self._ch[j].leg is not None]
        info = [parse_channel(c.name) for c in self._ch]
        groups = [i.muscle_group for i in info]
        for k, c in enumerate(self._ch):
            # the same leg's other muscle groups (a calf's shin): the antagonist that
            # moves the foot before it is placed (rules.placed)
            c.antagonist_cols = [j for j in range(len(self._ch)) if j != k and self._same_leg[k, j]
                                 and groups[k] is not None and groups[j] is not None and groups[j] != groups[k]]
            # the same leg's other channels (fasciculations.step: not looked for while one holds)
            c.leg_cols = [j for j in range(len(self._ch)) if j != k and self._same_leg[k, j]]
            # the same muscle on the other leg, whose answers stand in for its own (rules.answer_floor)
            c.mirrors = [self._ch[j] for j in range(len(self._ch))
                         if groups[k] is not None and (groups[j], info[j].muscle) == (groups[k], info[k].muscle)
                         and None not in (info[j].leg, info[k].leg) and info[j].leg != info[k].leg]
        s = self.settings
        self._xt_frac = np.array([[s.crosstalk_frac if (a is not None and a == b) else s.crosstalk_frac_other
                                   for b in groups] for a in groups])
        self._index = {c.name: k for k, c in enumerate(self._ch)}
        self._tonic = fasciculations.TonicHistory(len(self._ch), self._hop, s)
        n_ch = len(self._ch)
        self._past = (np.empty((0, n_ch)), np.empty((0, n_ch)))   # recent levels and baselines (rules.evidence)
        self._rest_last = np.zeros(n_ch)                          # the rest level of the last window before the batch
        self._source = features.source_id
        for a in self.answers:
            self._learn(a.get("channel"), a.get("answer"), a.get("context"),
                        a.get("level_uv"), a.get("baseline_uv"))
        early, self._early_pops = self._early_pops, []
        self.note_pops(early)
        early, self._early_hum = self._early_hum, []
        self.note_interference(early)

    @property
    def state(self) -> dict:
        """Per channel: baseline (µV), current RMS and ratio, and what it is doing."""
        out = {}
        for c in self._ch:
            doing = "quiet"
            if c.run is not None:
                doing = "CRAMP" if c.run.cramp is not None else "active"
            elif c.fasc is not None:
                doing = "fasciculating"
            out[c.name] = {"baseline_uv": c.base, "rms_uv": c.last_rms, "ratio": c.last_ratio, "state": doing}
        return out

    # ------------------------------------------------------------------ main loop
    def update(self, features) -> list:
        """The events announced by one batch of window features (all channels)."""
        if features.ch_names != self._names or not self._ch:
            self._setup(features)
        s = self.settings
        rms = features.values["rms"]
        n_win = len(rms)
        if n_win == 0:
            return []
        kurt = features.values.get("kurtosis")
        starts = features.starts / features.fs
        ends = (features.starts + features.n_len) / features.fs
        win_s = features.n_len / features.fs
        hop = self._hop
        # 1. baselines and ratios, vectorised per channel (compiled recursion)
        ratios, bases, untaught = baseline.track(self._ch, rms, hop, s)
        ready = ~np.isnan(bases)
        bases0 = np.where(ready, bases, 0.0)
        kurt_ok = np.ones(rms.shape, bool) if kurt is None else kurt < s.smooth_kurtosis
        active = (ready & (ratios >= s.on_ratio) & (rms - bases0 >= s.min_active_uv * self._uv_scale)
                  & kurt_ok)
        # the rest level (the lowest baseline of the last minutes) of every window:
        # fasciculations and the precursor test are judged against it
        rest = fasciculations.rest_level(self._ch, bases0, hop)
        pot = fasciculations.potentials(features.values, bases0, rest, starts, s, self._tonic, self._common)
        if pot is not None and kurt is not None:
            pot_n, pot_a, pot_b, pot_big, pot_late, pot_rise = pot
            # (not on a flat line, its ring, nor the window after: the step back when the electrode is on again)
            fcand = ready & (pot_n > 0) & (kurt >= s.fasc_kurtosis) & (ratios < s.fasc_max_ratio) & ~untaught
        else:
            pot_n = pot_a = pot_b = pot_big = np.zeros(rms.shape)
            pot_late = pot_rise = np.full(rms.shape, np.nan)
            fcand = np.zeros(rms.shape, bool)
        self._batch_rms, self._batch_bases = rms, bases
        self._batch_rest = rest
        self._batch_floor = features.values.get("floor")
        # co-activation of the other channels, for every window at once
        self._batch_co = None
        if len(self._ch) > 1:
            self._batch_co = runs.coactivity_batch(ratios, rms, bases0, self._same_leg, self._xt_frac)
        out: list = []
        # 2. the state machine, only where something happens. A channel in an
        # announced cramp that stays active (the long middle of a cramp) is
        # carried forward in one step: only its own run's counters change there.
        steady_on = active & ~fcand
        # window times as Python floats: the state machine's arithmetic on them is
        # the same, and cheaper than on numpy scalars (issue 15)
        t_start, t_end = starts.tolist(), ends.tolist()
        skip = [0] * len(self._ch)           # channel k is carried forward up to this window
        # the first window from i on in which channel k is active or a fasciculation candidate
        # (n_win: none), for every window at once
        own = np.where(active | fcand, np.arange(n_win)[:, None], n_win)
        own = np.minimum.accumulate(own[::-1], axis=0)[::-1].tolist()
        i = 0
        while i < n_win:
            nxt = n_win                      # the next window any channel needs
            for k, ch in enumerate(self._ch):
                if skip[k] > i:
                    nxt = min(nxt, skip[k])
                elif ch.run is not None or ch.fasc is not None:
                    nxt = i
                    break
                else:
                    nxt = min(nxt, own[i][k])
            if nxt >= n_win:
                break
            i = nxt
            if self._held:    # (before this window's events: the same order in any chunking)
                self._release(out, t_end[i])
            for k, ch in enumerate(self._ch):
                if skip[k] > i or not ready[i, k]:
                    continue
                run = ch.run
                if self.carry and run is not None and run.cramp is not None and ch.fasc is None \
                        and run.on_from is not None and steady_on[i, k]:
                    off = np.flatnonzero(~steady_on[i:, k])
                    skip[k] = j = i + int(off[0]) if len(off) else n_win
                    runs.carry_cramp(run, rms[i:j, k], t_start[i], t_end[j - 1])
                    continue
                self._step(k, ch, i, rms.item(i, k), ratios.item(i, k), bases.item(i, k),
                           t_start[i], t_end[i], win_s,
                           active.item(i, k), fcand.item(i, k), kurt_ok.item(i, k),
                           (pot_n.item(i, k), pot_a.item(i, k), pot_b.item(i, k), pot_big.item(i, k),
                            pot_late.item(i, k), pot_rise.item(i, k)), out)
            i += 1
        # 3. keep the recent levels and baselines for the precursor test
        self._past = baseline.keep_history(self._past, rms, bases, hop, s)
        self._rest_last = rest[-1]
        if self._held:
            self._release(out, float(ends[-1]))
        return out

    def _release(self, out: list, t: float) -> None:
        """Report the held leg movements whose mains-interference notes are
        known by ``t`` (HUM_SLACK_S + HUM_NOTE_S after their start), but not
        those that began with a hum: the hum's first moments are the artefact's,
        as a run that began with a known one is (runs.finish). Judged as known at
        that time, so that the events do not depend on the chunking."""
        keep = []
        for ch, ev in self._held:
            due = ev.start_s + HUM_SLACK_S + HUM_NOTE_S
            if due > t + TIME_EPS_S:
                keep.append((ch, ev))
            elif not rules.began_with_hum(ch, ev.start_s, due):
                out.append(ev)
        self._held = keep

    def _step(self, k, ch, i, r, ratio, base, t0, t1, win_s, active, fcand, smooth, pot, out):
        """One window ``i`` (``t0``-``t1`` s) of channel ``k``."""
        s = self.settings
        # ---- fasciculations: isolated potentials on an otherwise quiet channel
        fasciculations.step(ch, t0, t1, ratio, active, fcand, pot, s, out, self.detector, self._source,
                            leg_holds=fcand and self._leg_holds(ch, t1))
        # ---- activity runs
        run = ch.run
        if run is not None and run.cramp is not None and run.on_from is None \
                and (active or (smooth and ratio >= s.off_ratio)) \
                and self._placed(k, ch, i, t0, run.last_on_s):
            # an announced contraction paused and the shin moved the foot in the
            # pause: it has ended, and what follows is a new movement (a brake
            # alerted by mistake, then the accelerator: the cramp event went on
            # through the whole drive, teaching no hold; model 0.7.6)
            self._finish_run(ch, out, t0)
            run = None
        if run is None:
            if not active:
                return
            fasciculations.drop_onset(ch, t0, s)
            self._finish_fasc(ch, out, t1)
            run = ch.run = runs._Run(start_s=t0, last_on_s=t1, evidence=self._evidence(ch, t0, i))
            run.context = self._context(ch, t0, run.evidence)
            run.need_s, run.need_ratio = self._rule(run.context)
            run.placed = self._placed(k, ch, i, t0)
            if run.context in rules.UNLOAD_CONTEXTS and self._batch_co is not None:
                run.load_before = runs.load_before(ch.other_cols, self._past[0], self._past[1],
                                                   self._batch_rms[:i], self._batch_bases[:i], self._hop, s)
        on, in_cramp = runs.advance(run, r, ratio, t0, t1, active, smooth, s)
        if run.load_before is not None and t0 < run.start_s + UNLOAD_S - TIME_EPS_S:
            run.load_during.append(self._batch_rms.item(i, run.load_before[0]))
        if run.placed and run.first_level is None and not in_cramp:
            run.first_level = rules.first_level(run, t0)
        if run.press_first is None and not in_cramp and t0 >= run.start_s + s.hold_min_s - TIME_EPS_S:
            # a run that held steadily over its first hold_min_s (a brake, a press;
            # not walking's bursts) keeps its first level for rules.is_press: the
            # decision window leaves the run's start behind after decision_s (NaN: not kept)
            run.press_first = (rules.press_first(run.recent, run.start_s)
                               if runs.steady_hold(run.recent, run.start_s, s.hold_steady) else math.nan)
        if run.step_from is not None and run.step_from == run.on_from \
                and run.stretch_rule[2] != run.step_from and not in_cramp:
            # a contraction that rose out of this run's steady hold: the muscle is
            # working, so the rule after a hold (runs.rise)
            run.stretch_rule = (*self._rule("hold"), run.step_from, "hold")
        elif run.on_from == t0 and t0 > run.start_s + TIME_EPS_S and not in_cramp:
            # a contraction that begins inside the run: its own context, from
            # what the muscle (and the others) did before it
            context = self._context(ch, t0, run.evidence)
            run.stretch_rule = (*self._rule(context), t0, context)
            # placed too when the shin has just moved the foot (the accelerator
            # after a brake: the pause between them is too short to end the run)
            quiet = next((x[0] + (t1 - t0) for x in reversed(run.recent) if x[2]), None)
            run.stretch_placed = self._placed(k, ch, i, t0, quiet)
            run.stretch_first = None
        if run.stretch_placed and run.stretch_first is None and not in_cramp:
            run.stretch_first = rules.first_level(run, t0, run.stretch_rule[2])
        if not in_cramp:
            row = None
            if self._batch_co is not None:
                # activity of the other channels (co-activation, runs.coactivity)
                row = self._batch_co[i, k]
            # a steady level under mains interference is the hum's: no hold, no working level
            hum = False
            if ch.hum:
                run.hum = run.hum or rules.began_with_hum(ch, run.start_s, t1)
                hum = run.hum or rules.humming(ch, t0, t1)
            runs.record(run, ch, t0, t1, r, on, row, s, self._uv_scale, learn=not hum)
        pause = t1 - run.last_on_s
        if in_cramp:
            if pause >= s.end_pause_s:
                self._finish_run(ch, out, t1)
            return
        if pause >= s.merge_s:
            self._finish_run(ch, out, t1)
            return
        # ---- cramp decision
        floor = self._batch_floor
        e = rules.decide(run, ch, t1, base, on, s, self._hop, self._uv_scale, self.mode,
                         self.detector, self._source, None if floor is None else floor.item(i, k),
                         (lambda: self._lookback(k, ch, i)) if ch.stance_cols else None)
        if e is not None:
            out.append(e)

    # ------------------------------------------------------------------ the rules (see rules.py)
    def _evidence(self, ch: _Channel, t: float, i: int) -> str:
        """Why a cramp may be announced early (run start ``t``, window ``i`` of the batch)."""
        k = self._index[ch.name]
        rest = (self._batch_rest[i - 1, k] if i > 0 else self._rest_last[k]) if self.mode == "sleep" else 0.0
        return rules.evidence(ch, t, self._past[0][:, k], self._past[1][:, k], self._batch_rms[:i, k],
                              self._batch_bases[:i, k], self._hop, self.settings, float(rest))

    def _placed(self, k: int, ch: _Channel, i: int, t0: float, quiet_from: float | None = None) -> bool:
        """:func:`.rules.placed` for a contraction of channel ``k`` beginning at
        window ``i`` (``t0``), awake and with an antagonist; ``quiet_from``: for
        a stretch inside a run, when the muscle last fell quiet (then also
        whether an antagonist was louder in the pause, and raised there too,
        :meth:`_louder_in_pause`)."""
        if self.mode == "sleep" or not ch.antagonist_cols:
            return False
        louder = moved = False
        if quiet_from is not None:
            louder, moved = self._louder_in_pause(k, ch, i, t0, quiet_from)
        return rules.placed(ch, t0, [self._ch[j] for j in ch.antagonist_cols], self.settings, quiet_from,
                            louder, moved)

    def _louder_in_pause(self, k: int, ch: _Channel, i: int, t0: float, quiet_from: float) -> tuple:
        """Whether one of ``ch``'s antagonists was louder (µV) than ``ch`` in a
        window of its pause (from ``quiet_from`` to window ``i`` at ``t0``): a
        shin that moved the foot while the calf was quiet. Cross-talk of the
        calf's own contraction is a fraction of it, and falls with it. And
        whether it was so while at least ``off_ratio`` x its own baseline: a
        movement of its own even where it stayed under ``on_ratio`` (a brief
        lift of the foot, on a noisy device; model 0.7.9)."""
        n = max(1, int(round((t0 - quiet_from) / self._hop)) + 1)
        lv, bs = self._batch_rms[max(i - n, 0):i], self._batch_bases[max(i - n, 0):i]
        if len(lv) < n and len(self._past[0]):
            m = max(len(self._past[0]) - (n - len(lv)), 0)
            lv = np.concatenate([self._past[0][m:], lv])
            bs = np.concatenate([self._past[1][m:], bs])
        if not len(lv):
            return False, False
        cols = list(ch.antagonist_cols)
        above = lv[:, cols] > lv[:, [k]]                   # (windows, antagonists)
        with np.errstate(invalid="ignore"):
            raised = lv[:, cols] >= self.settings.off_ratio * bs[:, cols]
        return bool(above.any()), bool((above & raised).any())

    def _lookback(self, k: int, ch: _Channel, i: int) -> tuple:
        """The levels (µV) of all channels over the last ``decision_s`` up to
        window ``i`` of the batch (fewer at the start of a stream), with ``k``
        and the other leg's channels, for :func:`.rules.single_leg`."""
        n = int(round(self.settings.decision_s / self._hop)) + 1
        lv = self._batch_rms[:i + 1]
        if len(lv) < n:
            lv = np.concatenate([self._past[0][len(self._past[0]) - min(n - len(lv), len(self._past[0])):], lv])
        return lv[-n:], k, ch.stance_cols

    def _leg_holds(self, ch: _Channel, t: float) -> bool:
        """Whether another muscle of ``ch``'s leg holds a voluntary contraction
        at ``t``: its run has been steadily above off_ratio for ``hold_min_s``
        (a pedal, standing; not walking's strides) and is no announced cramp."""
        for j in ch.leg_cols:
            run = self._ch[j].run
            if (run is not None and run.cramp is None and run.held_from is not None
                    and t - run.held_from >= self.settings.hold_min_s):
                return True
        return False

    def _context(self, ch: _Channel, t0: float, evidence: str) -> str:
        return rules.context(ch, t0, evidence, self._ch, self.mode, self.settings)

    def _rule(self, context: str) -> tuple[float, float]:
        return rules.rule(context, self.settings)

    # ------------------------------------------------------------------ the wearer's answer
    def _learn(self, channel, answer, context, level_uv, baseline_uv) -> None:
        """Take one answer (stored or just given) into its channel's memory (:func:`.rules.learn`)."""
        k = self._index.get(channel)
        if k is None:
            return
        rules.learn(self._ch[k], answer, context, level_uv, baseline_uv, self.mode, self.settings)

    def answer(self, channel: str, answer: str, t_s: float) -> list:
        """The wearer's answer to ``channel``'s current cramp alert, at stream time ``t_s``.

        ``"not_cramp"`` ends the announced cramp at ``t_s`` (its final event,
        labelled, is returned) and the channel's current contraction goes on as
        voluntary: no further alert for it. ``"cramp"`` confirms it (its final
        event will carry the label) and takes its windows out of the muscle's
        working level (:func:`.runs.forget_cramp`). Either way the contraction's level is
        remembered for the channel (:func:`.rules.answer_floor`): after a "not a
        cramp", a cramp there must rise ``answer_ratio`` x above it for the rest
        of the session (stored answers do the same from the next session on),
        and so must one of the same muscle on the other leg until that muscle
        has answers of its own.
        Without an announced cramp on the channel nothing changes and ``[]``
        is returned.
        """
        if answer not in ("cramp", "not_cramp"):
            raise ValueError(f"answer must be 'cramp' or 'not_cramp', got {answer!r}")
        k = self._index.get(channel)
        run = self._ch[k].run if k is not None else None
        if run is None or run.cramp is None:
            return []
        run.label = answer
        ch = self._ch[k]
        e = run.cramp
        f = e.features or {}
        self._learn(channel, answer, f.get("context"), f.get("rms_uv"), f.get("baseline_uv"))
        if answer == "cramp":
            # confirmed: its windows were the cramp's, not the muscle's work
            runs.forget_cramp(ch, e.start_s)
            return []
        t = max(float(t_s), e.alert_s)
        run.cramp, run.dismissed = None, True
        return [Event("cramp", ch.name, e.start_s, t, alert_s=e.alert_s, confidence=e.confidence,
                      peak_uv=run.peak, detail=e.detail + "; not a cramp (wearer)", features=dict(e.features),
                      detector=self.detector, source_id=self._source, label="not_cramp")]

    # ------------------------------------------------------------------ events
    def note_pops(self, pops) -> None:
        """Electrode pops found in the raw signal (``[(channel, edge time s)]``,
        see :mod:`emgpipe.detect.pops`): the potentials they made after the
        band-pass are not fasciculations. The quality stage finds a pop within
        ~0.35 s of its edge, well before an episode ends (``fasc_merge_s``)."""
        if not self._ch:
            self._early_pops.extend(pops)
            return
        for name, t in pops:
            k = self._index.get(name)
            if k is not None:
                self._ch[k].pops.append(float(t))

    def note_interference(self, episodes) -> None:
        """Mains-interference episodes the quality stage announced
        (``[(channel, start s, end s or None while it goes on, known s)]``, an
        episode's onset and then its end; :meth:`.quality.QualityDetector.interference_notes`):
        while one goes on, no cramp is announced on its channel
        (:func:`.rules.interfered`), and its windows teach nothing
        (:func:`.rules.humming`). The quality stage announces an episode after
        ``mains_min_s`` (2 s), before any contraction may be announced.

        ``known`` is the stream time from which the windows take the onset (or
        the end) into account: a note comes with the chunk in which the quality
        stage found it, which may be seconds of windows before or after it
        depending on the chunking; from its ``known`` time on, every chunking
        agrees."""
        if not self._ch:
            self._early_hum.extend(episodes)
            return
        for name, start, end, known in episodes:
            k = self._index.get(name)
            if k is None:
                continue
            at = float(known)
            hum = self._ch[k].hum
            for ep in hum:
                if ep[0] == start:
                    ep[1], ep[3] = end, at
                    break
            else:   # [start, end, onset known at, end known at]
                hum.append([float(start), end, at, at])
            del hum[:-HUM_KEEP]

    def _finish_fasc(self, ch: _Channel, out: list, now: float):
        fasciculations.finish(ch, out, now, self.detector, self._source)

    def _finish_run(self, ch: _Channel, out: list, now: float, hold: bool = True):
        """End the current run; ``now`` is the stream time of the decision (a
        leg movement is held until a hum that began with it would be known)."""
        runs.finish(ch, out, now, self.settings, self.detector, self._source, self._held if hold else None)

    def close(self, end_s: float) -> list:
        """End of stream at ``end_s``: the open episodes' and runs' final events."""
        out: list = []
        self._release(out, math.inf)
        for ch in self._ch:
            self._finish_fasc(ch, out, end_s)
            self._finish_run(ch, out, end_s, hold=False)
        return out
