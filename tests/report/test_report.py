"""`emgpipe report`: the HTML morning report and its terminal summary, from a night or replayed events."""
import base64
import re
import time

import numpy as np
import pytest

from emgpipe.cli import main
from emgpipe.io.events_csv import EventsCsvWriter
from emgpipe.report.data import load_nights
from emgpipe.report.html import DISCLAIMER, fmt_duration, hours_recorded, per_hour, render
from emgpipe.types import Event
from tests.report.report_helpers import make_night

START = time.mktime((2025, 3, 4, 23, 0, 0, 0, 0, -1))   # 23:00 local


def images(page):
    return re.findall(r"<img src='data:image/png;base64,([^']+)'", page)


def test_report_of_a_night(tmp_path, capsys):
    make_night(tmp_path, START, cramps=((2.25, "calf_right", 190.0, 350.0), (5.5, "calf_left", 45.0, 200.0)))
    assert main(["report", str(tmp_path)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0] == "Night of 2025-03-04 23:00: 8 h 00 min recorded from 2025-03-04 23:00 (complete (end of signal))"
    assert out[1] == ("2 cramp(s), 3 min 55 s in all: calf right at 01:15 for 3 min 10 s; "
                      "calf left at 04:30 for 45 s")
    assert out[2].startswith("30 fasciculation episode(s) (3.8/h), 40 leg movement(s) (5.0/h)")
    assert out[3] == "Signal lost 5 s in 1 gap(s), 1 disconnect(s)."
    path = tmp_path / "report-20250304-2300-1.html"
    assert out[4] == f"report: {path}"
    page = path.read_text(encoding="utf-8")
    pngs = images(page)
    assert len(pngs) == 4
    for b in pngs:                                       # real PNG images with a size
        raw = base64.b64decode(b)
        assert raw[:8] == b"\x89PNG\r\n\x1a\n"
        w, h = int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")
        assert w > 400 and h > 100
    assert not re.search(r"(src|href)=['\"]?(https?:|//)", page)   # self-contained
    assert "<script" not in page
    assert "350 µV (100 % of max)" in page and "3 min 10 s" in page and "12.0 s after onset" in page
    assert DISCLAIMER in page and "not a medical device" in page.lower()
    for section in ("timeline", "fasciculations", "leg-movements", "quality", "cramps"):
        assert f"id='{section}'" in page


def test_a_killed_night_shows_what_was_logged(tmp_path, capsys):
    make_night(tmp_path, START - 86400, hours=3.0, cramps=((2.9, "calf_left", 60.0, 200.0),), killed=True)
    night = load_nights(tmp_path)[0]
    assert night.status == "ended without a clean stop (killed or crashed)"
    (cramp,) = night.cramps
    assert cramp.status == "onset" and cramp.end_s == 3 * 3600     # lasted at least to the end of the log
    page = render(night)
    assert "no: recording stopped" in page


def test_per_hour_rates_use_the_hours_actually_recorded(tmp_path):
    make_night(tmp_path, START, hours=2.5, n_fasc=0, n_lm=0, cramps=())
    night = load_nights(tmp_path)[0]
    np.testing.assert_allclose(hours_recorded(night), [1.0, 1 - 4.6 / 3600, 0.5])
    night.events = [e for e in night.events if e.kind != "signal_loss"] + [
        type(night.events[0])("fasciculation", "calf_left", t, t + 1, t + 2) for t in (10.0, 20.0, 7300.0)]
    starts, counts = per_hour(night, ("fasciculation",))
    assert starts.tolist() == [0, 1, 2] and counts["calf_left"].tolist() == [2, 0, 1]


def test_report_of_replayed_events(tmp_path, capsys):
    d = tmp_path / "events"
    d.mkdir()
    with EventsCsvWriter(d / "walk.events.csv", model="default@0.1.0") as w:
        w.write(Event("fasciculation", "calf_right", 2.9, 3.3, 4.6, n_potentials=2))
        w.write(Event("cramp", "calf_right", 42.75, 58.5, 50.75, peak_uv=354.0, confidence=0.8))
        w.write(Event("signal_loss", "calf_left", 60.0, 60.5, 60.0, detail="dropped packets: 500 samples lost"))
        w.write(Event("signal_loss", "calf_right", 60.0, 60.5, 60.0, detail="dropped packets: 500 samples lost"))
    (d / "walk.json").write_text('{"fs": 1000, "mode": "awake", "channels": ["calf_left", "calf_right"], '
                                 '"duration_s": 75.0, "mvc_rms_uv": {"calf_right": 400.0}}')
    assert main(["report", str(d)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Recording walk (replayed): 1 min 15 s recorded (replayed)"
    assert out[1] == "1 cramp(s), 16 s in all: calf right at +0:00 for 16 s"
    assert out[3] == "Signal lost 0 s in 1 gap(s)."
    page = (d / "walk.report.html").read_text(encoding="utf-8")
    assert len(images(page)) == 4 and "354 µV (88 % of max)" in page and "8.0 s after onset" in page


def test_bad_targets_are_one_line_errors(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert main(["report", str(tmp_path)]) == 2
    make_night(tmp_path, START, hours=1.0)
    assert main(["report", str(tmp_path), "--night", "7"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"emgpipe: {tmp_path / 'nope'}: no such file or directory",
                   f"emgpipe: {tmp_path}: no night database (*.sqlite, *.db) and no *.events.csv here",
                   f"emgpipe: {tmp_path}: no night 7 in the database"]


def test_durations_read_well():
    assert [fmt_duration(s) for s in (0.4, 59.6, 60, 61, 3599, 3600, 7322)] == [
        "0 s", "1 min", "1 min", "1 min 01 s", "59 min 59 s", "1 h 00 min", "2 h 02 min"]


# ----------------------------------------------------------------------------- replayed recordings

def recording(path, seconds, fs=250.0, sidecar=None):
    """A contract CSV (+ sidecar without ``duration_s``) of ``seconds`` of noise."""
    from emgpipe.io.contract_csv import CsvWriter
    rng = np.random.default_rng(0)
    with CsvWriter(path, fs, ["calf_left", "calf_right"], sidecar) as w:
        w.write(rng.normal(0, 3, (int(seconds * fs), 2)))
    return path


def events(path, rows=()):
    with EventsCsvWriter(path, model="default@0.1.0") as w:
        for e in rows:
            w.write(e)
    return path


def test_length_comes_from_the_recording_not_the_last_event(tmp_path, capsys):
    # 100 s recording whose last event ends at 83 s; a 10 s one with no event at all
    recording(tmp_path / "a.csv", 100.0)
    events(tmp_path / "a.events.csv", [Event("fasciculation", "calf_left", 82.5, 83.0, 84.0, n_potentials=1)])
    recording(tmp_path / "b.csv", 10.0)
    events(tmp_path / "b.events.csv")
    assert main(["report", str(tmp_path / "a.events.csv")]) == 0
    assert main(["report", str(tmp_path / "b.events.csv")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Recording a (replayed): 1 min 40 s recorded (replayed)"
    assert out[2].startswith("1 fasciculation episode(s) (36.0/h)")          # per hour of the 100 s
    assert out[5] == "Recording b (replayed): 10 s recorded (replayed)"
    # an EDF recording: its header says how long it is
    from emgpipe.night.edfplus import EdfPlusWriter
    w = EdfPlusWriter(tmp_path / "c.edf", 250.0, ("calf_left",), start_wall=1.7e9)
    w.append(np.zeros((250 * 42, 1)))
    w.close()
    [night] = load_nights(events(tmp_path / "c.events.csv"))
    assert night.duration_s == 42.0 and night.recording == tmp_path / "c.edf"


def test_length_unknown_without_the_recording_is_said(tmp_path, capsys):
    events(tmp_path / "gone.events.csv", [Event("fasciculation", "calf_left", 82.5, 83.0, 84.0)])
    assert main(["report", str(tmp_path / "gone.events.csv")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Recording gone (replayed): at least 1 min 23 s recorded (replayed)"
    page = (tmp_path / "gone.report.html").read_text(encoding="utf-8")
    assert "the recording&#x27;s length is not known" in page and "--recordings" in page


def test_report_dir_makes_one_report_per_recording_and_an_index(tmp_path, capsys):
    ev, rec = tmp_path / "events", tmp_path / "recordings"
    ev.mkdir()
    rec.mkdir()
    names = [f"r{i:02d}" for i in range(5)]
    for i, n in enumerate(names):
        recording(rec / f"{n}.csv", 20.0 + i)
        events(ev / f"{n}.events.csv", [Event("cramp", "calf_left", 5.0, 12.0, 8.5, peak_uv=90.0)] * (i % 2))
    out_dir = tmp_path / "new" / "reports"                      # --out to a folder that does not exist
    assert main(["report", str(ev), "--recordings", str(rec), "--out", str(out_dir)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [ln for ln in out if ln.startswith("report: ")] == [f"report: {out_dir / (n + '.report.html')}"
                                                              for n in names]
    assert out[-1] == f"index: {out_dir / 'index.html'}"
    assert "Recording r03 (replayed): 23 s recorded (replayed)" in out
    index = (out_dir / "index.html").read_text(encoding="utf-8")
    assert re.findall(r"<a href='([^']+)'>", index) == [f"{n}.report.html" for n in names]
    assert "5 reports, 2 cramp(s) in all" in index and len(images(index)) == 1
    assert DISCLAIMER in index


def test_a_recording_is_reported_through_its_events(tmp_path, capsys):
    recording(tmp_path / "walk.csv", 30.0)
    assert main(["report", str(tmp_path / "walk.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"emgpipe: {tmp_path / 'walk.csv'}: no events for this recording") and \
        "emgpipe replay" in err and "\n" not in err
    events(tmp_path / "walk.events.csv")
    assert main(["report", str(tmp_path / "walk.csv"), "--out", str(tmp_path / "a" / "b")]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "Recording walk (replayed): 30 s recorded (replayed)"
    assert (tmp_path / "a" / "b" / "walk.report.html").is_file()


def test_quality_chart_log_axis_reads_plainly(tmp_path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from emgpipe.report.html import _readable_log_axis
    for lo, hi in ((3.0, 8.0), (2.0, 400.0)):
        fig = Figure()
        ax = fig.subplots()
        ax.plot([0, 1], [lo, hi])
        ax.set_yscale("log")
        _readable_log_axis(ax)
        FigureCanvasAgg(fig).draw()
        a, b = ax.get_ylim()
        shown = [t.get_text() for t in ax.get_yticklabels() if t.get_text() and a <= t.get_position()[1] <= b]
        assert len(shown) >= 2 and all(re.fullmatch(r"\d+(\.\d+)?", s) for s in shown), shown
        assert not [t for t in ax.get_yticklabels(minor=True) if t.get_text()]


def test_same_names_in_subfolders_get_their_own_reports(tmp_path, capsys):
    for sub in ("mon", "tue"):
        (tmp_path / "ev" / sub).mkdir(parents=True)
        events(tmp_path / "ev" / sub / "calf.events.csv", [Event("fasciculation", "calf_left", 1.0, 1.2, 2.0)])
    assert main(["report", str(tmp_path / "ev"), "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "index.html", "mon-calf.report.html", "tue-calf.report.html"]
