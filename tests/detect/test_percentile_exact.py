"""The steady-hold test's percentile is numpy's, bit for bit (issue 15: faster, same results)."""
import numpy as np

from emgpipe.detect.runs import _percentile_sorted, steady_hold


def _samples(seed, n, mu, lo, hi):
    """``n`` random level vectors of ``lo`` to ``hi`` values, every third with ties."""
    rng = np.random.default_rng(seed)
    for t in range(n):
        v = rng.lognormal(mu, 1, int(rng.integers(lo, hi)))
        yield rng, (np.round(v, 1) if t % 3 == 0 else v)


def test_percentile_sorted_equals_numpy_bit_for_bit():
    for _, v in _samples(0, 5000, 2, 2, 140):
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


def test_rules_median_and_fraction_equal_numpy_bit_for_bit():
    from emgpipe.detect.rules import fraction_at_least, median
    for rng, v in _samples(2, 3000, 1, 1, 170):
        vals = v.tolist()
        assert median(vals) == float(np.median(v))
        thr = float(rng.choice(v)) * float(rng.uniform(0.5, 1.5))
        assert fraction_at_least(vals, thr) == float(np.mean(v >= thr))
    for vals in ([5.0, float("nan"), 4.0], [1.0, 2.0, float("nan"), 3.0]):
        assert np.isnan(median(vals))


def test_work_level_equals_numpy_percentile():
    from collections import deque
    from emgpipe.detect.runs import WorkMemory, work_level
    from emgpipe.detect.settings import CrampSettings
    s = CrampSettings()
    rng = np.random.default_rng(3)
    for _ in range(300):
        n = int(rng.integers(1, 200))
        work = deque((0.125 * i, float(x)) for i, x in enumerate(rng.uniform(5, 50, n)))
        mem = WorkMemory()
        for t0, r in work:
            mem.append(t0, r, -np.inf)
        t = float(rng.uniform(0, 0.125 * n + 1))
        lv = [r for t0, r in work if t - s.hold_context_s <= t0 < t]
        assert work_level(mem, t, s) == (float(np.percentile(lv, s.work_pct)) if lv else None)


def test_work_memory_percentile_equals_numpy_over_moving_ranges():
    """WorkMemory's sorted range, moved forward, backward and far, and through
    its compaction, gives np.percentile of the kept entries in the range."""
    from collections import deque
    from emgpipe.detect.runs import WorkMemory
    rng = np.random.default_rng(4)
    mem, ref = WorkMemory(), deque()
    mem.COMPACT = 50
    t = 0.0
    for step in range(4000):
        t += float(rng.choice([0.125, 0.125, 0.25, 30.0], p=[0.6, 0.2, 0.15, 0.05]))
        r = float(np.round(rng.lognormal(2, 0.5), int(rng.integers(1, 4))))
        mem.append(t, r, t - 40.0)
        ref.append((t, r))
        while ref[0][0] < t - 40.0:
            ref.popleft()
        assert list(mem) == list(ref)
        for q_to in (t - float(rng.uniform(0, 20)), t + 0.1, t - 15.0 * (step % 3)):
            q_from = q_to - float(rng.choice([10.0, 40.0, 60.0]))
            lv = [x for t0, x in ref if q_from <= t0 < q_to]
            want = float(np.percentile(lv, 90.0)) if lv else None
            assert mem.percentile(q_from, q_to, 90.0) == want
    mem.append(t + 1.0, float("nan"), t - 40.0)
    assert np.isnan(mem.percentile(t - 10.0, t + 2.0, 90.0))
