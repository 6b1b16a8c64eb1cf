"""Scenarios: timelines of labelled physiological and artefact events.

A scenario function fills a :class:`Builder` with activities (pool drives),
fasciculation potentials, artefacts and gaps, and the builder writes the
labels as it goes. The timeline depends only on (scenario, seed, duration):
the same seed gives the same events at 1 kHz, 250 Hz, 200 Hz and in the ENV
variant, so the device variants of the benchmark are comparable. Device facts
(noise level, DC offsets, clipping range) come from a separate random stream.

Label conventions (the detector is judged on them)
---------------------------------------------------
- ``cramp``: one label per cramp on the cramping channel, from the start of
  the onset ramp to the abrupt stop (stretch ending, which includes the brief
  stretch-induced rise) or to where the decaying drive falls below 1 % MVC
  (decay ending). Extras: ``mvc_pct`` (plateau EMG RMS as % of the simulated
  MVC RMS), ``ending``, ``detail`` (precursor length). The precursor (~2x
  baseline) is *not* part of the label.
- ``fasciculation``: one label per *episode*: potentials on one channel less
  than :data:`FASC_EPISODE_GAP_S` apart form one episode (an isolated
  potential is an episode of one); the label spans the first potential's
  onset to the last one's end (5 % of peak), ``n_potentials`` counts them.
- ``voluntary``: walking bouts, holds, leg movements, posture shifts, quiet
  standing, the stretch burst of the other calf muscles at a cramp's end, and
  everyday activities (``pedal``, ``brake``, ``pedal_release``, ``calf_raise_set``,
  ``single_leg_hold``, ``cycling N rpm``, ``weight_shift``, ``stairs_up``,
  ``toe_point``... in ``detail``; sources in docs/physiology.md §8); per
  channel, from where the drive exceeds 1 % MVC to where it falls below it;
  overlapping voluntary labels on a channel are merged.
- ``artifact``: labelled artefacts only (large motion artefacts, electrode
  pops, lead movement, mains bursts, strong ECG pickup, clipping); the ever-present low-level
  background (amplifier noise, mains of a few µV, ECG of a few µV, slow
  baseline wander) is not labelled.
- ``signal_loss``: lead-off / flat line on a channel; dropped packets on
  every channel.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..metrics import Label
from . import activities as A
from .artifacts import Mains, Transient, Wander, heart_beats
from .devices import DEVICES

#: Potentials closer than this (s) on one channel are one fasciculation episode.
FASC_EPISODE_GAP_S = 1.0
#: Fasciculations during voluntary activity above this level are left out (hidden in it).
HIDE_LEVEL = 0.05
#: Activity above this level (fraction of MVC RMS) counts as "on" for labels.
ON_LEVEL = 0.01


@dataclass
class ChannelSpec:
    """One electrode pair: its muscle and its subject/device facts."""

    name: str
    role: str  # calf | tibialis | hamstring (gait timing; calf = triceps surae)
    leg: str
    mvc_rms_uv: float = 400.0
    noise_uv: float = 2.5
    ecg_uv: float = 3.0
    wander_uv: float = 20.0
    dc_uv: float = 0.0

    @property
    def triceps(self) -> bool:
        return self.role == "calf"


#: Channel layouts: (name, role, leg). Names carry the muscle so alerts can pick a stretch.
LAYOUTS = {
    "calves": (("calf_left", "calf", "left"), ("calf_right", "calf", "right")),
    "calves_ta": (("calf_left", "calf", "left"), ("calf_right", "calf", "right"),
                  ("tibialis_anterior_right", "tibialis", "right")),
    "plm": (("tibialis_anterior_left", "tibialis", "left"), ("calf_left", "calf", "left"),
            ("tibialis_anterior_right", "tibialis", "right"), ("calf_right", "calf", "right")),
    "leg": (("gastrocnemius_medial_right", "calf", "right"), ("soleus_right", "calf", "right"),
            ("tibialis_anterior_right", "tibialis", "right")),
}

#: Peak walking EMG, fraction of MVC (Ericson MO et al. 1986: MG 42 %, soleus 40 %, TA 27 %).
WALK_PEAK = {"calf": 0.40, "tibialis": 0.27, "hamstring": 0.10}


@dataclass
class FascUnit:
    """Shape of a fasciculating motor unit on one channel (Hermite-Rodriguez, polyphasic option)."""

    lam: float
    w1: float
    w2: float
    polarity: float
    extra: tuple
    amp_uv: float
    on_s: float = 0.0  # support relative to the kernel start (5 % of peak)
    off_s: float = 0.0


#: kernel window of fasciculation potentials (s)
FASC_KERNEL_S = 0.06


def fasc_kernel(u: FascUnit, fs: float) -> np.ndarray:
    """The unit's potential sampled at ``fs`` over :data:`FASC_KERNEL_S`, peak ``amp_uv``."""
    from .motor_units import muap_kernel
    n = int(round(FASC_KERNEL_S * fs)) | 1
    return u.amp_uv * muap_kernel(fs, n, u.lam, u.w1, u.w2, u.polarity, u.extra)


@dataclass
class Plan:
    """Everything the renderer needs, and the labels."""

    scenario: str
    seed: int
    duration_s: float
    mode: str
    channels: list
    crosstalk: list  # (src, dst, gain, widen)
    activities: list
    fasc_t: np.ndarray
    fasc_ch: np.ndarray
    fasc_unit: np.ndarray
    fasc_amp: np.ndarray
    fasc_units: list  # per channel: list of FascUnit
    transients: list
    beats: np.ndarray
    ecg_boost: list  # (ch, t0, t1, amp_uv)
    mains: Mains
    mains_uv: np.ndarray  # per channel
    wander: list  # per channel Wander
    lead_off: list  # (ch, t0, t1, value)
    gap_spans: list  # (t0, t1) seconds
    labels: list
    meta: dict = field(default_factory=dict)


