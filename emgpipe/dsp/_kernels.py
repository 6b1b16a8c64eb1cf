"""Fused per-block sums for :func:`emgpipe.dsp.features.compute_features_segment`.

One pass over the samples accumulates, per hop-long block and channel, every
sum the time-domain features need. With numba (a dependency; compiled once
and cached) this is ~5x faster than the equivalent numpy expressions, which
remain as the fallback and as the reference the tests compare against.
"""
from __future__ import annotations

import numpy as np

# numba: None where the kernels come built ahead of time (aot) or numba is missing;
# COMPILED: False only where the numpy fallbacks run (emgpipe/_compiled.py)
from .._compiled import COMPILED, aot, bind, numba

#: Row order of the array returned by :func:`block_sums`.
FIELDS = ("s1", "s2", "s3", "s4", "sabs", "wl", "zc", "ssc", "tke")


def block_sums_numpy(x: np.ndarray, n_hop: int, n_blk: int, zc_thr: float, ssc_thr: float) -> np.ndarray:
    """(len(FIELDS), n_blk, n_ch) sums. Pair terms (wl, zc) belong to their
    second sample, triple terms (ssc, tke) to their centre sample."""
    n = n_blk * n_hop
    x = x[:n]
    n_ch = x.shape[1]
    out = np.empty((len(FIELDS), n_blk, n_ch))

    def bs(a):
        return a.reshape(n_blk, n_hop, n_ch).sum(axis=1)

    x2 = x * x
    out[0], out[1], out[2], out[3], out[4] = bs(x), bs(x2), bs(x2 * x), bs(x2 * x2), bs(np.abs(x))
    d = np.diff(x, axis=0)
    pair = np.zeros((n, n_ch))
    pair[1:] = np.abs(d)
    out[5] = bs(pair)
    z = (x[:-1] * x[1:] < 0)
    if zc_thr > 0:
        z &= np.abs(d) >= zc_thr
    pair[0] = 0
    pair[1:] = z
    out[6] = bs(pair)
    tri = np.zeros((n, n_ch))
    tri[1:-1] = (d[:-1] * -d[1:]) > ssc_thr
    out[7] = bs(tri)
    tri[1:-1] = x2[1:-1] - x[:-2] * x[2:]
    out[8] = bs(tri)
    return out


if numba is not None:
    @numba.njit(cache=True, nogil=True)
    def _block_sums_jit(x, n_hop, n_blk, zc_thr, ssc_thr, pairs):  # pragma: no cover - compiled
        # pairs False: the moments only (rows 0-4: what rms, mav, kurtosis and the
        # noise floor need), the same values, ~3x faster; rows 5-8 stay 0
        n_ch = x.shape[1]
        n = n_blk * n_hop
        out = np.zeros((9, n_blk, n_ch))
        for c in range(n_ch):
            for b in range(n_blk):
                s1 = s2 = s3 = s4 = sa = wl = zc = ssc = tke = 0.0
                # the only branches test the index (predictable); the data tests are
                # arithmetic: random signs would defeat the branch predictor. The
                # segment's first sample has no pair term, its ends no triple term.
                for j in range(b * n_hop, (b + 1) * n_hop):
                    v = x[j, c]
                    v2 = v * v
                    s1 += v
                    s2 += v2
                    s3 += v2 * v
                    s4 += v2 * v2
                    sa += abs(v)
                    if pairs and j >= 1:
                        p = x[j - 1, c]
                        dd = v - p
                        ad = abs(dd)
                        wl += ad
                        zc += (p * v < 0) * (ad >= zc_thr)
                        if j + 1 < n:
                            q = x[j + 1, c]
                            ssc += dd * (v - q) > ssc_thr
                            tke += v2 - p * q
                out[0, b, c] = s1
                out[1, b, c] = s2
                out[2, b, c] = s3
                out[3, b, c] = s4
                out[4, b, c] = sa
                out[5, b, c] = wl
                out[6, b, c] = zc
                out[7, b, c] = ssc
                out[8, b, c] = tke
        return out

    @numba.njit(cache=True, nogil=True)
    def _spike_counts_jit(ax, thr, n_len, n_hop):  # pragma: no cover - compiled
        n_win, n_ch = thr.shape
        out = np.zeros((n_win, n_ch))
        for c in range(n_ch):
            for w in range(n_win):
                t = thr[w, c]
                s = w * n_hop
                prev = False
                cnt = 0
                for j in range(s, s + n_len):
                    a = ax[j, c] > t
                    if a and not prev:
                        cnt += 1
                    prev = a
                out[w, c] = cnt
        return out


def block_sums(x, n_hop, n_blk, zc_thr, ssc_thr, pairs=True):
    """:data:`FIELDS` sums of every hop-long block; ``pairs=False``: the moments only
    (s1-s4, sabs: what rms, mav, kurtosis and the noise floor need; the same values,
    ~3x faster compiled), the pair and triple terms 0."""
    if not COMPILED:
        return block_sums_numpy(x, n_hop, n_blk, zc_thr, ssc_thr)
    return _block_sums_jit(np.ascontiguousarray(x, dtype=np.float64), n_hop, n_blk,
                           float(zc_thr), float(ssc_thr), bool(pairs))


def spike_counts_numpy(ax, thr, n_len, n_hop):
    view = np.lib.stride_tricks.sliding_window_view(ax, n_len, axis=0)[::n_hop][:len(thr)]
    above = view > thr[..., None]
    return ((above[..., 1:] & ~above[..., :-1]).sum(axis=-1) + above[..., 0]).astype(np.float64)


def spike_counts(ax, thr, n_len, n_hop):
    """Rising edges of ``ax > thr[w]`` in each window ``w`` (a window starting
    above threshold counts once)."""
    if not COMPILED:
        return spike_counts_numpy(ax, thr, n_len, n_hop)
    return _spike_counts_jit(np.ascontiguousarray(ax, dtype=np.float64), np.ascontiguousarray(thr, dtype=np.float64),
                             int(n_len), int(n_hop))


