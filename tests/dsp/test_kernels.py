"""The compiled kernels agree with their numpy / scipy references."""
import numpy as np
import pytest
from scipy import signal

from emgpipe.dsp import _kernels as K

pytestmark = pytest.mark.skipif(not K.COMPILED, reason="numba not installed: only the numpy path exists")


def _emg(n=4000, n_ch=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 5, (n, n_ch))
    x[1000:1400, 0] = 50.0       # a rail
    x[2000:2600, 1] = -3.0       # a flat line
    x[3000:3100, 2] += np.linspace(0, 900, 100)   # a step
    return x


def test_block_sums_match_numpy():
    x = _emg()
    got = K.block_sums(x, 25, 150, 0.5, 0.1)
    ref = K.block_sums_numpy(x, 25, 150, 0.5, 0.1)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-8)


def test_spike_counts_match_numpy():
    ax = np.abs(_emg())
    n_win = (len(ax) - 100) // 50 + 1
    thr = np.full((n_win, 3), 12.0)
    thr[::3] = 20.0
    got = K.spike_counts(ax, thr, 100, 50)
    np.testing.assert_array_equal(got, K.spike_counts_numpy(ax, thr, 100, 50))
    assert got.sum() > 0


@pytest.mark.parametrize("n_len", [50, 63, 250])
def test_quality_stats_match_numpy(n_len):
    x = _emg()
    n_win = len(x) // n_len
    tab = K.mains_table(n_len, 1000.0)
    ref = K.quality_stats_numpy(x[:n_win * n_len].reshape(n_win, n_len, 3).transpose(0, 2, 1), tab)
    got = K.quality_stats(x, n_len, n_win, tab)
    assert got.shape == (len(K.QUALITY_FIELDS), n_win, 3)
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9)
    assert got[K.QUALITY_FIELDS.index("run_hi")].max() == n_len   # the rail fills whole windows


@pytest.mark.parametrize("fs", [200.0, 250.0, 1000.0, 4000.0])
def test_quality_stats_measure_the_mains_line_amplitude(fs):
    n_len = int(0.25 * fs)
    t = np.arange(int(10 * fs)) / fs
    rng = np.random.default_rng(1)
    x = np.c_[rng.normal(0, 10, len(t)) + 300.0,                           # EMG-like noise on a DC offset
              rng.normal(0, 10, len(t)) + 80.0 * np.sin(2 * np.pi * 50 * t + 0.3),
              rng.normal(0, 10, len(t)) + 40.0 * np.sin(2 * np.pi * 60 * t) + 5e3 * t / t[-1]]  # + drift
    n_win = len(t) // n_len
    st = K.quality_stats(x, n_len, n_win, K.mains_table(n_len, fs))
    m50, m60 = st[K.QUALITY_FIELDS.index("mains50")], st[K.QUALITY_FIELDS.index("mains60")]
    assert np.median(m50[:, 0]) < 6 and np.median(m60[:, 0]) < 6          # noise only: a few µV
    assert abs(np.median(m50[:, 1]) - 80) < 8 and np.median(m60[:, 1]) < 25
    assert abs(np.median(m60[:, 2]) - 40) < 6


def test_sosfilt_matches_scipy_and_carries_state():
    sos = np.vstack([signal.butter(2, [20, 450], "bandpass", fs=1000, output="sos"),
                     signal.tf2sos(*signal.iirnotch(50, 30, fs=1000))])
    x = _emg()
    zi = np.zeros((len(sos), 2, 3))
    ref, _ = signal.sosfilt(sos, x, axis=0, zi=zi)
    y1, z = K.sosfilt(sos, x[:1234], zi)
    y2, _ = K.sosfilt(sos, x[1234:], z)
    np.testing.assert_allclose(np.vstack([y1, y2]), ref, rtol=1e-10, atol=1e-9)


