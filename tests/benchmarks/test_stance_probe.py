"""benchmarks/stance_probe.py: its signals have the levels its docstring states."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.helpers import load_script

ROOT = Path(__file__).resolve().parents[2]


def test_the_probe_stands_then_each_calf_follows_its_envelope_and_the_standing_ends_when_told():
    m = load_script(ROOT / "benchmarks" / "stance_probe.py")
    fs = 500.0
    left = m._ramps(fs, [(10.0, 30.0, 0.3), (30.0, 30.0, 20.0), (30.0, 10.0, 0.5)])
    right = m._ramps(fs, [(10.0, 0.0, 0.3), (0.0, 0.0, 20.0), (0.0, 10.0, 0.5)])
    x = m._signal(fs, 10.0, left, right, np.random.default_rng(0), 60.0)
    assert x.shape == (int((m.T0 + 60) * fs), 2)

    def rms(t0, t1, k, y=x):
        return float(np.sqrt(np.mean(y[int(t0 * fs):int(t1 * fs), k] ** 2)))
    noise = m.NOISE_UV
    assert abs(rms(0, 5, 0) - noise) < 0.1 * noise                                  # noise before standing
    assert abs(rms(60, 110, 1) - np.hypot(10.0, noise)) < 0.5                       # standing
    assert abs(rms(m.T0 + 2, m.T0 + 18, 0) - np.hypot(30.0, noise)) < 1.5           # the stance
    assert abs(rms(m.T0 + 2, m.T0 + 18, 1) - noise) < 0.3                           # the foot off
    assert abs(rms(m.T0 + 25, m.T0 + 55, 1) - np.hypot(10.0, noise)) < 0.6          # down again
    # a cramp after which the wearer sits down 1.5 s in: both standings end, the cramp goes on
    cramp = m._ramps(fs, [(10.0, 80.0, 0.5), (80.0, 80.0, 40.0)])
    y = m._signal(fs, 10.0, cramp, np.zeros(0), np.random.default_rng(1), 1.5)
    assert abs(rms(m.T0 + 5, m.T0 + 35, 0, y) - np.hypot(80.0, noise)) < 4.0
    assert abs(rms(m.T0 + 2, m.T0 + 40, 1, y) - noise) < 0.3
    assert abs(rms(m.T0 - 20, m.T0, 1, y) - np.hypot(10.0, noise)) < 0.6
