"""Drives of the motor-unit pools: walking, holds, bursts, cramps.

Each activity gives, on one channel and one pool (``"vol"`` voluntary or
``"cramp"``), a *level* as a function of stream time: the EMG RMS it asks for,
as a fraction of the muscle's maximal voluntary contraction (MVC) RMS. The
renderer turns levels into excitation through the pool's RMS table
(:meth:`MotorUnitPool.excitation_for`), so "40 % MVC" means an EMG amplitude of
40 % of the simulated MVC amplitude, as in the gait literature's %MVC
normalisation (Ericson 1986).

All levels are pure functions of time (random draws are made when the
activity is built), so any frame can be evaluated on its own.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


def smoothstep(x: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, raised cosine in between."""
    x = np.clip(x, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)


@dataclass(frozen=True)
class Modulation:
    """Slow multiplicative fluctuation ``1 + sum a_j sin(2 pi f_j t + p_j)``.

    Used for common drive (cramps: coherence peak at ~1.4 Hz, Minetto 2009) and
    the slow wander of a sustained contraction.
    """

    amps: tuple = ()
    freqs: tuple = ()
    phases: tuple = ()

    @classmethod
    def draw(cls, rng, specs) -> "Modulation":
        """``specs``: (amplitude, (fmin, fmax)) pairs."""
        a, f, p = [], [], []
        for amp, (lo, hi) in specs:
            a.append(amp)
            f.append(float(rng.uniform(lo, hi)))
            p.append(float(rng.uniform(0, 2 * np.pi)))
        return cls(tuple(a), tuple(f), tuple(p))

    def __call__(self, t: np.ndarray) -> np.ndarray:
        y = np.ones_like(t)
        for a, f, p in zip(self.amps, self.freqs, self.phases):
            y += a * np.sin(2 * np.pi * f * t + p)
        return y


@dataclass
class Activity:
    """Base: a level on ``channel``/``pool`` between ``t0`` and ``t1`` (s)."""

    channel: int
    pool: str
    t0: float
    t1: float

    def level(self, t: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


# ------------------------------------------------------------------ walking

@dataclass
class Strides:
    """Heel-strike times of one leg for a walking bout, plus per-stride bursts per muscle role.

    ``bursts[role]`` is an array (n_strides, n_bursts, 3) of (on, off, peak)
    with on/off as fractions of the stride (may exceed 1: the burst runs into
    the next stride) and peak as a level (fraction of MVC RMS).
    """

    starts: np.ndarray  # (n + 1,) heel strikes; the last one ends the bout
    bursts: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.starts) - 1


def _bump(phi, on, off, peak, skew):
    """Asymmetric bump u^a (1-u)^b on [on, off], peak value ``peak``."""
    u = (phi - on) / np.maximum(off - on, 1e-6)
    inside = (u > 0) & (u < 1)
    a, b = skew
    m = (a / (a + b)) ** a * (b / (a + b)) ** b
    uu = np.where(inside, u, 0.5)
    return np.where(inside, peak * uu ** a * (1 - uu) ** b / m, 0.0)


#: Burst shape (rise, fall exponents) per muscle role: the calf rises through
#: stance and stops sharply at push-off (seen in gait_santuz GM/SO); TA is symmetric.
SKEW = {"calf": (2.2, 1.0), "tibialis": (1.5, 1.5), "hamstring": (1.2, 2.0)}


@dataclass
class Walking(Activity):
    """Gait-cycle bursts of one muscle (role ``calf``/``tibialis``/``hamstring``)."""

    strides: Strides = None
    role: str = "calf"
    #: (rise, fall) exponents of the bursts; None: :data:`SKEW` of the role
    skew: tuple | None = None

    def level(self, t):
        s = self.strides
        y = np.zeros_like(t)
        bursts = s.bursts[self.role]
        i = np.searchsorted(s.starts, t, side="right") - 1
        skew = self.skew or SKEW.get(self.role, (1.5, 1.5))
        for back in (0, 1):  # this stride and the tail of the previous one
            j = i - back
            ok = (j >= 0) & (j < s.n)
            jj = np.clip(j, 0, s.n - 1)
            dur = s.starts[jj + 1] - s.starts[jj]
            phi = (t - s.starts[jj]) / dur
            for b in range(bursts.shape[1]):
                on, off, pk = bursts[jj, b, 0], bursts[jj, b, 1], bursts[jj, b, 2]
                y += np.where(ok, _bump(phi, on, off, pk, skew), 0.0)
        return y


def stride_durations(rng, n_strides: int, cadence_spm: float) -> np.ndarray:
    """Stride times (s) of a bout: 120 / cadence with ~2.5 % jitter and a slow drift (assumption U)."""
    stride_s = 120.0 / cadence_spm
    d = stride_s * (1.0 + rng.normal(0, 0.025, n_strides))
    return d * (1.0 + 0.03 * np.sin(np.linspace(0, rng.uniform(1, 4), n_strides) + rng.uniform(0, 6)))


