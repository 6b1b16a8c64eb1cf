"""The compiled kernels agree with their numpy / scipy references."""
import numpy as np
import pytest
from scipy import signal

from emgpipe.dsp import _kernels as K

pytestmark = pytest.mark.skipif(K.numba is None, reason="numba not installed: only the numpy path exists")


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
    ref = K.quality_stats_numpy(x[:n_win * n_len].reshape(n_win, n_len, 3).transpose(0, 2, 1))
    got = K.quality_stats(x, n_len, n_win)
    assert got.shape == (len(K.QUALITY_FIELDS), n_win, 3)
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9)
    assert got[K.QUALITY_FIELDS.index("run_hi")].max() == n_len   # the rail fills whole windows


def test_sosfilt_matches_scipy_and_carries_state():
    sos = np.vstack([signal.butter(2, [20, 450], "bandpass", fs=1000, output="sos"),
                     signal.tf2sos(*signal.iirnotch(50, 30, fs=1000))])
    x = _emg()
    zi = np.zeros((len(sos), 2, 3))
    ref, _ = signal.sosfilt(sos, x, axis=0, zi=zi)
    y1, z = K.sosfilt(sos, x[:1234], zi)
    y2, _ = K.sosfilt(sos, x[1234:], z)
    np.testing.assert_allclose(np.vstack([y1, y2]), ref, rtol=1e-10, atol=1e-9)
