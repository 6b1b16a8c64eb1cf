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

import functools
from dataclasses import dataclass, field

import math

import numpy as np

from ..types import Chunk
from . import _designs, _kernels
from .stateful import Stateful
from .windows import WindowGrid, Windows, WindowSettings, _win_empty, _win_init, _win_step

#: Every feature name computed by :func:`compute_features`.
#: Potential-timing features (see :class:`FeatureSettings`).
POTENTIAL_FEATURES = ("pot_n", "pot_first", "pot_last", "pot_peak", "pot_peak_at")
ALL_FEATURES = ("rms", "mav", "wl", "zc", "ssc", "tke", "mnf", "mdf", "kurtosis", "spikes",
                "floor") + POTENTIAL_FEATURES


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
        A spike is an excursion of |x| above ``spike_k`` × the window's noise
        ``floor`` (the quietest sub-block's MAV × sqrt(pi/2), the sigma of
        Gaussian noise, so the spikes themselves do not raise it); counted once
        per excursion (rising edges).
    spike_k_low, low_rate_hz : float
        Below ``low_rate_hz`` the threshold is ``spike_k_low`` instead: a 5-25 ms
        potential spans 1-5 samples at 200-250 Hz and its sampled peak falls
        short, while noise samples do not (physiology notes §4: FP waveforms are
        badly degraded there). Measured on the standard set's restless nights,
        5x lets noise and electrode pops make 17-53 % of the fasciculations
        reported at 200-250 Hz; 7x about 5-13 %.
    potential_dead_s : float
        Rising edges closer than this to the previous potential belong to it
        (the phases of one bi- or polyphasic potential; fasciculation potentials
        last 5-25 ms, physiology.md §2).

    The ``pot_*`` features locate potentials in time: ``pot_n`` is how many
    potentials have their rising edge in the window's *newest hop* (so each is
    reported by one window only), ``pot_first`` / ``pot_last`` the first and
    last edge (s from the window start, NaN when none), ``pot_peak`` the
    largest one's peak |x| (µV) and ``pot_peak_at`` its edge (s from the window start).
    """

    names: tuple = ALL_FEATURES
    zc_threshold_uv: float = 0.0
    spike_k: float = 5.0
    spike_k_low: float = 7.0
    low_rate_hz: float = 500.0
    potential_dead_s: float = 0.015

    def spike_k_at(self, fs: float) -> float:
        """The spike threshold (x the noise floor) at sample rate ``fs``."""
        return self.spike_k_low if fs < self.low_rate_hz else self.spike_k

    def __post_init__(self):
        unknown = set(self.names) - set(ALL_FEATURES)
        if unknown:
            raise ValueError(f"unknown feature(s) {sorted(unknown)}; known: {ALL_FEATURES}")


def _spectral(power: np.ndarray, f: np.ndarray, names: set, out: dict):
    tot = power.sum(axis=-1)
    safe = np.where(tot > 0, tot, 1.0)
    if "mnf" in names:
        out["mnf"] = np.where(tot > 0, (power * f).sum(axis=-1) / safe, 0.0)
    if "mdf" in names:
        c = np.cumsum(power, axis=-1)
        idx = (c < 0.5 * tot[..., None]).sum(axis=-1)
        out["mdf"] = np.where(tot > 0, f[np.minimum(idx, len(f) - 1)], 0.0)


@functools.lru_cache(maxsize=32)
def _hann(n: int) -> np.ndarray:
    return np.hanning(n)


_MAX_NORMAL: dict = {}


def _floor_gain(m: int, n: int) -> float:
    """1 / the expected quietest-of-``m``-blocks MAV * sqrt(pi/2), in units of
    sigma, for Gaussian noise in blocks of ``n`` samples: the smallest of m
    noisy estimates is biased low by E[max of m standard normals] x the
    estimate's spread (sqrt(pi/2 - 1) / sqrt(n) of the mean). Without it the
    floor is 0.96 sigma at 1 kHz but 0.91 at 200 Hz (fewer samples per block),
    and the spike threshold lets ~4x more noise peaks through at the Ganglion's
    rate than at 1 kHz."""
    if m <= 1 or n <= 1:
        return 1.0
    e = _MAX_NORMAL.get(m)
    if e is None:      # scipy.integrate.quad over scipy.stats.norm, kept on disk (_designs)
        e = _designs.expected_max_normal(m)
        _MAX_NORMAL[m] = e
    return 1.0 / max(0.5, 1.0 - e * math.sqrt(math.pi / 2 - 1) / math.sqrt(n))


def _sub_blocks(n_len: int, n_hop: int) -> int:
    """Length of the sub-blocks whose spectra are averaged (Bartlett's method)."""
    return n_hop if n_len % n_hop == 0 and n_len > n_hop else n_len


def compute_features(x: np.ndarray, fs: float, settings: FeatureSettings = FeatureSettings(),
                     n_hop: int | None = None) -> dict:
    """Features of a window batch ``x`` (n_windows, n_channels, n_len).

    This is the reference implementation (window by window);
    :func:`compute_features_segment` gives the same values faster for a
    stream's overlapping windows. Returns a dict name -> (n_windows,
    n_channels) float64 array.

    Spectral features (``mnf``, ``mdf``) use Bartlett's method: the Hann
    periodograms of ``n_len / n_hop`` consecutive sub-blocks of ``n_hop``
    samples are averaged (when ``n_hop`` divides ``n_len``; otherwise one
    periodogram of the whole window). The spike threshold uses the quietest
    sub-block's MAV as the noise level (sigma = MAV * sqrt(pi/2) for Gaussian
    noise), so the spikes themselves do not raise it.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(0, 10, size=(3, 2, 1000))
    >>> f = compute_features(x, fs=1000.0)
    >>> f["rms"].shape, bool(np.all(abs(f["rms"] - 10) < 1)), bool(np.all(abs(f["kurtosis"]) < 0.5))
    ((3, 2), True, True)
    """
    names = set(settings.names)
    n_win, n_ch, n_len = x.shape
    if n_len == 0 or n_win == 0:
        return {k: np.empty((n_win, n_ch)) for k in settings.names}
    hop = n_len if n_hop is None else n_hop
    blk = _sub_blocks(n_len, hop)
    dur = n_len / fs
    out = {}
    ax = np.abs(x)
    out["mav"] = ax.mean(axis=-1)
    out["rms"] = np.sqrt((x * x).mean(axis=-1))
    d = np.diff(x, axis=-1)
    out["wl"] = np.abs(d).sum(axis=-1)
    thr = settings.zc_threshold_uv
    zc = x[..., :-1] * x[..., 1:] < 0
    if thr > 0:
        zc &= np.abs(d) >= thr
    out["zc"] = zc.sum(axis=-1) / dur
    out["ssc"] = ((d[..., :-1] * -d[..., 1:]) > thr).sum(axis=-1) / dur
    out["tke"] = (x[..., 1:-1] ** 2 - x[..., :-2] * x[..., 2:]).sum(axis=-1) / n_len
    m = x.mean(axis=-1, keepdims=True)
    c2 = (x - m) ** 2
    m2 = c2.mean(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["kurtosis"] = np.where(m2 > 1e-12, (c2 * c2).mean(axis=-1) / (m2 * m2) - 3.0, 0.0)
    if names & {"mnf", "mdf"}:
        sub = x.reshape(n_win, n_ch, n_len // blk, blk)
        power = (np.abs(np.fft.rfft(sub * _hann(blk), axis=-1)) ** 2).sum(axis=-2)
        _spectral(power, np.fft.rfftfreq(blk, 1.0 / fs), names, out)
    if names & ({"spikes", "floor"} | set(POTENTIAL_FEATURES)):
        floor = (np.sqrt(np.pi / 2) * _floor_gain(n_len // blk, blk)
                 * ax.reshape(n_win, n_ch, n_len // blk, blk).mean(axis=-1).min(axis=-1))
        out["floor"] = floor
        above = ax > (settings.spike_k_at(fs) * floor)[..., None]
        out["spikes"] = ((above[..., 1:] & ~above[..., :-1]).sum(axis=-1) + above[..., 0]) / dur
        if names & set(POTENTIAL_FEATURES):
            flat = ax.transpose(0, 2, 1).reshape(n_win * n_len, n_ch)
            _potential_features(flat, np.arange(n_win) * n_len, floor, n_len, min(hop, n_len), fs,
                                settings, out)
    return {k: out[k] for k in settings.names}


def compute_features_segment(segment: np.ndarray, n_len: int, n_hop: int, fs: float,
                             settings: FeatureSettings = FeatureSettings()) -> dict:
    """Features of every window ``segment[k*n_hop : k*n_hop + n_len]``.

    Same values as :func:`compute_features` on those windows, but each sample
    is processed once: sums are taken per hop-long block and windows add up
    their blocks (terms that straddle a window edge are subtracted), and
    spectra are per block (Bartlett). Needs ``n_len % n_hop == 0``.
    """
    names = set(settings.names)
    n, n_ch = segment.shape
    m = n_len // n_hop
    n_win = (n - n_len) // n_hop + 1 if n >= n_len else 0
    if n_win <= 0:
        return {k: np.empty((0, n_ch)) for k in settings.names}
    n_blk = n_win - 1 + m
    x = segment[:n_blk * n_hop]
    starts = np.arange(n_win) * n_hop
    ends = starts + n_len

    def window_sums(b):                      # (n_blk, c) -> (n_win, c)
        out = b[:n_win].copy()
        for k in range(1, m):
            out += b[k:k + n_win]
        return out

    dur = n_len / fs
    thr = settings.zc_threshold_uv
    # no pair or triple term asked for (the detectors read none): the moments only, the
    # same values (the window kernel's wl/zc/ssc/tke are then dropped)
    sums = _kernels.block_sums(x, n_hop, n_blk, thr, thr, pairs=bool(names & {"wl", "zc", "ssc", "tke"}))
    if _kernels.COMPILED:
        if names & {"mnf", "mdf"}:
            freqs = np.fft.rfftfreq(n_hop, 1.0 / fs)
            blocks = x.reshape(n_blk, n_hop, n_ch).transpose(0, 2, 1)
            # windowed blocks laid out block-major (order="C"): the FFT then reads
            # each block in place instead of copying it out of a strided view
            # (same values; ~1.8x faster at 1 kHz, issue 15)
            spec = np.fft.rfft(np.multiply(blocks, _hann(n_hop), order="C"), axis=-1)
            power = np.square(spec.real)
            power += np.square(spec.imag)                               # (n_blk, c, F)
        else:
            # no spectral feature asked for (the detectors read none): no spectra,
            # ~40 % of this function at 1 kHz; the kernel's spectral loops run over nothing
            power, freqs = np.zeros((n_blk, n_ch, 0)), np.zeros(0)
        vals = _kernels.window_features(x, sums, power, freqs, n_len, n_hop, n_win, thr, dur)
        out = dict(zip(_kernels.WINDOW_FIELDS, vals))
        _spike_features(sums[4], x, n_len, n_hop, n_win, m, dur, fs, settings, names, out)
        return {k: out[k] for k in settings.names}
    S = dict(zip(_kernels.FIELDS, sums))
    W = {k: window_sums(v) for k, v in S.items()}
    out = {}
    out["mav"] = W["sabs"] / n_len
    out["rms"] = np.sqrt(W["s2"] / n_len)
    # Pair terms belong to their second sample: a window owns those whose
    # second sample is in (start, end), so drop the one at its start. Triple
    # terms belong to their centre: drop those at its first and last sample.
    prev = x[np.maximum(starts - 1, 0)]
    first, second = x[starts], x[starts + 1]
    d_start = np.where(starts[:, None] > 0, first - prev, 0.0)
    out["wl"] = W["wl"] - np.abs(d_start)
    zc_start = (prev * first < 0) & (starts[:, None] > 0)
    if thr > 0:
        zc_start &= np.abs(d_start) >= thr
    out["zc"] = (W["zc"] - zc_start) / dur
    last, before, after = x[ends - 1], x[ends - 2], x[np.minimum(ends, len(x) - 1)]
    has_after = (ends < len(x))[:, None]
    has_prev = (starts > 0)[:, None]
    ssc_start = has_prev & (((first - prev) * (first - second)) > thr)
    ssc_end = has_after & (((last - before) * (last - after)) > thr)
    out["ssc"] = (W["ssc"] - ssc_start - ssc_end) / dur
    tke_start = np.where(has_prev, first * first - prev * second, 0.0)
    tke_end = np.where(has_after, last * last - before * after, 0.0)
    out["tke"] = (W["tke"] - tke_start - tke_end) / n_len
    if "kurtosis" in names:
        mean, r2 = W["s1"] / n_len, W["s2"] / n_len
        s3, s4 = W["s3"] / n_len, W["s4"] / n_len
        m2 = r2 - mean ** 2
        m4 = s4 - 4 * mean * s3 + 6 * mean ** 2 * r2 - 3 * mean ** 4
        with np.errstate(invalid="ignore", divide="ignore"):
            out["kurtosis"] = np.where(m2 > 1e-12, m4 / (m2 * m2) - 3.0, 0.0)
    if names & {"mnf", "mdf"}:
        blocks = x.reshape(n_blk, n_hop, n_ch).transpose(0, 2, 1)
        power = np.abs(np.fft.rfft(blocks * _hann(n_hop), axis=-1)) ** 2   # (n_blk, c, F)
        wp = power[:n_win].copy()
        for k in range(1, m):
            wp += power[k:k + n_win]
        _spectral(wp, np.fft.rfftfreq(n_hop, 1.0 / fs), names, out)
    _spike_features(S["sabs"], x, n_len, n_hop, n_win, m, dur, fs, settings, names, out)
    return {k: out[k] for k in settings.names}


def _spike_features(abs_sums, x, n_len, n_hop, n_win, m, dur, fs, settings, names, out):
    """``floor`` (the quietest block's MAV * sqrt(pi/2)), ``spikes`` and ``pot_*``."""
    pot = names & set(POTENTIAL_FEATURES)
    if not names & {"spikes", "floor"} and not pot:
        return
    mav_b = abs_sums / n_hop
    floor = mav_b[:n_win].copy()
    for k in range(1, m):
        floor = np.minimum(floor, mav_b[k:k + n_win])
    floor *= np.sqrt(np.pi / 2) * _floor_gain(m, n_hop)                  # (n_win, c)
    out["floor"] = floor
    ax = np.abs(x)
    if pot:   # the same pass counts the spikes
        edges = _potential_features(ax, np.arange(n_win) * n_hop, floor, n_len, n_hop, fs, settings, out)
        out["spikes"] = edges / dur
    elif "spikes" in names:
        out["spikes"] = _kernels.spike_counts(ax, settings.spike_k_at(fs) * floor, n_len, n_hop) / dur


def _potential_features(ax, starts, floor, n_len, n_new, fs, settings, out):
    dead = int(round(settings.potential_dead_s * fs))
    p = _kernels.potentials(ax, starts, settings.spike_k_at(fs) * floor, n_len, n_new, dead)
    for name, row in zip(POTENTIAL_FEATURES, p):
        out[name] = row / fs if name in ("pot_first", "pot_last", "pot_peak_at") else row
    return p[len(POTENTIAL_FEATURES)]


@dataclass(frozen=True, eq=False)
class Features(WindowGrid):
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
    if w.n_windows == 0:
        # most live chunks complete no window: one empty array for every feature
        # (what compute_features returns for them, without its 16 allocations)
        empty = np.empty((0, w.segment.shape[1]))
        vals = dict.fromkeys(settings.features.names, empty)
    elif w.n_len % w.n_hop == 0:
        vals = compute_features_segment(w.segment, w.n_len, w.n_hop, w.fs, settings.features)
    else:
        vals = compute_features(w.data, w.fs, settings.features, n_hop=w.n_hop)
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
