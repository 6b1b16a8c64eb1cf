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
from .settings import FLAT_RMS_UV, LOSS_SETTLE_S, WARMUP_PCT, CrampSettings


def track(channels: list, rms: np.ndarray, hop: float, s: CrampSettings,
          starts: np.ndarray | None = None, ends: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per window and channel: (RMS / baseline, the baseline (µV, NaN while warming up)).

    ``rms`` is (n windows, n channels); each channel's ``base``, ``warm``,
    ``last_rms`` and ``last_ratio`` are updated (compiled recursion per channel).
    With the windows' ``starts`` and ``ends`` (s), a window that overlaps one
    of a channel's signal-loss episodes (``ch.loss``, up to ``LOSS_SETTLE_S``
    after its end) teaches that channel's baseline nothing.
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
    # a flat line (a lead-off, a clipped rail) is no rest level: its windows
    # teach nothing (the kernel learns only from windows above 0), so the
    # baseline is the one from before the loss when the signal comes back
    learnable = np.where(rms >= FLAT_RMS_UV, rms, 0.0)
    if starts is not None:
        for k, ch in enumerate(channels):
            for a, b in ch.loss:
                lost = (ends > a) & (starts < (math.inf if b is None else b + LOSS_SETTLE_S))
                learnable[lost, k] = 0.0
    # every channel in one compiled pass (the same recursion as track_baseline)
    ratios, bases, final = _kernels.track_baselines(learnable, np.array(base0), np.array(i0s), a_down, a_up,
                                                    s.baseline_learn_ratio, s.baseline_floor_uv)
    last_rms, last_ratio, final = rms[-1].tolist(), ratios[-1].tolist(), final.tolist()
    for k, ch in enumerate(channels):
        if i0s[k] < n_win:
            ch.base = final[k]
        ch.last_rms, ch.last_ratio = last_rms[k], last_ratio[k]
    return ratios, bases


def before(past_bases: np.ndarray, past_end: float, hop: float, t: float) -> float | None:
    """The baseline after the last window of the history (``past_bases``, one
    channel's, its last window ending at ``past_end`` s) that ended by ``t``;
    None when that window is not in it (or its baseline is not known)."""
    if not len(past_bases) or not math.isfinite(past_end - t):
        return None
    j = int(math.ceil((past_end - t) / hop - 1e-6))      # windows from the last one back
    if j < 0 or j >= len(past_bases):
        return None
    b = float(past_bases[len(past_bases) - 1 - j])
    return b if b == b else None


def keep_history(past: tuple, rms: np.ndarray, bases: np.ndarray, hop: float, s: CrampSettings) -> tuple:
    """The levels and baselines (windows x channels) of the last ``precursor_s``
    (and one window) for the precursor test of the next batches, and at
    least ``decision_s`` for the single-leg-stance lookback
    (:meth:`.detector.CrampDetector._lookback`, the same whatever the
    chunking): ``past`` (the last call's) followed by this batch's ``rms``
    and ``bases``."""
    n_keep = int(round(max(s.precursor_s, s.decision_s) / hop)) + 1
    return np.concatenate([past[0], rms])[-n_keep:], np.concatenate([past[1], bases])[-n_keep:]
