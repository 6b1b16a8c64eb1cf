"""The cramp / fasciculation / voluntary-activity detector.

Per channel, causally, from the window features (RMS, kurtosis, potentials) of
the filtered signal. Design, with the physiology it rests on
(``docs/physiology.md``):

* **Baseline.** Each channel's rest level is tracked online in the log domain:
  it falls fast toward quiet windows and rises slowly, and never learns from
  windows well above it, so minutes of cramp or walking do not pull it up. A
  calibration profile (``emgpipe calibrate``) can seed it and adds an MVC
  reference. Every threshold is a ratio to this baseline (or a % of MVC).
* **Activity runs.** A window is *active* when its RMS is ``on_ratio`` times
  the baseline. Consecutive active windows, bridging pauses shorter than
  ``merge_s``, form a run.
* **Cramp** = a run that is *sustained* (active in at least ``min_duty`` of
  its windows: walking is bursty, ~30-50 % duty), *strong* (median RMS
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
             (Chaney & Sherman)                             min_s_sleep_
                                                            evidence)
  rest       awake: rest, walking or running                min_s            cramp_ratio_rest
  hold       awake: a steady hold of this muscle (above     min_s_after_hold cramp_ratio
             off_ratio >= hold_min_s, ended by itself) in
             the last hold_context_s: someone exercising it
             makes deliberate presses of a few seconds
  sleep      asleep, no movement in the last                min_s_sleep      cramp_ratio
             series_context_s
  series     asleep inside a periodic-limb-movement series  min_s_sleep_     cramp_ratio
             (AASM: LMs of 0.5-10 s, 5-90 s apart)          series (> 10 s)
  ========== ============================================== ================ =================

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
  spikes: where the noise floor has been ``fasc_tonic_ratio`` x the baseline
  over ``fasc_tonic_s``, or small potentials come at ``fasc_tonic_rate`` per
  second, and in a cramp's end pause, only a potential ``fasc_tonic_k`` x the
  floor counts, and only if it is ``fasc_tonic_base`` x the baseline or
  ``fasc_tonic_above`` x every potential of the last ``fasc_tonic_s`` (a unit
  other than the tonic ones, which repeat at 5-10 Hz). Where the floor has been
  ``fasc_work_floor`` x the baseline, units fire in every sub-block: the muscle
  is contracting (a pedal, a posture too weak to be active) and a potential
  must pass both tests (well above the rest level *and* above every recent one).
  Potentials leading into
  activity (each within ``fasc_onset_gap_s`` of the next) are its recruitment,
  not fasciculations; earlier ones in the same episode still count. Potentials
  inside voluntary runs are not looked for (clinical FP analysis excludes
  voluntary activity too, Bashford et al. 2020).
* **Voluntary** = every other activity run (walking bouts, holds, leg
  movements, posture shifts), reported when it ends.

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
from collections import deque
from dataclasses import dataclass, field, fields

import numpy as np

import logging

from ..channels import parse_channel
from ..dsp import _kernels
from ..types import Event


log = logging.getLogger(__name__)

#: A fasciculation potential starts just before its rising edge and lasts 5-25 ms (physiology.md §2).
_POT_LEAD_S, _POT_TAIL_S = 0.005, 0.02
#: A potential whose edge lies this close to an electrode pop's edge is that pop (filter delay, 1-2 samples).
_POP_TOL_S = 0.01
#: ... and potentials up to this long after it are the band-pass ringing after the step
#: (the 20 Hz high-pass settles within ~3 periods)
_POP_RING_S = 0.15


@dataclass(frozen=True)
class CrampSettings:
    """Detector parameters (physical units and ratios to the baseline).

    Loaded from the ``[detector]`` table of a model file (models/*.toml).
    """

    # baseline tracker
    baseline_down_s: float = 2.0        # time constant toward quieter windows
    baseline_up_s: float = 60.0         # time constant toward louder (but quiet) windows
    baseline_learn_ratio: float = 2.5   # windows above this x baseline never teach it
    baseline_floor_uv: float = 0.5      # below any real amplifier's noise
    warmup_s: float = 2.0
    # activity
    on_ratio: float = 3.0
    off_ratio: float = 2.5
    off_frac: float = 0.1               # ... and above this fraction of its plateau RMS
    min_active_uv: float = 8.0          # AASM leg movement: >= 8 µV above rest
    merge_s: float = 1.5                # pauses shorter than this stay in one run
    # cramp
    min_duty: float = 0.85
    decision_s: float = 15.0            # the decision looks at the run's last 15 s
    steady_frac: float = 0.35           # ... and this share of windows reach steady_frac x the run's median
    min_steady: float = 0.85            #     (walking bursts drop to ~10 % between steps)
    cramp_ratio: float = 5.0
    cramp_ratio_rest: float = 3.75      # ... when it arose from rest (no hold or leg-movement series before)
    cramp_min_uv: float = 22.0          # without calibration: ~5-10 % MVC of a calf (MVC ~250-500 µV RMS)
    cramp_mvc: float = 0.05             # with a calibration profile: 5 % MVC (replaces cramp_min_uv)
    min_s: float = 3.5                  # awake, without evidence, from rest or rhythmic activity
    min_s_after_hold: float = 8.0       # awake, when this muscle made a steady hold that ended by itself
    hold_context_s: float = 180.0       # ... within this long before (someone exercising it;
                                        # rests between exercise sets: 1-3 min, ACSM 2009)
    hold_steady: float = 0.5            # a steady hold's 10th percentile is this x its 90th (2 s)
    exercise_uv: float = 40.0           # a bilateral hold this strong is exercise, weaker ones posture
    work_min_s: float = 2.0             # ... of holds steady this long (working, not a brief press)
    work_pct: float = 90.0              # a muscle's working level: this percentile of its steady holds
    work_ratio: float = 1.5             # a cramp in a working muscle is this x its working level
    hold_min_s: float = 2.0             # a run that stays above off_ratio this long is a hold (walking: < 1 s)
    stance_gap_s: float = 2.0           # a run starting this soon after standing (both legs holding) ends
    min_s_sleep: float = 8.0            # asleep, no leg movement in the series window before
    min_s_sleep_series: float = 10.5    # asleep during a PLM series: beyond the AASM 10 s LM limit
    series_context_s: float = 90.0      # AASM: LMs of a series are 5-90 s apart
    min_s_evidence: float = 3.0         # awake, with fasciculations or a precursor before
    min_s_sleep_evidence: float = 5.0   # asleep, with fasciculations or a precursor before
    evidence_window_s: float = 60.0
    evidence_fasc: int = 4              # potentials in the evidence window
    precursor_ratio: float = 1.6        # median RMS/baseline over the precursor window
    precursor_s: float = 20.0           # Chaney & Sherman: raised ~41 +- 11 s before
    coactive_ratio: float = 1.3         # another channel whose median RMS over the run is this x its baseline
    crosstalk_frac: float = 0.4         # same-leg, same-group channels up to this x the main amplitude are cross-talk
    crosstalk_frac_other: float = 0.15  # ... other muscle groups of the leg (calf vs shin: antagonists)
    end_pause_s: float = 4.0
    # the wearer's answers
    answer_keep: int = 5                # the last this many "not a cramp" answers of a channel and mode ...
    answer_ratio: float = 1.5           # ... make a cramp there this x their median level (x baseline)
    # fasciculations
    smooth_kurtosis: float = 4.0        # an active window is at most this spiky (an interference pattern)
    fasc_kurtosis: float = 3.5          # a fasciculation window is at least this spiky
    fasc_max_ratio: float = 40.0        # above this the channel is active, not fasciculating
    fasc_merge_s: float = 1.0           # potentials (rising edges) at most this far apart are one episode
    fasc_tonic_ratio: float = 1.15      # noise floor this x baseline: low tonic firing under it
    fasc_tonic_s: float = 2.0           # ... as the mean over this long (one window's floor flickers)
    fasc_tonic_rate: float = 3.0        # ... or this many potentials per second over it
    fasc_tonic_k: float = 7.0           # there a potential must peak this x the window's floor ...
    fasc_tonic_base: float = 16.0       # ... and this x the baseline,
    fasc_tonic_above: float = 1.2       # ... or this x the largest potential of the last fasc_tonic_s
    fasc_tonic_base_min: float = 11.0   #     and this x the baseline
    fasc_work_floor: float = 2.0        # a floor this x baseline (over fasc_tonic_s): the muscle works (stricter)
    fasc_onset_gap_s: float = 0.35      # potentials this close together leading into activity are its onset
    fasc_after_s: float = 0.5           # no potentials counted this soon after activity ended
    # voluntary
    min_voluntary_s: float = 0.5        # AASM: a leg movement lasts >= 0.5 s

    @classmethod
    def from_model(cls, model) -> "CrampSettings":
        table = model.section("detector")
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in table.items() if k in names})


def band_fraction(fs: float, low_hz: float = 20.0, high_hz: float = 450.0, frac: float = 0.45) -> float:
    """Share of full-band (20-450 Hz) sEMG RMS that a stream at ``fs`` keeps.

    The µV floors of the detector refer to the full sEMG band; a Cyton
    (250 Hz, pass band to 112 Hz) sees only part of it. Model spectrum:
    P(f) = fh^4 f^2 / ((f^2 + fl^2)(f^2 + fh^2)^2) (Shwedyk, Balasubramanian &
    Scott, IEEE TBME 24:417, 1977), fl = 60 Hz, fh = 120 Hz, which puts the
    median frequency at 96 Hz, inside the 82-115 Hz measured on the real
    recordings of datasets/README.md. Gives 1.0 at >= 1 kHz, 0.78 at 250 Hz,
    0.68 at 200 Hz.
    """
    top = min(high_hz, frac * fs)
    if top >= high_hz:
        return 1.0
    f = np.linspace(low_hz, high_hz, 4000)
    p = 120.0 ** 4 * f ** 2 / ((f ** 2 + 60.0 ** 2) * (f ** 2 + 120.0 ** 2) ** 2)
    return float(np.sqrt(p[f <= top].sum() / p.sum()))


@dataclass
class _Run:
    start_s: float
    last_on_s: float
    n_windows: int = 0
    context: str = ""                                 # see the module docstring
    held_from: float | None = None                    # start of the current stretch above off_ratio
    held_s: float = 0.0                               # longest such stretch (a steady hold)
    need_s: float = 0.0                               # how long it must last to be announced ...
    need_ratio: float = 0.0                           # ... and how strong (x baseline), from its context
    # the decision looks at the run's most recent decision_s only (bounded cost,
    # and a cramp that follows walking without a pause is still recognised)
    recent: deque = field(default_factory=deque)      # (start_s, rms, on, others' ratios)
    recent_on: int = 0                                # how many of ``recent`` are on
    cramp: Event | None = None                        # the announced onset event
    peak: float = 0.0
    evidence: str = ""
    why: str = ""                                     # last reason it was not a cramp (debugging)
    was_hold: bool = False                            # it held steadily (>= hold_min_s): a hold
    dismissed: bool = False                           # the wearer answered "not a cramp": voluntary
    label: str = ""                                   # the wearer's answer to its cramp alert


class _Episode:
    """A fasciculation episode: its start, and its potentials as one (first
    edge, last edge, count) entry per window that found some; only the latest
    ``keep`` entries are held (memory stays flat in a long storm), the older
    ones as their count and last edge."""

    def __init__(self, part: tuple, keep: int = 32):
        self.start_s = part[0] - _POT_LEAD_S
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
            self.start_s = parts[0][0] - _POT_LEAD_S
        self.parts = parts

    @property
    def last_edge(self) -> float:
        return self.parts[-1][1] if self.parts else self.edge_old

    @property
    def end_s(self) -> float:
        return self.last_edge + _POT_TAIL_S

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


def _with_past(past: np.ndarray, new: np.ndarray, n: int) -> np.ndarray:
    """``new`` after the ``n`` values before it (``past`` holds at most ``n``;
    zeros stand for the time before the stream started)."""
    return np.concatenate([np.zeros(n - len(past)), past, new])


def _moving_sum(a: np.ndarray, n: int) -> np.ndarray:
    """Sums of ``a[i : i + n]``."""
    c = np.concatenate(([0.0], np.cumsum(a)))
    return c[n:] - c[:-n]


class _Channel:
    def __init__(self, name: str, s: CrampSettings, rest_uv: float | None, mvc_uv: float | None):
        self.name = name
        self.leg = parse_channel(name).leg
        self.base = rest_uv
        self.mvc = mvc_uv
        self.n_seen = 0
        self.warm: list = []
        self.run: _Run | None = None
        self.fasc: _Episode | None = None
        self.fasc_times: deque = deque()     # (time, n) of recent potentials
        self.hist = np.empty(0)              # RMS of the windows before this batch (precursor test) ...
        self.bhist = np.empty(0)             # ... and their baselines (NaN while warming up)
        self.fhist = np.empty(0)             # noise floor / baseline of the last windows (tonic test)
        self.phist = np.empty(0)             # ... and their numbers of potentials
        self.khist = np.empty(0)             # ... and their largest potentials
        self.last_rms = 0.0
        self.last_ratio = 0.0
        self.last_run_end = -1e9             # when the last activity run ended
        self.no_evidence_until = -1e9        # post-cramp fasciculations are not evidence
        self.last_hold_end = -1e9            # when the last steady hold (not a cramp) ended
        self.last_stance = -1e9              # when it last held steadily with the other leg (standing)
        self.work: deque = deque()           # (start s, RMS µV) of its steady-hold windows (working level)
        self.last_move_end = -1e9            # when the last voluntary run / leg movement ended
        self.pops: deque = deque()           # edge times of recent electrode pops (quality stage)
        self.dismissed: list = []            # levels (x baseline) of contractions the wearer dismissed
        self.confirmed: list = []            # ... and of cramps the wearer confirmed


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

    Use ``update(features) -> list[Event]`` per feature batch and
    ``close(end_s)`` at the end of the stream.
    """

    #: carry an announced cramp's active windows forward in one step (same
    #: events as window by window, which tests compare by turning this off)
    carry = True

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
        self._early_pops: list = []          # pops noted before the first features

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
        groups = [parse_channel(c.name).muscle_group for c in self._ch]
        s = self.settings
        self._xt_frac = np.array([[s.crosstalk_frac if (a is not None and a == b) else s.crosstalk_frac_other
                                   for b in groups] for a in groups])
        self._index = {c.name: k for k, c in enumerate(self._ch)}
        self._source = features.source_id
        for a in self.answers:
            self._learn(a.get("channel"), a.get("answer"), a.get("context"),
                        a.get("level_uv"), a.get("baseline_uv"))
        early, self._early_pops = self._early_pops, []
        self.note_pops(early)

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
        a_down = 1.0 - math.exp(-hop / s.baseline_down_s)
        a_up = 1.0 - math.exp(-hop / s.baseline_up_s)
        n_warm = max(1, int(round(s.warmup_s / hop)))
        # 1. baselines and ratios, vectorised per channel (compiled recursion)
        ratios = np.ones_like(rms)
        bases = np.full(rms.shape, np.nan)
        for k, ch in enumerate(self._ch):
            col = rms[:, k]
            i0 = 0
            if ch.base is None:
                need = n_warm - len(ch.warm)
                ch.warm.extend(col[:need].tolist())
                i0 = min(need, n_win)
                if len(ch.warm) >= n_warm:
                    ch.base = max(float(np.percentile(ch.warm, 25)), s.baseline_floor_uv)
                    ch.warm = []
            if ch.base is not None and i0 < n_win:
                before = ch.base
                r, ch.base = _kernels.track_baseline(col[i0:], ch.base, a_down, a_up,
                                                     s.baseline_learn_ratio, s.baseline_floor_uv)
                ratios[i0:, k] = r
                bases[i0:, k] = col[i0:] / np.where(r > 0, r, np.inf)
                bases[i0:, k] = np.where(r > 0, bases[i0:, k], before)
            ch.last_rms, ch.last_ratio = float(col[-1]), float(ratios[-1, k])
        ready = ~np.isnan(bases)
        bases0 = np.where(ready, bases, 0.0)
        kurt_ok = np.ones(rms.shape, bool) if kurt is None else kurt < s.smooth_kurtosis
        active = (ready & (ratios >= s.on_ratio) & (rms - bases0 >= s.min_active_uv * self._uv_scale)
                  & kurt_ok)
        pot = self._potentials(features.values, bases0, starts)
        if pot is not None and kurt is not None:
            pot_n, pot_a, pot_b, pot_big = pot
            fcand = ready & (pot_n > 0) & (kurt >= s.fasc_kurtosis) & (ratios < s.fasc_max_ratio)
        else:
            pot_n = pot_a = pot_b = pot_big = np.zeros(rms.shape)
            fcand = np.zeros(rms.shape, bool)
        self._batch_rms, self._batch_bases = rms, bases
        out: list = []
        # 2. the state machine, only where something happens. A channel in an
        # announced cramp that stays active (the long middle of a cramp) is
        # carried forward in one step: only its own run's counters change there.
        steady_on = active & ~fcand
        skip = [0] * len(self._ch)           # channel k is carried forward up to this window
        own = [np.flatnonzero(active[:, k] | fcand[:, k]) for k in range(len(self._ch))]
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
                    j = int(np.searchsorted(own[k], i))
                    if j < len(own[k]):
                        nxt = min(nxt, int(own[k][j]))
            if nxt >= n_win:
                break
            i = nxt
            for k, ch in enumerate(self._ch):
                if skip[k] > i or not ready[i, k]:
                    continue
                run = ch.run
                if self.carry and run is not None and run.cramp is not None and ch.fasc is None \
                        and steady_on[i, k]:
                    off = np.flatnonzero(~steady_on[i:, k])
                    skip[k] = j = i + int(off[0]) if len(off) else n_win
                    self._carry_cramp(run, rms[i:j, k], starts[i], ends[j - 1])
                    continue
                self._step(k, ch, i, rms.item(i, k), ratios.item(i, k), bases.item(i, k),
                           ratios[i], rms[i], bases0[i], starts[i], ends[i], win_s,
                           active.item(i, k), fcand.item(i, k), kurt_ok.item(i, k),
                           (pot_n.item(i, k), pot_a.item(i, k), pot_b.item(i, k), pot_big.item(i, k)), out)
            i += 1
        # 3. keep the recent levels and baselines for the precursor test
        n_keep = int(round(s.precursor_s / hop)) + 1
        for k, ch in enumerate(self._ch):
            ch.hist = np.concatenate([ch.hist, rms[:, k]])[-n_keep:]
            ch.bhist = np.concatenate([ch.bhist, bases[:, k]])[-n_keep:]
        return out

    def _potentials(self, values: dict, bases: np.ndarray, starts: np.ndarray):
        """Per window: (count, first edge, last edge, edge of the largest
        potential if it is a clear one else NaN) of its new potentials, times in s.

        On a quiet channel every potential the features found counts (``spike_k``
        x the window's noise floor). Under low tonic firing (see the module
        docstring) only the window's largest potential counts, and only if it
        is a clear one: ``fasc_tonic_k`` x the floor, and ``fasc_tonic_base`` x
        the baseline or ``fasc_tonic_above`` x the largest potential of the
        windows in the last ``fasc_tonic_s`` (and ``fasc_tonic_base_min`` x the
        baseline).
        None when the features do not include the potential timings.
        """
        if "pot_n" not in values or "floor" not in values:
            return None
        s = self.settings
        with np.errstate(invalid="ignore", divide="ignore"):
            fr = np.where(bases > 0, values["floor"] / np.where(bases > 0, bases, 1.0), 0.0)
        # the floor of one window flickers with the firing: take the mean over
        # the last fasc_tonic_s; and steady firing of a few units at 5-10 Hz may
        # hardly raise it but gives many small potentials: count them too
        n_keep = max(1, int(round(s.fasc_tonic_s / self._hop)))
        tonic = np.zeros(fr.shape, bool)
        working = np.zeros(fr.shape, bool)
        # a clear potential: well above the floor, and either well above the
        # rest level or above every potential of the last fasc_tonic_s (a unit
        # other than the few firing tonically, which repeat at 5-10 Hz)
        pk = values["pot_peak"]
        before = np.zeros(fr.shape)                        # largest potential in the windows before
        n_win = len(fr)
        for k, ch in enumerate(self._ch):
            col = pk[:, k]
            hk = _with_past(ch.khist, np.where(np.isnan(col), 0.0, col), n_keep)
            b = before[:, k]
            for j in range(n_keep):                        # running max (n_keep is small)
                np.maximum(b, hk[j:j + n_win], out=b)
            ch.khist = hk[-n_keep:]
        big = (pk >= s.fasc_tonic_k * values["floor"]) & (
            (pk >= s.fasc_tonic_base * bases)
            | ((pk >= s.fasc_tonic_above * before) & (pk >= s.fasc_tonic_base_min * bases)))
        small = np.where(big, 0.0, values["pot_n"])       # windows of small potentials only
        for k, ch in enumerate(self._ch):
            h = _with_past(ch.fhist, fr[:, k], n_keep - 1)
            c = _with_past(ch.phist, small[:, k], n_keep - 1)
            level = _moving_sum(h, n_keep)[-len(fr):] / n_keep
            rate = _moving_sum(c, n_keep)[-len(fr):] / s.fasc_tonic_s
            tonic[:, k] = (level >= s.fasc_tonic_ratio) | (rate >= s.fasc_tonic_rate)
            working[:, k] = level >= s.fasc_work_floor
            ch.fhist, ch.phist = h[len(h) - n_keep + 1:], c[len(c) - n_keep + 1:]
        # under tonic firing only a potential that stands well above both the
        # floor and the rest level counts (one per window: the largest)
        n = np.where(tonic, big.astype(float), values["pot_n"])
        # on a working muscle only a potential both well above the rest level
        # and above every potential of the last fasc_tonic_s (not its own units)
        clear = big & (pk >= s.fasc_tonic_base * bases) & (pk >= s.fasc_tonic_above * before)
        n[working] = clear[working]
        at = starts[:, None] + values["pot_peak_at"]
        return (n, np.where(tonic, at, starts[:, None] + values["pot_first"]),
                np.where(tonic, at, starts[:, None] + values["pot_last"]), np.where(big, at, np.nan))

    @staticmethod
    def _carry_cramp(run: _Run, rms: np.ndarray, t0: float, t1: float):
        """What :meth:`_step` does over consecutive active windows (``t0`` the
        first one's start, ``t1`` the last one's end) of an announced cramp with
        no fasciculation episode open: each is on and above off_ratio."""
        run.n_windows += len(rms)
        run.held_from = t0 if run.held_from is None else run.held_from
        run.held_s = max(run.held_s, t1 - run.held_from)
        run.last_on_s = t1
        run.peak = max(run.peak, float(rms.max()))

    def _step(self, k, ch, i, r, ratio, base, ratios_row, rms_row, bases_row, t0, t1, win_s,
              active, fcand, smooth, pot, out):
        s = self.settings
        # ---- fasciculations: isolated potentials on an otherwise quiet channel
        n, ta, tb, big_at = pot
        run = ch.run
        quiet = run is None and t0 - ch.last_run_end >= s.fasc_after_s
        if (fcand and run is not None and run.cramp is not None and not active and ratio < s.off_ratio
                and t0 - run.last_on_s >= s.fasc_after_s):
            # a cramp's end pause: fasciculations follow cramps (Miller & Layzer 2005);
            # only a clear potential (the tonic rule) counts
            quiet = not math.isnan(big_at)
            n, ta, tb = 1.0, big_at, big_at
        if fcand and quiet:
            ep = ch.fasc
            if ep is not None and ta - ep.last_edge <= s.fasc_merge_s:
                ep.add((ta, tb, n))
            else:
                self._finish_fasc(ch, out, t1)
                ch.fasc = _Episode((ta, tb, n))
            ch.fasc_times.append((tb, n))
        elif ch.fasc is not None and t1 - ch.fasc.last_edge > s.fasc_merge_s:
            self._finish_fasc(ch, out, t1)
        while ch.fasc_times and ch.fasc_times[0][0] < t1 - s.evidence_window_s - 30:
            ch.fasc_times.popleft()
        # ---- activity runs
        if run is None:
            if not active:
                return
            if ch.fasc is not None and ch.fasc.last_edge >= t0 - s.fasc_onset_gap_s:
                # the latest "potentials" were the onset of this activity: not fasciculations
                cut = ch.fasc.drop_onset(t0, s.fasc_onset_gap_s)
                ch.fasc_times = deque(x for x in ch.fasc_times if x[0] < cut)
                ch.fasc = None if ch.fasc.empty else ch.fasc
            self._finish_fasc(ch, out, t1)
            run = ch.run = _Run(start_s=t0, last_on_s=t1, evidence=self._evidence(ch, t0, i))
            run.context = self._context(ch, run)
            run.need_s, run.need_ratio = self._rule(run.context)
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
            run.last_on_s = t1
            run.peak = max(run.peak, r)
        if not in_cramp:
            row = None
            if len(self._ch) > 1:
                # activity of the other channels (co-activation)
                row = np.array(ratios_row, dtype=float)
                row[k] = 0.0
                # noise-corrected amplitudes: cross-talk is a fraction of the signal, not of its noise
                amp = np.sqrt(np.maximum(rms_row ** 2 - bases_row ** 2, 0.0))
                xt = self._same_leg[k] & (amp <= self._xt_frac[k] * math.sqrt(max(r * r - base * base, 0.0)))
                row[xt] = np.minimum(row[xt], 1.0)   # same leg, at cross-talk level
            run.recent.append((t0, r, on, row))
            run.recent_on += on
            while run.recent and run.recent[0][0] < t1 - s.decision_s:
                run.recent_on -= run.recent.popleft()[2]
            if on and run.held_from is not None and t1 - run.held_from >= s.hold_min_s \
                    and self._steady_hold(run.recent, t1 - s.hold_min_s):
                # a steady hold (not the bursts of walking or cycling) teaches the
                # working level, until the contraction is called a cramp
                # exercise or a pedal: one leg's hold, or a strong one (bilateral
                # low holds are posture: standing, which makes no deliberate presses)
                if (row is None or float(np.max(row)) < s.coactive_ratio
                        or r >= s.exercise_uv * self._uv_scale):
                    run.was_hold = True
                    ch.last_hold_end = t1
                else:
                    ch.last_stance = t1      # both legs holding weakly: standing
                if t1 - run.held_from >= s.work_min_s:
                    ch.work.append((t0, r))
                    while ch.work[0][0] < t0 - s.hold_context_s:
                        ch.work.popleft()
        pause = t1 - run.last_on_s
        if in_cramp:
            if pause >= s.end_pause_s:
                self._finish_run(ch, out, t1)
            return
        if pause >= s.merge_s:
            self._finish_run(ch, out, t1)
            return
        # ---- cramp decision
        if run.dismissed:
            return   # the wearer said this contraction is not a cramp
        dur = t1 - run.start_s
        need = run.need_s
        if dur < need or not on:
            return   # announced only while it lasts (not in the pause after it stopped)
        recent = run.recent
        duty = run.recent_on / len(recent)
        if duty < s.min_duty:
            run.why = f"duty {duty:.2f}"
            return
        if run.n_windows % 2 and dur >= need + self._hop:
            return   # the costlier tests every other window (0.25 s) once due
        levels = np.array([x[1] for x in recent])
        level = float(np.median(levels[np.array([x[2] for x in recent])]))
        steady = float(np.mean(levels >= s.steady_frac * level))
        if steady < s.min_steady:
            run.why = f"steady {steady:.2f}"
            return
        strong = level >= run.need_ratio * base          # this window's baseline, not the batch's last
        strong = strong and level >= (s.cramp_mvc * ch.mvc if ch.mvc else s.cramp_min_uv * self._uv_scale)
        if not strong:
            run.why = f"weak {level:.1f} µV"
            return
        work = self._work_level(ch, recent[0][0]) if self.mode != "sleep" else None
        if work is not None:       # (awake: asleep, muscles do no steady work)
            # above work_ratio x the working level for as long as a cramp must last
            # (not a brief stronger press, like braking, inside a long hold)
            last = [x[1] for x in recent if x[0] >= t1 - need]
            above = float(np.mean(np.asarray(last) >= s.work_ratio * work)) if last else 0.0
            if above < s.min_duty:
                run.why = f"{above:.2f} of {need:.0f} s above {s.work_ratio} x its working level"
                return
        floor = self._answer_floor(ch)
        if floor is not None:
            # the wearer dismissed contractions of this muscle at about this level:
            # a cramp must rise clearly above them (answer_ratio x) for as long as it must last
            last = [x[1] for x in recent if x[0] >= t1 - need]
            above = float(np.mean(np.asarray(last) >= s.answer_ratio * floor * base)) if last else 0.0
            if above < s.min_duty:
                run.why = f"{above:.2f} of {need:.0f} s above {s.answer_ratio} x dismissed contractions"
                return
        rows = [x[3] for x in recent if x[3] is not None]
        co = float(np.max(np.median(np.asarray(rows), axis=0))) if rows else 0.0
        if co >= s.coactive_ratio:
            run.why = f"co-active {co:.1f}"
            return
        conf = self._confidence(duty, level / base, co, bool(run.evidence), dur)
        # onset: the run's start, or (after a long voluntary stretch) the first
        # active window of the stretch that made the decision
        onset = run.start_s if recent[0][0] <= run.start_s + 1e-9 else next(x[0] for x in recent if x[2])
        run.recent = deque()
        run.cramp = Event("cramp", ch.name, onset, t1, alert_s=t1, confidence=conf,
                          peak_uv=run.peak, detail=self._detail(run), status="onset",
                          features={"rms_uv": level, "baseline_uv": base, "duty": duty,
                                    "coactive": co, "evidence": run.evidence, "context": run.context,
                                    "min_s": need},
                          detector=self.detector, source_id=self._source)
        out.append(run.cramp)

    def _work_level(self, ch: _Channel, t: float) -> float | None:
        """The muscle's working level before ``t``: the ``work_pct`` percentile of
        its steady-hold windows in the ``hold_context_s`` before, None without."""
        s = self.settings
        lv = [r for t0, r in ch.work if t - s.hold_context_s <= t0 < t]
        return float(np.percentile(lv, s.work_pct)) if lv else None

    def _steady_hold(self, recent, since: float) -> bool:
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
        lo, hi = np.percentile(lv, (10, 90))
        return lo >= self.settings.hold_steady * hi

    @staticmethod
    def _detail(run: _Run) -> str:
        return "sustained localised contraction" + (f"; {run.evidence}" if run.evidence else "")

    def _confidence(self, duty, ratio, co, evidence, dur) -> float:
        s = self.settings
        z = (2.0 * (duty - s.min_duty) / (1 - s.min_duty + 1e-9) + math.log(ratio / s.cramp_ratio)
             - math.log(max(co, 1.0)) + (1.0 if evidence else 0.0) + 0.05 * dur)
        return round(1.0 / (1.0 + math.exp(-z)), 3)

    def _context(self, ch: _Channel, run: _Run) -> str:
        """What came before this run (see the module docstring)."""
        s = self.settings
        t0 = run.start_s
        if self.mode == "sleep":
            if run.evidence:
                return "sleep_evidence"
            series = any(t0 - c.last_move_end <= s.series_context_s for c in self._ch)
            return "series" if series else "sleep"
        # a muscle that has been holding (exercise, driving, standing) first: its
        # steady work looks like a precursor, and people who are exercising
        # twitch (fasciculations are no evidence there)
        if t0 - ch.last_hold_end <= s.hold_context_s:
            return "hold"
        # a contraction that begins as standing ends (weight onto one leg: a
        # single-leg raise or hold, a weight shift) is a voluntary transition
        if t0 - max(c.last_stance for c in self._ch) <= s.stance_gap_s:
            return "hold"
        return "evidence" if run.evidence else "rest"

    def _rule(self, context: str) -> tuple[float, float]:
        """How long a run in this context must last, and how many times its
        baseline it must reach, to be announced (the module docstring's table)."""
        s = self.settings
        return {"evidence": (s.min_s_evidence, s.cramp_ratio_rest),
                "sleep_evidence": (s.min_s_sleep_evidence, s.cramp_ratio_rest),
                "rest": (s.min_s, s.cramp_ratio_rest),
                "hold": (s.min_s_after_hold, s.cramp_ratio),
                "sleep": (s.min_s_sleep, s.cramp_ratio_rest),
                "series": (s.min_s_sleep_series, s.cramp_ratio)}[context]

    def _evidence(self, ch: _Channel, t: float, i: int) -> str:
        """Why a cramp may be announced early: fasciculations or a precursor
        before ``t`` (the run's start, window ``i`` of the current batch)."""
        s = self.settings
        if t < ch.no_evidence_until:
            return ""
        n = sum(v for tt, v in ch.fasc_times if t - s.evidence_window_s <= tt <= t)
        why = []
        if n >= s.evidence_fasc:
            why.append(f"{n:.0f} fasciculations in the minute before")
        n_pre = int(round(s.precursor_s / self._hop))
        k = self._index[ch.name]
        lv = np.concatenate([ch.hist, self._batch_rms[:i, k]])[-n_pre:]
        bs = np.concatenate([ch.bhist, self._batch_bases[:i, k]])[-n_pre:]
        ok = np.flatnonzero(~np.isnan(bs))
        if len(ok) and len(lv) >= 0.5 * n_pre:
            # against the baseline from before the precursor window: a slow
            # precursor at ~2x rest teaches the rising baseline a little
            vals = lv / bs[ok[0]]
            med = float(np.median(vals))
            # a precursor is a raised tension well below a contraction's level
            # (Chaney & Sherman: ~2x), not a stretch of voluntary bursts
            bursty = float(np.mean(vals >= s.cramp_ratio))
            if med >= s.precursor_ratio and bursty < 0.1:
                why.append(f"precursor at {med:.1f}x baseline")
        return ", ".join(why)

    # ------------------------------------------------------------------ the wearer's answer
    def _learn(self, channel, answer, context, level_uv, baseline_uv) -> None:
        """Take one answer (stored or just given) into its channel's memory: the
        level of the contraction, as a ratio to its baseline (electrodes move
        between sessions; the ratio travels better than µV), kept per mode."""
        k = self._index.get(channel)
        if k is None or answer not in ("cramp", "not_cramp"):
            return
        asleep = isinstance(context, str) and context in ("sleep", "sleep_evidence", "series")
        if asleep != (self.mode == "sleep"):
            return
        try:
            ratio = float(level_uv) / float(baseline_uv)
        except (TypeError, ValueError, ZeroDivisionError):
            return
        if not math.isfinite(ratio) or ratio <= 0:
            return
        keep = max(1, int(self.settings.answer_keep))
        memory = self._ch[k].dismissed if answer == "not_cramp" else self._ch[k].confirmed
        memory.append(ratio)
        del memory[:-keep]

    def _answer_floor(self, ch: _Channel) -> float | None:
        """The level (x baseline) a cramp on ``ch`` must clear by ``answer_ratio``:
        the median of the contractions the wearer dismissed, lowered so that
        a cramp half as strong as any the wearer confirmed would still be
        announced (cramps of one muscle vary in strength); None without answers."""
        if not ch.dismissed:
            return None
        floor = float(np.median(ch.dismissed))
        if ch.confirmed:
            floor = min(floor, 0.5 * min(ch.confirmed) / self.settings.answer_ratio)
        return floor

    def answer(self, channel: str, answer: str, t_s: float) -> list:
        """The wearer's answer to ``channel``'s current cramp alert, at stream time ``t_s``.

        ``"not_cramp"`` ends the announced cramp at ``t_s`` (its final event,
        labelled, is returned) and the channel's current contraction goes on as
        voluntary: no further alert for it. ``"cramp"`` confirms it (its final
        event will carry the label). Either way the contraction's level is
        remembered for the channel (:meth:`_answer_floor`): after a "not a
        cramp", a cramp there must rise ``answer_ratio`` x above it for the rest
        of the session (stored answers do the same from the next session on).
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

    def _finish_fasc(self, ch: _Channel, out: list, now: float):
        ep, ch.fasc = ch.fasc, None
        if ep is None:
            return
        if ch.pops:
            while ch.pops and ch.pops[0] < ep.start_s - 1.0:
                ch.pops.popleft()
            ep.drop_pops(ch.pops, _POP_TOL_S, _POP_RING_S)
            if not ep.parts and ep.n_old == 0:
                return
        n = max(1, int(round(ep.n)))
        out.append(Event("fasciculation", ch.name, ep.start_s, ep.end_s, alert_s=max(now, ep.end_s),
                         n_potentials=n, detail=f"{n} potential{'s' if n > 1 else ''}",
                         detector=self.detector, source_id=self._source))

    def _finish_run(self, ch: _Channel, out: list, now: float):
        """End the current run; ``now`` is the stream time of the decision."""
        run, ch.run = ch.run, None
        if run is None:
            return
        end = min(run.last_on_s, now)
        ch.last_run_end = end
        if run.cramp is not None:
            ch.no_evidence_until = end + 2 * self.settings.evidence_window_s
            e = run.cramp
            out.append(Event("cramp", ch.name, e.start_s, max(end, e.alert_s), alert_s=e.alert_s,
                             confidence=e.confidence, peak_uv=run.peak, detail=e.detail,
                             features=dict(e.features), detector=self.detector, source_id=self._source,
                             label=run.label))
            return
        if run.why:
            log.debug("%s: %.1f-%.1f s not a cramp: %s", ch.name, run.start_s, end, run.why)
        s = self.settings
        dur = end - run.start_s
        if run.was_hold:
            ch.last_hold_end = end
        if dur < s.min_voluntary_s:
            return
        ch.last_move_end = end
        out.append(Event("voluntary", ch.name, run.start_s, end, alert_s=now,
                         peak_uv=run.peak, detail="activity",
                         detector=self.detector, source_id=self._source))

    def close(self, end_s: float) -> list:
        out: list = []
        for ch in self._ch:
            self._finish_fasc(ch, out, end_s)
            self._finish_run(ch, out, end_s)
        return out
