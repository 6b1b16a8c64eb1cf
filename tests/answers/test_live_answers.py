"""Live: the n / c keys of the live view (and any queued answer) reach the pipeline thread,
end or label the cramp, silence its alert, and land in the events CSV and answers.json."""
from __future__ import annotations

import io

from emgpipe.answers import load_answers
from emgpipe.session import Session
from emgpipe.io.events_csv import read_events
from emgpipe.devices import open_source
from emgpipe.types import Event
from emgpipe.ui.live_view import LiveView


def test_view_keys_hand_answers_over_and_show_them():
    got = []
    v = LiveView(("calf_left",), 1000.0, ansi=False, on_answer=lambda a, s: got.append((a, s)))
    assert v.handle_key("x") is None and v.handle_key("") is None
    assert v.handle_key("n") == "not_cramp" and v.handle_key("C") == "cramp"
    assert got == [("not_cramp", "key"), ("cramp", "key")]
    frame = v.frame(100)
    assert frame[-1].startswith("n = not a cramp   c = cramp")
    v.answered("not a cramp (key): calf_left, alert at 13.5 s; saved")
    assert any(line.startswith("ANSWER") and "calf_left" in line for line in v.frame(100))
    plain = LiveView(("calf_left",), 1000.0, ansi=False)          # no callback: keys do nothing
    assert plain.handle_key("n") is None and plain.frame(100)[-1] == "Ctrl-C to stop"


def _session(tmp_path, ui, on_alert, speed="max"):
    src = open_source("sim:walk_then_cramp?seed=2", speed=speed)
    src.open()
    return src, Session(src, mode="awake", events_out=tmp_path / "ev.csv", ui=ui, on_alert=on_alert,
                        answers_path=tmp_path / "answers.json")


def test_key_n_ends_the_cramp_silences_it_and_is_saved(tmp_path, capsys):
    state = {}

    def on_alert(alert, event):          # pipeline thread, at the cramp's alert
        if alert.kind == "onset" and "key" not in state:
            state["key"] = session.view.handle_key("n")
    src, session = _session(tmp_path, True, on_alert, speed="50")   # small chunks
    try:
        session.view.out = io.StringIO()
        session.run()
    finally:
        src.close()
    assert state["key"] == "not_cramp"
    cramps = [e for e in read_events(tmp_path / "ev.csv") if e.kind == "cramp"]
    assert [(e.label, e.detail.endswith("not a cramp (wearer)")) for e in cramps] == [("not_cramp", True)]
    assert cramps[0].end_s - cramps[0].alert_s < 1.0              # ended at once, not at the cramp's end
    assert [a.kind for a in session.alerts.alerts] == ["onset"]   # no reminder
    [rec] = load_answers(tmp_path / "answers.json")
    assert (rec["answer"], rec["source"], rec["channel"]) == ("not_cramp", "key", cramps[0].channel)
    assert any("ANSWER" in line and "not a cramp" in line for line in session.view.frame(120))
    assert "1 answered" in session.summary()


def test_answer_after_the_cramp_ended_relabels_its_row_without_ui(tmp_path, capsys):
    src, session = _session(tmp_path, False, None)

    def answer_when_over(e: Event):
        if e.kind == "cramp" and e.status == "final":
            session.answer("cramp", "button")
    session.pipeline.events.sink(answer_when_over)
    try:
        session.run()
    finally:
        src.close()
    events = read_events(tmp_path / "ev.csv")
    assert [e.label for e in events if e.kind == "cramp"] == ["cramp"]
    assert all(e.label == "" for e in events if e.kind != "cramp")
    assert [a["source"] for a in load_answers(tmp_path / "answers.json")] == ["button"]
    assert "answer: cramp (button)" in capsys.readouterr().err
