"""The steady-hold test's percentile is numpy's, bit for bit (issue 15: faster, same results)."""
import numpy as np

from emgpipe.detect.runs import _percentile_sorted, steady_hold


def test_percentile_sorted_equals_numpy_bit_for_bit():
    rng = np.random.default_rng(0)
    for t in range(5000):
        v = rng.lognormal(2, 1, int(rng.integers(2, 140)))
        if t % 3 == 0:
            v = np.round(v, 1)                      # ties
        s = sorted(v.tolist())
        for q in (10, 90, 25, 50, 73.5):
            assert _percentile_sorted(s, q) == float(np.percentile(v.tolist(), q))


def test_steady_hold_same_as_with_numpy():
    rng = np.random.default_rng(1)
    for _ in range(500):
        n = int(rng.integers(1, 60))
        recent = [(0.125 * i, float(x), True, None) for i, x in enumerate(rng.uniform(5, 50, n))]
        since = float(rng.uniform(0, 0.125 * n))
        lv = [x[1] for x in recent if x[0] >= since]
        want = len(lv) >= 2 and (lambda lo, hi: lo >= 0.5 * hi)(*np.percentile(lv, (10, 90)))
        assert steady_hold(recent, since, 0.5) == want


def test_steady_hold_with_a_nan_anywhere_follows_numpy():
    # (sorting a list with a NaN leaves it anywhere: the check looks at every value)
    for lv in ([5.0, float("nan"), 4.0, 6.0, 5.5], [20.0, 21.0, float("nan"), 1.0, 19.0, 22.0]):
        recent = [(0.125 * i, x, True, None) for i, x in enumerate(lv)]
        lo, hi = np.percentile(lv, (10, 90))
        assert steady_hold(recent, 0.0, 0.5) == bool(lo >= 0.5 * hi)
        assert not steady_hold(recent, 0.0, 0.5)
