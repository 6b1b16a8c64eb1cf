"""The readers' compiled passes (emgpipe.io._fast) equal their numpy expressions bit for bit."""
import numpy as np
import pytest

from emgpipe.io import _fast

pytestmark = pytest.mark.skipif(not _fast.COMPILED, reason="numba not installed: only the numpy path exists")


@pytest.mark.parametrize("dtype", [np.int16, np.int32])
def test_calibrate_equals_numpy(dtype):
    rng = np.random.default_rng(0)
    k, per = 7, 250
    lim = 2 ** 15 if dtype == np.int16 else 2 ** 23
    dig = rng.integers(-lim, lim, (k, 3 * per + 128)).astype(dtype)    # two signals, annotations
    gain = (5000.0 - -5000.0) / (lim - 1 - -lim)
    args = ([0, 2 * per], per, [5000.0 / gain - (lim - 1), 0.0], [gain, 1.0], [1.0, 1e3], [True, False])
    got = _fast.calibrate(dig, *args)
    ref = _fast.calibrate_numpy(dig, *args)
    assert got.shape == (k * per, 2) and got.tobytes() == ref.tobytes()


def test_all_within():
    x = np.random.default_rng(1).normal(0, 100, (1000, 3))
    assert _fast.all_within(x, 1e6)
    for bad in (np.nan, np.inf, -2e6):
        y = x.copy()
        y[500, 2] = bad
        assert not _fast.all_within(y, 1e6)
    assert _fast.all_within(np.empty((0, 2)), 1.0)