#: Row order of :func:`window_features`.
WINDOW_FIELDS = ("mav", "rms", "wl", "zc", "ssc", "tke", "kurtosis", "mnf", "mdf")

if numba is not None:
    @numba.njit(cache=True, nogil=True)
    def _window_jit(x, sums, power, freqs, n_len, n_hop, n_win, thr, dur):  # pragma: no cover
        m = n_len // n_hop
        n = x.shape[0]
        n_ch = x.shape[1]
        n_f = power.shape[2]
        out = np.zeros((9, n_win, n_ch))
        acc = np.zeros(9)
        pw = np.zeros(n_f)
        for c in range(n_ch):
            for w in range(n_win):
                for k in range(9):
                    acc[k] = 0.0
                for f in range(n_f):
                    pw[f] = 0.0
                for b in range(w, w + m):
                    for k in range(9):
                        acc[k] += sums[k, b, c]
                    for f in range(n_f):
                        pw[f] += power[b, c, f]
                s1, s2, s3, s4, sa, wl, zc, ssc, tke = (acc[0], acc[1], acc[2], acc[3], acc[4],
                                                        acc[5], acc[6], acc[7], acc[8])
                st = w * n_hop
                en = st + n_len
                first = x[st, c]
                second = x[st + 1, c]
                last = x[en - 1, c]
                before = x[en - 2, c]
                if st > 0:
                    prev = x[st - 1, c]
                    dd = first - prev
                    wl -= abs(dd)
                    if prev * first < 0 and (thr <= 0 or abs(dd) >= thr):
                        zc -= 1.0
                    if dd * (first - second) > thr:
                        ssc -= 1.0
                    tke -= first * first - prev * second
                if en < n:
                    after = x[en, c]
                    if (last - before) * (last - after) > thr:
                        ssc -= 1.0
                    tke -= last * last - before * after
                out[0, w, c] = sa / n_len
                out[1, w, c] = np.sqrt(s2 / n_len)
                out[2, w, c] = wl
                out[3, w, c] = zc / dur
                out[4, w, c] = ssc / dur
                out[5, w, c] = tke / n_len
                mean = s1 / n_len
                r2 = s2 / n_len
                m2 = r2 - mean * mean
                m4 = s4 / n_len - 4 * mean * s3 / n_len + 6 * mean * mean * r2 - 3 * mean ** 4
                out[6, w, c] = m4 / (m2 * m2) - 3.0 if m2 > 1e-12 else 0.0
                tot = 0.0
                mom = 0.0
                for f in range(n_f):
                    tot += pw[f]
                    mom += pw[f] * freqs[f]
                if tot > 0:
                    out[7, w, c] = mom / tot
                    half = 0.5 * tot
                    cum = 0.0
                    idx = 0
                    for f in range(n_f):
                        cum += pw[f]
                        if cum < half:
                            idx += 1
                    out[8, w, c] = freqs[min(idx, n_f - 1)]
        return out


def window_features(x, sums, power, freqs, n_len, n_hop, n_win, thr, dur):
    """Per-window values (:data:`WINDOW_FIELDS`) from block sums and block
    power spectra (numba only; the numpy path lives in features.py)."""
    f8 = np.float64
    return _window_jit(np.ascontiguousarray(x, dtype=f8), np.ascontiguousarray(sums, dtype=f8),
                       np.ascontiguousarray(power, dtype=f8), np.ascontiguousarray(freqs, dtype=f8),
                       int(n_len), int(n_hop), int(n_win), float(thr), float(dur))


if numba is not None:
    @numba.njit(cache=True, nogil=True)
    def _sos_coefs(sos):  # pragma: no cover - compiled
        """b0, b1, b2, a1, a2 of every section, each a contiguous array."""
        return sos[:, 0].copy(), sos[:, 1].copy(), sos[:, 2].copy(), sos[:, 4].copy(), sos[:, 5].copy()

    @numba.njit(cache=True, nogil=True)
    def _sosfilt_jit(sos, x, zi):  # pragma: no cover - compiled
        n, n_ch = x.shape
        ns = sos.shape[0]
        y = np.empty_like(x)
        b0, b1, b2, a1, a2 = _sos_coefs(sos)
        for c in range(n_ch):
            z0 = zi[:, 0, c].copy()
            z1 = zi[:, 1, c].copy()
            for i in range(n):
                v = x[i, c]
                for s in range(ns):
                    o = b0[s] * v + z0[s]
                    z0[s] = b1[s] * v - a1[s] * o + z1[s]
                    z1[s] = b2[s] * v - a2[s] * o
                    v = o
                y[i, c] = v
            zi[:, 0, c] = z0
            zi[:, 1, c] = z1
        return y


if numba is not None:
    @numba.njit(cache=True, nogil=True)
    def _sosfilt_wide_jit(sos, x, zi):  # pragma: no cover - compiled
        # _sosfilt_jit with the channels in the innermost loop: the compiler runs
        # them side by side in SIMD lanes (8 channels: ~2.3x faster; the same
        # arithmetic per channel, so the same values bit for bit). With 1-3
        # channels the channel-by-channel loop is faster.
        n, n_ch = x.shape
        ns = sos.shape[0]
        y = np.empty_like(x)
        z0 = np.empty((ns, n_ch))
        z1 = np.empty((ns, n_ch))
        for s in range(ns):
            for c in range(n_ch):
                z0[s, c] = zi[s, 0, c]
                z1[s, c] = zi[s, 1, c]
        v = np.empty(n_ch)
        for i in range(n):
            for c in range(n_ch):
                v[c] = x[i, c]
            for s in range(ns):
                b0 = sos[s, 0]
                b1 = sos[s, 1]
                b2 = sos[s, 2]
                a1 = sos[s, 4]
                a2 = sos[s, 5]
                for c in range(n_ch):
                    o = b0 * v[c] + z0[s, c]
                    z0[s, c] = b1 * v[c] - a1 * o + z1[s, c]
                    z1[s, c] = b2 * v[c] - a2 * o
                    v[c] = o
            for c in range(n_ch):
                y[i, c] = v[c]
        for s in range(ns):
            for c in range(n_ch):
                zi[s, 0, c] = z0[s, c]
                zi[s, 1, c] = z1[s, c]
        return y


