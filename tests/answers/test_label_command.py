"""``emgpipe label``: an events CSV row, a night's cramp (database), answers.json, errors."""
from __future__ import annotations

import json
import sqlite3

import pytest

from emgpipe.answers import load_answers
from emgpipe.cli import main
from emgpipe.io.events_csv import EventsCsvWriter, read_events
from emgpipe.night.store import NightStore
from emgpipe.report.data import load_nights
from emgpipe.report.html import render, summary_lines
from emgpipe.types import Event


def _events_csv(path):
    with EventsCsvWriter(path, model="m@1") as w:
        w.write(Event("voluntary", "calf_left", 1.0, 5.0, 5.0))
        w.write(Event("cramp", "calf_left", 10.0, 70.0, 13.5, confidence=0.9))
        w.write(Event("fasciculation", "calf_right", 80.0, 80.5, 80.5, n_potentials=3))
    return path


def _night(folder):
    store = NightStore(folder)
    nid = store.begin_night(source="sim:night", fs=1000.0, channels=["calf_left", "calf_right"], mode="sleep")
    feats = {"context": "rest", "rms_uv": 90.0, "baseline_uv": 3.0}
    store.add_event(Event("fasciculation", "calf_right", 5.0, 5.5, 5.5))
    for ch, start in (("calf_left", 100.0), ("calf_right", 300.0), ("calf_left", 500.0)):
        store.add_event(Event("cramp", ch, start, start + 4, start + 4, status="onset", features=feats))
        store.add_event(Event("cramp", ch, start, start + 60, start + 4, features=feats, detector="sleep@1"))
    store.progress(700.0, 700_000, 0)
    store.end_night("complete")
    store.close()
    return nid


def test_label_events_csv_row(tmp_path, capsys):
    path = _events_csv(tmp_path / "rec.events.csv")
    before = path.read_text().splitlines()
    answers = tmp_path / "answers.json"
    rc = main(["label", str(path), "--event", "2", "--as", "not-cramp", "--answers", str(answers)])
    assert rc == 0, capsys.readouterr().err
    assert [e.label for e in read_events(path)] == ["", "not_cramp", ""]
    after = path.read_text().splitlines()
    assert after[2] == before[2] + "not_cramp" and after[1] == before[1] and after[3] == before[3]
    [rec] = load_answers(answers)
    assert (rec["channel"], rec["answer"], rec["start_s"], rec["alert_s"], rec["source"]) == (
        "calf_left", "not_cramp", 10.0, 13.5, "label")
    assert main(["label", str(path), "--event", "2", "--as", "cramp", "--answers", str(answers)]) == 0
    assert read_events(path)[1].label == "cramp" and len(load_answers(answers)) == 2


def test_label_defaults_to_the_profile_folder(tmp_path, private_config):
    path = _events_csv(tmp_path / "rec.events.csv")
    assert main(["label", str(path), "--event", "1", "--as", "not_cramp"]) == 0
    [rec] = json.loads((private_config / "emgpipe" / "answers.json").read_text())
    assert rec["answer"] == "not_cramp" and rec["channel"] == "calf_left"


def test_label_night_folder_uses_the_report_numbering(tmp_path, capsys):
    folder = tmp_path / "night"
    nid = _night(folder)
    answers = tmp_path / "answers.json"
    rc = main(["label", str(folder), "--event", "2", "--as", "not-cramp", "--answers", str(answers)])
    assert rc == 0, capsys.readouterr().err
    [night] = load_nights(folder)
    # the report's cramp #2 is the second cramp (calf_right at 300 s), not the second event
    assert [(e.channel, e.start_s, e.label) for e in night.cramps] == [
        ("calf_left", 100.0, ""), ("calf_right", 300.0, "not_cramp"), ("calf_left", 500.0, "")]
    html = render(night)
    assert "wearer&#x27;s answer" in html and "not a cramp" in html
    assert any("1 as not a cramp" in line for line in summary_lines(night))
    db = sqlite3.connect(folder / "emgpipe-night.sqlite")
    rows = db.execute("SELECT e.channel, e.start_s, a.answer, a.source FROM answers a "
                      "JOIN events e ON e.id = a.event_id").fetchall()
    assert rows == [("calf_right", 300.0, "not_cramp", "label")]
    assert db.execute("SELECT COUNT(*) FROM events WHERE night_id=?", (nid,)).fetchone()[0] == 4
    [rec] = load_answers(answers)
    assert (rec["channel"], rec["start_s"], rec["context"], rec["level_uv"], rec["model"]) == (
        "calf_right", 300.0, "rest", 90.0, "sleep@1")


@pytest.mark.parametrize("args, needle", [
    (["--event", "9", "--as", "cramp"], "--event 9"),
    (["--event", "0", "--as", "cramp"], "--event 0"),
    (["--event", "1", "--as", "maybe"], "--as 'maybe'"),
])
def test_label_errors_are_one_line(tmp_path, capsys, args, needle):
    path = _events_csv(tmp_path / "rec.events.csv")
    before = path.read_bytes()
    rc = main(["label", str(path), *args, "--answers", str(tmp_path / "a.json")])
    err = capsys.readouterr().err
    assert rc != 0 and needle in err and err.count("\n") == 1 and "Traceback" not in err
    assert path.read_bytes() == before and not (tmp_path / "a.json").exists()


def test_label_missing_file_and_night_out_of_range(tmp_path, capsys):
    rc = main(["label", str(tmp_path / "nope.csv"), "--event", "1", "--as", "cramp"])
    err = capsys.readouterr().err
    assert rc != 0 and "nope.csv" in err and err.count("\n") == 1
    folder = tmp_path / "night"
    _night(folder)
    rc = main(["label", str(folder), "--event", "4", "--as", "cramp", "--answers", str(tmp_path / "a.json")])
    err = capsys.readouterr().err
    assert rc != 0 and "--event 4" in err and "3 cramps" in err and err.count("\n") == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("hello,world\n1,2\n")
    rc = main(["label", str(bad), "--event", "1", "--as", "cramp", "--answers", str(tmp_path / "a.json")])
    err = capsys.readouterr().err
    assert rc != 0 and "bad.csv" in err and err.count("\n") == 1
