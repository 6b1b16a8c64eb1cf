"""Per-window, per-channel sEMG features.

Pure functions of a window batch (``(n_windows, n_channels, n_len)``), and
:class:`WindowFeatures`, the stateful step ``Chunk -> Features`` that windows
a stream and computes them. Rates (zero crossings, slope sign changes,
spikes) are per second so that they mean the same at 200 Hz and 4 kHz.

Feature definitions follow the usual time-domain set (Hudgins et al., IEEE
TBME 40:82, 1993: MAV, WL, ZC, SSC; Phinyomark et al., Expert Syst Appl
39:7420, 2012 for RMS/mean/median frequency) plus the Teager-Kaiser energy
operator (Li, Zhou & Aruin, Ann Biomed Eng 35:1532, 2007) and kurtosis as a
spikiness measure (fasciculations are isolated transients: high kurtosis,
a sustained interference pattern is near-Gaussian: excess kurtosis ~0).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..types import Chunk
from .stateful import Stateful
from .windows import Windows, WindowSettings, _win_empty, _win_init, _win_step

#: Every feature name computed by :func:`compute_features`.
ALL_FEATURES = ("rms", "mav", "wl", "zc", "ssc", "tke", "mnf", "mdf", "kurtosis", "spikes")


@dataclass(frozen=True)
class FeatureSettings:
    """Which features and their thresholds.

    Parameters
    ----------
    names : tuple of str
        Subset of :data:`ALL_FEATURES`.
    zc_threshold_uv : float
        A zero crossing / slope sign change counts only if the step exceeds this
        (rejects noise-level wiggles; Hudgins 1993).
    spike_k : float
        A spike is an excursion of |x| above ``spike_k`` × the window's robust
        noise level (median |x| / 0.6745, i.e. the MAD sigma of a zero-mean
        signal); counted once per excursion (rising edges).
    """

    names: tuple = ALL_FEATURES
    zc_threshold_uv: float = 0.0
    spike_k: float = 5.0

    def __post_init__(self):
        unknown = set(self.names) - set(ALL_FEATURES)
        if unknown:
            raise ValueError(f"unknown feature(s) {sorted(unknown)}; known: {ALL_FEATURES}")


def compute_features(x: np.ndarray, fs: float, settings: FeatureSettings = FeatureSettings()) -> dict:
    """Features of a window batch ``x`` (n_windows, n_channels, n_len).

    Returns a dict name -> (n_windows, n_channels) float64 array.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(0, 10, size=(3, 2, 1000))
    >>> f = compute_features(x, fs=1000.0)
    >>> f["rms"].shape, bool(np.all(abs(f["rms"] - 10) < 1)), bool(np.all(abs(f["kurtosis"]) < 0.5))
    ((3, 2), True, True)
    """
    names = set(settings.names)
    n_len = x.shape[-1]
    dur = n_len / fs
    out = {}
    if n_len == 0 or x.shape[0] == 0:
        return {k: np.empty(x.shape[:2]) for k in settings.names}
    need_sq = names & {"rms", "kurtosis"}
    ax = np.abs(x)
    if "mav" in names or "spikes" in names:
        out["mav"] = ax.mean(axis=-1)
    if need_sq:
        sq = x * x
        ms = sq.mean(axis=-1)
        out["rms"] = np.sqrt(ms)
    if names & {"wl", "zc", "ssc"}:
        d = np.diff(x, axis=-1)
        if "wl" in names:
            out["wl"] = np.abs(d).sum(axis=-1)
        thr = settings.zc_threshold_uv
        if "zc" in names:
            zc = (x[..., :-1] * x[..., 1:] < 0)
            if thr > 0:
                zc &= np.abs(d) >= thr
            out["zc"] = zc.sum(axis=-1) / dur
        if "ssc" in names:
            s = d[..., :-1] * -d[..., 1:]
            out["ssc"] = (s > thr).sum(axis=-1) / dur
    if "tke" in names:
        out["tke"] = (x[..., 1:-1] ** 2 - x[..., :-2] * x[..., 2:]).mean(axis=-1)
    if "kurtosis" in names:
        m = x.mean(axis=-1, keepdims=True)
        c2 = (x - m) ** 2
        m2 = c2.mean(axis=-1)
        m4 = (c2 * c2).mean(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            k = m4 / (m2 * m2) - 3.0
        out["kurtosis"] = np.where(m2 > 0, k, 0.0)
    if names & {"mnf", "mdf"}:
        w = np.hanning(n_len)
        p = np.abs(np.fft.rfft(x * w, axis=-1)) ** 2
        f = np.fft.rfftfreq(n_len, 1.0 / fs)
        tot = p.sum(axis=-1)
        safe = np.where(tot > 0, tot, 1.0)
        if "mnf" in names:
            out["mnf"] = np.where(tot > 0, (p * f).sum(axis=-1) / safe, 0.0)
        if "mdf" in names:
            c = np.cumsum(p, axis=-1)
            idx = (c < 0.5 * tot[..., None]).sum(axis=-1)
            out["mdf"] = np.where(tot > 0, f[np.minimum(idx, len(f) - 1)], 0.0)
    if "spikes" in names:
        sigma = np.median(ax, axis=-1) / 0.6745
        above = ax > (settings.spike_k * sigma)[..., None]
        edges = above[..., 1:] & ~above[..., :-1]
        out["spikes"] = (edges.sum(axis=-1) + above[..., 0]) / dur
    return {k: out[k] for k in settings.names}


@dataclass(frozen=True, eq=False)
class Features:
    """Feature values of a batch of windows.

    ``values[name]`` is (n_windows, n_channels). ``starts`` are window
    first-sample indices; ``end_s`` the stream times at which each window was
    complete (what a causal detector may act at).
    """

    values: dict
    starts: np.ndarray
    fs: float
    n_len: int
    n_hop: int
    ch_names: tuple
    source_id: str = ""
    attrs: dict = field(default_factory=dict)

    @property
    def n_windows(self) -> int:
        return len(self.starts)

    @property
    def end_s(self) -> np.ndarray:
        return (self.starts + self.n_len) / self.fs

    @property
    def start_s(self) -> np.ndarray:
        return self.starts / self.fs


@dataclass(frozen=True)
class WindowFeatureSettings:
    window: WindowSettings = WindowSettings()
    features: FeatureSettings = FeatureSettings()


def _wf_init(settings: WindowFeatureSettings, chunk: Chunk):
    return _win_init(settings.window, chunk)


def _wf_step(settings: WindowFeatureSettings, st, chunk: Chunk):
    st, w = _win_step(settings.window, st, chunk)
    return st, _to_features(settings, w, chunk)


def _to_features(settings, w: Windows, chunk: Chunk) -> Features:
    vals = compute_features(w.data, w.fs, settings.features)
    return Features(vals, w.starts, w.fs, w.n_len, w.n_hop, w.ch_names, w.source_id,
                    {"gaps": chunk.gaps} if chunk.gaps else {})


def _wf_empty(settings: WindowFeatureSettings, chunk: Chunk):
    return _to_features(settings, _win_empty(settings.window, chunk), chunk)


class WindowFeatures(Stateful):
    """Chunk stream -> :class:`Features` per window (remainder carried).

    Examples
    --------
    >>> import numpy as np
    >>> from emgpipe.types import Chunk
    >>> wf = WindowFeatures(WindowFeatureSettings(WindowSettings(0.1, 0.05)))
    >>> f = wf(Chunk(np.random.default_rng(0).normal(size=(1000, 1)), fs=1000.0))
    >>> f.n_windows, sorted(f.values)[:3]
    (19, ['kurtosis', 'mav', 'mdf'])
    """

    def __init__(self, settings: WindowFeatureSettings | None = None):
        super().__init__(settings or WindowFeatureSettings(), _wf_init, _wf_step, _wf_empty)
