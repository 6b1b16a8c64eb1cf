"""Each cramp up close: the EMG from 30 s before its onset to 30 s after its end.

The plot shows what the detector saw, drawn from the raw samples (:mod:`.rawemg`):
the cramp's channel band-passed and notched as the pipeline does (filters designed
from the file's sample rate, :class:`~emgpipe.dsp.filters.BandPassSettings` and
:class:`~emgpipe.dsp.filters.MainsNotchSettings`, run causally from the window's
first sample so nothing before the onset is smeared by a zero-phase filter), its
envelope (RMS over the detector's 0.25 s windows, trailing), and every channel's
envelope below (a cramp stays in one muscle). The stretch prompt (the alert), any
reminder and the wearer's answer are marked.
"""
from __future__ import annotations

import math
import time
import warnings

import numpy as np

from ..dsp.filters import BandPassSettings, MainsNotchSettings, _initial_zi, _sosfilt, mains_prominence

#: Seconds shown before the onset and after the end of a cramp (issue 16).
PAD_S = 30.0
#: Longest stretch of a cramp drawn: a night cramp lasts at most ~10 min
#: (Hallegraeff et al. 2017, docs/physiology.md); a longer event is cut there.
MAX_CRAMP_S = 600.0
#: Envelope window (s): the detector's feature window (models/default.toml, [windows] length_s).
ENVELOPE_S = 0.25
#: Envelope points per second drawn.
ENVELOPE_HZ = 20.0
#: Columns of the min/max summary of the filtered trace (about one per pixel).
TRACE_BINS = 1600


def window_for(e) -> tuple[float, float]:
    """Stream seconds drawn for cramp ``e``."""
    return max(0.0, e.start_s - PAD_S), min(e.end_s, e.start_s + MAX_CRAMP_S) + PAD_S


def _runs(x: np.ndarray) -> list[tuple[int, int]]:
    """[a, b) runs of finite samples."""
    ok = np.isfinite(x)
    if not ok.any():
        return []
    edges = np.flatnonzero(np.diff(np.concatenate(([0], ok.astype(np.int8), [0]))))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def _mains(x: np.ndarray, fs: float) -> tuple[int, ...]:
    """50 and/or 60 Hz, chosen from the first 2 s as the pipeline does (both when no hum stands out)."""
    s = MainsNotchSettings()
    seg = x[: int(s.decide_s * fs)]
    if len(seg) < fs:
        return (50, 60)
    p50, p60 = (mains_prominence(seg[:, None], fs, f) for f in (50.0, 60.0))
    if max(p50, p60) >= s.min_prominence:
        return (50,) if p50 >= p60 else (60,)
    return (50, 60)


def emg_filter(x: np.ndarray, fs: float) -> np.ndarray:
    """Band-pass 20 Hz to min(450 Hz, 0.45 fs) and mains notches, causal, restarted after
    every gap (NaN run), like the pipeline. Works from 200 Hz to 4 kHz.

    >>> fs = 250.0
    >>> t = np.arange(int(10 * fs)) / fs
    >>> y = emg_filter(100 + 50 * np.sin(2 * np.pi * 60 * t) + np.sin(2 * np.pi * 80 * t), fs)
    >>> bool(np.abs(y[-250:]).max() < 3)       # DC and 60 Hz hum gone, 80 Hz EMG kept
    True
    """
    x = np.asarray(x, dtype=float)
    out = np.full_like(x, np.nan)
    sos = [BandPassSettings().design(fs)]
    for run in _runs(x)[:1]:
        for f0 in _mains(x[run[0]:run[1]], fs):
            notch = MainsNotchSettings().design(fs, f0)
            if len(notch):
                sos.append(notch)
    sos = np.vstack(sos)
    for a, b in _runs(x):
        # the pipeline's own filter loop (no scipy.signal import: ~0.5 s of a report)
        seg = np.ascontiguousarray(x[a:b, None])
        y, _ = _sosfilt(sos, seg, _initial_zi(sos, seg[0]))
        out[a:b] = y[:, 0]
    return out


