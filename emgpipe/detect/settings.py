"""Parameters of the cramp / fasciculation / voluntary detector.

:class:`CrampSettings` holds what a model file (``models/*.toml``,
``[detector]``) may set: physical units (s, µV) and ratios to the channel's
baseline. The module constants below are the fixed numbers of the algorithm
(not tuned per model), each with its unit and the reason for its value; the
physiology sources are in ``docs/physiology.md`` and the table of all of them
in ``docs/detector.md``.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

# ---------------------------------------------------------------- fasciculation potentials
#: s: a fasciculation potential starts just before its rising edge ...
POT_LEAD_S = 0.005
#: s: ... and lasts 5-25 ms (physiology.md §2)
POT_TAIL_S = 0.02
#: window entries (first edge, last edge, count) an episode holds; older ones
#: are kept as a count and a last edge only (memory stays flat in a long storm)
EPISODE_KEEP = 32
#: s: a potential whose edge lies this close to an electrode pop's edge is
#: that pop (filter delay, 1-2 samples)
POP_TOL_S = 0.01
#: s: potentials up to this long after a pop are the band-pass ringing after
#: the step (the 20 Hz high-pass settles within ~3 periods)
POP_RING_S = 0.15
#: s: pops more than this before an episode's start can no longer touch it
#: (an episode only ends ``fasc_merge_s`` after its last potential)
POP_KEEP_S = 1.0
#: s: potential times are kept this long beyond ``evidence_window_s`` (a run's
#: evidence looks back from its start, which may lie before the current window)
FASC_TIMES_MARGIN_S = 30

#: s: a potential on two channels not known to be on the same leg within this
#: of each other is common-mode, the heart's QRS picked up by both (an ECG
#: complex lasts 80-100 ms, its main peak lands within ~20 ms across limb
#: leads); one motor unit's potential cannot reach the other leg, and two
#: independent fasciculations (0.5-20 per minute per calf) meet within it
#: in ~1 % of cases. Same-leg channels share a unit's potential as cross-talk
COMMON_S = 0.02
#: the heart's QRS on one channel only (its other leg does not see it) is told by
#: its rhythm: CARDIAC_BEATS potentials in a row at intervals of CARDIAC_RR s
#: (40-180 beats per minute), each within CARDIAC_TOL of the one before (RR varies
#: beat to beat by a few %, with breathing by ~10 %, Task Force 1996)
CARDIAC_BEATS = 4
CARDIAC_RR = (60.0 / 180.0, 60.0 / 40.0)
CARDIAC_TOL = 0.15
#: s: potentials this close to a beat's first are that beat (a QRS lasts <= 120 ms)
CARDIAC_QRS_S = 0.12

#: s: fasciculations are discharges of a muscle at rest: its rest level is
#: the lowest baseline of this long (a pedal or standing hold lasts minutes
#: and teaches the baseline its working level; rest periods between come
#: within minutes) ...
REST_MEMORY_S = 300.0
#: s: ... kept as the minima of blocks this long
REST_BLOCK_S = 10.0

# ---------------------------------------------------------------- baseline
#: µV: a window RMS below this is a flat line, not a rest level: a connected
#: electrode pair always shows the thermal noise of its skin impedance
#: (~0.3 µV RMS over 20-450 Hz at 10 kOhm) and its amplifier's noise (lab
#: amplifiers < 1 µV, physiology notes §6); a lead-off or a clipped rail,
#: after the band-pass, is far below it
FLAT_RMS_UV = 0.03
#: a window at most 1/DECAY_RATIO of the one before, which was at most that of
#: its own before, is a ring decaying toward a flat line (baseline.untaught): the
#: RMS of a 0.25-s window of rest varies by 5-10 % (50-250 samples), so two drops
#: of a quarter in a row are a decay, not noise; a muscle relaxing to its rest
#: makes them too, above its rest level, where they would teach nothing downward
DECAY_RATIO = 4.0 / 3.0
#: percentile: the first baseline is the lower quartile of the warm-up windows
#: (the quiet ones: a warm-up may hold a movement)
WARMUP_PCT = 25

# ---------------------------------------------------------------- activity runs
#: percentiles (low, high) of a stretch's windows compared by the steady-hold
#: test (a pedal or postural hold is modulated by some +-30 %; a walking burst
#: falls towards rest between steps)
HOLD_PCT = (10, 90)

#: s: a rise out of a steady hold (runs.rise) lasts this long before it starts
#: a stretch of its own (four windows at the 0.125 s hop: not one loud window)
RISE_S = 0.5

#: s: a voluntary contraction held this long above off_ratio without a break, for
#: at least half its run, is one that a repetition follows (rules.decide): the
#: calf-raise pace of one second up (Hebert-Losier 2017), as PLACED_FIRST_S
REPEAT_HELD_S = 1.0

#: s: the other leg's load is compared over a contraction's first second
#: (rules.unloaded): the weight moves onto one leg over about a second and the
#: other foot is off the ground before a raise lifts the heel, so a single-leg
#: raise or hold starts with the other calf already unloaded; a wearer who
#: sits down or lifts a cramping leg does so after the cramp has begun
UNLOAD_S = 1.0
#: s: a mains-interference episode that began at most this long after a
#: contraction's start began with it (the quality stage's windows and the
#: detector's are a window apart at most): the contraction is the hum's, no
#: hold and no leg movement (rules.began_with_hum)
HUM_SLACK_S = 1.0
#: mains-interference episodes kept per channel (the latest)
HUM_KEEP = 4
#: s: by this long after a mains-interference episode began, the quality stage
#: has announced it (its ``mains_min_s``, 2 s, and its 0.25-s window, with a
#: margin): a finished leg movement is reported once an episode that began with
#: it would be known (HUM_SLACK_S + this after its start), so that the hum's
#: first moments are reported as the artefact only, whatever the chunking
HUM_NOTE_S = 2.5

# ---------------------------------------------------------------- cramp decision
#: windows: once a run has lasted long enough, the costlier cramp tests run on
#: every this-many-th window (0.25 s at a 0.125 s hop); always on the first due
DECIDE_EVERY = 2
#: s: tolerance when comparing window start times (float sums of hops)
TIME_EPS_S = 1e-9
#: x ``evidence_window_s``: after a cramp, fasciculations are no evidence for
#: the next one this long (they follow cramps, Miller & Layzer 2005)
NO_EVIDENCE_AFTER_CRAMP = 2
#: fraction of ``precursor_s`` whose windows must be known (recorded or in this
#: batch) for the precursor test
PRECURSOR_MIN_COVER = 0.5
#: fraction: a precursor window at ``cramp_ratio`` x baseline is a burst; a
#: stretch with this share of bursts or more is voluntary bursts, not a
#: raised tension (Chaney & Sherman: ~2x rest)
PRECURSOR_MAX_BURSTY = 0.1
#: a contraction that burst this many times within the span it must have
#: lasted (rose to ``RHYTHM_RISE`` x its lowest level since the last burst,
#: after falling to 1 / ``RHYTHM_RISE`` of that burst's peak) is rhythmic
#: (walking, stairs, a set of raises: the calf works in each stance and is
#: near rest in each swing, strides of 1.0-1.6 s at 75-120 steps a minute,
#: Perry & Burnfield 2010), not a cramp, which is sustained: its ramp is one
#: rise, and its waxing and waning (tens of percent, with the window RMS's own
#: scatter at 200 Hz: peak to trough up to ~2.4x on the standard set) does not
#: fall to a third and rise three-fold again
RHYTHM_SWINGS = 2
#: x: a burst triples the level, after it has fallen to a third
RHYTHM_RISE = 3.0
#: s: a contraction from rest is a press (not yet a cramp) when its level over
#: its last ``PRESS_LAST_S`` is under ``press_rise`` x its level over its first
#: ``PRESS_FIRST_S``: four windows at the 0.125-s hop, well past the time a
#: deliberate press takes to reach its level (a brake, a held raise; a rapid
#: voluntary contraction is fully activated within 50-75 ms, Maffiuletti et
#: al., Eur J Appl Physiol 2016) ...
PRESS_FIRST_S = 0.5
#: s: ... and eight windows, its latest level. A press is held at the level
#: it reached; a cramp's discharge often builds up as it spreads through the
#: muscle (Roeleveld et al.), though no source gives its onset time (the
#: physiology notes: "sudden"), so a cramp that is at its level at once is not
#: missed: it is announced at ``min_s_press`` instead of ``min_s``
PRESS_LAST_S = 1.0
#: s: a *placed* contraction (its antagonist had just moved the foot, rules.placed)
#: is a press while it stays under ``press_rise`` x its level over its first
#: second: the foot is put onto a pedal or a step, then presses it to the
#: position the task needs, in about a second (the calf-raise test's pace is one
#: second up, Hébert-Losier et al. 2017); over its first half second, a press
#: onto the accelerator that took 0.6 s to reach its level "rose" 2x and was
#: announced 3.5 s in, after a brake of 1-2 s as from rest (model 0.7.5)
PLACED_FIRST_S = 1.0
#: the confidence is a logistic of a score: this x the duty's margin over
#: ``min_duty`` (as a share of what is left above it) ...
CONF_DUTY_WEIGHT = 2.0
#: ... + this when there was evidence (fasciculations or a precursor) ...
CONF_EVIDENCE = 1.0
#: 1/s: ... + this per second the run has lasted ...
CONF_PER_S = 0.05
#: ... (+ log(level / cramp_ratio) - log(co-activation)); rounded to this many digits
CONF_DIGITS = 3
#: guards the duty margin's division when ``min_duty`` is 1
CONF_EPS = 1e-9

# ---------------------------------------------------------------- the wearer's answers
#: x the weakest confirmed cramp: the answer floor never rises above this share
#: of it (cramps of one muscle vary in strength)
ANSWER_CONFIRMED_FRAC = 0.5

# ---------------------------------------------------------------- band of the stream
#: Hz: the full sEMG band the µV floors refer to
SEMG_LOW_HZ, SEMG_HIGH_HZ = 20.0, 450.0
#: fraction of the sampling rate a stream passes (anti-alias filter roll-off:
#: a Cyton at 250 Hz passes to ~112 Hz)
PASS_FRAC_OF_FS = 0.45
#: Hz: corner frequencies of the sEMG spectrum model (Shwedyk,
#: Balasubramanian & Scott 1977), median frequency 96 Hz
SPECTRUM_FL_HZ, SPECTRUM_FH_HZ = 60.0, 120.0
#: points of the spectrum integration grid
SPECTRUM_POINTS = 4000


@dataclass(frozen=True)
class CrampSettings:
    """Detector parameters (physical units and ratios to the baseline).

    Loaded from the ``[detector]`` table of a model file (models/*.toml).
    ``x`` below means "times the channel's baseline (rest RMS)".
    """

    # baseline tracker
    baseline_down_s: float = 2.0        # s: time constant toward quieter windows
    baseline_up_s: float = 60.0         # s: time constant toward louder (but quiet) windows
    baseline_learn_ratio: float = 2.5   # x: windows above this x baseline never teach it
    baseline_floor_uv: float = 0.5      # µV: below any real amplifier's noise
    warmup_s: float = 2.0               # s: windows before the first baseline
    # activity
    on_ratio: float = 3.0               # x: a window this loud is active
    off_ratio: float = 2.5              # x: hysteresis, a run's window stays on above this
    off_frac: float = 0.1               # ... and above this fraction of its plateau RMS
    min_active_uv: float = 8.0          # µV: AASM leg movement: >= 8 µV above rest
    merge_s: float = 1.5                # s: pauses shorter than this stay in one run
    stretch_gap_s: float = 0.2          # s: a pause this long inside a run ends its current stretch
                                        #    (walking: the calf rests ~0.5 s per stride; a cramp dips for one window)
    # cramp
    min_duty: float = 0.85              # share of a run's recent windows that are on (walking ~30-50 %)
    decision_s: float = 15.0            # s: the decision looks at the run's last 15 s
    steady_frac: float = 0.35           # ... and this share of windows reach steady_frac x the run's median
    min_steady: float = 0.85            #     (walking bursts drop to ~10 % between steps)
    cramp_ratio: float = 5.0            # x: strong enough for a cramp
    cramp_ratio_rest: float = 3.75      # x: ... when it arose from rest (no hold or leg-movement series before)
    cramp_min_uv: float = 22.0          # µV: without calibration (the default model: 0, ratios alone)
    cramp_mvc: float = 0.05             # with a calibration profile: 5 % MVC (replaces cramp_min_uv)
    min_s: float = 3.5                  # s: awake, without evidence, from rest or rhythmic activity
    min_s_press: float = 6.5            # s: awake, from rest, a contraction at its level from its first half
                                        #    second (a press: brakes 2-5 s, single-leg holds up to 6 s) ...
    press_rise: float = 1.5             # x: ... that has not risen this x since (PRESS_FIRST_S, PRESS_LAST_S)
    min_s_after_hold: float = 8.0       # s: awake, when this muscle made a steady hold that ended by itself
    hold_context_s: float = 180.0       # s: ... within this long before (someone exercising it;
                                        # rests between exercise sets: 1-3 min, ACSM 2009)
    hold_steady: float = 0.5            # a steady hold's 10th percentile is this x its 90th (2 s)
    exercise_uv: float = 40.0           # µV: a bilateral hold this strong is exercise, weaker ones posture
    work_min_s: float = 2.0             # s: ... of holds steady this long (working, not a brief press)
    work_pct: float = 90.0              # percentile: a muscle's working level, of its steady holds
    work_ratio: float = 1.5             # a cramp in a working muscle is this x its working level
    hold_min_s: float = 2.0             # s: a run that stays above off_ratio this long is a hold (walking: < 1 s)
    stance_gap_s: float = 2.0           # s: a run starting this soon after standing (both legs holding) ends
    min_s_sleep: float = 8.0            # s: asleep, no leg movement in the series window before
    min_s_sleep_series: float = 10.5    # s: asleep during a PLM series: beyond the AASM 10 s LM limit
    series_context_s: float = 90.0      # s: AASM: LMs of a series are 5-90 s apart
    min_s_evidence: float = 3.0         # s: awake, with fasciculations or a precursor before
    min_s_sleep_evidence: float = 5.0   # s: asleep, with fasciculations or a precursor before
    evidence_window_s: float = 60.0     # s: fasciculations this long before a run are evidence
    evidence_fasc: int = 4              # potentials in the evidence window
    precursor_ratio: float = 1.6        # x: median RMS over the precursor window
    precursor_s: float = 20.0           # s: Chaney & Sherman: raised ~41 +- 11 s before
    coactive_ratio: float = 1.3         # x: another channel whose median RMS over the run is this x its baseline
    crosstalk_frac: float = 0.4         # same-leg, same-group channels up to this x the main amplitude are cross-talk
    crosstalk_frac_other: float = 0.15  # ... other muscle groups of the leg (calf vs shin: antagonists)
    end_pause_s: float = 4.0            # s: a cramp ends after this long below off_ratio
    # the wearer's answers
    answer_keep: int = 5                # the last this many "not a cramp" answers of a channel and mode ...
    answer_ratio: float = 1.5           # ... make a cramp there this x their median level (x baseline)
    # fasciculations
    smooth_kurtosis: float = 4.0        # an active window is at most this spiky (an interference pattern)
    fasc_kurtosis: float = 3.5          # a fasciculation window is at least this spiky
    fasc_max_ratio: float = 40.0        # x: above this the channel is active, not fasciculating
    fasc_merge_s: float = 1.0           # s: potentials (rising edges) at most this far apart are one episode
    fasc_tonic_ratio: float = 1.15      # x: noise floor this x the rest level (REST_MEMORY_S): low tonic firing under it
    fasc_tonic_s: float = 2.0           # s: ... as the mean over this long (one window's floor flickers)
    fasc_tonic_rate: float = 3.0        # 1/s: ... or this many potentials per second over it
    fasc_tonic_k: float = 7.0           # there a potential must peak this x the window's floor ...
    fasc_tonic_base: float = 16.0       # x: ... and this x the baseline,
    fasc_tonic_above: float = 1.2       # ... or this x the largest potential of the last fasc_tonic_s
    fasc_tonic_base_min: float = 11.0   # x:    and this x the baseline
    fasc_work_floor: float = 2.0        # x: a floor this x the rest level (over fasc_tonic_s): the muscle works (stricter)
    fasc_work_above: float = 2.0        # x: there a potential must be this x every potential of the last fasc_tonic_s
    fasc_onset_gap_s: float = 0.35      # s: potentials this close together leading into activity are its onset
    fasc_after_s: float = 0.5           # s: no potentials counted this soon after activity ended
    # voluntary
    min_voluntary_s: float = 0.5        # s: AASM: a leg movement lasts >= 0.5 s

    @classmethod
    def from_model(cls, model) -> "CrampSettings":
        table = model.section("detector")
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in table.items() if k in names})


def band_fraction(fs: float, low_hz: float = SEMG_LOW_HZ, high_hz: float = SEMG_HIGH_HZ,
                  frac: float = PASS_FRAC_OF_FS) -> float:
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
    f = np.linspace(low_hz, high_hz, SPECTRUM_POINTS)
    fl, fh = SPECTRUM_FL_HZ, SPECTRUM_FH_HZ
    p = fh ** 4 * f ** 2 / ((f ** 2 + fl ** 2) * (f ** 2 + fh ** 2) ** 2)
    return float(np.sqrt(p[f <= top].sum() / p.sum()))
