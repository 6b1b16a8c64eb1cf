import numpy as np
import pytest

from emgpipe.detect.quality import QualityDetector
from emgpipe.types import Chunk, Gap
from tests.helpers import random_chunks


def run(q, x, fs, names=("a",), seed=None):
    if seed is None:
        chunks = [Chunk(x, fs=fs, ch_names=names)]
    else:
        chunks = list(random_chunks(x, fs, np.random.default_rng(seed), ch_names=names))
    ev = []
    for c in chunks:
        ev += q(c)
    return ev + q.close(len(x) / fs)


def key(events):
    return [(e.kind, e.channel, e.status, round(e.start_s, 6), round(e.end_s, 6), round(e.alert_s, 6), e.detail)
            for e in events]


@pytest.mark.parametrize("fs", [200.0, 1000.0, 4000.0])
def test_flat_line_saturation_and_chunk_invariance(fs):
    rng = np.random.default_rng(0)
    n = int(20 * fs)
    x = rng.normal(0, 5, (n, 2))
    x[int(3 * fs):int(6 * fs), 0] = 12.0                        # lead-off: flat
    burst = slice(int(10 * fs), int(13 * fs))
    x[burst, 1] = rng.normal(0, 800, x[burst, 1].shape)
    x[:, 1] = np.clip(x[:, 1], -1000, 1000)                      # amplifier rails
    one = run(QualityDetector(), x, fs, ("a", "b"))
    finals = [e for e in one if e.status == "final"]
    flat = [e for e in finals if e.detail.startswith("flat")]
    clip = [e for e in finals if e.detail.startswith("saturation")]
    assert len(flat) == 1 and flat[0].channel == "a"
    assert abs(flat[0].start_s - 3) <= 0.25 and abs(flat[0].end_s - 6) <= 0.25
    assert flat[0].alert_s <= flat[0].start_s + 1.0 + 0.25 + 1e-9
    assert len(clip) == 1 and clip[0].channel == "b" and 9.75 <= clip[0].start_s <= 10.5
    assert all(e.kind == "signal_loss" for e in flat)
    assert all(e.kind == "artifact" for e in clip)       # a railed channel: an artefact (model 0.7.13)
    for seed in range(3):
        assert key(run(QualityDetector(), x, fs, ("a", "b"), seed)) == key(one)


def test_no_events_on_clean_emg_bursts():
    fs = 1000.0
    rng = np.random.default_rng(1)
    x = rng.normal(0, 4, (int(30 * fs), 1))
    for s in (5, 15, 25):
        x[int(s * fs):int((s + 2) * fs)] *= 60      # strong voluntary bursts, not clipped
    assert [e for e in run(QualityDetector(), x, fs) if e.status == "final"] == []


def test_motion_artifact():
    fs = 1000.0
    rng = np.random.default_rng(2)
    t = np.arange(int(10 * fs)) / fs
    x = rng.normal(0, 5, len(t))
    x[4000:5000] += 2000 * np.sin(2 * np.pi * 3 * t[4000:5000])  # 3 Hz cable swing
    ev = [e for e in run(QualityDetector(), x[:, None], fs) if e.status == "final"]
    assert [e.kind for e in ev] == ["artifact"]
    assert 3.5 <= ev[0].start_s <= 4.25 and 4.75 <= ev[0].end_s <= 5.5