class Builder:
    """Collects a scenario's events and labels (see module doc for label rules)."""

    def __init__(self, scenario: str, seed: int, duration_s: float, device: str, layout: str, mode: str):
        self.scenario, self.seed, self.duration = scenario, int(seed), float(duration_s)
        self.mode = mode
        self.rng = np.random.default_rng([int(seed), 0])
        dev = DEVICES[device]
        self.device = dev
        drng = np.random.default_rng([int(seed), 1, sorted(DEVICES).index(device)])
        self.channels = []
        for name, role, leg in LAYOUTS[layout]:
            # MVC EMG RMS: gait_santuz GM/SO walking peaks (moving RMS ~150-180 µV at
            # ~40 % MVC) imply ~400 µV at MVC; "MVC-level calf sEMG ~0.5-2 mV peak".
            mvc = float(self.rng.lognormal(math.log(400.0), 0.22))
            self.channels.append(ChannelSpec(
                name, role, leg, mvc_rms_uv=mvc,
                noise_uv=float(drng.uniform(*dev.noise_uv)) * (0.8 if mode == "sleep" and not dev.dc_coupled else 1.0),
                ecg_uv=float(self.rng.uniform(0.5, 5.0)),  # "a few µV" (physiology.md §6, U)
                wander_uv=float(self.rng.uniform(5.0, 40.0)),
                # DC-coupled ADCs see the electrode offset: tens of mV in the OpenBCI
                # GUI sample (Cyton).
                dc_uv=float(drng.uniform(2e3, 6e4) * drng.choice([-1, 1])) if device == "cyton" else 0.0))
        self.n = len(self.channels)
        self.crosstalk = []
        for i, a in enumerate(self.channels):
            for j, b in enumerate(self.channels):
                if i == j or a.leg != b.leg:
                    continue
                # neighbouring triceps heads share much; TA vs calf little (assumption U,
                # "others quiet or cross-talk only")
                g = 0.15 if a.triceps and b.triceps else 0.05
                self.crosstalk.append((i, j, g, 1.8))
        self.activities = []
        self.labels = []
        self._fasc = []  # (t, ch, unit, amp)
        self.transients = []
        self.ecg_boost = []
        self._lead_off = []
        self.gap_spans = []
        self.cramp_spans = []
        self.cramp_ch = []
        self.fasc_units = [self._fasc_units() for _ in self.channels]
        self.mains_freq = float(self.rng.choice([50.0, 60.0]))
        self.mains_uv = np.array([self.rng.uniform(0.3, 4.0) for _ in self.channels])
        hr = self.rng.uniform(50, 65) if mode == "sleep" else self.rng.uniform(60, 85)
        self.beats = heart_beats(self.rng, self.duration, hr)

    # ------------------------------------------------------------ helpers
    def ch(self, role=None, leg=None) -> list:
        return [i for i, c in enumerate(self.channels)
                if (role is None or c.role == role) and (leg is None or c.leg == leg)]

    @property
    def legs(self) -> list:
        out = []
        for c in self.channels:
            if c.leg not in out:
                out.append(c.leg)
        return out

    def label(self, kind, ch, t0, t1, **extra):
        t0, t1 = max(0.0, float(t0)), min(self.duration, float(t1))
        if t1 > t0:
            self.labels.append(Label(kind, self.channels[ch].name, t0, t1, **extra))

    def _span(self, act: A.Activity, floor: float = ON_LEVEL):
        """Where an activity's level exceeds ``floor`` (10 ms grid)."""
        t = np.arange(act.t0, act.t1 + 0.01, 0.01)
        on = np.flatnonzero(act.level(t) > floor)
        if on.size == 0:
            return None
        return float(t[on[0]]), float(min(t[on[-1]] + 0.01, act.t1))

    def add(self, act: A.Activity, kind: str | None = "voluntary", **extra):
        self.activities.append(act)
        if kind:
            sp = self._span(act)
            if sp:
                self.label(kind, act.channel, sp[0], sp[1], **extra)
        return act

    def at(self, lo, hi) -> float:
        """A uniform random time in [lo, hi] (``lo`` when the range is empty: short recordings)."""
        return float(self.rng.uniform(lo, hi)) if hi > lo else float(lo)

    def _vol_level(self, c, t) -> float:
        """Summed voluntary level on channel ``c`` around time ``t`` (max over +-50 ms)."""
        tt = np.linspace(t - 0.05, t + 0.05, 11)
        lv = np.zeros_like(tt)
        for a in self.activities:
            if a.channel == c and a.pool == "vol" and a.t0 <= t + 0.05 and a.t1 >= t - 0.05:
                lv += a.level(tt)
        return float(lv.max())

    def free(self, t0, t1) -> bool:
        """No cramp within [t0, t1] (keeps hard negatives from hiding cramps)."""
        return all(t1 <= a - 1 or t0 >= b + 1 for a, b in self.cramp_spans)

    def _fasc_units(self):
        units = []
        for _ in range(int(self.rng.integers(4, 9))):
            poly = self.rng.random() < 0.25
            extra = ((float(self.rng.uniform(0.003, 0.008)), float(self.rng.uniform(1e-3, 2.5e-3)),
                      1.0, 0.0, float(self.rng.uniform(0.3, 0.7)) * float(self.rng.choice([-1, 1]))),) if poly else ()
            # surface FP amplitude: tens to a few hundred µV (physiology.md §6, U);
            # FP duration 5-25 ms (needle 2.8-23.9 ms, physiology.md §2).
            u = FascUnit(lam=float(self.rng.uniform(1.0e-3, 4.0e-3)), w1=float(self.rng.uniform(0.3, 1.0)),
                         w2=float(self.rng.uniform(0, 0.7) * self.rng.choice([-1, 1])),
                         polarity=float(self.rng.choice([-1.0, 1.0])), extra=extra,
                         amp_uv=float(np.clip(self.rng.lognormal(math.log(70.0), 0.6), 25.0, 400.0)))
            k = fasc_kernel(u, 20000.0)
            idx = np.flatnonzero(np.abs(k) > 0.05 * np.max(np.abs(k)))
            u.on_s, u.off_s = idx[0] / 20000.0, (idx[-1] + 1) / 20000.0
            units.append(u)
        return units

    # ------------------------------------------------------------ voluntary
    def walk(self, t0: float, n_strides: int, cadence: float | None = None, motion_uv: float = 15.0,
             label_motion: bool = False, peaks: dict | None = None, detail: str | None = None) -> float:
        """A walking bout on every leg; returns its end time (``detail``: label, default walking N spm)."""
        cadence = float(cadence if cadence is not None else self.rng.uniform(76, 120))
        peaks = {**WALK_PEAK, **(peaks or {})}
        end = t0
        durations = A.stride_durations(self.rng, n_strides, cadence)
        for li, leg in enumerate(self.legs):
            chans = self.ch(leg=leg)
            roles = sorted({self.channels[c].role for c in chans})
            s = A.make_strides(self.rng, t0, durations, roles,
                               {r: peaks[r] * float(self.rng.lognormal(0, 0.12)) for r in roles},
                               phase_offset=0.5 * li)
            for c in chans:
                act = A.Walking(c, "vol", float(s.starts[0]), float(s.starts[-1]) + 0.15 * (s.starts[1] - s.starts[0]),
                                strides=s, role=self.channels[c].role)
                self.add(act, mvc_pct=100 * peaks[self.channels[c].role],
                         detail=detail or f"walking {cadence:.0f} spm")
                # movement artefact at every heel strike (tied to heel strike: issue 3)
                for hs in s.starts[:-1]:
                    amp = motion_uv * float(self.rng.lognormal(0, 0.4)) * float(self.rng.choice([-1, 1]))
                    self.transients.append(Transient(c, float(hs + self.rng.uniform(0, 0.03)), "motion", amp,
                                                     tau=float(self.rng.uniform(0.03, 0.09)),
                                                     freq=float(self.rng.uniform(2, 12)),
                                                     phase=float(self.rng.uniform(0, 6.28))))
                if label_motion:
                    self.label("artifact", c, s.starts[0], s.starts[-1] + 0.5, detail="motion")
            end = max(end, float(s.starts[-1]))
        return end

    def stand(self, t0, t1, level=None):
        """Quiet standing: low tonic triceps activity (postural sway, assumption U: 2-5 % MVC)."""
        if t1 - t0 < 2:
            return
        for c in self.ch(role="calf"):
            lv = float(level if level is not None else self.rng.uniform(0.02, 0.05))
            mod = A.Modulation.draw(self.rng, [(0.25, (0.1, 0.5)), (0.1, (0.5, 2.0))])
            self.add(A.Tonic(c, "vol", t0, t1, peak=lv, edge=1.0, mod=mod), mvc_pct=100 * lv, detail="standing")

    def hold(self, t0, dur, levels: dict, detail: str):
        """A sustained voluntary contraction: ``levels`` = {channel: peak fraction of MVC}."""
        ru, rd = float(self.rng.uniform(0.3, 1.0)), float(self.rng.uniform(0.3, 1.0))
        for c, pk in levels.items():
            mod = A.Modulation.draw(self.rng, [(0.1, (0.1, 0.4)), (0.08, (0.5, 1.2)), (0.06, (1.2, 3.0))])
            self.add(A.Hold(c, "vol", t0, t0 + dur, peak=pk, ramp_up=ru, ramp_down=rd, mod=mod),
                     mvc_pct=100 * pk, detail=detail)

    def burst(self, c, t0, dur, peak, detail, pool="vol", label=True):
        b = A.make_burst(self.rng, c, t0, dur, peak, pool=pool)
        self.add(b, "voluntary" if label else None, mvc_pct=100 * peak, detail=detail)
        return b

    def posture_shift(self, t0, motion=True):
        """Turning over / shifting: irregular bursts on both legs, 1-6 s, with movement artefact."""
        dur = float(self.rng.uniform(1.0, 6.0))
        for c in range(self.n):
            if self.rng.random() < 0.8:
                start = t0 + float(self.rng.uniform(0, 0.5))
                self.burst(c, start, dur * float(self.rng.uniform(0.6, 1.0)), float(self.rng.uniform(0.04, 0.3)),
                           "posture")
                if motion:
                    for _ in range(int(self.rng.integers(1, 4))):
                        self.transients.append(Transient(
                            c, start + float(self.rng.uniform(0, dur * 0.8)), "motion",
                            float(self.rng.uniform(10, 80) * self.rng.choice([-1, 1])),
                            tau=float(self.rng.uniform(0.05, 0.2)), freq=float(self.rng.uniform(1, 6))))
        return t0 + dur

    def leg_movement(self, leg, t0, dur=None, peak=None):
        """A sleep leg movement (AASM: 0.5-10 s, >= 8 µV above rest): TA-led dorsiflexion."""
        dur = float(dur if dur is not None else np.clip(self.rng.lognormal(math.log(1.8), 0.5), 0.5, 10.0))
        pk = float(peak if peak is not None else self.rng.uniform(0.04, 0.2))
        for c in self.ch(leg=leg):
            scale = 1.0 if self.channels[c].role == "tibialis" else float(self.rng.uniform(0.3, 0.9))
            self.burst(c, t0 + float(self.rng.uniform(0, 0.15)), dur, pk * scale, "leg_movement")

    def plm_series(self, t0, n, legs=None, interval=None) -> float:
        """Periodic limb movements: n >= 4 LMs at 5-90 s (AASM 2018 / WASM 2016)."""
        legs = legs or self.legs
        iv = float(interval if interval is not None else self.rng.uniform(15, 40))
        t = t0
        for _ in range(n):
            if t > self.duration - 12:
                break
            leg = legs[int(self.rng.integers(len(legs)))]
            self.leg_movement(leg, t)
            if self.rng.random() < 0.3 and len(legs) > 1:
                self.leg_movement([x for x in legs if x != leg][0], t + float(self.rng.uniform(0, 0.5)))
            t += float(np.clip(iv * self.rng.lognormal(0, 0.15), 5.5, 89.0))
        return t

    # ------------------------------------------------------------ everyday activities (issue 13)
    def tonic(self, c, t0, t1, level, detail, edge=1.0, sway=True):
        """Low steady voluntary activity on ``c`` (standing, weight bearing, balance), with slow sway."""
        if t1 - t0 < 1.0:
            return None
        mod = A.Modulation.draw(self.rng, [(0.25, (0.1, 0.5)), (0.1, (0.5, 2.0))]) if sway else A.Modulation()
        return self.add(A.Tonic(c, "vol", t0, t1, peak=float(level), edge=edge, mod=mod),
                        mvc_pct=100 * float(level), detail=detail)

    def profile(self, c, knots_t, knots_v, detail, mvc_pct=None, mod=None):
        """A voluntary drive following knots (see :class:`~.activities.Profile`)."""
        kt, kv = np.asarray(knots_t, float), np.asarray(knots_v, float)
        act = A.Profile(c, "vol", float(kt[0]), float(kt[-1]), knots_t=kt, knots_v=kv,
                        mod=mod if mod is not None else A.Modulation())
        return self.add(act, mvc_pct=float(100 * np.max(kv) if mvc_pct is None else mvc_pct), detail=detail)

    def pedal_cycles(self, t0, n_rev, cadence_rpm, calf_peak, ta_peak) -> float:
        """Cycling: one calf burst per crank revolution on each leg, legs in antiphase.

        Triceps surae active through the downstroke (~20-220 deg of the crank from
        top dead centre), TA around the upstroke-to-top (~270-380 deg) (Neptune RR
        et al., J Biomech 30:1051, 1997; physiology.md §3b). Returns the end time.
        """
        rev = 60.0 / float(cadence_rpm)
        d = rev * (1.0 + self.rng.normal(0, 0.015, n_rev))
        end = t0
        for li, leg in enumerate(self.legs):
            starts = t0 + 0.5 * li * rev + np.concatenate([[0.0], np.cumsum(d)])
            bursts = {"calf": np.zeros((n_rev, 1, 3)), "tibialis": np.zeros((n_rev, 1, 3)),
                      "hamstring": np.zeros((n_rev, 1, 3))}
            bursts["calf"][:, 0, 0] = 0.05 + self.rng.normal(0, 0.02, n_rev)
            bursts["calf"][:, 0, 1] = 0.62 + self.rng.normal(0, 0.02, n_rev)
            bursts["calf"][:, 0, 2] = calf_peak * self.rng.lognormal(0, 0.15, n_rev)
            bursts["tibialis"][:, 0, 0] = 0.75 + self.rng.normal(0, 0.02, n_rev)
            bursts["tibialis"][:, 0, 1] = 1.05 + self.rng.normal(0, 0.02, n_rev)
            bursts["tibialis"][:, 0, 2] = ta_peak * self.rng.lognormal(0, 0.2, n_rev)
            bursts["hamstring"][:, 0, 0] = 0.45
            bursts["hamstring"][:, 0, 1] = 0.85
            bursts["hamstring"][:, 0, 2] = 0.1
            s = A.Strides(starts=starts, bursts=bursts)
            for c in self.ch(leg=leg):
                role = self.channels[c].role
                pk = calf_peak if role == "calf" else ta_peak if role == "tibialis" else 0.1
                self.add(A.Walking(c, "vol", float(starts[0]), float(starts[-1]), strides=s, role=role,
                                   skew=(1.5, 1.5)),
                         mvc_pct=100 * pk, detail=f"cycling {cadence_rpm:.0f} rpm")
            end = max(end, float(starts[-1]))
        return end

    # ------------------------------------------------------------ fasciculations
    def fasc(self, c, t, unit=None, doublet_p=0.08):
        """One fasciculation potential (and maybe its F-wave pair ~30-35 ms later, Kleine 2012)."""
        units = self.fasc_units[c]
        u = int(unit if unit is not None else self.rng.integers(len(units)))
        if t < 0 or t + FASC_KERNEL_S > self.duration:
            return
        self._fasc.append((float(t), c, u, float(self.rng.uniform(0.9, 1.1))))
        if self.rng.random() < doublet_p:
            self._fasc.append((float(t + self.rng.normal(0.033, 0.003)), c, u, float(self.rng.uniform(0.8, 1.1))))

    def fasc_poisson(self, c, t0, t1, per_min, doublet_p=0.08):
        t0, t1 = max(0.0, t0), min(self.duration, t1)
        if t1 <= t0:
            return
        n = self.rng.poisson(max(0.0, (t1 - t0) * per_min / 60.0))
        for t in np.sort(self.rng.uniform(t0, t1, n)):
            self.fasc(c, t, doublet_p=doublet_p)

    def fasc_burst(self, c, t0, n, spread):
        for t in np.sort(t0 + self.rng.uniform(0, spread, n)):
            self.fasc(c, t)

    def fasc_storm(self, c, t0, dur, rate_hz):
        """Several potentials per second for seconds (the hardest negative, physiology.md §6)."""
        t = t0
        while t < t0 + dur:
            self.fasc(c, t, doublet_p=0.1)
            t += float(self.rng.exponential(1.0 / rate_hz)) + 0.02

    # ------------------------------------------------------------ cramp
    def cramp(self, c, t0, dur, peak, ending=None, ramp=None, precursor=None, fasc_around=True,
              post_tonic=None):
        """A cramp on channel ``c`` starting (ramp onset) at ``t0``; returns its end time."""
        ending = ending or ("stretch" if self.rng.random() < 0.6 else "decay")
        ramp = float(ramp if ramp is not None else self.rng.uniform(0.5, 5.0))
        mod = A.Modulation.draw(self.rng, [(0.08, (1.0, 1.8)), (0.15, (0.02, 0.1)), (0.08, (0.2, 0.5))])
        cr = A.Cramp(c, "cramp", t0, t0 + dur, peak=peak, ramp=ramp, ending=ending,
                     stretch_s=float(self.rng.uniform(0.6, 2.0)), stretch_gain=float(self.rng.uniform(1.3, 1.8)),
                     tau=float(self.rng.uniform(1.0, 5.0)), mod=mod)
        if ending == "decay":
            # a decaying cramp keeps its plateau until decay_len before the end
            cr.t1 = t0 + max(dur, ramp + cr.decay_len + 1.0)
        t1 = min(cr.t1, self.duration)
        self.activities.append(cr)
        if cr.t1 > self.duration:
            ending = "cut"
        self.cramp_spans.append((t0, t1))
        self.cramp_ch.append(c)
        ch = self.channels[c]
        base_rms = math.sqrt(ch.noise_uv ** 2 + (ch.ecg_uv * 0.3) ** 2)
        pre = 0.0
        if precursor is None:
            precursor = self.rng.random() < 0.6
        if precursor:
            # Chaney & Sherman pilot: tension ~2x baseline for ~41 +- 11 s before the cramp
            pre = float(self.rng.uniform(20, 60))
            lv = math.sqrt(3.0) * base_rms / ch.mvc_rms_uv  # RMS doubles
            mod = A.Modulation.draw(self.rng, [(0.3, (0.05, 0.3))])
            self.activities.append(A.Tonic(c, "cramp", max(0.0, t0 - pre), t0 + 0.5 * ramp, peak=lv, edge=5.0, mod=mod))
        if fasc_around:
            # fasciculations precede and follow a cramp (Miller & Layzer 2005)
            self.fasc_poisson(c, max(0.0, t0 - 60), t0 - 0.5, float(self.rng.uniform(3, 20)))
            self.fasc_poisson(c, t1 + 0.5, min(self.duration, t1 + 120), float(self.rng.uniform(3, 20)))
        if post_tonic is None:
            post_tonic = self.rng.random() < 0.5
        if post_tonic and t1 < self.duration - 5:
            # "stayed about 2x baseline afterwards" (Chaney & Sherman)
            lv = math.sqrt(3.0) * base_rms / ch.mvc_rms_uv
            self.activities.append(A.Tonic(c, "cramp", t1 + 0.3, min(self.duration, t1 + self.rng.uniform(10, 60)),
                                           peak=lv, edge=3.0))
        if ending == "stretch":
            # the stretch raises activity in all triceps surae muscles (Ross & Thomas 1995)
            s0 = t1 - cr.stretch_s
            for o in self.ch(leg=ch.leg):
                if o != c and self.channels[o].triceps:
                    self.burst(o, s0, cr.stretch_s + 0.3, float(self.rng.uniform(0.05, 0.2)), "stretch")
        self.label("cramp", c, t0, t1, mvc_pct=100 * peak, ending=ending,
                   detail=f"ramp {ramp:.1f}s" + (f", precursor {pre:.0f}s" if pre else ""))
        return t1

    # ------------------------------------------------------------ artefacts
    def pop(self, c, t, label=True):
        """Electrode pop: a step of 0.2-5 mV decaying over 0.05-0.5 s (assumption U)."""
        tr = Transient(c, t, "pop", float(self.rng.uniform(200, 5000) * self.rng.choice([-1, 1])),
                       tau=float(self.rng.uniform(0.05, 0.5)))
        self.transients.append(tr)
        if label:
            self.label("artifact", c, t, t + min(tr.length_s, 5 * tr.tau), detail="pop")

    def electrode_pop(self, c, t, amp_uv=None, tau=None):
        """Electrode pop of everyday size: a near single-sample step of the electrode-skin
        half-cell potential that decays over ~0.1-1 s. Steps of 100-250 µV mostly, a
        third larger (up to 2 mV); time constant 0.03-0.3 s (assumption U: no source gave
        numbers; :meth:`pop` makes the larger, torture-test pops)."""
        if amp_uv is None:
            amp_uv = self.rng.uniform(100, 250) if self.rng.random() < 0.67 else self.rng.uniform(250, 2000)
        tau = float(tau if tau is not None else self.rng.uniform(0.03, 0.3))
        tr = Transient(c, t, "pop", float(amp_uv) * float(self.rng.choice([-1, 1])), tau=tau)
        self.transients.append(tr)
        self.label("artifact", c, t, t + min(tr.length_s, 5 * tau), detail="pop")

    def lead_movement(self, c, t0):
        """A lead wire or electrode moved (leg moved in bed, cable tugged): 1-3 slow swings of
        0.5-4 Hz, 50-400 µV (below 20 Hz like every movement artefact, De Luca 2010;
        amplitude assumption U)."""
        t = t0
        for _ in range(int(self.rng.integers(1, 4))):
            tr = Transient(c, t, "motion", float(self.rng.uniform(50, 400) * self.rng.choice([-1, 1])),
                           tau=float(self.rng.uniform(0.15, 0.5)), freq=float(self.rng.uniform(0.5, 4.0)),
                           phase=float(self.rng.uniform(0, 6.28)))
            self.transients.append(tr)
            t += float(self.rng.uniform(0.2, 1.0))
        self.label("artifact", c, t0, t + 1.0, detail="lead_movement")

    def hum(self, c, t0, dur, amp_uv):
        """A burst of strong mains (loose electrode, nearby appliance)."""
        self.transients.append(Transient(c, t0, "hum", amp_uv, tau=dur, freq=self.mains_freq))
        self.label("artifact", c, t0, t0 + dur, detail="mains")

    def motion_burst(self, c, t0, dur, amp_uv, label=True, detail="motion"):
        """Several large low-frequency movement artefacts (cable swing, knocks)."""
        t = t0
        while t < t0 + dur:
            self.transients.append(Transient(c, t, "motion", float(amp_uv * self.rng.uniform(0.5, 1.2) * self.rng.choice([-1, 1])),
                                             tau=float(self.rng.uniform(0.05, 0.25)), freq=float(self.rng.uniform(2, 15))))
            t += float(self.rng.uniform(0.2, 0.8))
        if label:
            self.label("artifact", c, t0, t + 1.0, detail=detail)

    def ecg_strong(self, c, t0, dur, amp_uv):
        self.ecg_boost.append((c, t0, t0 + dur, amp_uv))
        self.label("artifact", c, t0, t0 + dur, detail="ecg")

    def lead_off(self, c, t0, dur):
        """Electrode off: flat line (rail for DC-coupled ADCs, 0 for AC-coupled amplifiers)."""
        value = self.device.range_uv if self.device.dc_coupled else 0.0
        self._lead_off.append((c, t0, t0 + dur, value))
        self.label("signal_loss", c, t0, t0 + dur, detail="lead_off")

    def clip(self, c, t0):
        """A movement artefact large enough to saturate the device (clipping)."""
        # 8-20 Hz so that it passes a 10-20 Hz high-pass and saturates the output
        amp = self.device.range_uv * float(self.rng.uniform(2.0, 4.0)) * float(self.rng.choice([-1, 1]))
        tr = Transient(c, t0, "motion", amp, tau=float(self.rng.uniform(0.1, 0.3)), freq=float(self.rng.uniform(8, 20)))
        self.transients.append(tr)
        self.label("artifact", c, t0, tr.t1, detail="clipping")

    def gap(self, t0, dur):
        """Dropped packets: every channel loses ``dur`` s."""
        self.gap_spans.append((t0, t0 + dur))
        for c in range(self.n):
            self.label("signal_loss", c, t0, t0 + dur, detail="dropped")

    # ------------------------------------------------------------ finish
    def build(self, device_name: str) -> Plan:
        fasc = sorted(self._fasc)
        # potentials inside gaps, cramps or voluntary activity (> HIDE_LEVEL) would be
        # hidden or lost: leave them out (neither rendered nor labelled)
        fasc = [f for f in fasc if not any(a <= f[0] < b for a, b in self.gap_spans)
                and not any(a - 0.05 <= f[0] < b + 0.05 and f[1] == cc
                            for (a, b), cc in zip(self.cramp_spans, self.cramp_ch))
                and self._vol_level(f[1], f[0]) < HIDE_LEVEL]
        labels = [lab for lab in self.labels if lab.kind != "fasciculation"]
        for c, ch in enumerate(self.channels):
            mine = [f for f in fasc if f[1] == c]
            ep = []
            for t, _, u, _ in mine:
                unit = self.fasc_units[c][u]
                a, b = t + unit.on_s, t + unit.off_s
                if ep and a - ep[-1][1] <= FASC_EPISODE_GAP_S:
                    ep[-1][1] = max(ep[-1][1], b)
                    ep[-1][2] += 1
                else:
                    ep.append([a, b, 1])
            labels += [Label("fasciculation", ch.name, float(a), float(b), n_potentials=k,
                             detail="storm" if k >= 10 else "burst" if k >= 3 else "pair" if k == 2 else "single")
                       for a, b, k in ep]
        labels = _merge(labels)
        arr = np.array(fasc, dtype=float).reshape(-1, 4)
        wander = [Wander(c.wander_uv, tuple(self.rng.uniform(0.02, 0.6, 4)), tuple(self.rng.uniform(0, 6.28, 4)))
                  for c in self.channels]
        mains = Mains(self.mains_freq, 1.0, float(self.rng.uniform(0, 6.28)),
                      mod_freqs=(float(self.rng.uniform(0.005, 0.02)), float(self.rng.uniform(0.02, 0.05))),
                      mod_phases=(float(self.rng.uniform(0, 6.28)), float(self.rng.uniform(0, 6.28))))
        return Plan(scenario=self.scenario, seed=self.seed, duration_s=self.duration, mode=self.mode,
                    channels=self.channels, crosstalk=self.crosstalk, activities=self.activities,
                    fasc_t=arr[:, 0], fasc_ch=arr[:, 1].astype(int), fasc_unit=arr[:, 2].astype(int),
                    fasc_amp=arr[:, 3], fasc_units=self.fasc_units, transients=self.transients,
                    beats=self.beats, ecg_boost=self.ecg_boost, mains=mains, mains_uv=self.mains_uv,
                    wander=wander, lead_off=self._lead_off, gap_spans=self.gap_spans,
                    labels=sorted(labels, key=lambda x: (x.start_s, x.channel, x.kind)),
                    meta={"mains_hz": self.mains_freq, "device": device_name})


