"""Every stateful DSP step: random uneven chunkings (with empty chunks) give the
one-shot result to 1e-9 relative, at every supported sample rate."""
import numpy as np
import pytest
from scipy import signal

from emgpipe.dsp.features import ALL_FEATURES, WindowFeatures, WindowFeatureSettings
from emgpipe.dsp.filters import BandPass, Cascade, MainsNotch, MainsNotchSettings
from emgpipe.dsp.windows import Windower, WindowSettings
from emgpipe.types import Chunk
from tests.helpers import random_chunks

RATES = [200.0, 250.0, 1000.0, 2000.0, 4000.0]


def emg_like(fs, seconds, n_ch=2, seed=0, mains=50.0):
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    t = np.arange(n) / fs
    x = rng.normal(0, 5, (n, n_ch))
    x += 300.0 * (t > seconds / 2)[:, None] * rng.normal(0, 1, (n, n_ch))  # a burst
    x += 20 * np.sin(2 * np.pi * mains * t)[:, None] + 1000.0  # mains and DC offset
    return x


def assert_close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * max(1.0, float(np.max(np.abs(b)))))


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("make", [
    lambda: BandPass(),
    lambda: BandPass(high_hz=None),
    lambda: MainsNotch(),
    lambda: MainsNotch(MainsNotchSettings(mains_hz=60)),
    lambda: Cascade(BandPass(), MainsNotch()),
], ids=["bandpass", "highpass", "notch-auto", "notch-60", "cascade"])
def test_filters_chunked_equal_one_shot(fs, make):
    x = emg_like(fs, 3.0)
    ref = make()(Chunk(x, fs=fs)).data
    for seed in range(3):
        f = make()
        parts = [f(c) for c in random_chunks(x, fs, np.random.default_rng(seed))]
        got = np.concatenate([p.data for p in parts])
        assert got.shape == x.shape
        assert_close(got, ref)


def test_filter_one_shot_matches_scipy_reference():
    fs = 1000.0
    x = emg_like(fs, 2.0)
    bp = BandPass()
    y = bp(Chunk(x, fs=fs)).data
    sos = signal.butter(2, [20, 450], "bandpass", fs=fs, output="sos")
    ref = signal.sosfilt(sos, x, axis=0, zi=signal.sosfilt_zi(sos)[:, :, None] * x[0][None, None, :])[0]
    assert_close(y, ref)


@pytest.mark.parametrize("fs", RATES)
def test_bandpass_designed_from_fs(fs):
    bp = BandPass()
    sos = bp.settings.design(fs)
    w, h = signal.sosfreqz(sos, worN=4096, fs=fs)
    # passband centre passes; 12 dB/oct below 20 Hz (5 Hz: -24 dB); top corner at min(450, 0.45 fs)
    mid = np.sqrt(20 * min(450, 0.45 * fs))
    assert abs(abs(h[np.argmin(abs(w - mid))]) - 1) < 0.05
    assert abs(h[np.argmin(abs(w - 5))]) < 0.07
    assert abs(h[0]) < 1e-6
    top = min(450, 0.45 * fs)
    assert abs(abs(h[np.argmin(abs(w - top))]) - 1 / np.sqrt(2)) < 0.05


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_notch_detects_mains_and_removes_harmonics(fs, mains):
    rng = np.random.default_rng(2)
    n = int(4 * fs)
    t = np.arange(n) / fs
    x = rng.normal(0, 5, (n, 1))
    harmonics = [k * mains for k in range(1, 8) if k * mains < 0.49 * fs]
    for k, f in enumerate(harmonics):
        x[:, 0] += 40 / (k + 1) * np.sin(2 * np.pi * f * t + k)
    notch = MainsNotch()
    y = notch(Chunk(x, fs=fs)).data
    assert notch.mains_hz == int(mains)
    tail = slice(int(2 * fs), None)
    # every harmonic below Nyquist is gone (residual << 1 µV amplitude)
    for f in harmonics:
        e = np.exp(-2j * np.pi * f * t[tail])
        amp = 2 * abs(np.mean(y[tail, 0] * e))
        assert amp < 1.0, (f, amp)
    # broadband signal is kept
    assert 0.8 < np.std(y[tail]) / 5.0 < 1.2


@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_notch_detects_a_pure_fundamental(mains):
    """Hum without harmonics (common on bipolar leads) is still recognised."""
    fs = 1000.0
    t = np.arange(3000) / fs
    x = np.random.default_rng(3).normal(0, 5, (3000, 1)) + (20 * np.sin(2 * np.pi * mains * t))[:, None]
    n = MainsNotch()
    n(Chunk(x, fs=fs))
    assert n.mains_hz == int(mains)


def test_notch_forced_ignores_signal():
    fs = 1000.0
    t = np.arange(3000) / fs
    x = (30 * np.sin(2 * np.pi * 60 * t))[:, None]
    n = MainsNotch(mains_hz=50)
    n(Chunk(x, fs=fs))
    assert n.mains_hz == 50


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("length_s,hop_s", [(0.25, 0.125), (0.1, 0.1), (0.05, 0.2), (0.5, 0.05)])
def test_windows_chunked_equal_one_shot(fs, length_s, hop_s):
    x = emg_like(fs, 2.0)
    ws = WindowSettings(length_s, hop_s)
    ref = Windower(ws)(Chunk(x, fs=fs))
    n_len, n_hop = ws.samples(fs)
    assert ref.starts.tolist() == list(range(0, len(x) - n_len + 1, n_hop))
    for seed in range(3):
        w = Windower(ws)
        outs = [w(c) for c in random_chunks(x, fs, np.random.default_rng(seed))]
        starts = np.concatenate([o.starts for o in outs])
        data = np.concatenate([o.data for o in outs])
        assert starts.tolist() == ref.starts.tolist()
        np.testing.assert_array_equal(data, ref.data)


