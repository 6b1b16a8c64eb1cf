"""The simulator: determinism, block independence, every scenario/device, labels that match the signal."""
from __future__ import annotations

import re

import numpy as np
import pytest
from scipy import signal

from emgpipe import sim
from emgpipe.sim.devices import DEVICES
from tests.sim.util import idx, outside, rms

MUSCLE = re.compile(r"calf|gastrocnemius|soleus|hamstring|biceps_femoris|tibialis|shin|foot")
VARIANTS = [("raw", 1000), ("cyton", 250), ("ganglion", 200), ("myoware_env", 250)]


def bandpass(x, fs, lo=20.0):
    hi = min(450.0, 0.45 * fs)
    sos = signal.butter(2, [lo, hi], "bandpass", fs=fs, output="sos")
    return signal.sosfiltfilt(sos, x, axis=0)


# ------------------------------------------------------------------ contract of make()

@pytest.mark.parametrize("scenario", sorted(sim.SCENARIOS))
@pytest.mark.parametrize("device,fs", VARIANTS)
def test_every_scenario_and_device_runs(scenario, device, fs):
    s = sim.make(scenario, fs=fs, seed=5, duration=20, device=device)
    x = np.concatenate(list(s.blocks(7.0)))
    assert x.shape == (s.n_samples, len(s.ch_names)) and s.n_samples == 20 * fs
    assert np.isfinite(x).all()
    assert s.mode in ("sleep", "awake") and s.fs == fs
    assert all(MUSCLE.search(n) for n in s.ch_names), s.ch_names
    for lab in s.labels:
        assert lab.channel in s.ch_names
        assert 0 <= lab.start_s <= lab.end_s <= s.duration_s
        assert lab.kind in ("cramp", "fasciculation", "voluntary", "artifact", "signal_loss")
    floor = 0.5 if device == "myoware_env" else 10.0  # an envelope at rest is a few µV
    assert np.abs(x - np.median(x, axis=0)).max() > floor  # not an empty signal


def test_scenarios_listed_with_descriptions():
    for name in ("walk_then_cramp", "walking", "fasciculation_storm", "benign_fasciculations", "night",
                 "night_plm_only", "sustained_voluntary", "artifact_torture"):
        assert name in sim.SCENARIOS and len(sim.SCENARIOS[name]) > 20


def test_same_seed_same_output_other_seed_other_output():
    a = sim.make("walk_then_cramp", seed=7, duration=30).to_array()
    b = sim.make("walk_then_cramp", seed=7, duration=30).to_array()
    c = sim.make("walk_then_cramp", seed=8, duration=30).to_array()
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("device,fs", [("raw", 1000), ("ganglion", 200)])
def test_output_does_not_depend_on_block_size(device, fs):
    s = sim.make("artifact_torture", fs=fs, seed=2, duration=33, device=device)
    a = np.concatenate(list(s.blocks(1.0)))
    b = np.concatenate(list(s.blocks(7.3)))
    c = np.concatenate(list(s.blocks(100.0)))
    assert np.array_equal(a, b) and np.array_equal(a, c)


def test_timeline_is_the_same_on_every_device():
    labs = [[x.row() for x in sim.make("night", fs=fs, seed=3, duration=600, device=d).labels]
            for d, fs in VARIANTS]
    assert labs[0] and all(lab == labs[0] for lab in labs[1:])


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown scenario"):
        sim.make("nope")
    with pytest.raises(ValueError, match="250 Hz"):
        sim.make("walking", fs=1000, device="cyton")
    with pytest.raises(ValueError, match="1000-4000"):
        sim.make("walking", fs=500, device="raw")
    assert sim.make("walking", fs=250, duration=10).device == "cyton"
    assert sim.make("walking", fs=200, duration=10).device == "ganglion"


# ------------------------------------------------------------------ labels match the signal

def _cramp_ratios(s, x):
    out = []
    for lab in (x_ for x_ in s.labels if x_.kind == "cramp"):
        c = s.ch_names.index(lab.channel)
        y = bandpass(x[:, c], s.fs)
        inside = y[idx(s, lab.start_s + 5.0, lab.end_s - 1.0)]
        rest = y[outside(s, lab.channel, margin=2.0)]
        out.append((lab.mvc_pct, rms(inside) / rms(rest)))
    return out


