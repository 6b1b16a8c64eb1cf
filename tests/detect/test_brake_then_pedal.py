"""A brake from rest and the weaker pedal hold after it, with the calves only
(no shin channel to place the foot): the pedal hold stays "a press, then a
weaker one" after the 15-s decision window has passed the brake. Until model
0.7.6 the run's first level was read from the decision window, so 15 s after
the brake the run became a contraction of unknown start and the pedal hold
was announced as a cramp (a simulated drive replayed without its shin
channels, benchmarks/calves_only.py)."""
from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import cramp_onsets

NAMES = ("calf_left", "calf_right")


def _brake_then_pedal(fs: float, cramp_x: float = 0.0, seed: int = 3):
    """40 s of rest; the right calf brakes at 12x its quiet level for 3 s,
    pauses 0.8 s (the foot moves), then holds the accelerator at 4x (+-20 %
    at 0.3 Hz) for 90 s, easing off to rest for 0.3 s every 5 s (the foot
    adjusts on the pedal); with ``cramp_x``, a cramp rising over 2 s to
    ``cramp_x`` x quiet from 100 s for 30 s in the middle of it. The left
    calf rests; 3 µV noise."""
    rng = np.random.default_rng(seed)
    n = int(150 * fs)
    t = np.arange(n) / fs
    g = np.ones(n)
    g[(t >= 40.0) & (t < 43.0)] = 12.0
    pedal = (t >= 43.8) & (t < 133.8)
    g[pedal] = 4.0 * (1.0 + 0.2 * np.sin(2 * np.pi * 0.3 * t[pedal]))
    for k in np.arange(48.0, 133.0, 5.0):
        g[(t >= k) & (t < k + 0.3)] = 1.0
    if cramp_x:
        c = (t >= 100.0) & (t < 130.0)
        g[c] = np.maximum(g[c], np.minimum(1.0, (t[c] - 100.0) / 2.0) * cramp_x)
    x = rng.normal(0.0, 3.0, (n, 2))
    x[:, 1] *= g
    return x


@pytest.mark.parametrize("fs", [250.0, 1000.0])
def test_the_pedal_hold_after_a_brake_stays_a_weaker_press(fs):
    onsets = [e for e in cramp_onsets(_brake_then_pedal(fs), fs, NAMES) if e.channel == "calf_right"]
    assert onsets == [], [(round(e.start_s, 1), round(e.alert_s, 1), e.features.get("context")) for e in onsets]


@pytest.mark.parametrize("fs", [250.0, 1000.0])
def test_a_cramp_in_the_middle_of_that_pedal_hold_is_still_announced(fs):
    onsets = [e for e in cramp_onsets(_brake_then_pedal(fs, cramp_x=20.0), fs, NAMES) if e.channel == "calf_right"]
    assert len(onsets) == 1, [(round(e.start_s, 1), round(e.alert_s, 1)) for e in onsets]
    assert 100.0 <= onsets[0].alert_s <= 100.0 + 12.0, onsets[0].alert_s
