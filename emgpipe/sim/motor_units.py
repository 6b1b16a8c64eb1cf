"""Motor-unit pool model: recruitment, rate coding, ISI variability, MUAP shapes.

One :class:`MotorUnitPool` stands for the motor units of one muscle that a
surface electrode pair sees. The model follows Fuglevand AJ, Winter DA, Patla
AE, "Models of recruitment and rate coding organization in motor-unit pools",
J Neurophysiol 70:2470-2488 (1993):

- recruitment thresholds spread exponentially over a range ``rr`` (Fuglevand:
  RR = 30), the last unit recruited at ``last_threshold`` of maximal excitation;
- once recruited a unit fires at ``min_rate`` and its rate grows linearly with
  excitation up to its peak rate (Fuglevand: 8 pps minimum, peak 35 pps for the
  first unit, 10 pps lower for the last);
- inter-spike intervals are a gamma renewal process in "operational time"
  (phase = integral of the rate), so the rate follows the excitation and the
  ISI coefficient of variation is ``isi_cv`` (voluntary: ~0.1-0.2, Fuglevand
  used 0.2);
- an optional doublet: after a discharge, with probability ``doublet_p``, a
  second discharge 2.5-20 ms later (the doublet definition of Simpson 1969,
  physiology.md §2).

Cramp pools use the rates measured during cramps (Minetto MA, Holobar A,
Botter A, Farina D, J Neurophysiol 102:1890-1901, 2009: 6-25 pps, ISI CV
44.6 %, 4.1 % doublets), see :data:`CRAMP_POOL`.

Surface MUAPs are Hermite-Rodriguez functions (Lo Conte LR, Merletti R,
Sandri GV, "Hermite expansions of compact support waveforms: applications to
myoelectric signals", IEEE Trans Biomed Eng 41:1147-1159, 1994): a mix of the
first (biphasic) and second (triphasic) order functions with scale
``lambda``, random polarity. ``lambda`` of 1.5-3.8 ms gives potentials of
about 6-20 ms (normal MUAP duration 2-15 ms needle, longer at the surface,
physiology.md §2) and a median frequency of the summed signal near 60-120 Hz,
as in the real recordings of datasets/README.md (measured: 82-115 Hz during
holds and walking).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np


def hermite_rodriguez(t: np.ndarray, lam: float, w1: float, w2: float) -> np.ndarray:
    """``w1 * HR1 + w2 * HR2`` at times ``t`` (s) with scale ``lam`` (s); peak-normalised.

    HR1(x) = x exp(-x^2) is biphasic, HR2(x) = (1 - 2x^2) exp(-x^2) triphasic
    (Lo Conte 1994). Both have zero area, like a surface MUAP after the
    electrode's high-pass.
    """
    x = t / lam
    g = np.exp(-x * x)
    y = w1 * x * g + w2 * (1.0 - 2.0 * x * x) * g
    peak = np.max(np.abs(y))
    return y / peak if peak > 0 else y


def muap_kernel(fs: float, length: int, lam: float, w1: float, w2: float, polarity: float,
                extra: tuple = ()) -> np.ndarray:
    """A MUAP sampled at ``fs``, centred in ``length`` samples, peak ``|1|``.

    ``extra`` adds delayed components ``(delay_s, lam, w1, w2, gain)`` to make
    polyphasic (fasciculation) potentials.
    """
    t = (np.arange(length) - (length - 1) / 2.0) / fs
    y = hermite_rodriguez(t, lam, w1, w2)
    for delay, lam2, a1, a2, gain in extra:
        y = y + gain * hermite_rodriguez(t - delay, lam2, a1, a2)
    y = y - np.linspace(y[0], y[-1], length)  # exact zero at both ends
    peak = np.max(np.abs(y))
    return polarity * y / peak if peak > 0 else y


def support(kernel: np.ndarray, frac: float = 0.05) -> tuple[int, int]:
    """First and last index where ``|kernel|`` exceeds ``frac`` of its peak."""
    idx = np.flatnonzero(np.abs(kernel) > frac * np.max(np.abs(kernel)))
    return int(idx[0]), int(idx[-1])


@dataclass(frozen=True)
class PoolSettings:
    """Parameters of a motor-unit pool (Fuglevand 1993 unless noted)."""

    n_units: int = 100
    #: range of recruitment thresholds (Fuglevand 1993: RR = 30)
    rr: float = 30.0
    #: excitation at which the last unit is recruited (Fuglevand: ~0.6-0.8 for large muscles)
    last_threshold: float = 0.7
    #: firing rate at recruitment, pps (Fuglevand: 8)
    min_rate: float = 8.0
    #: peak rate of the first / last unit, pps (Fuglevand: 35 and 35 - 10)
    peak_rate_first: float = 35.0
    peak_rate_last: float = 25.0
    #: ISI coefficient of variation (voluntary 0.1-0.2; Fuglevand 0.2)
    isi_cv: float = 0.15
    #: probability that a discharge is followed by a doublet partner
    doublet_p: float = 0.0
    #: doublet interval range, s (Simpson 1969: 2.5-20 ms)
    doublet_s: tuple = (0.0025, 0.020)
    #: ratio of the largest to the smallest MUAP amplitude (surface; assumption, U)
    amp_range: float = 25.0
    #: MUAP scale lambda range, s (module doc)
    lam_s: tuple = (1.5e-3, 3.8e-3)


#: Voluntary contraction (Fuglevand 1993; ISI CV 0.15).
VOLUNTARY_POOL = PoolSettings()
#: Cramp discharge (Minetto 2009: rates 6.0 +- 0.8 to 25.0 +- 8.0 pps, mean 14.5;
#: ISI CV 44.6 %; doublets 4.1 % of discharges).
CRAMP_POOL = PoolSettings(min_rate=6.0, peak_rate_first=25.0, peak_rate_last=20.0,
                          isi_cv=0.45, doublet_p=0.041, last_threshold=0.8)


class MotorUnitPool:
    """Motor units of one muscle, rendered onto one or more channels.

    Parameters
    ----------
    settings : PoolSettings
    fs : float
        Synthesis rate (Hz).
    rng : numpy.random.Generator
        Draws the units (shapes, amplitudes) now and the spike trains later.
    mvc_rms_uv : float
        EMG RMS (µV, at the electrode, before the device front end) that this
        pool produces at full excitation on its own channel.
    targets : sequence of (channel index, gain, widen)
        Channels the pool shows on: its own (gain 1, widen 1) and cross-talk
        channels (gain < 1; potentials widened by ``widen``, since volume
        conduction low-pass filters distant sources).
    rms_ref_uv : float, optional
        Scale amplitudes so that the pool's full-excitation RMS is this
        (default ``mvc_rms_uv``); a cramp pool is scaled to its own maximum but
        its levels are expressed against the muscle's voluntary MVC.
    lam_scale : float
        Multiplies all MUAP scales (e.g. shorter potentials).
    """

    def __init__(self, settings: PoolSettings, fs: float, rng: np.random.Generator,
                 mvc_rms_uv: float, targets, lam_scale: float = 1.0):
        s = self.settings = settings
        self.fs = float(fs)
        self.rng = rng
        n = s.n_units
        i = np.arange(n) / max(1, n - 1)
        # exponential recruitment thresholds (Fuglevand 1993 eq. 1)
        self.thresholds = s.last_threshold * np.exp(np.log(s.rr) * (i - 1.0))
        self.peak_rates = s.peak_rate_first - (s.peak_rate_first - s.peak_rate_last) * i
        # amplitude grows with threshold (size principle); depth scatter (lognormal, assumption)
        amp = np.exp(np.log(s.amp_range) * i) * rng.lognormal(0.0, 0.35, n)
        # deeper (smaller at the skin) units look wider: tie lambda loosely to 1/amp scatter
        lam = rng.uniform(*s.lam_s, n) * lam_scale
        w1 = rng.uniform(0.3, 1.0, n)
        w2 = rng.uniform(0.0, 0.7, n) * rng.choice([-1.0, 1.0], n)
        pol = rng.choice([-1.0, 1.0], n)
        self.length = int(math.ceil(0.05 * self.fs)) | 1  # 50 ms window
        self.targets = []
        for ch, gain, widen in targets:
            k = np.stack([muap_kernel(self.fs, self.length, lam[u] * widen, w1[u], w2[u], pol[u])
                          for u in range(n)])
            self.targets.append((int(ch), float(gain), k))
        own = self.targets[0][2]
        self.energy = np.sum(own ** 2, axis=1) / self.fs  # per unit amplitude 1, (µV^2 s)
        # scale so that RMS at full excitation = mvc_rms_uv
        r1 = self.rates(np.array([1.0]))[:, 0]
        p_full = float(np.sum(r1 * amp ** 2 * self.energy))
        self.amp = amp * (mvc_rms_uv / math.sqrt(p_full))
        self.mvc_rms_uv = float(mvc_rms_uv)
        # excitation <-> RMS table for inverting levels (power = sum rate * energy)
        self._exc = np.linspace(0.0, 1.0, 2001)
        self._rms = np.sqrt(np.sum(self.rates(self._exc) * (self.amp ** 2 * self.energy)[:, None], axis=0))
        # state of the renewal processes: phase left until the next discharge
        self._left = rng.gamma(1.0 / s.isi_cv ** 2, s.isi_cv ** 2, n)

    # ------------------------------------------------------------------ model
    def rates(self, exc: np.ndarray) -> np.ndarray:
        """Firing rate (pps) of every unit at excitation ``exc``: shape (n_units, len(exc))."""
        return self._rates_of(exc, np.arange(self.settings.n_units))

    def _rates_of(self, exc, units) -> np.ndarray:
        s = self.settings
        e = np.asarray(exc, dtype=float)[None, :]
        thr = self.thresholds[units, None]
        gain = ((self.peak_rates[units] - s.min_rate) / np.maximum(1.0 - self.thresholds[units], 1e-6))[:, None]
        r = np.minimum(s.min_rate + gain * (e - thr), self.peak_rates[units, None])
        r[e < thr] = 0.0
        return r

    def rms_at(self, exc) -> np.ndarray:
        """Expected EMG RMS (µV) on the own channel at excitation ``exc``."""
        return np.interp(exc, self._exc, self._rms)

    def excitation_for(self, level: np.ndarray, ref_rms_uv: float) -> np.ndarray:
        """Excitation that gives RMS = ``level * ref_rms_uv`` (level = fraction of MVC RMS).

        Levels above what the pool can give saturate at excitation 1.
        """
        target = np.asarray(level, dtype=float) * ref_rms_uv
        exc = np.interp(target, self._rms, self._exc)
        return np.where(target > 0, exc, 0.0)

    @property
    def min_excitation(self) -> float:
        """Excitation below which no unit fires."""
        return float(self.thresholds[0])

    # ------------------------------------------------------------------ synthesis
    def spikes(self, exc: np.ndarray, dt: float, t_offset: float = 0.0):
        """Discharges for one stretch of excitation sampled every ``dt`` seconds.

        The renewal state is carried to the next call, so consecutive calls
        give one continuous spike train.

        Parameters
        ----------
        exc : (G,) array
            Excitation at grid steps (constant over each step).
        dt : float
            Grid step (s).
        t_offset : float
            Added to the returned times.

        Returns
        -------
        times : (m,) array of s, units : (m,) int array
        """
        s = self.settings
        if exc.size == 0 or np.max(exc) < self.thresholds[0]:
            return np.empty(0), np.empty(0, dtype=int)
        active = np.flatnonzero(self.thresholds <= np.max(exc))
        rate = self._rates_of(exc, active)  # (n_active, G)
        dphi = rate * dt
        cum = np.cumsum(dphi, axis=1)
        total = cum[:, -1]
        left = self._left[active]
        shape, scale = 1.0 / s.isi_cv ** 2, s.isi_cv ** 2
        m = int(np.max(total) + 6.0 * s.isi_cv * math.sqrt(np.max(total) + 1.0) + 4)
        isi = self.rng.gamma(shape, scale, (active.size, m))
        targets = left[:, None] + np.concatenate([np.zeros((active.size, 1)), np.cumsum(isi[:, :-1], axis=1)], axis=1)
        while np.any(targets[:, -1] <= total):  # rare: draw more intervals
            more = self.rng.gamma(shape, scale, (active.size, m))
            targets = np.concatenate([targets, targets[:, -1:] + np.cumsum(more, axis=1)], axis=1)
        valid = targets <= total[:, None]
        count = valid.sum(axis=1)
        nxt = targets[np.arange(active.size), count]
        self._left[active] = nxt - total
        if not valid.any():
            return np.empty(0), np.empty(0, dtype=int)
        G = cum.shape[1]
        offset = (np.max(total) + 1.0) * np.arange(active.size)
        flat = (cum + offset[:, None]).ravel()
        rows = np.repeat(np.arange(active.size), count)
        tv = targets[valid]
        idx = np.searchsorted(flat, tv + offset[rows], side="left")
        g = idx - rows * G
        g = np.minimum(g, G - 1)
        prev = np.where(g > 0, cum[rows, np.maximum(g - 1, 0)], 0.0)
        step = dphi[rows, g]
        frac = np.clip((tv - prev) / np.where(step > 0, step, 1.0), 0.0, 1.0)
        times = (g + frac) * dt + t_offset
        units = active[rows]
        if s.doublet_p > 0 and times.size:
            d = self.rng.random(times.size) < s.doublet_p
            if d.any():
                lo, hi = s.doublet_s
                times = np.concatenate([times, times[d] + self.rng.uniform(lo, hi, int(d.sum()))])
                units = np.concatenate([units, units[d]])
        return times, units

    def render(self, out: np.ndarray, positions: np.ndarray, units: np.ndarray) -> None:
        """Add the MUAPs of discharges starting at sample ``positions`` into ``out`` (n, channels)."""
        if positions.size == 0:
            return
        n_out = out.shape[0]
        keep = (positions >= 0) & (positions + self.length <= n_out)
        positions, units = positions[keep], units[keep]
        idx = (positions[:, None] + np.arange(self.length)).ravel()
        for ch, gain, kernels in self.targets:
            w = (kernels[units] * (self.amp[units] * gain)[:, None]).ravel()
            out[:, ch] += np.bincount(idx, weights=w, minlength=n_out)[:n_out]


def with_rates(settings: PoolSettings, **changes) -> PoolSettings:
    """A copy of ``settings`` with some fields changed."""
    return replace(settings, **changes)
