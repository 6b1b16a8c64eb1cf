"""A contraction that begins inside an activity run (no pause long enough to end
the run: a cramp straight after walking) is judged on its own windows once it
has lasted as long as its context asks, not on the 15-s decision window that
still holds the walking bursts."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from tests.helpers import cramp_onsets

FS = 1000.0
NAMES = ("calf_left", "calf_right")


def _onsets(x, model=None):
    return cramp_onsets(x, FS, NAMES, model=model)


@pytest.fixture(scope="module")
def floored(tmp_path_factory):
    """The default model with a 12-µV floor on a cramp's level (model 0.6.9's
    cramp_min_uv): the 12-µV hold of _hold_then_rise stays under it. By ratios
    alone (the default since 0.7.0) a one-calf hold from rest at 4x is a press
    announced at 6.5 s, and what rises out of it would be inside that alert."""
    p = tmp_path_factory.mktemp("model") / "floored.toml"
    p.write_text('[model]\nname = "floored"\nversion = "1"\nextends = "default"\n'
                 '[detector]\ncramp_min_uv = 12.0\n', encoding="utf-8")
    return str(p)


def _walk_then_hold(hold_s: float, seed: int = 0, ramp_s: float = 0.0):
    """40 s of rest, 40 s of walking on both calves (a 0.4-s burst at 10x every
    1.0 s, the left leg half a stride later), then on the right calf, without a
    pause, a sustained contraction at 10x for ``hold_s`` (with ``ramp_s``,
    rising from 4x over its first ``ramp_s``, as a cramp builds up); 3 µV noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 3.0, (int(160 * FS), 2))
    for t in np.arange(40.0, 80.0, 1.0):
        for k, lag in ((1, 0.0), (0, 0.5)):
            a, b = int((t + lag) * FS), int((t + lag + 0.4) * FS)
            x[a:b, k] *= 10.0
    a, b = int(80.0 * FS), int((80.0 + hold_s) * FS)
    gain = np.full(b - a, 10.0)
    if ramp_s:
        gain[:int(ramp_s * FS)] = np.linspace(4.0, 10.0, int(ramp_s * FS))
    x[a:b, 1] *= gain
    return x


def test_a_cramp_straight_after_walking_is_announced_within_its_own_rule():
    onsets = [e for e in _onsets(_walk_then_hold(30.0, ramp_s=2.0)) if e.channel == "calf_right"]
    assert len(onsets) == 1
    e = onsets[0]
    # from rest or rhythmic activity a cramp must last min_s (3.5 s): the alert
    # comes a few windows after that, not once the walking has left the 15-s window
    assert 80.0 + 3.5 <= e.alert_s <= 80.0 + 6.0, e.alert_s
    assert abs(e.start_s - 80.0) <= 0.5
    # one at its level at once is a press (rules.is_press) until it has lasted
    # min_s_press (6.5 s), judged on its own windows too
    onsets = [e for e in _onsets(_walk_then_hold(30.0)) if e.channel == "calf_right"]
    assert len(onsets) == 1
    assert 80.0 + 6.5 <= onsets[0].alert_s <= 80.0 + 7.5, onsets[0].alert_s
    assert onsets[0].features["min_s"] == 6.5


def test_a_short_press_after_walking_is_still_not_a_cramp():
    onsets = [e for e in _onsets(_walk_then_hold(2.5)) if e.channel == "calf_right"]
    assert onsets == []


def _hold_then_rise(rise_x: float, hold_s: float, seed: int = 1):
    """30 s of rest, then the right calf holding steadily at 4x rest (a pedal:
    +-25 % at 0.3 Hz) for the rest of the recording, the left calf at rest;
    from 80 s a contraction ``rise_x`` x the hold's level rises out of it
    without a pause for ``hold_s``; 3 µV noise."""
    rng = np.random.default_rng(seed)
    n = int(180 * FS)
    t = np.arange(n) / FS
    gain = np.ones((n, 2))
    held = t >= 30.0
    gain[held, 1] = 4.0 * (1.0 + 0.25 * np.sin(2 * np.pi * 0.3 * t[held]))
    a, b = int(80.0 * FS), int((80.0 + hold_s) * FS)
    gain[a:b, 1] *= rise_x
    return rng.normal(0.0, 3.0, (n, 2)) * gain