if numba is not None:
    @numba.njit(cache=True, nogil=True)
    def _sosfilt_pairs_jit(sos, x, zi):  # pragma: no cover - compiled
        # _sosfilt_jit two channels at a time: the two recurrences are independent,
        # so the processor overlaps them (one channel is bound by the latency of
        # its chain of sections); the same arithmetic per channel, so the same
        # values bit for bit. An odd last channel runs alone.
        n, n_ch = x.shape
        ns = sos.shape[0]
        y = np.empty_like(x)
        b0, b1, b2, a1, a2 = _sos_coefs(sos)
        z = np.empty((ns, 4))
        for c in range(0, n_ch - 1, 2):
            d = c + 1
            for s in range(ns):
                z[s, 0] = zi[s, 0, c]
                z[s, 1] = zi[s, 0, d]
                z[s, 2] = zi[s, 1, c]
                z[s, 3] = zi[s, 1, d]
            for i in range(n):
                v = x[i, c]
                w = x[i, d]
                for s in range(ns):
                    o = b0[s] * v + z[s, 0]
                    p = b0[s] * w + z[s, 1]
                    z[s, 0] = b1[s] * v - a1[s] * o + z[s, 2]
                    z[s, 1] = b1[s] * w - a1[s] * p + z[s, 3]
                    z[s, 2] = b2[s] * v - a2[s] * o
                    z[s, 3] = b2[s] * w - a2[s] * p
                    v = o
                    w = p
                y[i, c] = v
                y[i, d] = w
            for s in range(ns):
                zi[s, 0, c] = z[s, 0]
                zi[s, 0, d] = z[s, 1]
                zi[s, 1, c] = z[s, 2]
                zi[s, 1, d] = z[s, 3]
        if n_ch % 2:
            y[:, n_ch - 1:] = _sosfilt_jit(sos, x[:, n_ch - 1:], zi[:, :, n_ch - 1:])
        return y


def sosfilt(sos: np.ndarray, x: np.ndarray, zi: np.ndarray):
    """``scipy.signal.sosfilt(sos, x, axis=0, zi=zi)`` for (n, channels) float64
    data with sections normalised to a0 = 1 (as scipy designs them): the same
    transposed direct-form II arithmetic, ~30 % faster as one compiled loop."""
    if not COMPILED or not np.all(sos[:, 3] == 1.0):
        from scipy import signal
        return signal.sosfilt(sos, x, axis=0, zi=zi)
    zi = np.array(zi, dtype=np.float64, order="C")
    n_ch = x.shape[1]
    fn = _sosfilt_wide_jit if n_ch >= 4 else _sosfilt_pairs_jit if n_ch >= 2 else _sosfilt_jit
    y = fn(np.ascontiguousarray(sos, dtype=np.float64), np.ascontiguousarray(x, dtype=np.float64), zi)
    return y, zi


def _comb_numpy(x, xh, yh, b, a):
    """:func:`comb_notch` in numpy: the recurrence has a lag of N samples, so
    each block of N samples is one vector step (same arithmetic per sample)."""
    n, n_hist = len(x), len(xh)
    ex = np.concatenate([xh, x])
    ey = np.concatenate([yh, np.empty_like(x)])
    for s in range(n_hist, n_hist + n, n_hist):
        e = min(s + n_hist, n_hist + n)
        ey[s:e] = b * (ex[s:e] - ex[s - n_hist:e - n_hist]) + a * ey[s - n_hist:e - n_hist]
    return ey[n_hist:]


if numba is not None:
    @numba.njit(cache=True, nogil=True)
    def _comb_jit(x, xh, yh, b, a):  # pragma: no cover - compiled
        n, n_ch = x.shape
        n_hist = xh.shape[0]
        y = np.empty_like(x)
        for c in range(n_ch):
            for i in range(n):
                if i < n_hist:
                    xo = xh[i, c]
                    yo = yh[i, c]
                else:
                    xo = x[i - n_hist, c]
                    yo = y[i - n_hist, c]
                y[i, c] = b * (x[i, c] - xo) + a * yo
        return y


