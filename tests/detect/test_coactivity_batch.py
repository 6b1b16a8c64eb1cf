"""runs.coactivity_batch (the co-activation rows of a whole batch at once)
equals runs.coactivity window by window, bit for bit."""
import numpy as np
from numpy.testing import assert_array_equal

from emgpipe.detect import runs


def test_batch_equals_per_window():
    rng = np.random.default_rng(7)
    for n_ch in (2, 3, 8):
        n_win = 400
        rms = rng.lognormal(1.0, 1.0, (n_win, n_ch))
        bases0 = rng.lognormal(0.5, 0.8, (n_win, n_ch))
        bases0[rng.random((n_win, n_ch)) < 0.1] = 0.0             # channels not ready yet
        rms[rng.random((n_win, n_ch)) < 0.05] = 0.0
        eq = rng.random((n_win, n_ch)) < 0.05                      # RMS exactly at the baseline
        rms[eq] = bases0[eq]
        ratios = np.where(bases0 > 0, rms / np.where(bases0 > 0, bases0, 1.0), 1.0)
        legs = rng.integers(0, 2, n_ch)
        same_leg = legs[:, None] == legs[None, :]
        xt_frac = np.where(same_leg, 0.5, 0.3) * rng.uniform(0.5, 1.5, (n_ch, n_ch))
        co = runs.coactivity_batch(ratios, rms, bases0, same_leg, xt_frac)
        assert co.shape == (n_win, n_ch, n_ch)
        for i in range(n_win):
            for k in range(n_ch):
                ref = runs.coactivity(k, rms.item(i, k), bases0.item(i, k), ratios[i], rms[i], bases0[i],
                                      same_leg[k], xt_frac[k])
                assert_array_equal(co[i, k], ref)
                assert co.max(axis=2).item(i, k) == float(np.max(ref))