def _merge(labels):
    """Merge overlapping labels of one kind on one channel (voluntary, artifact, signal_loss)."""
    out, groups = [], {}
    for lab in labels:
        if lab.kind in ("cramp", "fasciculation"):
            out.append(lab)
        else:
            groups.setdefault((lab.kind, lab.channel), []).append(lab)
    for (kind, ch), labs in groups.items():
        labs.sort(key=lambda x: x.start_s)
        cur = labs[0]
        for lab in labs[1:]:
            if lab.start_s <= cur.end_s:
                details = cur.detail.split("+")
                det = cur.detail if lab.detail in details else f"{cur.detail}+{lab.detail}"
                mvc = np.nanmax([cur.mvc_pct, lab.mvc_pct]) if not (math.isnan(cur.mvc_pct) and math.isnan(lab.mvc_pct)) else float("nan")
                cur = Label(kind, ch, cur.start_s, max(cur.end_s, lab.end_s), mvc_pct=float(mvc), detail=det)
            else:
                out.append(cur)
                cur = lab
        out.append(cur)
    return [Label(x.kind, x.channel, round(float(x.start_s), 4), round(float(x.end_s), 4),
                  round(float(x.mvc_pct), 1), x.ending, int(x.n_potentials), x.detail) for x in out]


# =================================================================== scenarios

