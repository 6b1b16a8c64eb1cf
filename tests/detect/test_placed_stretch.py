"""A brake in the middle of a drive: the shin lifts the foot off the
accelerator (a tibialis burst in a pause too short to end the calf's run),
then the calf brakes. That brake is a new movement, placed by the shin: it
is judged by its own rule once due (8 s after a hold), not by the run's rule
over the pedal hold, the pause and the brake (model 0.7.6; until then a
brake held 4-8 s at a stop was announced). A shin active since before a
contraction's dip is its cross-talk and places nothing."""
from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import cramp_onsets

NAMES = ("calf_left", "calf_right", "tibialis_anterior_right")


def _drive(fs: float, brake_x: float, brake_s: float, ramp_s: float = 0.0, seed: int = 5):
    """Rest; at 19 s the shin lifts the foot (a 0.6-s burst at 8x) and from
    20.4 s the right calf holds the accelerator at 4x its quiet level (+-20 % at 0.3 Hz);
    at 120 s the calf pauses 0.7 s while the shin bursts, then presses at
    ``brake_x`` x for ``brake_s`` (with ``ramp_s``, rising from a quarter of
    it over ``ramp_s * 0.75``, as a cramp's discharge builds up), pauses again with a shin burst and goes
    back to the accelerator until 180 s. The left calf rests; 3 µV noise."""
    rng = np.random.default_rng(seed)
    n = int(200 * fs)
    t = np.arange(n) / fs
    g = np.ones((n, 3))
    pedal = (t >= 20.4) & (t < 180.0)
    g[pedal, 1] = 4.0 * (1.0 + 0.2 * np.sin(2 * np.pi * 0.3 * t[pedal]))
    b0 = 120.7
    g[(t >= 120.0) & (t < b0), 1] = 1.0
    b = (t >= b0) & (t < b0 + brake_s)
    g[b, 1] = brake_x * np.minimum(1.0, 0.25 + (t[b] - b0) / ramp_s) if ramp_s else brake_x
    g[(t >= b0 + brake_s) & (t < b0 + brake_s + 0.7), 1] = 1.0
    g[(t >= 19.0) & (t < 19.6), 2] = 8.0
    for s0 in (120.1, b0 + brake_s + 0.1):
        g[(t >= s0) & (t < s0 + 0.4), 2] = 8.0
    return rng.normal(0.0, 3.0, (n, 3)) * g


@pytest.mark.parametrize("fs", [250.0, 1000.0])
def test_a_brake_placed_by_the_shin_in_the_middle_of_a_drive_is_judged_by_its_own_rule(fs):
    onsets = [e for e in cramp_onsets(_drive(fs, 12.0, 7.0), fs, NAMES) if e.channel == "calf_right"]
    assert onsets == [], [(round(e.start_s, 1), round(e.alert_s, 1), e.features.get("context")) for e in onsets]


@pytest.mark.parametrize("fs", [250.0, 1000.0])
def test_a_cramp_placed_the_same_way_is_still_announced_once_its_rule_is_due(fs):
    onsets = [e for e in cramp_onsets(_drive(fs, 30.0, 30.0, ramp_s=2.0), fs, NAMES) if e.channel == "calf_right"]
    assert len(onsets) == 1, [(round(e.start_s, 1), round(e.alert_s, 1)) for e in onsets]
    assert 120.7 + 8.0 - 0.25 <= onsets[0].alert_s <= 120.7 + 10.0, onsets[0].alert_s


def test_a_shin_active_since_before_a_dip_is_cross_talk_and_places_nothing():
    from types import SimpleNamespace

    from emgpipe.detect import rules
    from emgpipe.detect.settings import CrampSettings
    s = CrampSettings()
    shin = SimpleNamespace(run=SimpleNamespace(start_s=50.0), last_run_end=-1e9)
    calf = SimpleNamespace()
    # the calf's run began at 48.5 s, dipped at 55.0 s and came back at 55.125 s
    assert not rules.placed(calf, 55.125, [shin], s, quiet_from=55.0)
    # a shin burst that began as the calf fell quiet (lifting the foot) places it
    shin.run.start_s = 54.8
    assert rules.placed(calf, 55.125, [shin], s, quiet_from=55.0)
    # one active since before the dip but louder than the calf in it moved the foot
    shin.run.start_s = 50.0
    assert rules.placed(calf, 55.125, [shin], s, quiet_from=55.0, louder=True)
    # a contraction's start (no quiet_from): a shin active from RISE_S before places it
    shin.run.start_s = 50.0
    assert rules.placed(calf, 55.125, [shin], s)


def _brake_then_pedal(fs: float, seed: int = 9):
    """Rest; from 20 s the right calf brakes at 12x its quiet level for 1.8 s
    (a press: at its level at once; too brief to teach a working level); the
    shin co-contracts at 3x over the brake's last 1.2 s, then lifts the foot
    (8x for 0.5 s) while the calf pauses 0.6 s; then the calf holds the accelerator at 9x (+-20 % at
    0.3 Hz, not press_rise x weaker than the brake) until 100 s."""
    rng = np.random.default_rng(seed)
    n = int(120 * fs)
    t = np.arange(n) / fs
    g = np.ones((n, 3))
    b = (t >= 20.0) & (t < 21.8)
    g[b, 1] = np.minimum(12.0, 2.0 + 50.0 * (t[b] - 20.0))
    pedal = (t >= 22.4) & (t < 100.0)
    g[pedal, 1] = 9.0 * (1.0 + 0.2 * np.sin(2 * np.pi * 0.3 * t[pedal]))
    g[(t >= 20.6) & (t < 21.8), 2] = 3.0
    g[(t >= 21.8) & (t < 22.3), 2] = 8.0
    return rng.normal(0.0, 3.0, (n, 3)) * g


@pytest.mark.parametrize("fs", [250.0, 1000.0])
def test_a_shin_active_before_the_pause_places_what_follows_when_it_was_louder_in_the_pause(fs):
    # the shin began before the calf fell quiet (co-contraction at the end of
    # the brake), so its start alone does not place the accelerator; but in
    # the pause it was louder than the calf: it moved the foot
    onsets = [e for e in cramp_onsets(_brake_then_pedal(fs), fs, NAMES) if e.channel == "calf_right"]
    assert onsets == [], [(round(e.start_s, 1), round(e.alert_s, 1), e.features.get("context")) for e in onsets]
