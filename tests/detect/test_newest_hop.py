"""A 0.25-s window still holds the last of a contraction for one hop after it
stopped: a press that ends just before it has lasted min_s must not be
announced by the window that straddles its end (the newest hop is quiet)."""
from __future__ import annotations

import numpy as np
import pytest

from emgpipe.detect import rules
from tests.helpers import cramp_onsets

NAMES = ("calf_left", "calf_right")


def _onsets(x, fs):
    return cramp_onsets(x, fs, NAMES)


def _press(fs, length_s, seed, ramp_s=0.0):
    """30 s of rest (3 µV noise), then the right calf at 10x from 30.0 s for
    ``length_s`` (with ``ramp_s``, rising from 4x to 10x over its first
    ``ramp_s``, as a cramp builds up), the left calf quiet, 20 s of rest after."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 3.0, (int((50.0 + length_s) * fs), 2))
    a, b = int(round(30.0 * fs)), int(round((30.0 + length_s) * fs))
    gain = np.full(b - a, 10.0)
    if ramp_s:
        n = int(round(ramp_s * fs))
        gain[:n] = np.linspace(4.0, 10.0, n)
    x[a:b, 1] *= gain
    return x


@pytest.mark.parametrize("seed", [3, 5])
def test_a_press_that_ended_in_the_newest_hop_is_not_announced(seed):
    # at the Ganglion's 200 Hz the run starts with the half-active window at
    # 29.875 s, so it has "lasted" min_s (3.5 s) at the window ending 33.375 s;
    # the press ended at 33.1 s, so that window's older hop is still mostly
    # active (the window is on: without the newest-hop test these presses were
    # announced there) and its newest hop quiet but for the band-pass filter's
    # tail. (A flat press from rest now also waits min_s_press: rules.is_press.)
    assert _onsets(_press(200.0, 3.1, seed), 200.0) == []


def test_a_contraction_that_builds_up_and_ends_in_the_newest_hop_is_not_announced(monkeypatch):
    # the same for one that builds up over 2 s (not a press, so due at min_s)
    # and ends at 33.2 s: announced at 33.375 s without the newest-hop test
    x = _press(200.0, 3.2, 3, ramp_s=2.0)
    assert _onsets(x, 200.0) == []
    decide = rules.decide

    def without_newest_hop(*args, **kwargs):
        return decide(*args[:11], None)

    monkeypatch.setattr(rules, "decide", without_newest_hop)
    onsets = _onsets(x, 200.0)
    assert len(onsets) == 1 and 33.375 - 1e-6 <= onsets[0].alert_s <= 33.5, onsets


@pytest.mark.parametrize("fs", [200.0, 250.0, 1000.0])
def test_a_contraction_that_goes_on_is_announced_at_min_s(fs):
    # one that builds up over 2 s: from rest after min_s (3.5 s)
    onsets = _onsets(_press(fs, 8.0, 3, ramp_s=2.0), fs)
    assert len(onsets) == 1 and onsets[0].channel == "calf_right"
    assert 33.375 - 1e-6 <= onsets[0].alert_s <= 33.75, onsets[0].alert_s
    assert onsets[0].features["min_s"] == 3.5
    # one at its level at once (a press) after min_s_press (6.5 s)
    onsets = _onsets(_press(fs, 10.0, 3), fs)
    assert len(onsets) == 1 and onsets[0].channel == "calf_right"
    assert 36.375 - 1e-6 <= onsets[0].alert_s <= 36.75, onsets[0].alert_s
    assert onsets[0].features["min_s"] == 6.5
