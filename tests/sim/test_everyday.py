"""Everyday-life scenarios (issue 13): driving, calf raises, cycling, standing, stairs, restless
nights and weak cramps build, are deterministic, carry the labels they promise, and the old
scenarios' timelines did not change."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from emgpipe import sim
from emgpipe.sim.scenarios import build_plan
from tests.sim.util import plan_digest

NEW = ["driving", "driving_cramp", "calf_raises", "cycling", "standing", "stairs", "restless_night",
       "weak_cramps", "weak_cramps_sleep"]


def labels(plan, kind=None, detail=None, channel=None):
    return [x for x in plan.labels if (kind is None or x.kind == kind)
            and (detail is None or detail in x.detail.split("+"))
            and (channel is None or x.channel == channel)]


def vol_level(plan, channel, t0, t1):
    """Summed voluntary drive on ``channel`` (name) over [t0, t1], 50 ms grid: its max."""
    ci = [c.name for c in plan.channels].index(channel)
    t = np.arange(t0, t1, 0.05)
    lv = np.zeros_like(t)
    for a in plan.activities:
        if a.channel == ci and a.pool == "vol" and a.t0 < t1 and a.t1 > t0:
            lv += a.level(t)
    return float(lv.max()) if t.size else 0.0


@pytest.mark.parametrize("scenario", NEW)
def test_builds_at_200_hz_and_1_khz_and_is_deterministic(scenario):
    assert scenario in sim.SCENARIOS
    for fs in (200, 1000):
        s = sim.make(scenario, fs=fs, seed=1, duration=40)
        x = s.to_array()
        assert x.shape == (40 * fs, len(s.ch_names)) and np.isfinite(x).all()
    a, b = build_plan(scenario, 3, 600, "raw"), build_plan(scenario, 3, 600, "raw")
    assert plan_digest(a) == plan_digest(b)
    assert plan_digest(a) != plan_digest(build_plan(scenario, 4, 600, "raw"))


#: digests of old plans computed before the everyday scenarios were added (same seed, same events)
OLD = [("walk_then_cramp", 0, 75, "c49d82350fb98958"), ("walk_then_cramp", 1, 75, "92e7b09e11af85b5"),
       ("walking", 0, 600, "d00e2298a8c64848"), ("night", 0, 900, "6f025c1386914b2a"),
       ("night_plm_only", 1, 900, "3dfee65efc720331"), ("sustained_voluntary", 0, 600, "7241925482a83b45"),
       ("artifact_torture", 0, 600, "68bb716c13469bc3"), ("cramp_sweep", 0, 900, "f96667874de8e02d"),
       ("cramp_one_head", 1, 180, "c96eb9368143fd5f"), ("benign_fasciculations", 0, 900, "67d37725711c2970"),
       ("fasciculation_storm", 1, 600, "29a27b8e99a0415b")]


@pytest.mark.parametrize("scenario,seed,duration,digest", OLD)
def test_old_scenarios_keep_their_timeline(scenario, seed, duration, digest):
    assert plan_digest(build_plan(scenario, seed, duration, "raw")) == digest


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_driving_has_pedal_brake_and_release_and_no_cramp(seed):
    p = build_plan("driving", seed, 1500, "raw")
    assert not labels(p, "cramp")
    pedal = labels(p, "voluntary", "pedal", "calf_right")
    brake = labels(p, "voluntary", "brake", "calf_right")
    assert pedal and brake and labels(p, "voluntary", "pedal_release", "tibialis_anterior_right")
    assert all(5 <= x.mvc_pct <= 20 for x in pedal) and all(20 <= x.mvc_pct <= 40 for x in brake)
    # the pedal is held for most of the drive (15-30 min at the default length)
    assert sum(x.end_s - x.start_s for x in pedal) > 0.6 * 1500
    assert max(x.end_s - x.start_s for x in pedal) <= 125
    # the left calf nearly quiet: only short movements in the drive
    shifts = labels(p, "voluntary", "foot_shift", "calf_left")
    assert all(x.end_s - x.start_s < 2.0 for x in shifts)
    assert 0.04 <= vol_level(p, "calf_right", pedal[1].start_s + 2, pedal[1].end_s - 2) <= 0.23


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_driving_cramp_has_one_cramp_of_the_pedal_calf_above_the_pedal(seed):
    p = build_plan("driving_cramp", seed, 1200, "raw")
    cr = labels(p, "cramp")
    assert len(cr) == 1 and cr[0].channel == "calf_right"
    c = cr[0]
    assert 30 <= c.mvc_pct <= 80 and 20 <= c.end_s - c.start_s <= 125
    assert labels(p, "voluntary", "pedal", "calf_right")
    before = vol_level(p, "calf_right", c.start_s - 5, c.start_s)
    assert c.mvc_pct / 100 >= 2 * before
    # the driver stops pressing within 3 s of the onset (ramp-down included)
    assert vol_level(p, "calf_right", c.start_s + 4.5, c.end_s - 3) < 0.01


@pytest.mark.parametrize("seed", [0, 1])
def test_calf_raises_warm_up_bilateral_then_single_leg_work(seed):
    p = build_plan("calf_raises", seed, 900, "raw")
    work = [x for x in labels(p, "voluntary") if x.detail not in ("standing", "balance")
            and "walking" not in x.detail and x.channel.startswith("calf")]
    first = min(work, key=lambda x: x.start_s)
    assert first.detail == "calf_raise_set"
    assert {x.channel for x in work if x.start_s < first.start_s + 1} == {"calf_left", "calf_right"}
    details = {d for x in work for d in x.detail.split("+")}
    assert {"calf_raise_set", "bilateral_hold", "single_leg_raise_set", "single_leg_hold"} <= details
    for x in labels(p, "voluntary", "single_leg_hold"):
        if x.channel.startswith("calf") and x.mvc_pct > 30:
            assert 40 <= x.mvc_pct <= 70 and x.end_s - x.start_s <= 6.1
    assert not labels(p, "cramp")


def test_cycling_bursts_once_per_revolution_in_antiphase():
    p = build_plan("cycling", 0, 600, "raw")
    acts = [a for a in p.activities if type(a).__name__ == "Walking"]
    assert acts and labels(p, "voluntary", None, "calf_left")
    left = next(a for a in acts if a.channel == 0)
    right = next(a for a in acts if a.channel == 1 and abs(a.t0 - left.t0) < 2)
    rev = np.diff(left.strides.starts)
    assert 60 / 95 < np.median(rev) < 60 / 55
    assert abs((right.strides.starts[0] - left.strides.starts[0]) / np.median(rev) - 0.5) < 0.05
    assert any("cycling" in x.detail for x in labels(p, "voluntary"))


def test_standing_is_low_with_weight_shifts_and_leaning():
    p = build_plan("standing", 0, 900, "raw")
    tonic = [a for a in p.activities if type(a).__name__ == "Tonic"]
    stand = [a for a in tonic if a.peak < 0.05]
    assert stand and all(a.peak < 0.05 for a in stand)
    details = {d for x in labels(p, "voluntary") for d in x.detail.split("+")}
    assert {"standing", "weight_shift"} <= details or {"standing", "lean_forward"} <= details
    assert not labels(p, "cramp")


def test_stairs_push_off_above_level_walking():
    p = build_plan("stairs", 0, 300, "raw")
    up = labels(p, "voluntary", "stairs_up", "calf_left")
    down = labels(p, "voluntary", "stairs_down", "calf_left")
    assert up and down and min(x.mvc_pct for x in up) > 40


def test_restless_night_has_pops_lead_movement_toe_points_and_plms():
    p = build_plan("restless_night", 0, 2700, "raw")
    assert p.mode == "sleep" and len(p.channels) == 4
    assert labels(p, "artifact", "pop") and labels(p, "artifact", "lead_movement")
    assert labels(p, "voluntary", "toe_point") and len(labels(p, "voluntary", "leg_movement")) >= 8
    pops = [tr for tr in p.transients if tr.kind == "pop"]
    assert pops and all(abs(tr.amp_uv) >= 100 and 0.02 <= tr.tau <= 0.35 for tr in pops)
    assert not labels(p, "cramp")


@pytest.mark.parametrize("scenario,n_min,n_max", [("weak_cramps", 2, 20), ("weak_cramps_sleep", 1, 3)])
def test_weak_cramps_are_8_to_20_percent_mvc(scenario, n_min, n_max):
    for seed in (0, 1, 2):
        p = build_plan(scenario, seed, 900 if scenario == "weak_cramps" else 1800, "raw")
        cr = labels(p, "cramp")
        assert n_min <= len(cr) <= n_max
        assert all(8 <= x.mvc_pct <= 20 and 14.9 <= x.end_s - x.start_s <= 121 for x in cr)


def test_pedal_level_in_the_signal_at_1_khz():
    """The rendered pedal hold has the labelled level (band-passed RMS / MVC RMS)."""
    s = sim.make("driving", fs=1000, seed=0, duration=300)
    x = s.to_array()
    sos = signal.butter(2, [20, 450], "bandpass", fs=1000, output="sos")
    y = signal.sosfiltfilt(sos, x[:, 1])
    ratios = []
    for lab in s.labels:
        if lab.channel == "calf_right" and lab.detail == "pedal" and lab.end_s - lab.start_s > 10:
            seg = y[int(lab.start_s * 1000) + 2000:int(lab.end_s * 1000) - 2000]
            ratios.append(100 * np.sqrt(np.mean(seg ** 2)) / s.meta["mvc_rms_uv"]["calf_right"] / lab.mvc_pct)
    assert ratios and all(0.6 < r < 1.5 for r in ratios)