def _rest_gap(b: Builder, lo, hi):
    return float(b.rng.uniform(lo, hi))


def _walk_steps(b: Builder) -> int:
    """Bout length in strides: 75 % of free-living bouts < 40 steps, 90 % < 100 (Orendurff 2008)."""
    u = b.rng.random()
    steps = b.rng.uniform(12, 40) if u < 0.6 else b.rng.uniform(40, 100) if u < 0.85 else b.rng.uniform(100, 300)
    return max(3, int(steps / 2))


def walk_then_cramp(b: Builder):
    """Rest, a walk, a pause, then a calf cramp (stretch or decay), fasciculations around it."""
    D = b.duration
    t = float(b.rng.uniform(3, 6))
    walk_until = 0.45 * D
    b.stand(0.5, t - 0.5)
    while t < walk_until - 8:
        n = max(6, int(min(_walk_steps(b), (walk_until - t) / 1.1)))
        t = b.walk(t, n, motion_uv=float(b.rng.uniform(5, 25))) + 0.5
        pause = _rest_gap(b, 3, 15)
        if t + pause < walk_until - 8:
            b.stand(t, t + pause)
        t += pause
    calves = b.ch(role="calf")
    c = calves[-1] if b.seed % 2 == 0 else calves[0]
    b.stand(t, t + 3.0)
    t0 = max(t + 6.0, 0.55 * D)
    dur = float(np.clip(0.3 * D * b.rng.uniform(0.7, 1.0), 8.0, 600.0))
    peak = float(b.rng.uniform(0.1, 0.8)) if b.seed % 4 else 0.45
    end = b.cramp(c, t0, dur, peak, precursor=D > 200 and None, ending="stretch" if b.seed % 3 != 2 else "decay")
    if D - end > 20:
        b.posture_shift(end + float(b.rng.uniform(3, 8)))


def walking(b: Builder):
    """Walking bouts (76-120 steps/min) between standing, sitting and posture shifts."""
    t = float(b.rng.uniform(2, 10))
    while t < b.duration - 15:
        n = int(min(_walk_steps(b), (b.duration - 10 - t) / 1.3))
        if n >= 3:
            t = b.walk(t, n, motion_uv=float(b.rng.uniform(5, 30)))
        pause = _rest_gap(b, 5, 60)
        if b.rng.random() < 0.6:
            b.stand(t + 0.5, min(b.duration, t + pause - 0.5))
        elif b.rng.random() < 0.3:
            b.posture_shift(t + pause / 2)
        t += pause


def fasciculation_storm(b: Builder):
    """Rest with background fasciculations and storms of several per second on a calf."""
    for c in range(b.n):
        b.fasc_poisson(c, 0, b.duration, float(b.rng.uniform(5, 20)))
    t = float(b.rng.uniform(10, 40))
    while t < b.duration - 20:
        c = int(b.rng.integers(b.n))
        dur = float(b.rng.uniform(5, 60))
        b.fasc_storm(c, t, min(dur, b.duration - t - 5), float(b.rng.uniform(2, 8)))
        if b.rng.random() < 0.3:  # both calves at once
            b.fasc_storm((c + 1) % b.n, t + b.rng.uniform(0, 5), min(dur, b.duration - t - 10), float(b.rng.uniform(1, 4)))
        if b.rng.random() < 0.3:
            b.fasc_burst(c, t + dur + b.rng.uniform(5, 15), int(b.rng.integers(3, 8)), 1.5)
        t += dur + float(b.rng.uniform(20, 120))
        if b.rng.random() < 0.25 and t < b.duration - 30:
            b.posture_shift(t - 10)