@pytest.mark.parametrize("fs", RATES)
def test_features_chunked_equal_one_shot(fs):
    x = emg_like(fs, 3.0)
    settings = WindowFeatureSettings()
    ref = WindowFeatures(settings)(Chunk(x, fs=fs))
    assert set(ref.values) == set(ALL_FEATURES)
    for seed in range(3):
        wf = WindowFeatures(settings)
        outs = [wf(c) for c in random_chunks(x, fs, np.random.default_rng(seed))]
        np.testing.assert_array_equal(np.concatenate([o.starts for o in outs]), ref.starts)
        for name in ALL_FEATURES:
            assert_close(np.concatenate([o.values[name] for o in outs]), ref.values[name])


def test_state_resets_after_gap_and_layout_change():
    fs = 1000.0
    x = emg_like(fs, 2.0)
    w = Windower(length_s=0.1, hop_s=0.05)
    a = w(Chunk(x[:950], fs=fs, seq=0))
    # 500 samples lost: windows restart at the first sample after the gap
    b = w(Chunk(x[950:], fs=fs, seq=1450))
    assert a.starts[-1] + 100 <= 950
    assert b.starts[0] == 1450
    assert np.all(np.diff(b.starts) == 50)
    # new channel layout also resets
    c = w(Chunk(x[:200, :1], fs=fs, seq=0, ch_names=("other",)))
    assert c.starts[0] == 0


def test_filter_after_gap_equals_fresh_filter():
    fs = 500.0
    x = emg_like(fs, 2.0)
    bp = BandPass()
    bp(Chunk(x[:400], fs=fs))
    after = bp(Chunk(x[400:], fs=fs, seq=900))
    fresh = BandPass()(Chunk(x[400:], fs=fs, seq=900))
    np.testing.assert_array_equal(after.data, fresh.data)


def test_features_known_values():
    fs = 4000.0
    t = np.arange(4000) / fs
    sine = 100 * np.sin(2 * np.pi * 100 * t)
    wf = WindowFeatures(WindowFeatureSettings(WindowSettings(1.0, 1.0)))
    f = wf(Chunk(sine[:, None], fs=fs))
    v = {k: float(a[0, 0]) for k, a in f.values.items()}
    assert abs(v["rms"] - 100 / np.sqrt(2)) < 0.5
    assert abs(v["mav"] - 200 / np.pi) < 0.5
    assert abs(v["zc"] - 200) <= 2          # two crossings per cycle
    assert abs(v["ssc"] - 200) <= 2         # a peak and a trough per cycle
    assert abs(v["mnf"] - 100) < 2 and abs(v["mdf"] - 100) <= 1
    assert abs(v["kurtosis"] - (-1.5)) < 0.01   # excess kurtosis of a sine
    # TKE of A sin(wn): A^2 sin^2(w), w = 2 pi 100 / fs
    assert abs(v["tke"] - 100 ** 2 * np.sin(2 * np.pi * 100 / fs) ** 2) < 1.0
    assert v["spikes"] == 0


def test_spike_count_finds_transients():
    fs = 2000.0
    rng = np.random.default_rng(3)
    x = rng.normal(0, 3, 2000)
    for pos in (300, 900, 1500):  # three 10 ms MUAP-like transients
        k = np.arange(20)
        x[pos:pos + 20] += 150 * np.sin(2 * np.pi * k / 20) * np.hanning(20)
    wf = WindowFeatures(WindowFeatureSettings(WindowSettings(1.0, 1.0)))
    f = wf(Chunk(x[:, None], fs=fs))
    assert 3 <= f.values["spikes"][0, 0] <= 6   # each transient once (biphasic: up to 2 lobes)
    assert f.values["kurtosis"][0, 0] > 5


def test_notch_keeps_both_when_no_mains_stands_out():
    fs = 1000.0
    x = np.random.default_rng(5).normal(0, 5, (3000, 1))
    n = MainsNotch()
    y = n(Chunk(x, fs=fs))
    assert n.decided and n.mains_hz is None
    assert 0.8 < np.std(y.data[1500:]) / 5 < 1.2


def test_features_on_flat_and_tiny_signals_are_finite():
    fs = 1000.0
    x = np.zeros((3000, 2))
    x[:, 1] = 1e-160 * np.random.default_rng(0).normal(size=3000)
    f = WindowFeatures()(Chunk(x, fs=fs))
    for name, v in f.values.items():
        if name in ("pot_first", "pot_last", "pot_peak", "pot_peak_at"):   # NaN exactly where there is none
            assert np.array_equal(np.isnan(v), f.values["pot_n"] == 0), name
        else:
            assert np.all(np.isfinite(v)), name
    assert np.all(f.values["kurtosis"] == 0)
    assert np.all(f.values["pot_n"][:, 0] == 0)
