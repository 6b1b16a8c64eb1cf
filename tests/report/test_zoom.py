"""Each cramp up close: the raw EMG read from the night's EDF+ files or the replayed recording
(only the window), filtered from the file's sample rate, with the alert and the answer marked."""
import base64
import re

import numpy as np
import pytest

from emgpipe.io import read_recording
from emgpipe.io.contract_csv import CsvWriter
from emgpipe.io.events_csv import EventsCsvWriter
from emgpipe.night.edfplus import EdfPlusWriter
from emgpipe.night.recorder import NightRecorder
from emgpipe.report.data import load_nights
from emgpipe.report.html import render
from emgpipe.report.rawemg import EdfWindows, night_windows, recording_windows
from emgpipe.report.zoom import cramp_figure, emg_filter, envelope, window_for
from emgpipe.types import Event

CH = ("calf_left", "calf_right")


def ramp(fs, seconds, seed=0):
    """Noise plus a distinct ramp per channel, so a misplaced sample shows."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    t = np.arange(n) / fs
    return np.column_stack([10 * t + rng.normal(0, 3, n), -5 * t + rng.normal(0, 3, n)])


def test_night_windows_join_rotated_files_exactly(tmp_path):
    out = tmp_path / "night"
    rec = NightRecorder("sim:walk_then_cramp?seed=2", out, speed="max", mode="awake", rotate_s=20.0,
                        answers_path=tmp_path / "answers.json")
    assert rec.run().status == "complete"
    [night] = load_nights(out)
    assert len(night.files) == 4
    # what the EDF reader reads from each file, placed at the file's stream time
    full = np.full((int(75 * 1000), 2), np.nan)
    for f in night.files:
        r = read_recording(out / f["path"])
        i = int(round(f["start_s"] * 1000))
        full[i:i + r.n_total] = r.to_array()[: len(full) - i]
    [w] = night_windows(night, [(15.5, 52.25)])
    assert w.ch_names == CH and w.fs == 1000.0 and w.t0 == 15.5
    np.testing.assert_array_equal(w.data, full[15500:52250])
    [c] = night.cramps
    [w] = night_windows(night, [window_for(c)])
    assert w.t0 == pytest.approx(max(0.0, c.start_s - 30)) and np.isfinite(w.data[:1000]).all()


@pytest.mark.parametrize("fmt", ["csv", "edf"])
def test_recording_windows_are_the_recordings_samples(tmp_path, fmt):
    fs, x = 250.0, ramp(250.0, 40)
    if fmt == "csv":
        path = tmp_path / "rec.csv"
        with CsvWriter(path, fs, CH) as wr:
            wr.write(x)
    else:
        path = tmp_path / "rec.edf"
        wr = EdfPlusWriter(path, fs, CH, start_wall=1.7e9)
        wr.append(x)
        wr.close()
    ref = read_recording(path).to_array()
    a, b, c = recording_windows(path, [(2.0, 5.0), (30.0, 45.0), (50.0, 60.0)])
    np.testing.assert_array_equal(a.data, ref[500:1250])
    assert a.t0 == 2.0 and a.ch_names == CH
    np.testing.assert_array_equal(b.data[:2500], ref[7500:10000])   # the part after the end is NaN
    assert np.isnan(b.data[2500:]).all() and c is None
    if fmt == "edf":                                               # 16-bit EDF: 0.31 µV steps
        np.testing.assert_allclose(a.data, x[500:1250], atol=0.31)


def test_edf_windows_seek_to_the_records(tmp_path):
    fs = 1000.0
    path = tmp_path / "long.edf"
    wr = EdfPlusWriter(path, fs, CH, start_wall=1.7e9)
    x = ramp(fs, 600, seed=3)                                      # 10 min
    wr.append(x)
    wr.close()
    ew = EdfWindows(path, start_s=100.0)                           # the file starts at stream time 100 s
    t, block = ew.read(640.5, 641.5)
    assert t == 640.0 and block.shape == (2000, 2)                 # whole 1 s records around it
    np.testing.assert_allclose(block, x[540_000:542_000], atol=0.31)
    assert ew.read(0.0, 50.0)[1].shape == (0, 2) and ew.end_s == 700.0


@pytest.mark.parametrize("fs", [200.0, 250.0, 1000.0, 4000.0])
def test_filter_designed_from_the_sample_rate(fs):
    n = int(12 * fs)
    t = np.arange(n) / fs
    tone = 20 * np.sin(2 * np.pi * 70 * t)                          # EMG band at every rate
    x = 500 + 40 * np.sin(2 * np.pi * 50 * t) + tone                # DC offset and 50 Hz hum
    x[int(6 * fs):int(6.5 * fs)] = np.nan                           # a gap: filters restart after it
    y = emg_filter(x, fs)
    assert np.isnan(y[int(6 * fs):int(6.5 * fs)]).all()
    def amplitude(seg, f):                                          # lock-in amplitude at f Hz
        return 2 * abs(np.mean(y[seg] * np.exp(-2j * np.pi * f * t[seg])))
    for a, b in ((3, 6), (9.5, 12)):                                 # settled parts before/after the gap
        seg = slice(int(a * fs), int(b * fs))
        assert abs(np.mean(y[seg])) < 0.5 and amplitude(seg, 50) < 1.0   # DC and hum gone
        assert amplitude(seg, 70) > 0.7 * 20                              # the EMG band kept
    tt, env = envelope(y, fs, t0=10.0)
    assert 0.7 * 20 / np.sqrt(2) < np.nanmedian(env[(tt > 13) & (tt < 16)]) < 1.1 * 20 / np.sqrt(2)
    assert np.isnan(env[(tt > 16) & (tt < 16.5)]).all()             # windows touching the gap


def cramp_recording(tmp_path, fs, label="not_cramp"):
    """A quiet recording with a strong burst on calf_right (40-55 s) and its events file."""
    rng = np.random.default_rng(1)
    n = int(90 * fs)
    x = rng.normal(0, 4, (n, 2))
    x[int(40 * fs):int(55 * fs), 1] += rng.normal(0, 150, int(15 * fs))
    with CsvWriter(tmp_path / "rec.csv", fs, CH, {"mode": "sleep"}) as wr:
        wr.write(x)
    with EventsCsvWriter(tmp_path / "rec.events.csv", model="sleep@1") as w:
        w.write(Event("cramp", "calf_right", 40.0, 55.0, 46.5, peak_uv=150.0, confidence=0.9, label=label))
    return tmp_path / "rec.events.csv"


@pytest.mark.parametrize("fs", [200.0, 4000.0])
def test_zoom_plot_marks_alert_and_answer(tmp_path, fs):
    [night] = load_nights(cramp_recording(tmp_path, fs))
    assert night.recording == tmp_path / "rec.csv" and night.duration_s == 90.0
    [c] = night.cramps
    [raw] = recording_windows(night.recording, [window_for(c)])
    assert raw.t0 == 10.0 and len(raw.data) == int(75 * fs)        # 30 s before to 30 s after
    fig = cramp_figure(night, c, 1, raw)
    top, bottom = fig.axes[:2]
    texts = [t.get_text() for t in top.texts]
    assert texts == ["stretch prompt 6.5 s after onset; your answer: not a cramp"]
    assert [ln.get_xdata()[0] for ln in top.lines if ln.get_linestyle() == "--"] == [6.5]
    assert bottom.get_xlim() == pytest.approx((-30.0, 45.0), abs=1 / fs)
    assert sorted(ln.get_label() for ln in bottom.lines if not ln.get_label().startswith("_")) == list(CH)
    # the envelope shows the burst on the cramp's channel only
    own = next(ln for ln in bottom.lines if ln.get_label() == "calf_right")
    other = next(ln for ln in bottom.lines if ln.get_label() == "calf_left")
    inside = (own.get_xdata() > 2) & (own.get_xdata() < 13)
    assert np.nanmedian(own.get_ydata()[inside]) > 20 * np.nanmedian(other.get_ydata()[inside])
    page = render(night)
    uri = re.search(r"<h3 id='cramp-1'>.*?<img src='data:image/png;base64,([^']+)'", page, re.S).group(1)
    png = base64.b64decode(uri)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(png[16:20], "big") > 800


def test_no_raw_emg_is_said_not_drawn(tmp_path):
    events = cramp_recording(tmp_path, 250.0, label="")
    (tmp_path / "rec.csv").rename(tmp_path / "elsewhere.csv")
    [night] = load_nights(events)
    page = render(night)
    assert night.recording is None and "No raw EMG for this time" in page
    assert "<h3 id='cramp-1'>Cramp 1: calf right at +0:00</h3><p class='muted'>" in page