def _potential_train(fs=1000.0, seed=3):
    """Noise (sigma 3) with biphasic 60 µV potentials at known times (s)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 3, (int(10 * fs), 2))
    times = [0.4, 1.3, 1.33, 2.9, 4.0, 6.126, 8.5]      # 1.3/1.33: a doublet; 6.126: at a hop edge
    t = np.arange(int(0.012 * fs)) / fs
    shape = 60.0 * np.sin(2 * np.pi * t / t[-1])           # one positive and one negative phase
    for tt in times:
        i = int(round(tt * fs))
        x[i:i + len(shape), 0] += shape
    return x, times


def test_potentials_match_python_and_each_is_reported_once():
    fs = 1000.0
    x, times = _potential_train(fs)
    n_len, n_hop = 250, 125
    n_win = (len(x) - n_len) // n_hop + 1
    thr = np.full((n_win, 2), 15.0)
    starts = np.arange(n_win) * n_hop
    got = K.potentials(np.abs(x), starts, thr, n_len, n_hop, 15)
    ref = K._potentials_py(np.abs(x), starts, thr, n_len, n_hop, 15)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(np.nan_to_num(got), np.nan_to_num(ref))
    n, first = got[0, :, 0], got[1, :, 0]
    assert n.sum() == len(times)                 # both phases count once; overlapping windows once
    assert got[0, :, 1].sum() == 0               # the noise-only channel
    edges = sorted((starts[w] + first[w]) / fs for w in np.flatnonzero(n == 1))
    pair = [w for w in np.flatnonzero(n == 2)]
    assert len(pair) == 1                        # the doublet 30 ms apart shares one window
    edges = sorted(edges + [(starts[pair[0]] + got[1, pair[0], 0]) / fs, (starts[pair[0]] + got[2, pair[0], 0]) / fs])
    np.testing.assert_allclose(edges, times, atol=0.004)
    peaks = got[3, :, 0][n > 0]
    assert np.all((peaks > 55) & (peaks < 75))


def test_potentials_count_every_edge_like_spike_counts():
    ax = np.abs(_emg())
    n_win = (len(ax) - 100) // 50 + 1
    thr = np.full((n_win, 3), 12.0)
    got = K.potentials(ax, np.arange(n_win) * 50, thr, 100, 50, 5)
    np.testing.assert_array_equal(got[5], K.spike_counts_numpy(ax, thr, 100, 50))
    np.testing.assert_array_equal(got[5], K._potentials_py(ax, np.arange(n_win) * 50, thr, 100, 50, 5)[5])


# --- the speed variants (issue 15 part 2) give the same values bit for bit ------------------

@pytest.mark.parametrize("n_len,fs", [(250, 1000.0), (62, 250.0), (50, 200.0)])
def test_quality_stats_three_lines_equal_the_general_kernel(n_len, fs):
    x = _emg(n_ch=3)
    x[5, 1] = np.nan                              # NaN handling (comparisons) alike too
    n_win = len(x) // n_len
    tab = K.mains_table(n_len, fs)
    np.testing.assert_array_equal(K._quality3_jit(x, n_len, n_win, tab),
                                  K._quality_jit(x, n_len, n_win, tab))


@pytest.mark.parametrize("n_ch", [1, 2, 3, 4, 8])
def test_sosfilt_wide_equals_channel_by_channel(n_ch):
    sos = np.vstack([signal.butter(2, [20, 112.5], "bandpass", fs=250, output="sos"),
                     signal.tf2sos(*signal.iirnotch(50, 25, fs=250))])
    x = np.random.default_rng(n_ch).normal(0, 20, (3000, n_ch))
    zi = np.random.default_rng(9).normal(0, 1, (len(sos), 2, n_ch))
    za, zb = zi.copy(), zi.copy()
    np.testing.assert_array_equal(K._sosfilt_wide_jit(sos, x, za), K._sosfilt_jit(sos, x, zb))
    np.testing.assert_array_equal(za, zb)


@pytest.mark.parametrize("n_ch", [1, 2, 3, 5])
def test_sosfilt_pairs_equals_channel_by_channel(n_ch):
    sos = np.vstack([signal.butter(2, [20, 450], "bandpass", fs=1000, output="sos"),
                     signal.tf2sos(*signal.iirnotch(50, 25, fs=1000))])
    x = np.random.default_rng(n_ch).normal(0, 20, (3000, n_ch))
    x[7, 0] = np.nan                                   # NaN runs through alike too
    zi = np.random.default_rng(9).normal(0, 1, (len(sos), 2, n_ch))
    za, zb = zi.copy(), zi.copy()
    np.testing.assert_array_equal(K._sosfilt_pairs_jit(sos, x, za), K._sosfilt_jit(sos, x, zb))
    np.testing.assert_array_equal(za, zb)


def test_pop_candidates_equal_numpy():
    rng = np.random.default_rng(4)
    for _ in range(100):
        n, n_ch = int(rng.integers(20, 2000)), int(rng.integers(1, 4))
        x = rng.normal(0, 5, (n, n_ch)) * np.where(rng.random((n, 1)) < 0.05, 40.0, 1.0)
        if rng.random() < 0.5:
            x = np.cumsum(x, axis=0)              # a large running sum: rounding alike too
        n_pre = int(rng.integers(2, 60))
        lo, hi = n_pre + int(rng.integers(0, 5)), n - int(rng.integers(3, 9))
        if hi <= lo:
            continue
        got = K.pop_candidates(x, lo, hi, n_pre, 60.0, 8.0)
        np.testing.assert_array_equal(got, K._pop_candidates_numpy(x, lo, hi, n_pre, 60.0, 8.0))


def test_ac_pops_equal_numpy():
    """The AC test of electrode pops (emgpipe.detect.pops): the compiled pass and the
    numpy reference find the same edges, on noise, bursts, high-passed steps
    (found) and offsets (a DC-coupled channel: none)."""
    from scipy import signal
    rng = np.random.default_rng(11)
    found = 0
    for trial in range(60):
        fs = float(rng.choice([200, 250, 1000]))
        n, n_ch = int(rng.integers(400, 4000)), int(rng.integers(1, 4))
        x = rng.normal(0, rng.uniform(2, 8), (n, n_ch)) * np.where(rng.random((n, 1)) < 0.05, 20.0, 1.0)
        steps = np.zeros((n, n_ch))
        for _ in range(int(rng.integers(0, 6))):
            i, c = int(rng.integers(20, n - 20)), int(rng.integers(n_ch))
            steps[i:, c] += rng.choice([-1, 1]) * rng.uniform(80, 400)
        x += signal.sosfilt(signal.butter(2, 20.0, "highpass", fs=fs, output="sos"), steps, axis=0)
        if trial % 5 == 0:
            x += 15000.0                                  # an electrode offset
        n_pre = max(2, int(round(0.05 * fs)))
        n_lobe = max(2, int(np.ceil(0.025 * fs)))
        lo, hi = n_pre + 1 + int(rng.integers(0, 5)), n - 3 * n_lobe - int(rng.integers(0, 9))
        if hi <= lo:
            continue
        got = K.ac_pops(x, lo, hi, n_pre, n_lobe, 2 * n_lobe, 60.0, 8.0, 1e-6)
        np.testing.assert_array_equal(got, K._ac_pops_numpy(x, lo, hi, n_pre, n_lobe, 2 * n_lobe, 60.0, 8.0, 1e-6))
        found += len(got)
    assert found > 20


def _levels(n_win=300, n_ch=3, seed=4):
    rng = np.random.default_rng(seed)
    x = rng.lognormal(1.0, 0.6, (n_win, n_ch))
    x[::17, 1] = np.nan
    x[5:40, 2] *= 30.0
    return x


@pytest.mark.parametrize("n_win", [1, 2, 7, 300])
def test_detector_history_kernels_match_numpy(n_win):
    """max_before and moving_sums (the detector's tonic test) equal their numpy
    references bit for bit, batch by batch with the history carried."""
    x = _levels()
    pk = np.where(np.arange(len(x))[:, None] % 3 == 0, np.nan, x)
    for n in (1, 2, 16):
        h1, h2 = np.zeros((n, 3)), np.zeros((n, 3))
        m1, m2 = np.zeros((n - 1, 3)), np.zeros((n - 1, 3))
        for a in range(0, len(x), n_win):
            b1, h1 = K.max_before(h1, pk[a:a + n_win])
            b2, h2 = K._max_before_py(h2, pk[a:a + n_win])
            np.testing.assert_array_equal(b1, b2)
            np.testing.assert_array_equal(h1, h2)
            s1, m1 = K.moving_sums(m1, np.nan_to_num(x[a:a + n_win]))
            s2, m2 = K._moving_sums_py(m2, np.nan_to_num(x[a:a + n_win]))
            np.testing.assert_array_equal(s1, s2)
            np.testing.assert_array_equal(m1, m2)


def test_track_baselines_match_one_channel_at_a_time():
    x = _levels()
    x[50, 0] = 0.0
    base0 = np.array([2.0, np.nan, 3.5])
    i0 = np.array([0, len(x), 10])
    r, b, final = K.track_baselines(x, base0, i0, 0.06, 0.002, 3.0, 0.5)
    ref = K._baselines_py(x, base0, i0, 0.06, 0.002, 3.0, 0.5)   # (numpy's exp and log: close)
    for got, want in zip((r, b, final), ref):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    for c in (0, 2):           # bit for bit what the detector ran channel by channel
        rr, fb = K.track_baseline(x[i0[c]:, c], base0[c], 0.06, 0.002, 3.0, 0.5)
        np.testing.assert_array_equal(r[i0[c]:, c], rr)
        bb = x[i0[c]:, c] / np.where(rr > 0, rr, np.inf)
        np.testing.assert_array_equal(b[i0[c]:, c], np.where(rr > 0, bb, base0[c]))
        assert final[c] == fb
    assert np.all(r[:, 1] == 1.0) and np.all(np.isnan(b[:, 1])) and np.isnan(final[1])
