"""Interference and artefact waveforms added at the electrodes.

Everything here is a deterministic function of stream time (given its
parameters), so a frame of any position can be rendered on its own and the
output does not depend on how the stream is cut.

Amplitudes where no source gave a number are marked *assumption (U)*, as in
docs/physiology.md §6, and chosen to resemble the real recordings of
datasets/README.md (e.g. the OpenBCI GUI
sample: 60 Hz mains and DC offsets of tens of mV on a DC-coupled Cyton; the
UCI gait files: movement artefact below 20 Hz in unfiltered raw sEMG).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal


@dataclass(frozen=True)
class Mains:
    """Power-line interference: fundamental plus odd harmonics.

    ``amp_uv`` is the fundamental's amplitude (µV), slowly modulated (±30 %,
    periods 20-200 s) because cable and body position change; harmonics 3, 5, 7
    at ``harmonics`` × the fundamental (a non-sinusoidal line: assumption U).
    physiology.md §6 suggests 0-30 µV.
    """

    freq: float
    amp_uv: float
    phase: float
    harmonics: tuple = (0.3, 0.12, 0.05)
    mod_freqs: tuple = (0.011, 0.037)
    mod_phases: tuple = (0.0, 1.0)

    def __call__(self, t: np.ndarray) -> np.ndarray:
        if self.amp_uv <= 0:
            return np.zeros_like(t)
        mod = 1.0 + 0.3 * np.sin(2 * np.pi * self.mod_freqs[0] * t + self.mod_phases[0]) * \
            np.sin(2 * np.pi * self.mod_freqs[1] * t + self.mod_phases[1])
        w = 2 * np.pi * self.freq * t + self.phase
        y = np.sin(w)
        for k, h in zip((3, 5, 7), self.harmonics):
            y = y + h * np.sin(k * w + 0.7 * k)
        return self.amp_uv * mod * y


@dataclass(frozen=True)
class Wander:
    """Baseline wander: sum of slow sinusoids (electrode half-cell drift, breathing).

    Amplitude ``amp_uv`` (µV) at 0.02-0.6 Hz (assumption U; movement artefact and
    baseline noise sit below ~20 Hz, De Luca 2010, physiology.md §4).
    """

    amp_uv: float
    freqs: tuple
    phases: tuple

    def __call__(self, t: np.ndarray) -> np.ndarray:
        y = np.zeros_like(t)
        if self.amp_uv <= 0:
            return y
        for f, p in zip(self.freqs, self.phases):
            y += np.sin(2 * np.pi * f * t + p)
        return self.amp_uv * y / math.sqrt(len(self.freqs) / 2.0)


def ecg_beat(t: np.ndarray) -> np.ndarray:
    """One ECG complex at the leg, peak-normalised, ``t`` in s from the R peak.

    Gaussian Q, R, S (R width 8 ms) and a broad T wave 250 ms later: a crude but
    standard sum-of-Gaussians beat (McSharry PE et al., "A dynamical model for
    generating synthetic electrocardiogram signals", IEEE TBME 50:289, 2003,
    uses the same P-Q-R-S-T Gaussian decomposition).
    """
    def g(mu, sig, a):
        return a * np.exp(-0.5 * ((t - mu) / sig) ** 2)
    return g(-0.025, 0.010, -0.12) + g(0.0, 0.008, 1.0) + g(0.025, 0.010, -0.25) + g(0.25, 0.045, 0.25)


#: half-width of the ECG beat support (s)
ECG_HALF_S = 0.45


def heart_beats(rng: np.random.Generator, duration_s: float, hr_bpm: float, hrv: float = 0.05) -> np.ndarray:
    """R-peak times (s) over ``duration_s`` at ``hr_bpm`` with beat-to-beat variability.

    RR intervals follow a slow random walk around the mean plus ``hrv`` relative jitter
    (normal resting HRV of a few %, assumption U).
    """
    n = int(duration_s * hr_bpm / 60.0 * 1.3) + 10
    rr0 = 60.0 / hr_bpm
    # slow mean-reverting AR(1) drift of the RR interval plus beat-to-beat jitter
    walk = signal.lfilter([1.0], [1.0, -0.98], rng.normal(0, 0.01, n))
    rr = rr0 * (1.0 + np.clip(walk, -0.2, 0.2)) * (1.0 + rng.normal(0, hrv, n))
    rr = np.clip(rr, 0.35, 2.0)
    t = np.cumsum(rr) - rr[0] * rng.random()
    return t[(t > -1) & (t < duration_s + 1)]


# ---------------------------------------------------------------- transients

@dataclass(frozen=True)
class Transient:
    """A short artefact on one channel: waveform ``kind`` from ``t0`` for ``length_s``.

    kinds
        ``motion``: damped oscillation at ``freq`` Hz (1-15 Hz), time constant
        ``tau``: a cable/skin movement artefact (movement artefact lies below
        ~20 Hz: De Luca 2010, physiology.md §4).
        ``pop``: electrode pop, a step of ``amp_uv`` decaying with ``tau`` (a
        sudden change of the electrode-skin half-cell potential; assumption U).
        ``spike``: a fast biphasic spike (cable tap / static discharge).
        ``hum``: a burst of mains at ``freq`` lasting ``tau`` s (loose electrode).
    """

    channel: int
    t0: float
    kind: str
    amp_uv: float
    tau: float = 0.1
    freq: float = 5.0
    phase: float = 0.0

    @property
    def length_s(self) -> float:
        return {"motion": 6.0 * self.tau, "pop": 8.0 * self.tau, "spike": 0.03, "hum": self.tau}.get(self.kind, 1.0)

    @property
    def t1(self) -> float:
        return self.t0 + self.length_s

    def __call__(self, t: np.ndarray) -> np.ndarray:
        """Waveform at absolute times ``t`` (zero outside its support)."""
        x = t - self.t0
        inside = (x >= 0) & (x < self.length_s)
        y = np.zeros_like(t)
        xi = x[inside]
        if self.kind == "motion":
            # rises over ~30 ms, damped oscillation
            y[inside] = self.amp_uv * (1 - np.exp(-xi / 0.03)) * np.exp(-xi / self.tau) * \
                np.sin(2 * np.pi * self.freq * xi + self.phase)
        elif self.kind == "pop":
            y[inside] = self.amp_uv * np.exp(-xi / self.tau) * (1 - np.exp(-xi / 0.002))
            # the step's decay ends at 8 tau; taper the last 3 % to zero
            end = self.length_s
            y[inside] *= np.clip((end - xi) / (0.03 * end), 0, 1)
        elif self.kind == "hum":
            edge = np.clip(np.minimum(xi, self.tau - xi) / 0.2, 0, 1)
            w = 2 * np.pi * self.freq * xi + self.phase
            y[inside] = self.amp_uv * edge * (np.sin(w) + 0.3 * np.sin(3 * w) + 0.1 * np.sin(5 * w))
        elif self.kind == "spike":
            y[inside] = self.amp_uv * np.sin(2 * np.pi * xi / 0.03) * np.sin(np.pi * xi / 0.03)
        return y
