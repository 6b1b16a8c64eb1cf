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
from .settings import DECAY_RATIO, FLAT_RMS_UV, WARMUP_PCT, CrampSettings


#: µV: what an untaught window goes into the baseline recursion as (:func:`track`):
#: far above any signal, so its ratio always exceeds baseline_learn_ratio
UNTAUGHT_UV = 1e30


def untaught(channels: list, rms: np.ndarray) -> np.ndarray:
    """Per window and channel: no rest level to learn from. A flat line (a
    lead-off, a clipped rail: RMS under ``FLAT_RMS_UV``, below any connected
    electrode's thermal noise), or the ring decaying into one (the band-pass's,
    or a device's own filters'): a window at most 1/``DECAY_RATIO`` of the one
    before, which was at most that of its own before (a ring falls steadily;
    the RMS of a window of rest varies by 5-10 %). Each channel's last two
    window RMS (``ch.prev_rms``) and whether its last window was untaught
    (``ch.prev_untaught``) carry over between batches."""
    n_win, n_ch = rms.shape
    prev = np.array([ch.prev_rms for ch in channels], dtype=float).T.reshape(2, n_ch)
    h = np.concatenate((prev, rms))
    out = (rms < FLAT_RMS_UV) | ((h[2:] * DECAY_RATIO <= h[1:-1]) & (h[1:-1] * DECAY_RATIO <= h[:-2]))
    last = h[-2:]
    for k, ch in enumerate(channels):
        ch.prev_rms = (float(last[0, k]), float(last[1, k]))
        ch.prev_untaught = bool(out[-1, k])
    return out


def track(channels: list, rms: np.ndarray, hop: float, s: CrampSettings) -> tuple:
    """Per window and channel: (RMS / baseline, the baseline (µV, NaN while
    warming up), :func:`untaught` and the window before it was).

    ``rms`` is (n windows, n channels); each channel's ``base``, ``warm``,
    ``last_rms`` and ``last_ratio`` are updated (compiled recursion per channel).
    A window :func:`untaught` marks teaches the baseline nothing (its ratio is
    to the baseline as it stands): after a lead-off or a rail the baseline is
    the one from before it.
    """
    n_win, n_ch = rms.shape
    a_down = 1.0 - math.exp(-hop / s.baseline_down_s)
    a_up = 1.0 - math.exp(-hop / s.baseline_up_s)
    n_warm = max(1, int(round(s.warmup_s / hop)))
    base0 = [math.nan] * n_ch
    i0s = [n_win] * n_ch                                 # tracked from this window on
    for k, ch in enumerate(channels):
        i0 = 0
        if ch.base is None:
            need = n_warm - len(ch.warm)
            ch.warm.extend(rms[:need, k].tolist())
            i0 = min(need, n_win)
            if len(ch.warm) >= n_warm:
                ch.base = max(float(np.percentile(ch.warm, WARMUP_PCT)), s.baseline_floor_uv)
                ch.warm = []
        if ch.base is not None and i0 < n_win:
            base0[k], i0s[k] = ch.base, i0
    was = np.array([ch.prev_untaught for ch in channels], dtype=bool)
    skip = untaught(channels, rms)
    before = np.concatenate((was[None, :], skip[:-1]))     # the window before was untaught
    # every channel in one compiled pass (the same recursion as track_baseline).
    # An untaught window goes in as UNTAUGHT_UV: its ratio is then above
    # baseline_learn_ratio, so it teaches nothing, and the kernel's baseline
    # before it (UNTAUGHT_UV / ratio) is the one its true RMS is compared with
    inp = np.where(skip, UNTAUGHT_UV, rms) if skip.any() else rms
    ratios, bases, final = _kernels.track_baselines(inp, np.array(base0), np.array(i0s), a_down, a_up,
                                                    s.baseline_learn_ratio, s.baseline_floor_uv)
    if inp is not rms:
        tracked = skip & ~np.isnan(bases)
        ratios[tracked] = rms[tracked] / bases[tracked]
    last_rms, last_ratio, final = rms[-1].tolist(), ratios[-1].tolist(), final.tolist()
    for k, ch in enumerate(channels):
        if i0s[k] < n_win:
            ch.base = final[k]
        ch.last_rms, ch.last_ratio = last_rms[k], last_ratio[k]
    return ratios, bases, skip | before


def keep_history(past: tuple, rms: np.ndarray, bases: np.ndarray, hop: float, s: CrampSettings) -> tuple:
    """The levels and baselines (windows x channels) of the last ``precursor_s``
    (and one window) for the precursor test of the next batches, and at
    least ``decision_s`` for the single-leg-stance lookback
    (:meth:`.detector.CrampDetector._lookback`, the same whatever the
    chunking): ``past`` (the last call's) followed by this batch's ``rms``
    and ``bases``."""
    n_keep = int(round(max(s.precursor_s, s.decision_s) / hop)) + 1
    return np.concatenate([past[0], rms])[-n_keep:], np.concatenate([past[1], bases])[-n_keep:]