def benign_fasciculations(b: Builder):
    """Sparse benign fasciculations (0.5-20 per min per calf), bursts and doublets at rest."""
    for c in range(b.n):
        rate = float(b.rng.uniform(0.5, 20))
        b.fasc_poisson(c, 0, b.duration, rate)
        for _ in range(b.rng.poisson(b.duration / 300)):
            b.fasc_burst(c, b.at(0, b.duration - 5), int(b.rng.integers(3, 7)), 2.0)
    for _ in range(b.rng.poisson(b.duration / 400)):
        b.posture_shift(b.at(5, b.duration - 10))


def _sleep_background(b: Builder, plm_p: float, lm_per_h=(3, 12), shifts_per_h=(1.5, 4)):
    """Leg movements, PLM series and posture shifts of a night (AASM rules)."""
    D = b.duration
    for _ in range(b.rng.poisson(D / 3600 * b.rng.uniform(*shifts_per_h))):
        t = b.at(30, D - 30)
        if b.free(t - 10, t + 10):
            b.posture_shift(t)
    for _ in range(b.rng.poisson(D / 3600 * b.rng.uniform(*lm_per_h))):
        t = b.at(10, D - 20)
        if b.free(t - 5, t + 15):
            b.leg_movement(b.legs[int(b.rng.integers(len(b.legs)))], t)
    if b.rng.random() < plm_p:
        for _ in range(int(b.rng.integers(1, 4))):
            t = float(b.rng.uniform(60, max(61, D - 600)))
            n = int(b.rng.integers(4, 60))
            if b.free(t, t + n * 45):
                b.plm_series(t, n)
    for c in range(b.n):
        if b.channels[c].triceps:
            b.fasc_poisson(c, 0, D, float(b.rng.uniform(0, 1)))
    # rare artefacts of a night: an electrode pop or two, maybe a lost connection
    for _ in range(b.rng.poisson(D / 3600 * 0.5)):
        b.pop(int(b.rng.integers(b.n)), b.at(10, D - 10))
    if b.rng.random() < 0.3 and D > 600:
        b.gap(b.at(60, D - 60), float(b.rng.uniform(0.05, 5.0)))


def night(b: Builder):
    """A night on two calves: leg movements, posture shifts, 0-3 cramps with fasciculations."""
    D = b.duration
    n_cramps = int(b.rng.choice([0, 1, 1, 1, 2, 2, 3]))
    t_prev = None
    for i in range(n_cramps):
        # a second cramp is likely within the hour (threshold stays low >= 60 min, Miller 2017)
        if t_prev is not None and b.rng.random() < 0.5:
            t0 = t_prev + float(b.rng.uniform(300, 3600))
        else:
            t0 = float(b.rng.uniform(0.05, 0.9) * D)
        # nocturnal cramp: seconds to 10 min, mean ~9 min (BMJ Best Practice; Hallegraeff 2017)
        dur = float(np.clip(b.rng.lognormal(math.log(120), 0.9), 5.0, 600.0))
        if t0 + dur > D - 10 or not b.free(t0 - 90, t0 + dur + 130):
            continue
        c = b.ch(role="calf")[int(b.rng.integers(len(b.ch(role="calf"))))]
        end = b.cramp(c, t0, dur, float(b.rng.uniform(0.1, 0.8)))
        t_prev = t0
        # awake after a cramp: a posture shift or two
        if end + 20 < D:
            b.posture_shift(end + float(b.rng.uniform(2, 10)))
    _sleep_background(b, plm_p=0.35)
    if b.rng.random() < 0.2 and D > 1800:  # a trip to the bathroom
        t = float(b.rng.uniform(0.2, 0.8) * D)
        if b.free(t - 10, t + 200):
            b.walk(t, int(b.rng.integers(30, 90)), motion_uv=float(b.rng.uniform(5, 20)))


def night_plm_only(b: Builder):
    """A night with periodic limb movement series, isolated LMs and posture shifts; no cramp."""
    D = b.duration
    t = float(b.rng.uniform(60, 300))
    while t < D - 300:
        n = int(b.rng.integers(4, 80))
        t = b.plm_series(t, n) + float(b.rng.uniform(300, 1800))
    _sleep_background(b, plm_p=0.0, lm_per_h=(5, 15))


def sustained_voluntary(b: Builder):
    """Voluntary holds that look like cramps: tiptoe (bilateral), heel raises, pressing, squats."""
    t = float(b.rng.uniform(3, 10))
    calves, ta = b.ch(role="calf"), b.ch(role="tibialis")
    k = 0
    while t < b.duration - 40:
        dur = float(b.rng.uniform(5, 30))
        kind = ["tiptoe", "heel_raise", "press", "squat", "tiptoe"][k % 5]
        k += 1
        lv = {}
        if kind == "tiptoe":  # both calves, TA co-contraction (bilateral, multi-muscle)
            p = float(b.rng.uniform(0.25, 0.6))
            lv = {c: p * float(b.rng.uniform(0.85, 1.15)) for c in calves}
            lv.update({c: float(b.rng.uniform(0.03, 0.1)) for c in ta})
        elif kind == "heel_raise":  # one leg raise: that calf high, other calf balances
            main = calves[int(b.rng.integers(len(calves)))]
            lv = {c: (float(b.rng.uniform(0.4, 0.7)) if c == main else float(b.rng.uniform(0.05, 0.15))) for c in calves}
            lv.update({c: float(b.rng.uniform(0.03, 0.12)) for c in ta})
        elif kind == "press":  # seated pedal press: one calf 10-30 %, the hardest case
            main = calves[int(b.rng.integers(len(calves)))]
            lv = {main: float(b.rng.uniform(0.1, 0.3))}
            lv.update({c: float(b.rng.uniform(0.02, 0.06)) for c in ta})
        else:  # squat hold: everything moderate
            lv = {c: float(b.rng.uniform(0.1, 0.3)) for c in range(b.n)}
        b.hold(t, dur, lv, kind)
        t += dur + float(b.rng.uniform(5, 40))
        if b.rng.random() < 0.3 and t < b.duration - 60:
            t = b.walk(t, int(b.rng.integers(8, 30))) + float(b.rng.uniform(3, 10))


def artifact_torture(b: Builder):
    """Every artefact: mains bursts, wander, heel-strike motion, pops, ECG, lead-off, clipping, gaps."""
    D = b.duration
    b.wander_scale = 5.0
    items = ["motion_walk", "pop", "hum", "ecg", "lead_off", "clip", "gap", "motion", "pop", "gap"]
    t = 5.0
    k = 0
    while t < D - 30:
        what = items[k % len(items)]
        k += 1
        c = int(b.rng.integers(b.n))
        if what == "motion_walk":
            n = int(b.rng.integers(10, 40))
            t = b.walk(t, n, motion_uv=float(b.rng.uniform(150, 600)), label_motion=True)
        elif what == "pop":
            for _ in range(int(b.rng.integers(1, 4))):
                b.pop(c, t + float(b.rng.uniform(0, 5)))
            t += 6
        elif what == "hum":
            dur = float(b.rng.uniform(3, 30))
            for cc in range(b.n):
                b.hum(cc, t, dur, float(b.rng.uniform(30, 400)))
            t += dur
        elif what == "ecg":
            dur = float(b.rng.uniform(10, 60))
            b.ecg_strong(c, t, dur, float(b.rng.uniform(20, 100)))
            t += dur
        elif what == "lead_off":
            dur = float(b.rng.uniform(2, 40))
            b.lead_off(c, t, dur)
            t += dur
        elif what == "clip":
            for _ in range(int(b.rng.integers(1, 3))):
                b.clip(c, t + float(b.rng.uniform(0, 3)))
            t += 5
        elif what == "gap":
            b.gap(t, float(b.rng.uniform(0.02, 3.0)))
            t += 3
        else:
            dur = float(b.rng.uniform(2, 10))
            b.motion_burst(c, t, dur, float(b.rng.uniform(200, 1500)))
            t += dur + 1
        t += float(b.rng.uniform(3, 20))


def cramp_sweep(b: Builder):
    """Cramps swept over 10-80 % MVC, 5 s to minutes, both endings, alternating calves, at rest."""
    calves = b.ch(role="calf")
    levels = [0.1, 0.8, 0.2, 0.5, 0.3, 0.7, 0.15, 0.4, 0.6, 0.25]
    t = float(b.rng.uniform(30, 70))
    k = int(b.rng.integers(len(levels)))
    i = 0
    while True:
        dur = float(np.clip(b.rng.lognormal(math.log(30), 0.9), 5.0, 300.0))
        if t + dur + 20 > b.duration:
            break
        end = b.cramp(calves[i % len(calves)], t, dur, levels[(k + i) % len(levels)],
                      ending="stretch" if i % 2 == 0 else "decay")
        i += 1
        t = end + float(b.rng.uniform(70, 180))
    if b.duration > 300:
        for _ in range(b.rng.poisson(b.duration / 600)):
            s = b.at(10, b.duration - 10)
            if b.free(s - 10, s + 10):
                b.posture_shift(s)