def envelope(y: np.ndarray, fs: float, t0: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Trailing RMS over :data:`ENVELOPE_S`, every 1/:data:`ENVELOPE_HZ` s: (times, µV).
    A window touching a gap is NaN."""
    n = max(1, int(round(ENVELOPE_S * fs)))
    hop = max(1, int(round(fs / ENVELOPE_HZ)))
    y = np.asarray(y, dtype=float)
    bad = ~np.isfinite(y)
    c = np.concatenate(([0.0], np.cumsum(np.where(bad, 0.0, y * y))))
    cb = np.concatenate(([0], np.cumsum(bad)))
    ends = np.arange(n, len(y) + 1, hop)
    if not len(ends):
        return np.zeros(0), np.zeros(0)
    rms = np.sqrt(np.maximum(c[ends] - c[ends - n], 0.0) / n)
    rms[(cb[ends] - cb[ends - n]) > 0] = np.nan
    return t0 + ends / fs, rms


def _minmax(t: np.ndarray, y: np.ndarray, bins: int = TRACE_BINS):
    """Per column: (time, min, max) of the trace (fast drawing of millions of samples)."""
    n = len(y)
    k = max(1, int(math.ceil(n / bins)))
    m = n // k * k
    if m == 0:
        return t, y, y
    yy = y[:m].reshape(-1, k)
    with warnings.catch_warnings():              # an all-NaN column (a gap) is NaN, quietly
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanmin(yy, axis=1), np.nanmax(yy, axis=1)
    return t[:m].reshape(-1, k)[:, 0], lo, hi


def plot_cramp(night, e, number: int, raw) -> str | None:
    """The zoom plot of cramp ``e`` (report number ``number``) as a PNG data URI, or None
    when ``raw`` (a :class:`~.rawemg.RawWindow`) lacks the cramp's channel."""
    from .html import _png
    fig = cramp_figure(night, e, number, raw)
    return None if fig is None else _png(fig)


def cramp_figure(night, e, number: int, raw):
    """The matplotlib Figure of :func:`plot_cramp` (None without the cramp's raw EMG)."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from .html import COLORS, fmt_duration

    if raw is None:
        return None
    col = raw.channel(e.channel)
    if col is None or not np.isfinite(col).any():
        return None
    fs, t0 = raw.fs, raw.t0
    env_only = raw.signal == "envelope"
    t = raw.t - e.start_s
    fig = Figure(figsize=(10, 4.2))
    ax, ax2 = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    cramp_end = min(e.end_s, e.start_s + MAX_CRAMP_S) - e.start_s
    for a in (ax, ax2):
        a.axvspan(0, max(cramp_end, 0.5), color=COLORS["cramp"], alpha=0.10, lw=0)
    if env_only:
        et, ev = t, col
    else:
        y = emg_filter(col, fs)
        tb, lo, hi = _minmax(t, y)
        ax.fill_between(tb, lo, hi, color="#7f7f7f", lw=0, step="post")
        et, ev = envelope(y, fs, t0)
        et = et - e.start_s
        fin = np.abs(y[np.isfinite(y)])
        top = float(np.percentile(fin, 99.9)) if len(fin) else 1.0
        ax.set_ylim(-1.15 * top, 1.15 * top)
    ax.plot(et, ev, color=COLORS["cramp"], lw=1.4)
    ax.set_ylabel("µV", fontsize=8)
    ax.tick_params(labelsize=8)
    # every channel's envelope: is it localised?
    for i, ch in enumerate(raw.ch_names):
        x = raw.data[:, i]
        if not np.isfinite(x).any():
            continue
        own = ch == e.channel
        if env_only:
            tt, rr = t, x
        else:
            tt, rr = (et + e.start_s, ev) if own else envelope(emg_filter(x, fs), fs, t0)
            tt = tt - e.start_s
        ax2.plot(tt, rr, lw=1.5 if own else 0.9, color=COLORS["cramp"] if own else None,
                 alpha=1.0 if own else 0.8, label=ch)
    ax2.set_ylabel("envelope (µV)" if env_only else "envelope (µV RMS)", fontsize=8)
    ax2.tick_params(labelsize=8)
    ax2.legend(fontsize=7, framealpha=0.85, edgecolor="none", loc="upper right", ncol=min(4, len(raw.ch_names)))
    # marks: the stretch prompt (alert), reminders, the end
    alerts = sorted({round(a["alert_s"], 3) for a in night.alerts
                     if a.get("channel") == e.channel and a.get("start_s") is not None
                     and abs(a["start_s"] - e.start_s) < 1e-3 and a.get("alert_s") is not None})
    first = alerts[0] if alerts else e.alert_s
    for a in (ax, ax2):
        a.axvline(first - e.start_s, color="#000000", lw=1.3, ls="--")
        for r in alerts[1:]:
            a.axvline(r - e.start_s, color="#000000", lw=1.0, ls=":")
    answer = {"cramp": "your answer: cramp", "not_cramp": "your answer: not a cramp"}.get(
        e.label, "no answer given")
    ax.text(0.01, 0.96, f"stretch prompt {first - e.start_s:.1f} s after onset; {answer}",
            transform=ax.transAxes, va="top", ha="left", fontsize=8,
            bbox=dict(boxstyle="round,pad=0.25", fc="white", ec="#999999", alpha=0.9))
    ax2.set_xlim(t[0], t[-1])
    if night.started_time is not None:
        onset = time.strftime("%H:%M:%S", time.localtime(night.started_time + e.start_s))
    else:
        onset = f"{e.start_s:.1f} s into the recording"
    ax2.set_xlabel(f"seconds from the cramp's onset ({onset})", fontsize=8)
    what = "EMG envelope from the device" if env_only else "filtered EMG (grey) and its envelope"
    cut = "" if e.end_s - e.start_s <= MAX_CRAMP_S else f", first {fmt_duration(MAX_CRAMP_S)} shown"
    ax.set_title(f"Cramp {number}: {e.muscle} {e.leg} ({e.channel}), {fmt_duration(e.duration_s)}{cut}"
                 f" - {what}", fontsize=10, loc="left")
    handles = [Patch(color=COLORS["cramp"], alpha=0.2, label="cramp"),
               Line2D([], [], color="#000000", ls="--", label="stretch prompt")]
    if len(alerts) > 1:
        handles.append(Line2D([], [], color="#000000", ls=":", label="reminder"))
    ax.legend(handles=handles, fontsize=7, framealpha=0.85, edgecolor="none", loc="upper right")
    fig.subplots_adjust(hspace=0.12)
    return fig