def make_strides(rng, t0: float, durations: np.ndarray, roles, peaks: dict,
                 phase_offset: float = 0.0) -> Strides:
    """Strides of one leg.

    Parameters
    ----------
    durations : array
        Stride times (s) from :func:`stride_durations` (shared by both legs, so
        they stay in antiphase); cadence 76-120 steps/min (physiology.md §3).
    roles : iterable of str
        Muscle roles to draw bursts for.
    peaks : dict role -> peak level (fraction of MVC RMS); Ericson 1986: medial
        gastrocnemius 42 %, soleus 40 %, TA 27 %, hamstrings 5-15 %.
    phase_offset : float
        Fraction of a stride to shift this leg (0.5 for the contralateral leg).

    Timing (fractions of the gait cycle from heel strike): calf from flat-foot
    contact (~10 %) to push-off (~50 %) in every stride, an extra final-swing
    burst in 67 % of strides (GL; Di Nardo 2013); TA from pre-swing (~57 %) to
    the next loading response (~110 %), often as a double burst, plus a
    mid-stance burst in 30 % of strides (Di Nardo 2013); hamstrings around heel
    strike (~85-112 %). Stride-to-stride jitter of on/off times 2-4 % of the
    cycle (assumption U, "large stride-to-stride variability", Di Nardo 2013).
    """
    d = np.asarray(durations, dtype=float)
    n_strides = len(d)
    starts = t0 + phase_offset * d[0] + np.concatenate([[0.0], np.cumsum(d)])
    bursts = {}
    n = n_strides
    for role in roles:
        pk = peaks.get(role, 0.1)
        amp = lambda: pk * rng.lognormal(0, 0.18, n)  # noqa: E731
        if role == "calf":
            b = np.zeros((n, 2, 3))
            b[:, 0, 0] = 0.08 + rng.normal(0, 0.03, n)
            b[:, 0, 1] = 0.52 + rng.normal(0, 0.025, n)
            b[:, 0, 2] = amp()
            extra = rng.random(n) < 0.67
            b[:, 1, 0] = 0.80 + rng.normal(0, 0.03, n)
            b[:, 1, 1] = 0.97 + rng.normal(0, 0.02, n)
            b[:, 1, 2] = np.where(extra, 0.18 * amp(), 0.0)
        elif role == "tibialis":
            b = np.zeros((n, 3, 3))
            double = rng.random(n) < 0.6
            b[:, 0, 0] = 0.55 + rng.normal(0, 0.03, n)
            b[:, 0, 1] = np.where(double, 0.75, 1.10) + rng.normal(0, 0.03, n)
            b[:, 0, 2] = amp()
            b[:, 1, 0] = 0.88 + rng.normal(0, 0.03, n)
            b[:, 1, 1] = 1.12 + rng.normal(0, 0.02, n)
            b[:, 1, 2] = np.where(double, 0.9 * amp(), 0.0)
            mid = rng.random(n) < 0.3
            b[:, 2, 0] = 0.20 + rng.normal(0, 0.03, n)
            b[:, 2, 1] = 0.38 + rng.normal(0, 0.03, n)
            b[:, 2, 2] = np.where(mid, 0.35 * amp(), 0.0)
        else:  # hamstring
            b = np.zeros((n, 1, 3))
            b[:, 0, 0] = 0.82 + rng.normal(0, 0.03, n)
            b[:, 0, 1] = 1.12 + rng.normal(0, 0.03, n)
            b[:, 0, 2] = amp()
        bursts[role] = b
    return Strides(starts=starts, bursts=bursts)


# ------------------------------------------------------------------ holds, bursts, tonic

@dataclass
class Hold(Activity):
    """Sustained contraction: ramp up, plateau at ``peak`` with slow wander, ramp down.

    Amplitude creeps up ``fatigue_per_s`` (relative) during the plateau, as
    sEMG amplitude rises in a sustained submaximal contraction (assumption U).
    """

    peak: float = 0.3
    ramp_up: float = 0.5
    ramp_down: float = 0.5
    mod: Modulation = field(default_factory=Modulation)
    fatigue_per_s: float = 0.004

    def level(self, t):
        up = smoothstep((t - self.t0) / self.ramp_up)
        down = 1.0 - smoothstep((t - (self.t1 - self.ramp_down)) / self.ramp_down)
        fat = 1.0 + self.fatigue_per_s * np.clip(t - self.t0, 0, None)
        return np.clip(self.peak * up * down * fat * self.mod(t), 0, None)


@dataclass
class Burst(Activity):
    """A short irregular burst (leg movement, posture shift, stretch): a sum of bumps."""

    bumps: tuple = ()  # (centre s, half-width s, peak)

    def level(self, t):
        y = np.zeros_like(t)
        for c, w, pk in self.bumps:
            y += pk * (1.0 - smoothstep(np.abs(t - c) / w))
        inside = (t >= self.t0) & (t <= self.t1)
        return np.where(inside, y, 0.0)


