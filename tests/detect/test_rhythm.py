"""Rhythmic activity (walking, stairs, a set of raises) is not a cramp, even on
a single channel where no co-activation of the other calf tells it apart: the
calf bursts in each stance, so over the span a cramp must last its level
rises from below its median to twice it again and again; a cramp's does not."""
from __future__ import annotations

import numpy as np
import pytest

from emgpipe.detect.rules import swings
from emgpipe.detect.settings import RHYTHM_SWINGS
from tests.helpers import cramp_onsets

NAMES = ("calf_right",)


def _walk(fs, seed=11):
    """30 s of rest (3 µV noise), then 40 s of walking on the one calf: the
    stance phase at 3-4x rest between bursts of 15x for 0.4 s every 1.0 s
    (the calf never returns to rest, so the run does not break), then rest."""
    rng = np.random.default_rng(seed)
    n = int(90 * fs)
    t = np.arange(n) / fs
    gain = np.ones(n)
    walking = (t >= 30.0) & (t < 70.0)
    gain[walking] = 3.5
    burst = walking & (((t - 30.0) % 1.0) < 0.4)
    gain[burst] = 15.0
    return (rng.normal(0.0, 3.0, n) * gain)[:, None]


def _cramp(fs, seed=12):
    """30 s of rest, then a cramp on the one calf: a 2-s ramp to 12x, held
    for 30 s with +-15 % modulation at 1.4 Hz (the common drive of cramp
    discharges, Minetto 2009)."""
    rng = np.random.default_rng(seed)
    n = int(80 * fs)
    t = np.arange(n) / fs
    gain = np.ones(n)
    on = (t >= 30.0) & (t < 62.0)
    gain[on] = 1.0 + 11.0 * np.clip((t[on] - 30.0) / 2.0, 0.0, 1.0) * (1 + 0.15 * np.sin(2 * np.pi * 1.4 * t[on]))
    return (rng.normal(0.0, 3.0, n) * gain)[:, None]


@pytest.mark.parametrize("fs", [200.0, 1000.0])
def test_walking_on_one_channel_is_not_a_cramp(fs):
    assert cramp_onsets(_walk(fs), fs, NAMES) == []


@pytest.mark.parametrize("fs", [200.0, 1000.0])
def test_a_cramp_on_one_channel_is_still_announced(fs):
    onsets = cramp_onsets(_cramp(fs), fs, NAMES)
    assert len(onsets) == 1
    assert 30.0 + 3.5 <= onsets[0].alert_s <= 30.0 + 6.0, onsets[0].alert_s


def test_swings_counts_bursts_not_a_ramp_or_a_dip():
    ramp = [1.0, 2.0, 4.0, 8.0, 10.0, 10.5, 9.8, 10.2, 10.1, 9.9]
    assert swings(ramp) <= 1
    dip = [10.0, 10.2, 3.0, 9.8, 10.1, 10.0, 9.9, 10.3]
    assert swings(dip) <= 1
    waxing = [10.0 * (1 + 0.4 * np.sin(k)) for k in range(28)]     # 0.6-1.4: 2.3x peak to trough
    assert swings(waxing) == 0
    walking = [3.0, 3.5, 15.0, 14.0, 3.2, 3.4, 3.1, 16.0, 12.0, 3.3, 3.0, 15.5]
    assert swings(walking) >= RHYTHM_SWINGS
    assert swings([]) == 0