@pytest.mark.parametrize("fs", [200.0, 250.0, 1000.0, 4000.0])
def test_mains_burst_is_an_artifact_steady_hum_and_emg_are_not(fs):
    """A hum burst (loose electrode) on top of a set-up's usual mains is an artefact;
    the usual hum, a strong EMG burst (broadband, smooth across 50 and 60 Hz) are not."""
    rng = np.random.default_rng(3)
    t = np.arange(int(60 * fs)) / fs
    # usual hum: 50 Hz mains on "a", 60 Hz on "b" (as in Europe and in America)
    x = rng.normal(0, 5, (len(t), 2)) + 4.0 * np.sin(2 * np.pi * np.array([50.0, 60.0]) * t[:, None])
    x[int(10 * fs):int(20 * fs), 0] += 60.0 * np.sin(2 * np.pi * 50 * t[int(10 * fs):int(20 * fs)] + 1.0)
    x[int(30 * fs):int(40 * fs), 1] += 40.0 * np.sin(2 * np.pi * 60 * t[int(30 * fs):int(40 * fs)])
    x[int(45 * fs):int(55 * fs), :] += rng.normal(0, 150, (int(10 * fs), 2))         # strong EMG
    one = run(QualityDetector(), x, fs, ("a", "b"))
    finals = [e for e in one if e.status == "final"]
    assert [(e.kind, e.channel, e.detail.split(" ")[0]) for e in finals] == [
        ("artifact", "a", "mains"), ("artifact", "b", "mains")], key(finals)
    a, b = finals
    assert 9.75 <= a.start_s <= 10.5 and 19.5 <= a.end_s <= 20.25 and 35 < a.peak_uv < 50
    assert 29.75 <= b.start_s <= 30.5 and 39.5 <= b.end_s <= 40.25
    for seed in range(2):
        assert key(run(QualityDetector(), x, fs, ("a", "b"), seed)) == key(one)


def test_gap_becomes_signal_loss_per_channel():
    q = QualityDetector()
    c = Chunk(np.zeros((10, 2)) + np.arange(10)[:, None], fs=100.0, seq=150, ch_names=("l", "r"),
              attrs={"gaps": (Gap(100, 50, 100.0, "dropped packets"),)})
    ev = q(c)
    assert [(e.kind, e.channel, e.start_s, e.end_s, e.alert_s) for e in ev] == [
        ("signal_loss", "l", 1.0, 1.5, 1.5), ("signal_loss", "r", 1.0, 1.5, 1.5)]
    assert "50 samples" in ev[0].detail


def test_unannounced_sample_jump_is_signal_loss():
    q = QualityDetector()
    rng = np.random.default_rng(0)
    a = Chunk(rng.normal(size=(100, 1)), fs=100.0, seq=0, ch_names=("x",))
    b = Chunk(rng.normal(size=(100, 1)), fs=100.0, seq=130, ch_names=("x",))
    assert q(a) == []
    ev = q(b)
    assert [(e.kind, e.start_s, e.end_s, e.alert_s) for e in ev] == [("signal_loss", 1.0, 1.3, 1.3)]
    assert "30 samples lost" in ev[0].detail and "jump" in ev[0].detail


def test_usual_hum_after_a_lead_off_or_a_flat_start_is_not_an_artifact():
    """A flat line (lead-off, or a device that starts with zeros) must not teach the
    channel's usual mains level, or the set-up's steady hum would look like a burst after it."""
    fs = 1000.0
    rng = np.random.default_rng(4)
    t = np.arange(int(40 * fs)) / fs
    x = rng.normal(0, 3, (len(t), 1)) + 30.0 * np.sin(2 * np.pi * 50 * t)[:, None]   # steady ~21 µV RMS hum
    x[:int(2 * fs)] = 0.0                                   # flat start
    x[int(15 * fs):int(20 * fs)] = 7.0                      # lead-off
    for seed in (None, 0):
        ev = [e for e in run(QualityDetector(), x, fs, seed=seed) if e.status == "final"]
        assert [(e.kind, e.detail.split(" ")[0]) for e in ev] == [("signal_loss", "flat"), ("signal_loss", "flat")], \
            key(ev)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 8, 250, 251])
def test_row_median_is_numpys_bit_for_bit(n):
    from emgpipe.detect.quality import _row_median
    a = np.random.default_rng(n).normal(0, 100, (5, n))
    assert np.array_equal(_row_median(a), np.median(a, axis=-1))
    a[2, 0] = np.nan
    assert np.array_equal(_row_median(a), np.median(a, axis=-1), equal_nan=True)