def cramp_one_head(b: Builder):
    """A cramp in the medial gastrocnemius only; soleus and TA see cross-talk (Ross & Thomas 1995)."""
    t = float(b.rng.uniform(3, 8))
    t = b.walk(t, int(b.rng.integers(10, 30))) + 2
    b.stand(t, t + 5)
    t0 = t + float(b.rng.uniform(8, 20))
    dur = float(np.clip(b.rng.lognormal(math.log(40), 0.7), 8, 0.5 * b.duration))
    end = b.cramp(0, min(t0, b.duration * 0.5), dur, float(b.rng.uniform(0.1, 0.8)))
    if end + 30 < b.duration:
        b.walk(end + 10, int(b.rng.integers(8, 20)))


# ------------------------------------------------------------------ everyday life (issue 13)
# Hard negatives: localised, sustained or repeated calf activity that is *not* a cramp,
# and weak cramps. Every figure comes from physiology (docs/physiology.md, section
# "Everyday activities in the simulator"), never from a detector threshold.

#: Accelerator pedal: right calf tonic for the whole drive at ~5-20 % MVC (Khamis NK et
#: al., Jurnal Kejuruteraan 30:23, 2018: lower-leg muscles engaged for the whole drive;
#: level range physiology.md §3b: "tonic calf activity of 5-20 % MVC lasting minutes").
PEDAL_RANGE = (0.05, 0.20)
#: Brake press: calf 20-40 % MVC for 2-5 s (brief pressure peaks; assumption M from the
#: pedal-operation studies of physiology.md §3b, no %MVC given there).
BRAKE_RANGE = (0.20, 0.40)
#: TA as the foot leaves a pedal: it peaks on release (Khamis 2018); size like the TA
#: swing-phase burst of walking, <= 27 % MVC (Ericson 1986).
TA_RELEASE_RANGE = (0.08, 0.27)


def _pedal_mod(b: Builder) -> A.Modulation:
    """Throttle micro-corrections (0.3-1.5 Hz) on top of the knots."""
    return A.Modulation.draw(b.rng, [(0.06, (0.3, 1.5)), (0.04, (1.5, 3.0))])


def _foot_release(b: Builder, t: float) -> float:
    """The right foot lifts off a pedal: a TA burst (Khamis 2018). Returns when the foot is free."""
    dur = float(b.rng.uniform(0.4, 1.0))
    for ta in b.ch(role="tibialis", leg="right"):
        b.burst(ta, t, dur, float(b.rng.uniform(*TA_RELEASE_RANGE)), "pedal_release")
    return t + 0.7 * dur


def _brake(b: Builder, t: float, lo: float = 2.0, hi: float = 5.0) -> float:
    """A brake press by the right calf (20-40 % MVC, ``lo``-``hi`` s). Returns its end."""
    c = b.ch(role="calf", leg="right")[0]
    dur = float(b.rng.uniform(lo, hi))
    lv = float(b.rng.uniform(*BRAKE_RANGE))
    ru, rd = float(b.rng.uniform(0.3, 0.8)), float(b.rng.uniform(0.3, 0.6))
    b.profile(c, [t, t + ru, t + dur - rd, t + dur], [0.0, lv, lv * float(b.rng.uniform(0.8, 1.15)), 0.0],
              "brake", mvc_pct=100 * lv, mod=_pedal_mod(b))
    return t + dur


def _accelerate(b: Builder, t0: float, t1: float, base: float, drift: A.Modulation):
    """The right calf holds the accelerator from ``t0`` to ``t1``: the driver's level
    ``base`` times a slow drift (traffic, road grade: periods of 1-5 min) times the
    throttle (a new setting every 1.5-8 s), kept in :data:`PEDAL_RANGE`. The right TA
    stays lightly active (1-3 % MVC, modulating the pedal; assumption U)."""
    c = b.ch(role="calf", leg="right")[0]
    ramp = float(b.rng.uniform(0.4, 1.0))
    kt, kv = [t0], [0.0]
    t = t0 + ramp
    while t < t1 - ramp:
        lv = base * float(drift(np.array([t]))[0]) * float(np.clip(b.rng.lognormal(0, 0.2), 0.6, 1.6))
        kt.append(t)
        kv.append(float(np.clip(lv, *PEDAL_RANGE)))
        t += float(b.rng.uniform(1.5, 8.0))
    if len(kt) == 1:
        kt.append(t0 + (t1 - t0) / 2)
        kv.append(float(np.clip(base, *PEDAL_RANGE)))
    kt.append(t1)
    kv.append(0.0)
    b.profile(c, kt, kv, "pedal", mvc_pct=100 * float(np.mean(kv[1:-1])), mod=_pedal_mod(b))
    for ta in b.ch(role="tibialis", leg="right"):
        lt = float(b.rng.uniform(0.01, 0.03))
        e = min(1.0, (t1 - t0) / 3)
        b.profile(ta, [t0, t0 + e, t1 - e, t1], [0.0, lt, lt, 0.0], "pedal", mvc_pct=100 * lt,
                  mod=A.Modulation.draw(b.rng, [(0.2, (0.05, 0.3))]))


def _drive(b: Builder, t: float, t_end: float, base: float, drift: A.Modulation, stop: bool = True) -> float:
    """Drive from ``t`` to ``t_end``: brake at the start (engine start, pulling out, 2-10 s),
    then the accelerator, left every 20-120 s to brake (2-5 s) or to coast (2-8 s),
    with a TA burst at each release. ``stop``: end with a brake to standstill and the
    foot off; otherwise the last accelerator hold simply ends at ``t_end``. Returns the end."""
    t = _brake(b, t, 2.0, min(10.0, max(2.0, 0.2 * (t_end - t))))
    t = _foot_release(b, t)
    left = b.ch(role="calf", leg="left")
    last = False
    while not last:
        seg = float(b.rng.uniform(20, 120))
        limit = t_end - (12.0 if stop else 0.0)
        if t + seg >= limit - 10:
            seg, last = limit - t, True
        if seg < 2.0:
            break
        _accelerate(b, t, t + seg, base, drift)
        # the left foot rests; now and then a short movement (< 2 s)
        for _ in range(b.rng.poisson(seg / 150)):
            for c in left:
                b.burst(c, b.at(t + 1, t + seg - 3), float(b.rng.uniform(0.5, 1.8)),
                        float(b.rng.uniform(0.03, 0.15)), "foot_shift")
        t += seg
        if last:
            break
        t = _foot_release(b, t)
        if b.rng.random() < 0.7:
            t = _foot_release(b, _brake(b, t + float(b.rng.uniform(0.2, 0.6))))
        else:
            t += float(b.rng.uniform(2, 8))  # coasting, foot resting
    if stop:
        t = _foot_release(b, t)
        t = _brake(b, t + 0.3, 2.0, min(10.0, max(2.0, t_end - t - 1.0)))
        t = _foot_release(b, t)
    return t


def _to_the_car(b: Builder) -> float:
    """A short walk to the car (long recordings), getting in, belt and mirrors. Returns the drive start."""
    t = b.at(2, 6)
    if b.duration > 120:
        t = b.walk(t, int(b.rng.integers(8, 25)), motion_uv=float(b.rng.uniform(5, 20))) + float(b.rng.uniform(1, 3))
    t = b.posture_shift(t)  # getting into the seat
    return t + min(float(b.rng.uniform(3, 15)), 0.05 * b.duration)


def _out_of_the_car(b: Builder, t: float):
    if b.duration - t > 12:
        t = b.posture_shift(t + float(b.rng.uniform(1, 4))) + float(b.rng.uniform(1, 3))
    if b.duration - t > 30:
        b.walk(t, int(min(b.rng.integers(8, 25), (b.duration - t - 5) / 1.3)), motion_uv=float(b.rng.uniform(5, 20)))


def _driver(b: Builder):
    """The driver's accelerator level and its slow drift (seat position sets the
    gastrocnemius level, Khamis 2018; traffic and road grade drift it)."""
    base = float(b.rng.uniform(0.07, 0.14))
    drift = A.Modulation.draw(b.rng, [(0.25, (1 / 300, 1 / 60)), (0.1, (1 / 60, 1 / 20))])
    return base, drift


def driving(b: Builder):
    """Driving: right calf on the accelerator (5-20 % MVC) for the whole drive, brakes, TA on release."""
    # Khamis 2018 (pedal held and modulated for the whole drive, TA peaks on release),
    # Jammes 2017 (hours of constant-speed driving): physiology.md §3b.
    base, drift = _driver(b)
    t = _to_the_car(b)
    t_end = b.duration - (float(b.rng.uniform(30, 90)) if b.duration > 300 else 3.0)
    t = _drive(b, t, t_end, base, drift)
    _out_of_the_car(b, t)


def driving_cramp(b: Builder):
    """The drive of ``driving`` with one cramp of the pedal (right) calf mid-drive, stronger than the pedal."""
    base, drift = _driver(b)
    t = _to_the_car(b)
    t_end = b.duration - (float(b.rng.uniform(30, 90)) if b.duration > 300 else 3.0)
    c = b.ch(role="calf", leg="right")[0]
    dur = float(b.rng.uniform(20, 120))
    t_c = t + float(b.rng.uniform(0.35, 0.55)) * max(0.0, t_end - t - dur)
    # the driver stops pressing when the cramp starts or shortly after (0-3 s)
    t_stop = t_c + float(b.rng.uniform(0, 3))
    if t_c - t > 15:
        _drive(b, t, t_stop, base, drift, stop=False)
        _foot_release(b, t_stop)
    pedal = max((b._vol_level(c, x) for x in np.arange(max(0.0, t_c - 5), t_c + 0.01, 0.25)), default=0.0)
    # cramp plateau 0.3-0.8 MVC (the sweep of physiology.md §6) and at least twice the pedal hold
    peak = max(float(b.rng.uniform(0.3, 0.8)), 2.0 * pedal)
    end = b.cramp(c, t_c, dur, peak)
    t = end + float(b.rng.uniform(20, 90))  # stretched, pulled over, rested
    if t_end - t > 30:
        t = _drive(b, t, t_end, base, drift)
        _out_of_the_car(b, t)
    elif b.duration - end > 15:
        _out_of_the_car(b, end + 3)