@pytest.mark.parametrize("device,fs", [("raw", 1000), ("cyton", 250), ("ganglion", 200)])
def test_cramp_energy_far_above_rest_even_weak_ones(simulate, device, fs):
    s, x = simulate("cramp_sweep", fs=fs, seed=1, duration=720, device=device)
    ratios = _cramp_ratios(s, x)
    assert len(ratios) >= 4 and min(m for m, _ in ratios) <= 15  # includes a weak (10-15 % MVC) cramp
    # at 200/250 Hz most sEMG power is above Nyquist and the Ganglion is noisier: weak
    # cramps stand out less there (the hard cases the benchmark is meant to have)
    need = 6.0 if device == "raw" else 2.5
    for mvc, r in ratios:
        assert r > need, (mvc, r)
    strong = [r for m, r in ratios if m >= 40]
    weak = [r for m, r in ratios if m <= 20]
    assert min(strong) > max(weak)  # amplitude follows the labelled %MVC


def test_cramp_is_localised_and_its_pool_is_irregular(simulate):
    s, x = simulate("cramp_one_head", seed=0)
    lab = next(x_ for x_ in s.labels if x_.kind == "cramp")
    assert lab.channel == "gastrocnemius_medial_right"
    seg = idx(s, lab.start_s + 5, lab.end_s - 2.5)
    own = rms(bandpass(x[seg, 0], s.fs))
    for c in (1, 2):  # soleus and TA: cross-talk only
        assert rms(bandpass(x[seg, c], s.fs)) < 0.3 * own


def test_cramp_spectrum_and_amplitude_are_semg_like(simulate):
    s, x = simulate("walk_then_cramp", seed=0)
    lab = next(x_ for x_ in s.labels if x_.kind == "cramp")
    c = s.ch_names.index(lab.channel)
    y = x[idx(s, lab.start_s + 5, lab.end_s - 2), c]
    f, p = signal.welch(y - y.mean(), s.fs, nperseg=1024)
    mdf = f[np.searchsorted(np.cumsum(p), np.sum(p) / 2)]
    assert 60 <= mdf <= 130  # median frequency of raw sEMG at 1 kHz (real files: 82-115 Hz)
    assert 200 < np.percentile(np.abs(y), 99.9) < 3000


def test_rest_noise_floor_is_1_to_5_uv(simulate):
    s, x = simulate("benign_fasciculations", seed=0, duration=120)
    for c, name in enumerate(s.ch_names):
        r = rms(x[outside(s, name, margin=0.5), c])
        assert 1.0 <= r <= 5.0, (name, r)


def test_every_fasciculation_label_holds_a_transient(simulate):
    s, x = simulate("fasciculation_storm", seed=4, duration=240)
    labs = [lab for lab in s.labels if lab.kind == "fasciculation"]
    assert len(labs) > 20 and any(lab.n_potentials >= 10 for lab in labs)
    for c, name in enumerate(s.ch_names):
        y = bandpass(x[:, c], s.fs)
        noise = rms(y[outside(s, name, margin=0.3)])
        for lab in (lab for lab in labs if lab.channel == name):
            peak = np.abs(y[idx(s, lab.start_s, lab.end_s + 0.002)]).max()
            assert peak > 3.5 * noise, (lab, peak, noise)
            assert lab.n_potentials >= 1
            if lab.n_potentials == 1:
                assert 0.004 <= lab.duration_s <= 0.026  # a single potential: 5-25 ms


def test_fasciculations_vanish_in_the_envelope(simulate):
    s, x = simulate("walk_then_cramp", seed=0, device="myoware_env", fs=250)
    assert s.meta["signal"] == "envelope" and (x >= 0).all()
    cr = next(lab for lab in s.labels if lab.kind == "cramp")
    c = s.ch_names.index(cr.channel)
    rest = np.median(x[outside(s, cr.channel, margin=1.0), c])
    fasc = [lab for lab in s.labels if lab.kind == "fasciculation" and lab.channel == cr.channel]
    assert fasc
    plateau = np.median(x[idx(s, cr.start_s + 5, cr.end_s - 2), c])
    assert plateau > 10 * rest
    for lab in fasc:  # at most a small smooth bump, far below the cramp's envelope
        assert x[idx(s, lab.start_s, lab.end_s + 0.3), c].max() - rest < 0.2 * plateau