def test_a_cramp_rising_out_of_a_hold_is_judged_from_its_rise(floored):
    # without a pause the hold and the cramp are one run; the cramp is judged
    # on its own windows from its rise, by the rule after a hold (8 s), not
    # once it fills most of the 15-s decision window
    onsets = [e for e in _onsets(_hold_then_rise(5.0, 40.0), floored) if e.channel == "calf_right"]
    assert len(onsets) == 1
    e = onsets[0]
    assert 80.0 + 8.0 - 0.25 <= e.alert_s <= 80.0 + 9.5, e.alert_s
    assert e.features["context"] == "hold" and e.features["min_s"] == 8.0
    assert abs(e.start_s - 80.0) <= 0.5, e.start_s


def test_a_press_out_of_a_hold_shorter_than_the_hold_rule_is_no_cramp(floored):
    # a brake, or a single-leg raise out of standing (5 s): the muscle is
    # working, so the rule after a hold; with the 3.5 s rule from rest it
    # would be announced
    onsets = [e for e in _onsets(_hold_then_rise(5.0, 5.0), floored) if e.channel == "calf_right"]
    assert onsets == []
    # by ratios alone the hold itself, from rest at 4x, is a press: announced at 6.5 s
    onsets = [e for e in _onsets(_hold_then_rise(5.0, 5.0)) if e.channel == "calf_right"]
    assert len(onsets) == 1 and 36.5 <= onsets[0].alert_s <= 37.5, onsets


def test_a_weight_shift_does_not_start_a_stretch_of_its_own():
    # one calf bearing the body's weight: twice its load, below on_ratio x the
    # stance; runs.rise leaves the run alone
    from emgpipe.detect import runs
    from emgpipe.detect.settings import CrampSettings
    s = CrampSettings()
    run = runs._Run(start_s=0.0, last_on_s=0.0)
    ch = SimpleNamespace(last_hold_end=-math.inf, last_stance=-math.inf, work=runs.WorkMemory())
    hop = 0.125
    for i in range(40):                       # 5 s of a steady hold at 12 µV (4x a 3 µV baseline)
        t0 = i * hop
        runs.advance(run, 12.0, 4.0, t0, t0 + 0.25, True, True, s)
        runs.record(run, ch, t0, t0 + 0.25, 12.0, True, None, s, 1.0)
    first = run.on_from
    for i in range(40, 48):                   # 1 s at twice the hold
        t0 = i * hop
        runs.advance(run, 24.0, 8.0, t0, t0 + 0.25, True, True, s)
        runs.record(run, ch, t0, t0 + 0.25, 24.0, True, None, s, 1.0)
    assert run.on_from == first and run.step_from is None
    for i in range(48, 56):                   # then at 4x what it held the 2 s before (on_ratio is 3)
        t0 = i * hop
        runs.advance(run, 100.0, 33.3, t0, t0 + 0.25, True, True, s)
        runs.record(run, ch, t0, t0 + 0.25, 100.0, True, None, s, 1.0)
    assert run.step_from is not None and run.on_from == run.step_from
    assert 6.0 - 1e-9 <= run.step_from <= 6.5


def _stand_then_rise(right_x: float, left_x: float, hold_s: float, seed: int = 2):
    """30 s of rest, then both calves standing at 4x rest (sway +-25 % at
    0.3 Hz); from 80 s, for ``hold_s``, the right calf at ``right_x`` and the
    left at ``left_x`` x their standing level, without a pause; 3 µV noise."""
    rng = np.random.default_rng(seed)
    n = int(150 * FS)
    t = np.arange(n) / FS
    gain = np.ones((n, 2))
    stand = t >= 30.0
    gain[stand] = 4.0 * (1.0 + 0.25 * np.sin(2 * np.pi * 0.3 * t[stand]))[:, None]
    a, b = int(80.0 * FS), int((80.0 + hold_s) * FS)
    gain[a:b, 1] *= right_x
    gain[a:b, 0] *= left_x
    return rng.normal(0.0, 3.0, (n, 2)) * gain


def test_a_cramp_while_standing_is_found_while_the_other_calf_bears_the_weight():
    # the wearer takes the weight off the cramping leg: the other calf, standing
    # at 2x its load, is not co-activation (it did not rise on_ratio x its stance)
    onsets = [e for e in _onsets(_stand_then_rise(5.0, 2.0, 40.0)) if e.channel == "calf_right"]
    assert len(onsets) == 1
    e = onsets[0]
    assert 80.0 + 8.0 - 0.25 <= e.alert_s <= 80.0 + 9.5, e.alert_s