#: Bilateral calf raises: both calves 30-60 % MVC; single-leg raises and holds: the
#: working calf 40-70 % (unilateral > bilateral, Hébert-Losier K et al., JSCR 26:3124,
#: 2012; Riemann BL et al., JSCR 25:634, 2011); levels themselves assumption M.
RAISE_BILATERAL = (0.30, 0.60)
RAISE_SINGLE = (0.40, 0.70)


def _raise_set(b: Builder, t: float, work: dict, n: int, detail: str, balance: dict | None = None) -> float:
    """``n`` raises: ~1-2 s up (concentric), ~1-2 s down (eccentric) (ACSM position stand,
    Ratamess NA et al., MSSE 41:687, 2009: "1-2 s CON; 1-2 s ECC"). EMG peaks near the
    top of the rise, is lower while lowering (eccentric work needs less EMG for the same
    force) and falls to the standing level at the bottom. ``work`` = {channel: peak},
    ``balance`` = {channel: level} for the lightly active other calf / TA."""
    up, down = float(b.rng.uniform(1.0, 2.0)), float(b.rng.uniform(1.0, 2.0))
    reps = []
    s = t + 0.5
    for k in range(n):
        f = float(b.rng.lognormal(0, 0.08)) * (1.0 + 0.01 * k)  # amplitude creeps up with fatigue
        u = up * float(b.rng.uniform(0.85, 1.15))
        d = down * float(b.rng.uniform(0.85, 1.15))
        top = float(b.rng.uniform(0.1, 0.5))
        reps.append((s, u, top, d, f))
        s += u + top + d + float(b.rng.uniform(0.1, 0.6))
    end = s + 0.5
    for c, pk in work.items():
        lb = float(b.rng.uniform(0.03, 0.05))  # standing at the bottom (Okada 1984: < 5 %)
        kt, kv = [t], [0.0]
        for s0, u, top, d, f in reps:
            kt += [s0, s0 + 0.6 * u, s0 + u, s0 + u + top, s0 + u + top + 0.5 * d, s0 + u + top + d]
            kv += [lb, pk * f, 0.85 * pk * f, 0.7 * pk * f, 0.5 * pk * f, lb]
        kt.append(end)
        kv.append(0.0)
        b.profile(c, kt, kv, detail, mvc_pct=100 * pk, mod=A.Modulation.draw(b.rng, [(0.06, (0.5, 2.0))]))
    for c, lv in (balance or {}).items():
        b.tonic(c, t, end, lv, "balance", edge=0.5)
    return end


def calf_raises(b: Builder):
    """An exercise session: bilateral raise sets and holds (warm-up first), single-leg sets and holds."""
    # Hébert-Losier 2009 (J Sci Med Sport 12:594: the calf-raise test is repeated
    # concentric-eccentric plantar flexion, usually unipedal) and 2012; warm-up with
    # bilateral work as exercise protocols do; rests 1-3 min between sets (ACSM 2009).
    calves, ta = b.ch(role="calf"), b.ch(role="tibialis")
    t = b.at(3, 10)
    b.stand(0.5, t)
    plan = ["bilateral_set", "bilateral_set", "bilateral_hold"]
    order = [0, 1] if b.rng.random() < 0.5 else [1, 0]
    k = 0
    while t < b.duration - 20:
        if k < len(plan):
            what = plan[k]
        else:
            what = ["single_set", "single_set", "single_hold", "single_hold", "bilateral_hold", "bilateral_set"][
                (k - len(plan)) % 6]
        side = calves[order[k % 2]] if len(calves) > 1 else calves[0]
        other = [c for c in calves if c != side]
        k += 1
        ta_lv = {c: float(b.rng.uniform(0.02, 0.06)) for c in ta}  # balance co-activation (assumption U)
        if what == "bilateral_set":
            p = float(b.rng.uniform(*RAISE_BILATERAL))
            work = {c: p * float(b.rng.uniform(0.85, 1.15)) for c in calves}
            t = _raise_set(b, t, work, int(b.rng.integers(8, 16)), "calf_raise_set", ta_lv)
        elif what == "bilateral_hold":
            p = float(b.rng.uniform(*RAISE_BILATERAL))
            dur = min(float(b.rng.uniform(10, 25)), b.duration - t - 2)
            b.hold(t, dur, {**{c: p * float(b.rng.uniform(0.85, 1.15)) for c in calves}, **ta_lv}, "bilateral_hold")
            t += dur
        elif what == "single_set":
            # the other foot is off the ground: its calf lightly active for balance, 2-8 %
            t = _raise_set(b, t, {side: float(b.rng.uniform(*RAISE_SINGLE))}, int(b.rng.integers(8, 16)),
                           "single_leg_raise_set", {**{c: float(b.rng.uniform(0.02, 0.08)) for c in other}, **ta_lv})
        else:
            # single-leg holds of up to 6 s, the other foot lifted (its calf quiet or nearly)
            for _ in range(int(b.rng.integers(3, 6))):
                if t > b.duration - 10:
                    break
                dur = float(b.rng.uniform(2, 6))
                lv = {side: float(b.rng.uniform(*RAISE_SINGLE)), **ta_lv}
                if b.rng.random() < 0.5:
                    lv.update({c: float(b.rng.uniform(0.01, 0.02)) for c in other})
                b.hold(t, dur, lv, "single_leg_hold")
                t += dur + float(b.rng.uniform(3, 8))
        # rest between sets, 30-120 s (ACSM 2009: 1-3 min), standing or a few steps
        rest = float(b.rng.uniform(30, 120))
        if b.rng.random() < 0.3 and t + rest < b.duration - 10:
            b.walk(t + 2, int(b.rng.integers(3, 10)), motion_uv=float(b.rng.uniform(5, 20)))
        else:
            b.stand(t + 1, min(b.duration, t + rest - 1))
        t += rest


def cycling(b: Builder):
    """Cycling: 60-90 rpm, one calf burst per revolution per leg in antiphase, bouts of minutes, coasting."""
    # Neptune 1997, MacIntosh 2000 (physiology.md §3b): calf bursts once per crank
    # revolution, gastrocnemius activity rises with cadence. Calf peak 15-35 % MVC at
    # 75 rpm (assumption M: Ericson MO et al., Scand J Rehabil Med 17:53, 1985, rank
    # gastrocnemius and soleus among the most active muscles, no %MVC read).
    t = b.at(2, 6)
    t = b.posture_shift(t) + float(b.rng.uniform(1, 4))  # getting on
    calves = b.ch(role="calf")
    while t < b.duration - 10:
        bout_end = min(b.duration - 3, t + float(b.rng.uniform(60, 300)))
        cad0 = float(b.rng.uniform(60, 90))
        p0 = float(b.rng.uniform(0.15, 0.35))
        while t < bout_end - 3:
            cad = float(np.clip(cad0 * b.rng.lognormal(0, 0.05), 55, 95))
            pk = p0 * (cad / 75.0) ** 0.5
            stretch = min(float(b.rng.uniform(15, 90)), bout_end - t)
            n = max(2, int(stretch * cad / 60.0))
            t = b.pedal_cycles(t, n, cad, pk, float(b.rng.uniform(0.05, 0.15)))
            t += float(b.rng.uniform(3, 20))  # coasting: legs still
        # a stop: one foot on the ground bears part of the weight (3-10 % MVC, assumption U)
        stop = float(b.rng.uniform(20, 90))
        if t + stop < b.duration - 5:
            c = calves[int(b.rng.integers(len(calves)))]
            b.tonic(c, t + 0.5, t + stop - 1, float(b.rng.uniform(0.03, 0.10)), "foot_down")
        t += stop


def standing(b: Builder):
    """Quiet standing with sway (soleus < 5 % MVC), weight shifts (one calf 5-15 %), leaning, a few steps."""
    # Okada M & Fujiwara K, J Hum Ergol 13:97 (1984): soleus < 5 % MVC within the natural
    # balance area, 19.5 +- 3.1 % (MG 22.0 +- 4.2 %) leaning to the forward limit;
    # side-to-side asymmetry tracking the centre of pressure (physiology.md §3b).
    calves = b.ch(role="calf")
    t = b.at(1, 4)
    while t < b.duration - 5:
        seg_end = min(b.duration - 1, t + float(b.rng.uniform(60, 240)))
        base = {c: float(b.rng.uniform(0.015, 0.045)) for c in calves}
        for c in calves:
            b.tonic(c, t, seg_end, base[c], "standing")
        s = t + float(b.rng.uniform(5, 20))
        while s < seg_end - 12:
            u = b.rng.random()
            if u < 0.5:  # weight on one leg: that calf 5-15 %, the other still bears weight
                c = calves[int(b.rng.integers(len(calves)))]
                dur = min(float(b.rng.uniform(10, 60)), seg_end - s - 2)
                extra = max(0.01, float(b.rng.uniform(0.05, 0.15)) - base[c])
                b.tonic(c, s, s + dur, extra, "weight_shift", edge=float(b.rng.uniform(1, 3)))
            elif u < 0.7:  # leaning forward: both calves ~20 % (Okada 1984)
                dur = min(float(b.rng.uniform(5, 20)), seg_end - s - 2)
                for c in calves:
                    lv = float(np.clip(b.rng.normal(0.205, 0.035), 0.12, 0.3))
                    b.tonic(c, s, s + dur, max(0.01, lv - base[c]), "lean_forward", edge=1.5)
            else:
                dur = float(b.rng.uniform(10, 40))  # quiet
            s += dur + float(b.rng.uniform(5, 30))
        t = seg_end + 0.5
        if t < b.duration - 15 and b.rng.random() < 0.7:  # a few steps
            t = b.walk(t, int(b.rng.integers(2, 7)), motion_uv=float(b.rng.uniform(5, 20))) + 0.5


