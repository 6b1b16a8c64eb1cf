"""benchmarks/standing_probe.py: its signals have the levels its docstring states."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.helpers import load_script

ROOT = Path(__file__).resolve().parents[2]


def test_the_probe_signal_stands_then_follows_each_calfs_envelope():
    m = load_script(ROOT / "benchmarks" / "standing_probe.py")
    fs = 500.0
    left = m._ramps(fs, [(5.0, 80.0, 1.0), (80.0, 80.0, 30)])
    right = m._ramps(fs, [(5.0, 5.0, 1.0), (5.0, 10.0, 1.0), (10.0, 10.0, 40)])
    assert len(left) == int(31 * fs) and left[0] == 5.0 and left[-1] == 80.0
    x = m._signal(fs, 5.0, left, right, np.random.default_rng(0))
    assert x.shape == (int((m.T0 + 60) * fs), 2)

    def rms(t0, t1, k):
        return float(np.sqrt(np.mean(x[int(t0 * fs):int(t1 * fs), k] ** 2)))
    noise, stand = m.NOISE_UV, np.hypot(5.0, m.NOISE_UV)
    assert abs(rms(0, 5, 0) - noise) < 0.1 * noise                 # noise alone before the standing
    assert abs(rms(60, 110, 1) - stand) < 0.05 * stand             # standing
    assert abs(rms(m.T0 + 5, m.T0 + 25, 0) - np.hypot(80.0, noise)) < 4.0     # the cramp's level
    assert abs(rms(m.T0 + 5, m.T0 + 25, 1) - np.hypot(10.0, noise)) < 0.6     # the other calf's new load