def test_walking_bursts_follow_the_cadence_and_legs_alternate(simulate):
    s, x = simulate("walking", seed=3, duration=300)
    labs = [lab for lab in s.labels if lab.kind == "voluntary" and lab.detail.startswith("walking")
            and lab.channel == "calf_left" and lab.duration_s > 20]
    assert labs
    lab = labs[0]
    cadence = float(lab.detail.split()[1])
    stride = 120.0 / cadence
    env = {}
    for name in ("calf_left", "calf_right"):
        y = bandpass(x[:, s.ch_names.index(name)], s.fs) ** 2
        e = signal.sosfiltfilt(signal.butter(2, 4.0, fs=s.fs, output="sos"), y)[idx(s, lab.start_s + 2, lab.end_s - 2)]
        env[name] = (e - e.mean())[:: int(s.fs // 100)]  # 100 Hz
    a = env["calf_left"]
    ac = np.correlate(a, a, "full")[len(a) - 1:]
    lags = np.arange(len(ac)) / 100.0
    sel = (lags > 0.5 * stride) & (lags < 1.5 * stride)
    period = lags[sel][np.argmax(ac[sel])]
    assert abs(period - stride) < 0.08 * stride
    b = env["calf_right"][: len(a)]
    xc = [np.dot(a[: len(a) - k], b[k:]) for k in range(int(stride * 100))]
    lag = np.argmax(xc) / 100.0
    assert abs(lag - 0.5 * stride) < 0.15 * stride  # the other leg half a stride later


def test_holds_are_bilateral_and_well_above_rest(simulate):
    s, x = simulate("sustained_voluntary", seed=0, duration=300)
    tiptoes = [lab for lab in s.labels if lab.detail == "tiptoe"]
    assert {lab.channel for lab in tiptoes} >= {"calf_left", "calf_right"}
    assert all(4.5 <= lab.duration_s <= 32 for lab in s.labels
               if lab.detail in ("tiptoe", "heel_raise", "press") and lab.channel.startswith("calf"))
    for lab in tiptoes:
        c = s.ch_names.index(lab.channel)
        y = bandpass(x[:, c], s.fs)
        assert rms(y[idx(s, lab.start_s + 1, lab.end_s - 1)]) > 3 * rms(y[outside(s, lab.channel)])


def test_sleep_leg_movements_follow_aasm(simulate):
    s, _ = simulate("night_plm_only", seed=1, duration=1200, device="cyton", fs=250)
    assert s.mode == "sleep"
    lms = sorted((lab for lab in s.labels if lab.detail == "leg_movement"
                  and lab.channel == "tibialis_anterior_left"), key=lambda x: x.start_s)
    assert len(lms) >= 4
    assert all(0.4 <= lab.duration_s <= 10.5 for lab in lms)
    gaps = np.diff([lab.start_s for lab in lms])
    assert np.sum((gaps >= 5) & (gaps <= 90)) >= 3  # a periodic series


def test_artefacts_lead_off_clipping_and_gaps(simulate):
    s, x = simulate("artifact_torture", seed=0, duration=420)
    kinds = {(lab.kind, lab.detail) for lab in s.labels}
    for need in [("signal_loss", "lead_off"), ("signal_loss", "dropped"), ("artifact", "pop"),
                 ("artifact", "mains"), ("artifact", "clipping"), ("artifact", "ecg")]:
        assert any(k == need[0] and need[1] in d for k, d in kinds), need
    for lab in s.labels:
        c = s.ch_names.index(lab.channel)
        seg = x[idx(s, lab.start_s + 0.01, lab.end_s - 0.01), c]
        if lab.detail == "lead_off":
            assert np.ptp(seg) == 0.0
        if lab.detail == "clipping":
            assert np.isclose(np.abs(seg).max(), DEVICES["raw"].range_uv)
    assert s.gaps and all(g.n_missing > 0 for g in s.gaps)
    for g in s.gaps:
        assert any(lab.detail == "dropped" and abs(lab.start_s - g.start_s) < 0.01 for lab in s.labels)
    # segments leave the dropped samples out; chunks announce them
    segs = list(s.segments(5.0))
    assert sum(len(d) for _, d in segs) == s.n_samples - sum(g.n_missing for g in s.gaps)
    starts = {seq for seq, _ in segs}
    assert all(g.seq + g.n_missing in starts for g in s.gaps)
    announced = [g for ch in s.chunks(0.5) for g in ch.gaps]
    assert announced == s.gaps


def test_ganglion_gaps_are_whole_packets():
    s = sim.make("artifact_torture", seed=0, duration=600, device="ganglion")
    assert s.gaps and all(g.n_missing % 2 == 0 for g in s.gaps)


def test_cyton_is_dc_coupled_and_quantised(simulate):
    s, x = simulate("walk_then_cramp", seed=1, device="cyton", fs=250)
    assert np.all(np.abs(np.median(x, axis=0)) > 1000)  # electrode offsets of mV (OpenBCI GUI sample)
    steps = x[:, 0] / DEVICES["cyton"].lsb_uv
    assert np.allclose(steps, np.round(steps), atol=1e-6)