def make_burst(rng, channel: int, t0: float, dur: float, peak: float, pool: str = "vol",
               max_bumps: int = 3) -> Burst:
    """A burst of ``dur`` s whose bumps stay inside ``[t0, t0 + dur]``."""
    k = int(rng.integers(1, max_bumps + 1)) if dur > 1.0 else 1
    bumps = []
    for j in range(k):
        w = dur / 2.0 if k == 1 else rng.uniform(0.25, 0.5) * dur
        c = t0 + dur / 2.0 if k == 1 else rng.uniform(t0 + w, t0 + dur - w) if dur > 2 * w else t0 + dur / 2
        bumps.append((float(c), float(w), float(peak * (1.0 if j == 0 else rng.uniform(0.4, 1.0)))))
    # a plateau so that the burst is "full" (>= 0.5 s of high EMG, AASM morphology rule)
    bumps.append((t0 + dur / 2.0, dur / 2.0, peak * 0.5))
    return Burst(channel, pool, t0, t0 + dur, bumps=tuple(bumps))


@dataclass
class Tonic(Activity):
    """Low steady activity with smooth edges (standing sway, cramp precursor, after-activity)."""

    peak: float = 0.02
    edge: float = 2.0
    mod: Modulation = field(default_factory=Modulation)

    def level(self, t):
        e = min(self.edge, (self.t1 - self.t0) / 2)
        up = smoothstep((t - self.t0) / e)
        down = 1.0 - smoothstep((t - (self.t1 - e)) / e)
        return np.clip(self.peak * up * down * self.mod(t), 0, None)


@dataclass
class Profile(Activity):
    """A drive that follows knots ``(knots_t, knots_v)``: raised-cosine steps between
    knots (smooth, so a change of 0.1 MVC over 1 s has no corner), zero outside the
    first and last knot, times a slow modulation. For everyday activities whose level
    changes with the task: an accelerator pedal held and modulated, a set of calf
    raises (concentric rise, eccentric lowering, rest at the bottom).
    """

    knots_t: np.ndarray = None
    knots_v: np.ndarray = None
    mod: Modulation = field(default_factory=Modulation)

    def level(self, t):
        kt, kv = self.knots_t, self.knots_v
        i = np.clip(np.searchsorted(kt, t, side="right") - 1, 0, len(kt) - 2)
        span = np.maximum(kt[i + 1] - kt[i], 1e-9)
        y = kv[i] + (kv[i + 1] - kv[i]) * smoothstep((t - kt[i]) / span)
        y = np.where((t >= kt[0]) & (t <= kt[-1]), y, 0.0)
        return np.clip(y * self.mod(t), 0, None)


# ------------------------------------------------------------------ cramp

#: A decaying cramp's label ends where its level falls below this fraction of MVC.
CRAMP_FLOOR = 0.01


@dataclass
class Cramp(Activity):
    """Involuntary sustained discharge of one muscle (cramp pool).

    - onset ramp of ``ramp`` s (0.5-5 s, assumed: "sudden" onset, physiology.md §1);
    - plateau at ``peak`` (fraction of MVC RMS; swept 10-80 %, no %MVC data exist)
      modulated by common drive (~1.4 Hz, Minetto 2009) and a slow wander
      (activity migrating across the muscle, Roeleveld ~2000);
    - ``ending="stretch"``: in the last ``stretch_s`` the level rises by
      ``stretch_gain`` (stretching raised MU activity, Ross & Thomas 1995), then
      stops within 50 ms (stretching interrupts the cramp, Bertolasi 1993);
    - ``ending="decay"``: from ``t1 - decay_len`` it decays exponentially with
      ``tau`` until it reaches :data:`CRAMP_FLOOR` at ``t1``.
    """

    peak: float = 0.4
    ramp: float = 1.0
    ending: str = "stretch"
    stretch_s: float = 1.0
    stretch_gain: float = 1.5
    tau: float = 3.0
    mod: Modulation = field(default_factory=Modulation)

    @property
    def decay_len(self) -> float:
        return self.tau * math.log(max(self.peak / CRAMP_FLOOR, 1.0001))

    def level(self, t):
        up = smoothstep((t - self.t0) / self.ramp)
        y = self.peak * up * self.mod(t)
        if self.ending == "stretch":
            ts = self.t1 - self.stretch_s
            rise = 1.0 + (self.stretch_gain - 1.0) * smoothstep((t - ts) / (0.6 * self.stretch_s))
            stop = 1.0 - smoothstep((t - (self.t1 - 0.05)) / 0.05)
            y = y * rise * stop
        else:
            td = self.t1 - self.decay_len
            dec = np.where(t > td, np.exp(-(t - td) / self.tau), 1.0)
            y = y * dec
        inside = (t >= self.t0) & (t < self.t1)
        return np.where(inside, np.clip(y, 0, None), 0.0)
