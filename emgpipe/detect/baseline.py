"""Each channel's rest level (baseline), tracked online.

In the log domain the baseline falls fast toward quieter windows
(``baseline_down_s``) and rises slowly toward louder ones (``baseline_up_s``),
and never learns from windows ``baseline_learn_ratio`` x above it, so minutes
of cramp or walking do not pull it up. Until it is known (``warmup_s`` of
windows, or a calibration profile's rest level) the channel is not ready.
Every threshold of the detector is a ratio to it.
"""
from __future__ import annotations

import math

import numpy as np

from ..dsp import _kernels
from .settings import WARMUP_PCT, CrampSettings


def track(channels: list, rms: np.ndarray, hop: float, s: CrampSettings) -> tuple[np.ndarray, np.ndarray]:
    """Per window and channel: (RMS / baseline, the baseline (µV, NaN while warming up)).

    ``rms`` is (n windows, n channels); each channel's ``base``, ``warm``,
    ``last_rms`` and ``last_ratio`` are updated (compiled recursion per channel).
    """
    n_win = len(rms)
    a_down = 1.0 - math.exp(-hop / s.baseline_down_s)
    a_up = 1.0 - math.exp(-hop / s.baseline_up_s)
    n_warm = max(1, int(round(s.warmup_s / hop)))
    ratios = np.ones_like(rms)
    bases = np.full(rms.shape, np.nan)
    for k, ch in enumerate(channels):
        col = rms[:, k]
        i0 = 0
        if ch.base is None:
            need = n_warm - len(ch.warm)
            ch.warm.extend(col[:need].tolist())
            i0 = min(need, n_win)
            if len(ch.warm) >= n_warm:
                ch.base = max(float(np.percentile(ch.warm, WARMUP_PCT)), s.baseline_floor_uv)
                ch.warm = []
        if ch.base is not None and i0 < n_win:
            before = ch.base
            r, ch.base = _kernels.track_baseline(col[i0:], ch.base, a_down, a_up,
                                                 s.baseline_learn_ratio, s.baseline_floor_uv)
            ratios[i0:, k] = r
            bases[i0:, k] = col[i0:] / np.where(r > 0, r, np.inf)
            bases[i0:, k] = np.where(r > 0, bases[i0:, k], before)
        ch.last_rms, ch.last_ratio = float(col[-1]), float(ratios[-1, k])
    return ratios, bases


def keep_history(channels: list, rms: np.ndarray, bases: np.ndarray, hop: float, s: CrampSettings) -> None:
    """Keep each channel's levels and baselines of the last ``precursor_s`` (and
    one window) for the precursor test of the next batches."""
    n_keep = int(round(s.precursor_s / hop)) + 1
    for k, ch in enumerate(channels):
        ch.hist = np.concatenate([ch.hist, rms[:, k]])[-n_keep:]
        ch.bhist = np.concatenate([ch.bhist, bases[:, k]])[-n_keep:]