def comb_notch(x: np.ndarray, xh: np.ndarray, yh: np.ndarray, b: float, a: float):
    """The comb notch ``y[n] = b (x[n] - x[n-N]) + a y[n-N]`` of (n, channels)
    float64 data (``scipy.signal.lfilter`` of ``iircomb``'s notch), with ``xh``,
    ``yh`` the last N inputs and outputs before ``x`` (oldest first). Returns
    ``(y, xh, yh)``, the histories moved on by ``x``: a chunked run equals a
    one-shot run, bit for bit."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    if not COMPILED:
        y = _comb_numpy(x, xh, yh, b, a)
    else:
        y = _comb_jit(x, np.ascontiguousarray(xh), np.ascontiguousarray(yh), float(b), float(a))
    n, n_hist = len(x), len(xh)
    if n >= n_hist:
        return y, x[n - n_hist:].copy(), y[n - n_hist:].copy()
    return y, np.concatenate([xh[n:], x]), np.concatenate([yh[n:], y])


def _baseline_py(rms, base, a_down, a_up, learn, floor):
    ratios = np.empty(len(rms))
    for i in range(len(rms)):
        r = rms[i]
        ratio = r / base
        ratios[i] = ratio
        if r > 0 and ratio < learn:
            alpha = a_down if ratio < 1.0 else a_up
            base = max(floor, base * np.exp(alpha * np.log(ratio)))
    return ratios, base


if numba is not None:
    _baseline_jit = numba.njit(cache=True, nogil=True)(_baseline_py)


def track_baseline(rms: np.ndarray, base: float, a_down: float, a_up: float, learn: float,
                   floor: float):
    """Online log-domain baseline of one channel's window RMS.

    For each window, its ratio to the baseline *before* it is returned; then
    a window below ``learn`` x baseline pulls the baseline toward itself
    (``a_down`` toward quieter, ``a_up`` toward louder). Returns (ratios,
    final baseline)."""
    fn = _baseline_py if not COMPILED else _baseline_jit
    return fn(np.ascontiguousarray(rms, dtype=np.float64), float(base), float(a_down), float(a_up),
              float(learn), float(floor))


#: Row order of the array returned by :func:`quality_stats`.
QUALITY_FIELDS = ("hi", "lo", "frac_hi", "frac_lo", "run_hi", "run_lo", "slow_rms", "fast_rms", "peak",
                  "mains50", "mains60", "probe40")
#: Frequencies whose spectral amplitude :func:`quality_stats` measures: the two
#: mains frequencies, and 40 Hz, where no mains line falls, for comparison.
MAINS_HZ = (50.0, 60.0, 40.0)


def mains_table(n_len: int, fs: float) -> np.ndarray:
    """(6, n_len) Hann-windowed cos/sin at :data:`MAINS_HZ`, scaled so that the
    magnitude of a window's projection is a sinusoid's amplitude at that frequency."""
    i = np.arange(n_len)
    w = np.hanning(n_len + 2)[1:-1]            # no zero end points (short windows at 200 Hz)
    g = w.sum() / 2.0
    rows = []
    for f in MAINS_HZ:
        rows += [w * np.cos(2 * np.pi * f * i / fs) / g, w * np.sin(2 * np.pi * f * i / fs) / g]
    return np.array(rows)


def _max_run(mask: np.ndarray) -> np.ndarray:
    """Longest run of True along the last axis."""
    n = mask.shape[-1]
    flat = mask.reshape(-1, n)
    out = np.zeros(len(flat))
    for i, row in enumerate(flat):
        if row.any():
            d = np.diff(np.concatenate([[0], row.astype(np.int8), [0]]))
            out[i] = (np.flatnonzero(d == -1) - np.flatnonzero(d == 1)).max()
    return out.reshape(mask.shape[:-1])


def quality_stats_numpy(x: np.ndarray, mains: np.ndarray) -> np.ndarray:
    """Per-window raw-signal statistics for the quality detector.

    ``x`` is (n_windows, n_channels, n_len); ``mains`` is :func:`mains_table`.
    Returns (len(QUALITY_FIELDS), n_windows, n_channels): extremes, the
    fraction of samples at each extreme and its longest run, the integrated
    (< 20 Hz-weighted) RMS of the mean-removed signal, the differentiated RMS,
    the peak |x|, and the spectral amplitude at 50, 60 and 40 Hz. The two
    RMS values are in "samples" units; the caller scales them by fs."""
    hi, lo = x.max(axis=-1), x.min(axis=-1)
    at_hi, at_lo = x == hi[..., None], x == lo[..., None]
    ac = x - x.mean(axis=-1, keepdims=True)
    slow = np.sqrt((ac.cumsum(axis=-1) ** 2).mean(axis=-1))
    fast = np.sqrt((np.diff(x, axis=-1) ** 2).mean(axis=-1))
    proj = ac @ mains.T
    lines = [np.hypot(proj[..., 2 * f], proj[..., 2 * f + 1]) for f in range(mains.shape[0] // 2)]
    return np.stack([hi, lo, at_hi.mean(axis=-1), at_lo.mean(axis=-1), _max_run(at_hi), _max_run(at_lo),
                     slow, fast, np.maximum(np.abs(hi), np.abs(lo)), *lines])


if numba is not None:
    @numba.njit(cache=True, nogil=True)
    def _quality_jit(seg, n_len, n_win, tab):  # pragma: no cover - compiled
        n_ch = seg.shape[1]
        n_f = tab.shape[0] // 2                  # frequencies: a cos and a sin row each
        out = np.zeros((9 + n_f, n_win, n_ch))
        proj = np.empty(2 * n_f)
        for c in range(n_ch):
            for w in range(n_win):
                o = w * n_len
                hi = lo = seg[o, c]
                tot = 0.0
                for i in range(n_len):
                    v = seg[o + i, c]
                    tot += v
                    if v > hi:
                        hi = v
                    if v < lo:
                        lo = v
                mean = tot / n_len
                n_hi = n_lo = r_hi = r_lo = m_hi = m_lo = 0
                cum = ss = dd = 0.0
                proj[:] = 0.0
                prev = seg[o, c]
                for i in range(n_len):
                    v = seg[o + i, c]
                    if v == hi:
                        n_hi += 1
                        r_hi += 1
                        m_hi = max(m_hi, r_hi)
                    else:
                        r_hi = 0
                    if v == lo:
                        n_lo += 1
                        r_lo += 1
                        m_lo = max(m_lo, r_lo)
                    else:
                        r_lo = 0
                    a = v - mean
                    cum += a
                    ss += cum * cum
                    for f in range(2 * n_f):
                        proj[f] += a * tab[f, i]
                    d = v - prev
                    dd += d * d
                    prev = v
                out[0, w, c] = hi
                out[1, w, c] = lo
                out[2, w, c] = n_hi / n_len
                out[3, w, c] = n_lo / n_len
                out[4, w, c] = m_hi
                out[5, w, c] = m_lo
                out[6, w, c] = np.sqrt(ss / n_len)
                out[7, w, c] = np.sqrt(dd / (n_len - 1))
                out[8, w, c] = max(abs(hi), abs(lo))
                for f in range(n_f):
                    out[9 + f, w, c] = np.sqrt(proj[2 * f] ** 2 + proj[2 * f + 1] ** 2)
        return out


if numba is not None:
    @numba.njit(cache=True, nogil=True)
    def _quality3_jit(seg, n_len, n_win, tab):  # pragma: no cover - compiled
        # _quality_jit for the three frequencies of MAINS_HZ, with the six projections
        # in registers (the same sums in the same order: the same values bit for bit,
        # ~2x faster than the array of accumulators, which goes through memory)
        n_ch = seg.shape[1]
        out = np.zeros((12, n_win, n_ch))
        for c in range(n_ch):
            for w in range(n_win):
                o = w * n_len
                hi = lo = seg[o, c]
                tot = 0.0
                for i in range(n_len):
                    v = seg[o + i, c]
                    tot += v
                    if v > hi:
                        hi = v
                    if v < lo:
                        lo = v
                mean = tot / n_len
                n_hi = n_lo = r_hi = r_lo = m_hi = m_lo = 0
                cum = ss = dd = 0.0
                p0 = p1 = p2 = p3 = p4 = p5 = 0.0
                prev = seg[o, c]
                for i in range(n_len):
                    v = seg[o + i, c]
                    if v == hi:
                        n_hi += 1
                        r_hi += 1
                        m_hi = max(m_hi, r_hi)
                    else:
                        r_hi = 0
                    if v == lo:
                        n_lo += 1
                        r_lo += 1
                        m_lo = max(m_lo, r_lo)
                    else:
                        r_lo = 0
                    a = v - mean
                    cum += a
                    ss += cum * cum
                    p0 += a * tab[0, i]
                    p1 += a * tab[1, i]
                    p2 += a * tab[2, i]
                    p3 += a * tab[3, i]
                    p4 += a * tab[4, i]
                    p5 += a * tab[5, i]
                    d = v - prev
                    dd += d * d
                    prev = v
                out[0, w, c] = hi
                out[1, w, c] = lo
                out[2, w, c] = n_hi / n_len
                out[3, w, c] = n_lo / n_len
                out[4, w, c] = m_hi
                out[5, w, c] = m_lo
                out[6, w, c] = np.sqrt(ss / n_len)
                out[7, w, c] = np.sqrt(dd / (n_len - 1))
                out[8, w, c] = max(abs(hi), abs(lo))
                out[9, w, c] = np.sqrt(p0 ** 2 + p1 ** 2)
                out[10, w, c] = np.sqrt(p2 ** 2 + p3 ** 2)
                out[11, w, c] = np.sqrt(p4 ** 2 + p5 ** 2)
        return out


def quality_stats(seg: np.ndarray, n_len: int, n_win: int, mains: np.ndarray) -> np.ndarray:
    """:func:`quality_stats_numpy` of the ``n_win`` consecutive, non-overlapping
    ``n_len``-sample windows at the start of ``seg`` (n, channels), in one
    compiled pass when numba is available."""
    if not COMPILED:
        x = seg[:n_win * n_len].reshape(n_win, n_len, seg.shape[1]).transpose(0, 2, 1)
        return quality_stats_numpy(x, mains)
    fn = _quality3_jit if mains.shape[0] == 6 else _quality_jit
    return fn(np.ascontiguousarray(seg, dtype=np.float64), int(n_len), int(n_win),
              np.ascontiguousarray(mains, dtype=np.float64))


#: Row order of :func:`potentials`: the count of potentials, the first and
#: last one's rising edge (samples from the window start), the largest peak
#: |x| (within ``dead`` samples of its edge) and that potential's edge.
POTENTIAL_FIELDS = ("n", "first", "last", "peak", "peak_at")
#: An edge within 3 dead times of a potential and below this fraction of its
#: peak is that potential's after-phase (e.g. the high-pass filter's overshoot).
TAIL_FRAC = 0.35


def _potentials_py(ax, starts, thr, n_len, n_new, dead):
    n_win, n_ch = thr.shape
    out = np.full((6, n_win, n_ch), np.nan)
    out[0] = 0.0
    a_off = n_len - n_new
    for c in range(n_ch):
        for w in range(n_win):
            s = int(starts[w])
            seg = ax[s:s + n_len, c]
            above = seg > thr[w, c]
            edges = np.flatnonzero(above & ~np.concatenate(([False], above[:-1])))
            out[5, w, c] = len(edges)
            last, last_pk = -4 * dead - 1, 0.0
            for j in edges:
                if j - last <= dead:
                    continue
                pk = seg[j:j + dead + 1].max()
                if j - last <= 3 * dead and pk < TAIL_FRAC * last_pk:
                    continue
                last, last_pk = j, pk
                if j >= a_off:
                    if out[0, w, c] == 0:
                        out[1, w, c] = j
                    out[0, w, c] += 1
                    out[2, w, c] = j
                    if not pk <= out[3, w, c]:
                        out[3, w, c], out[4, w, c] = pk, j
    return out


if numba is not None:
    @numba.njit(cache=True, nogil=True)
    def _potentials_jit(ax, starts, thr, n_len, n_new, dead):  # pragma: no cover - compiled
        n_win, n_ch = thr.shape
        out = np.full((6, n_win, n_ch), np.nan)
        a_off = n_len - n_new
        for c in range(n_ch):
            for w in range(n_win):
                s = starts[w]
                t = thr[w, c]
                prev = False
                last = -4 * dead - 1
                last_pk = 0.0
                cnt = 0
                best = -1.0
                n_edges = 0
                for j in range(n_len):
                    a = ax[s + j, c] > t
                    if a and not prev:
                        n_edges += 1
                        if j - last > dead:
                            pk = 0.0
                            for q in range(j, min(j + dead + 1, n_len)):
                                if ax[s + q, c] > pk:
                                    pk = ax[s + q, c]
                            if j - last > 3 * dead or pk >= TAIL_FRAC * last_pk:   # not an after-phase
                                last = j
                                last_pk = pk
                                if j >= a_off:
                                    if cnt == 0:
                                        out[1, w, c] = j
                                    cnt += 1
                                    out[2, w, c] = j
                                    if pk > best:
                                        best = pk
                                        out[3, w, c] = pk
                                        out[4, w, c] = j
                    prev = a
                out[0, w, c] = cnt
                out[5, w, c] = n_edges
        return out


def potentials(ax, starts, thr, n_len, n_new, dead):
    """Isolated potentials in the newest ``n_new`` samples of each window.

    Window ``w`` is ``ax[starts[w] : starts[w] + n_len]`` (``ax`` = |signal|,
    (n, n_ch)). A potential is a rising edge of ``ax > thr[w]`` at least
    ``dead`` samples after the previous one counted (so the phases of one
    polyphasic potential count once), and not a small after-phase of it
    (within ``3 * dead`` and below :data:`TAIL_FRAC` of its peak); its peak is
    the largest ``ax`` from the edge to ``dead`` samples after it (within the window). Scanning starts at
    the window start, so every window gives the same answer whatever the
    chunking. Only edges in the newest ``n_new`` samples are reported: with
    ``n_new`` = the hop, each potential is reported by exactly one window.
    Returns (6, n_win, n_ch): :data:`POTENTIAL_FIELDS`, then the number of
    rising edges in the whole window (what :func:`spike_counts` counts); the
    positions and peak are NaN when there is no potential.
    """
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    if not COMPILED:
        return _potentials_py(ax, starts, thr, n_len, n_new, dead)
    return _potentials_jit(np.ascontiguousarray(ax, dtype=np.float64), starts,
                           np.ascontiguousarray(thr, dtype=np.float64), int(n_len), int(n_new), int(dead))


def _pop_candidates_numpy(x, lo, hi, n_pre, min_uv, k):
    d = np.diff(x, axis=0)                     # d[i] = x[i+1] - x[i]: edge at i+1
    a = np.abs(d[lo - 1:hi - 1])
    c = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(np.abs(d), axis=0)])
    e = np.arange(lo, hi)
    noise = (c[e - 1] - c[e - n_pre]) / (n_pre - 1)
    j, ch = np.nonzero((a >= min_uv) & (a >= k * noise))
    return np.stack([e[j], ch], axis=1)


if numba is not None:
    @numba.njit(cache=True, nogil=True)
    def _pop_candidates_jit(x, lo, hi, n_pre, min_uv, k):  # pragma: no cover - compiled
        n, n_ch = x.shape
        c = np.zeros((n, n_ch))                # c[j] = sum of |x[t+1] - x[t]| for t < j
        for j in range(1, n):
            for ch in range(n_ch):
                c[j, ch] = c[j - 1, ch] + abs(x[j, ch] - x[j - 1, ch])
        out = np.empty((max(hi - lo, 0) * n_ch, 2), dtype=np.int64)
        m = 0
        for i in range(lo, hi):
            for ch in range(n_ch):
                a = abs(x[i, ch] - x[i - 1, ch])
                if a >= min_uv and a >= k * ((c[i - 1, ch] - c[i - n_pre, ch]) / (n_pre - 1)):
                    out[m, 0] = i
                    out[m, 1] = ch
                    m += 1
        return out[:m]


def pop_candidates(x: np.ndarray, lo: int, hi: int, n_pre: int, min_uv: float, k: float) -> np.ndarray:
    """Candidate electrode-pop edges of :class:`emgpipe.detect.pops.PopScanner`:
    (m, 2) rows ``(i, channel)``, in order of ``i`` then channel, for the edges
    ``lo <= i < hi`` whose change ``|x[i] - x[i-1]|`` is at least ``min_uv``
    and ``k`` x the mean change over the ``n_pre - 1`` changes before it (that
    mean taken, as the numpy version does, as a difference of one running sum
    from ``x[0]``, so both give the same candidates bit for bit)."""
    if not COMPILED:
        return _pop_candidates_numpy(x, lo, hi, n_pre, min_uv, k)
    return _pop_candidates_jit(np.ascontiguousarray(x, dtype=np.float64), int(lo), int(hi), int(n_pre),
                               float(min_uv), float(k))


def _ac_judge(col, i, r, need, noise, n_pre, n_lobe, span, flat):
    """The AC test of :class:`emgpipe.detect.pops.PopScanner` on the edge ``i``
    of one channel's samples ``col`` (level before it ``r``, the swing a pop
    needs ``need``, the mean change before it ``noise``): True for a pop.
    Plain float operations in a fixed order (the compiled kernel repeats them)."""
    lo_p, hi_p = col[i - n_pre], col[i - n_pre]
    far = 0.0
    for t in range(i - n_pre, i):
        v = col[t]
        lo_p, hi_p = min(lo_p, v), max(hi_p, v)
        far = max(far, abs(v - r))
    if hi_p - lo_p < flat or abs(r) >= need or far >= 0.5 * need:
        return False
    sg = 1.0 if col[i] - r > 0 else -1.0
    e_len = n_lobe
    a_edge, top_edge = 0.0, 0.0
    for t in range(n_lobe):
        v = (col[i + t] - r) * sg
        if v <= 0:
            e_len = t
            break
        a_edge += v
        top_edge = max(top_edge, v)
    if e_len >= n_lobe:
        return False
    o_end = e_len + span
    a_opp, low = 0.0, 0.0
    for t in range(e_len, e_len + span):
        v = (col[i + t] - r) * sg
        if v >= 0:
            o_end = t
            break
        a_opp -= v
        low = min(low, v)
    if o_end - e_len < n_lobe or a_opp < a_edge or top_edge - low < need:
        return False
    # over its first n_lobe samples the lobe is one broad hump: its mean is half
    # its extreme at least (a 2nd-order high-pass's step response: 0.68 at 20 Hz,
    # 0.78 at 10 Hz; a potential's later phase is a few ms, then noise) ...
    top, m_top = 0, -(col[i + e_len] - r) * sg
    total = m_top
    for u in range(1, n_lobe):
        m = -(col[i + e_len + u] - r) * sg
        total += m
        if m > m_top:
            top, m_top = u, m
    if top >= n_lobe - 1 or total < 0.5 * m_top * n_lobe:
        return False
    # ... which only decays after its extreme
    prev = m_top
    for u in range(top + 1, n_lobe):
        m = -(col[i + e_len + u] - r) * sg
        if m - prev > noise:
            return False
        prev = m
    return True


def _ac_pops_numpy(x, lo, hi, n_pre, n_lobe, span, min_uv, k, flat):
    e = np.arange(lo - 1, hi)
    # running sums from x[0] of the samples and of their absolute changes (as the kernel's)
    c = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
    ca = np.concatenate([np.zeros((2, x.shape[1])), np.cumsum(np.abs(np.diff(x, axis=0)), axis=0)])
    ref = (c[e] - c[e - n_pre]) / n_pre
    noise = (ca[e] - ca[e - n_pre + 1]) / (n_pre - 1)
    need = np.maximum(min_uv, k * noise)
    big = np.abs(x[e] - ref) >= 0.5 * need
    j, ch = np.nonzero(big[1:] & ~big[:-1])         # the first sample of an excursion
    out = [(int(e[jj + 1]), int(cc)) for jj, cc in zip(j, ch)
           if _ac_judge(x[:, cc], int(e[jj + 1]), float(ref[jj + 1, cc]), float(need[jj + 1, cc]),
                        float(noise[jj + 1, cc]), n_pre, n_lobe, span, flat)]
    return np.array(out, dtype=np.int64).reshape(-1, 2)


if numba is not None:
    _ac_judge_jit = numba.njit(cache=True, nogil=True)(_ac_judge)

    @numba.njit(cache=True, nogil=True)
    def _ac_pops_jit(x, lo, hi, n_pre, n_lobe, span, min_uv, k, flat):  # pragma: no cover - compiled
        # c, ca: running sums from x[0] of the samples and of their absolute
        # changes, as the numpy version's cumsum gives them (one pass)
        n, n_ch = x.shape
        c = np.zeros((n + 1, n_ch))
        ca = np.zeros((n + 1, n_ch))
        for ch in range(n_ch):
            c[1, ch] = x[0, ch]
        for j in range(2, n + 1):
            for ch in range(n_ch):
                c[j, ch] = c[j - 1, ch] + x[j - 1, ch]
                ca[j, ch] = ca[j - 1, ch] + abs(x[j - 1, ch] - x[j - 2, ch])
        out = np.empty((max(hi - lo, 0) * n_ch, 2), dtype=np.int64)
        m = 0
        was = np.zeros(n_ch, dtype=np.bool_)
        for i in range(lo - 1, hi):
            for ch in range(n_ch):
                ref = (c[i, ch] - c[i - n_pre, ch]) / n_pre
                big = abs(x[i, ch] - ref) >= 0.5 * min_uv      # (need is min_uv at least)
                if big:
                    noise = (ca[i, ch] - ca[i - n_pre + 1, ch]) / (n_pre - 1)
                    need = max(min_uv, k * noise)
                    big = abs(x[i, ch] - ref) >= 0.5 * need
                    if big and not was[ch] and i >= lo \
                            and _ac_judge_jit(x[:, ch], i, ref, need, noise, n_pre, n_lobe, span, flat):
                        out[m, 0] = i
                        out[m, 1] = ch
                        m += 1
                was[ch] = big
        return out[:m]


def ac_pops(x: np.ndarray, lo: int, hi: int, n_pre: int, n_lobe: int, span: int, min_uv: float,
            k: float, flat: float) -> np.ndarray:
    """Electrode pops behind an AC-coupled front end (the AC test of
    :class:`emgpipe.detect.pops.PopScanner`): (m, 2) rows ``(i, channel)`` in
    order of ``i`` then channel, for edges ``lo <= i < hi`` (``x`` holds
    ``n_pre + 1`` samples before ``lo`` and ``n_lobe + span`` after ``hi``). An
    edge is the first sample of an excursion of half the swing a pop needs from
    the mean of the ``n_pre`` samples before it; :func:`_ac_judge` tests it.
    The compiled and the numpy versions give the same rows."""
    if not COMPILED:
        return _ac_pops_numpy(x, lo, hi, n_pre, n_lobe, span, min_uv, k, flat)
    return _ac_pops_jit(np.ascontiguousarray(x, dtype=np.float64), int(lo), int(hi), int(n_pre), int(n_lobe),
                        int(span), float(min_uv), float(k), float(flat))


# ---------------------------------------------------------------------- the detector's per-window state
# The cramp detector's per-batch work on its (windows x channels) features: a few
# operations per window and channel, which as numpy calls per channel cost more
# than the arithmetic (a live chunk completes one window: issue 15). Each kernel
# does the same float operations, in the same order, as its numpy reference.

#: the one-channel recursion the all-channel pass calls (compiled where numba is)
_baseline_one = _baseline_py if numba is None else _baseline_jit


def _baselines_py(rms, base0, i0, a_down, a_up, learn, floor):
    n_win, n_ch = rms.shape
    ratios = np.ones((n_win, n_ch))
    bases = np.full((n_win, n_ch), np.nan)
    final = base0.copy()
    for c in range(n_ch):
        if i0[c] >= n_win:
            continue
        r, b = _baseline_one(rms[i0[c]:, c], base0[c], a_down, a_up, learn, floor)
        final[c] = b
        for i in range(i0[c], n_win):
            ratio = r[i - i0[c]]
            ratios[i, c] = ratio
            bases[i, c] = rms[i, c] / ratio if ratio > 0 else base0[c]
    return ratios, bases, final


def _max_before_py(hist, new):
    n, n_ch = hist.shape
    n_win = new.shape[0]
    h = np.concatenate((hist, np.where(np.isnan(new), 0.0, new)))
    before = np.zeros((n_win, n_ch))
    for j in range(n):
        np.maximum(before, h[j:j + n_win], out=before)
    return before, h[len(h) - n:].copy()


def _moving_sums_py(hist, new):
    m, n_ch = hist.shape
    h = np.concatenate((hist, new))
    c = np.concatenate((np.zeros((1, n_ch)), np.cumsum(h, axis=0)))
    return c[m + 1:] - c[:len(c) - m - 1], h[len(h) - m:].copy()


if numba is not None:
    _baselines_jit = numba.njit(cache=True, nogil=True)(_baselines_py)

    @numba.njit(cache=True, nogil=True)
    def _after_hist(hist, new, nan_zero):  # pragma: no cover - compiled
        """``hist`` then ``new`` (NaN as 0 if ``nan_zero``), one array."""
        m = hist.shape[0]
        h = np.empty((m + new.shape[0], hist.shape[1]))
        h[:m] = hist
        for i in range(new.shape[0]):
            for c in range(new.shape[1]):
                v = new[i, c]
                h[m + i, c] = 0.0 if nan_zero and np.isnan(v) else v
        return h

    @numba.njit(cache=True, nogil=True)
    def _max_before_jit(hist, new):  # pragma: no cover - compiled
        n, n_ch = hist.shape
        n_win = new.shape[0]
        h = _after_hist(hist, new, True)
        before = np.zeros((n_win, n_ch))
        for i in range(n_win):
            for c in range(n_ch):
                b = 0.0
                for j in range(n):
                    v = h[i + j, c]
                    if v > b:
                        b = v
                before[i, c] = b
        return before, h[n_win:].copy()

    @numba.njit(cache=True, nogil=True)
    def _moving_sums_jit(hist, new):  # pragma: no cover - compiled
        m, n_ch = hist.shape
        n_win = new.shape[0]
        h = _after_hist(hist, new, False)
        c = np.zeros((m + n_win + 1, n_ch))         # c[j + 1] = cumsum(h)[j], summed in order
        for c_ in range(n_ch):
            acc = h[0, c_]
            c[1, c_] = acc
            for j in range(1, m + n_win):
                acc = acc + h[j, c_]
                c[j + 1, c_] = acc
        out = np.empty((n_win, n_ch))
        for i in range(n_win):
            for c_ in range(n_ch):
                out[i, c_] = c[i + m + 1, c_] - c[i, c_]
        return out, h[n_win:].copy()


def track_baselines(rms: np.ndarray, base0: np.ndarray, i0: np.ndarray, a_down: float, a_up: float,
                    learn: float, floor: float):
    """:func:`track_baseline` of every channel ``c`` of ``rms`` (windows x
    channels) from window ``i0[c]`` on (``>= n_win``: not tracked), starting from
    ``base0[c]``. Returns (ratios: 1 where not tracked, the baseline of each
    window, ``rms / ratio`` or the batch's first baseline where the ratio is not
    positive, NaN where not tracked, the final baselines)."""
    fn = _baselines_py if not COMPILED else _baselines_jit
    return fn(np.ascontiguousarray(rms, dtype=np.float64), np.ascontiguousarray(base0, dtype=np.float64),
              np.ascontiguousarray(i0, dtype=np.int64), float(a_down), float(a_up), float(learn),
              float(floor))


def max_before(hist: np.ndarray, new: np.ndarray):
    """Per window ``i`` and channel: the largest of 0 and the ``n = len(hist)``
    values before it, in ``hist`` (the last ``n`` of the batches before) then
    ``new`` (NaN read as 0). Returns (that, the last ``n`` values for the next batch)."""
    if not COMPILED or len(hist) == 0:
        return _max_before_py(hist, new)
    return _max_before_jit(np.ascontiguousarray(hist, dtype=np.float64),
                           np.ascontiguousarray(new, dtype=np.float64))


def moving_sums(hist: np.ndarray, new: np.ndarray):
    """Per window ``i`` and channel: the sum of ``new[i]`` and the ``m =
    len(hist)`` values before it, taken as numpy's ``c[i + m + 1] - c[i]`` of
    one running sum ``c`` from the start of ``hist`` (bit for bit). Returns
    (the sums, the last ``m`` values for the next batch)."""
    if not COMPILED or len(new) == 0:
        return _moving_sums_py(hist, new)
    return _moving_sums_jit(np.ascontiguousarray(hist, dtype=np.float64),
                            np.ascontiguousarray(new, dtype=np.float64))


# ---------------------------------------------------------------------- built ahead of time
#: The kernels the wrappers above call, with their arguments as the wrappers
#: pass them (C-contiguous arrays): ``emgpipe/_aot_build.py`` compiles each
#: into emgpipe._aot, and where that module is current they run from it
#: (emgpipe/_compiled.py). Each is the numba function above, unchanged.
AOT_KERNELS = {
    "_block_sums_jit": "f8[:,::1], i8, i8, f8, f8, b1",
    "_spike_counts_jit": "f8[:,::1], f8[:,::1], i8, i8",
    "_window_jit": "f8[:,::1], f8[:,:,::1], f8[:,:,::1], f8[::1], i8, i8, i8, f8, f8",
    "_sosfilt_jit": "f8[:,::1], f8[:,::1], f8[:,:,::1]",
    "_sosfilt_pairs_jit": "f8[:,::1], f8[:,::1], f8[:,:,::1]",
    "_sosfilt_wide_jit": "f8[:,::1], f8[:,::1], f8[:,:,::1]",
    "_comb_jit": "f8[:,::1], f8[:,::1], f8[:,::1], f8, f8",
    "_baseline_jit": "f8[::1], f8, f8, f8, f8, f8",
    "_quality_jit": "f8[:,::1], i8, i8, f8[:,::1]",
    "_quality3_jit": "f8[:,::1], i8, i8, f8[:,::1]",
    "_potentials_jit": "f8[:,::1], i8[::1], f8[:,::1], i8, i8, i8",
    "_pop_candidates_jit": "f8[:,::1], i8, i8, i8, f8, f8",
    "_ac_pops_jit": "f8[:,::1], i8, i8, i8, i8, i8, f8, f8, f8",
    "_baselines_jit": "f8[:,::1], f8[::1], i8[::1], f8, f8, f8, f8",
    "_max_before_jit": "f8[:,::1], f8[:,::1]",
    "_moving_sums_jit": "f8[:,::1], f8[:,::1]",
}
if aot is not None:
    bind(globals(), AOT_KERNELS)