def stairs(b: Builder):
    """Stair ascent and descent: calf push-off per step above level walking, legs alternating, landings."""
    # Soleus more active ascending than descending (Eteraf-Oskouei A et al., Health Promot
    # Perspect 4:173, 2014); ankle extensors +136-175 % walking up a 9 deg grade (Franz JR &
    # Kram R, Gait Posture 2011). Ascent calf peak 1.3-1.7x the level-walking 40 % MVC
    # (Ericson 1986), descent 1.0-1.3x; TA 1.0-1.4x its 27 %. Stair cadence 80-110 steps/min.
    t = b.at(2, 6)
    if b.duration > 60:
        t = b.walk(t, int(b.rng.integers(5, 15)), motion_uv=float(b.rng.uniform(5, 20))) + 0.5
    up = True
    while t < b.duration - 15:
        floors = int(b.rng.integers(1, 5))
        gain = float(b.rng.uniform(1.3, 1.7)) if up else float(b.rng.uniform(1.0, 1.3))
        peaks = {"calf": min(0.75, WALK_PEAK["calf"] * gain),
                 "tibialis": WALK_PEAK["tibialis"] * float(b.rng.uniform(1.0, 1.4))}
        cad = float(b.rng.uniform(80, 100) if up else b.rng.uniform(90, 110))
        for _ in range(2 * floors):  # two flights per floor
            if t > b.duration - 10:
                break
            n = int(min(b.rng.integers(4, 7), (b.duration - 5 - t) / 1.5))  # 8-12 steps a flight
            if n < 2:
                break
            t = b.walk(t, n, cadence=cad, peaks=peaks, motion_uv=float(b.rng.uniform(10, 30)),
                       detail="stairs_up" if up else "stairs_down")
            # landing: a turn of 1-2 level strides
            if t < b.duration - 8:
                t = b.walk(t + 0.1, int(b.rng.integers(1, 3)), cadence=cad, motion_uv=10.0, detail="landing")
        pause = float(b.rng.uniform(5, 60))
        b.stand(t + 0.5, min(b.duration, t + pause - 0.5))
        t += pause
        up = not up


def restless_night(b: Builder):
    """A restless night on 4 channels: PLM series, posture shifts, toe pointing, fasciculations, pops, lead movement."""
    D = b.duration
    t = float(b.rng.uniform(30, 300))
    while t < D - 120:
        n = int(b.rng.integers(6, 60))
        t = b.plm_series(t, n) + float(b.rng.uniform(300, 1500))
    for _ in range(b.rng.poisson(D / 3600 * b.rng.uniform(4, 10))):
        b.posture_shift(b.at(10, D - 10))
    for _ in range(b.rng.poisson(D / 3600 * b.rng.uniform(5, 15))):
        b.leg_movement(b.legs[int(b.rng.integers(len(b.legs)))], b.at(10, D - 15))
    # toe pointing in bed: one calf plantar-flexes 2-6 s at 30-60 % MVC (assumption M:
    # a voluntary plantar flexion like the tiptoe/raise levels of physiology.md §3b)
    calves = b.ch(role="calf")
    for _ in range(b.rng.poisson(D / 3600 * b.rng.uniform(2, 6)) or 1):
        c = calves[int(b.rng.integers(len(calves)))]
        b.hold(b.at(10, D - 10), float(b.rng.uniform(2, 6)), {c: float(b.rng.uniform(0.3, 0.6))}, "toe_point")
    for c in calves:
        b.fasc_poisson(c, 0, D, float(b.rng.uniform(0, 2)))
        for _ in range(b.rng.poisson(D / 1800)):
            b.fasc_burst(c, b.at(5, D - 5), int(b.rng.integers(3, 7)), 2.0)
    # a few electrode pops and lead movements per hour (assumption U)
    for _ in range(b.rng.poisson(D / 3600 * b.rng.uniform(2, 5)) or 1):
        b.electrode_pop(int(b.rng.integers(b.n)), b.at(5, D - 5))
    for _ in range(b.rng.poisson(D / 3600 * b.rng.uniform(1, 4)) or 1):
        b.lead_movement(int(b.rng.integers(b.n)), b.at(5, D - 5))


#: Weak cramps: plateau 8-20 % MVC, 15-120 s (no %MVC data exist, physiology.md §1;
#: the low end of the 10-80 % sweep of §6 and below it).
WEAK_CRAMP = (0.08, 0.20)


def weak_cramps(b: Builder):
    """Walking bouts, then weak calf cramps (8-20 % MVC, 15-120 s) from standing or sitting rest."""
    calves = b.ch(role="calf")
    t = b.at(2, 6)
    while t < b.duration - 15:
        n = int(min(b.rng.integers(15, 60), (b.duration - t) / 4))
        if n >= 3:
            t = b.walk(t, n, motion_uv=float(b.rng.uniform(5, 25))) + 0.5
        pre = float(b.rng.uniform(5, 40))
        if b.rng.random() < 0.5:  # standing rest, else sitting (calves quiet)
            b.stand(t, t + pre + 3)
        t_c = t + pre
        dur = float(b.rng.uniform(15, 120))
        if t_c + dur + 10 > b.duration:
            break
        c = calves[int(b.rng.integers(len(calves)))]
        end = b.cramp(c, t_c, dur, float(b.rng.uniform(*WEAK_CRAMP)))
        t = end + float(b.rng.uniform(30, 120))


def weak_cramps_sleep(b: Builder):
    """A night segment with leg movements and 1-3 weak cramps (8-20 % MVC, 15-120 s) out of sleep."""
    D = b.duration
    calves = b.ch(role="calf")
    want = int(b.rng.integers(1, 4))
    placed = 0
    for _ in range(4 * want):
        if placed == want:
            break
        t0 = b.at(0.1 * D, 0.85 * D)
        dur = float(b.rng.uniform(15, 120))
        if t0 + dur > D - 10 or not b.free(t0 - 90, t0 + dur + 130):
            continue
        end = b.cramp(calves[int(b.rng.integers(len(calves)))], t0, dur, float(b.rng.uniform(*WEAK_CRAMP)))
        placed += 1
        if end + 20 < D:  # awake after the cramp
            b.posture_shift(end + float(b.rng.uniform(2, 10)))
    if not placed:  # too short for a cramp of >= 15 s: a leg movement instead
        b.leg_movement(b.legs[int(b.rng.integers(len(b.legs)))], 0.4 * D)
    _sleep_background(b, plm_p=0.3)


#: name -> (function, layout, mode, default duration s)
_SCENARIOS = {
    "walk_then_cramp": (walk_then_cramp, "calves", "awake", 75.0),
    "walking": (walking, "calves_ta", "awake", 600.0),
    "fasciculation_storm": (fasciculation_storm, "calves", "awake", 600.0),
    "benign_fasciculations": (benign_fasciculations, "calves", "awake", 900.0),
    "night": (night, "calves", "sleep", 8 * 3600.0),
    "night_plm_only": (night_plm_only, "plm", "sleep", 2 * 3600.0),
    "sustained_voluntary": (sustained_voluntary, "calves_ta", "awake", 600.0),
    "artifact_torture": (artifact_torture, "calves", "awake", 600.0),
    "cramp_sweep": (cramp_sweep, "calves", "awake", 1800.0),
    "cramp_one_head": (cramp_one_head, "leg", "awake", 180.0),
    # everyday life (issue 13): hard negatives and weak cramps
    "driving": (driving, "calves_ta", "awake", 1800.0),
    "driving_cramp": (driving_cramp, "calves_ta", "awake", 1200.0),
    "calf_raises": (calf_raises, "calves_ta", "awake", 900.0),
    "cycling": (cycling, "calves_ta", "awake", 600.0),
    "standing": (standing, "calves", "awake", 900.0),
    "stairs": (stairs, "calves_ta", "awake", 300.0),
    "restless_night": (restless_night, "plm", "sleep", 2700.0),
    "weak_cramps": (weak_cramps, "calves", "awake", 900.0),
    "weak_cramps_sleep": (weak_cramps_sleep, "calves", "sleep", 1800.0),
}

#: Scenario name -> one-line description.
SCENARIOS = {name: (fn.__doc__ or "").strip().splitlines()[0] + f" [{layout}, {mode}, default {dur:g} s]"
             for name, (fn, layout, mode, dur) in _SCENARIOS.items()}


def build_plan(scenario: str, seed: int, duration_s: float | None, device: str) -> Plan:
    """The event timeline and labels of ``scenario``."""
    if scenario not in _SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r} (known: {', '.join(_SCENARIOS)})")
    fn, layout, mode, default = _SCENARIOS[scenario]
    dur = float(default if duration_s is None else duration_s)
    if not dur >= 10.0:
        raise ValueError(f"duration must be at least 10 s, got {duration_s!r}")
    b = Builder(scenario, seed, dur, device, layout, mode)
    fn(b)
    plan = b.build(device)
    plan.meta["wander_scale"] = getattr(b, "wander_scale", 1.0)
    plan.meta["layout"] = layout
    return plan