def test_a_raise_of_both_calves_out_of_standing_is_no_cramp():
    # both rise together (a calf-raise hold of 20 s): co-active
    onsets = _onsets(_stand_then_rise(5.0, 5.0, 20.0))
    assert onsets == []



PEDAL = ("calf_left", "calf_right", "tibialis_anterior_right")


def _drive_start(fs: float, brake_s: float, press_on: float | None = None, cramp: tuple | None = None,
                 shin: bool = True, seed: int = 5):
    """The start of a drive on two calves and the right shin (3 µV of noise):
    from 30 s the right calf holds the brake ``brake_s`` at 40x (a 0.4-s rise),
    the shin lifts the foot off it (a 0.7-s burst, without ``shin`` none), and
    0.7 s after the brake the calf is on the accelerator (a 0.6-s rise to 10x),
    a pause too short to end the run, to the end. ``press_on``: that many s
    into the accelerator, the driver presses on to 17x for 4 s (overtaking);
    ``cramp`` (t0, build-up s): a cramp of that calf at 40x for 30 s."""
    rng = np.random.default_rng(seed)
    n = int(120 * fs)
    t = np.arange(n) / fs
    x = rng.normal(0.0, 3.0, (n, 3))
    b1 = 30.0 + brake_s
    brake = np.clip(np.minimum((t - 30.0) / 0.4, (b1 - t) / 0.3), 0, 1)
    on = 0.0
    if press_on is not None:
        a = b1 + 0.7 + press_on
        on = np.clip(np.minimum((t - a) / 0.5, (a + 4.0 - t) / 0.5), 0, 1)
    g = np.maximum(1.0, np.maximum(40.0 * brake, np.clip((t - b1 - 0.7) / 0.6, 0, 1) * (10.0 + 7.0 * on)))
    if cramp is not None:
        c0, ramp = cramp
        g = np.maximum(g, 40.0 * np.clip(np.minimum((t - c0) / ramp, (c0 + 30.0 - t) / 0.5), 0, 1))
    x[:, 1] *= g
    if shin:
        x[int(b1 * fs):int((b1 + 0.7) * fs), 2] *= 20.0
    return x


def _right(x, fs):
    return [(round(e.start_s, 2), round(e.alert_s, 2)) for e in cramp_onsets(x, fs, PEDAL) if e.channel == "calf_right"]


@pytest.mark.parametrize("fs", [250.0, 1000.0])
def test_the_accelerator_after_a_brief_brake_is_a_placed_press(fs):
    """After a brake of 1-2 s (too short to be a hold), the accelerator hold
    is a stretch of the brake's run. The shin's burst placed it, as it places
    a contraction that starts a run (model 0.6.8), and it is a press while it
    stays under press_rise x its first second (PLACED_FIRST_S: a 0.6-s rise
    onto the pedal made its first half second look like a build-up). Model
    0.7.4 announced it 3.5 s in."""
    for brake_s in (1.0, 1.5, 2.0):
        assert not _right(_drive_start(fs, brake_s), fs), brake_s
    # a cramp that builds up right after a brief brake is still announced
    found = _right(_drive_start(fs, 1.5, cramp=(32.2, 2.0)), fs)
    assert len(found) == 1 and found[0][1] < 32.2 + 8.0, found


def test_the_accelerator_keeps_the_rule_after_a_hold_once_the_brake_has_left_the_window():
    """The accelerator hold after a 2.2-2.5 s brake takes the rule after a
    hold (8 s, above 1.5 x the working level). Until model 0.7.5, once the
    decision window held nothing but the accelerator (15 s in), the run's own
    rule came back (from rest: 3.5 s), against a working level of the few
    windows the brake had taught: a 4-s press on the accelerator 18 s in was
    announced (the everyday split's Cyton driving_s2001 at 54.8 s)."""
    fs = 1000.0
    for brake_s in (2.2, 2.5):
        assert not _right(_drive_start(fs, brake_s, press_on=18.0), fs), brake_s
    # a cramp of that calf well above the accelerator is still announced
    found = _right(_drive_start(fs, 2.5, cramp=(80.0, 2.0)), fs)
    assert len(found) == 1 and 80.0 < found[0][1] < 80.0 + 12.0, found
