"""Night: an answer given during the night (the bridge button's path) is applied to the
cramp, stored in the database's answers table with its time, and shown by the report."""
from __future__ import annotations

import sqlite3

from emgpipe.answers import load_answers
from emgpipe.night.recorder import NightRecorder
from emgpipe.report.data import load_nights


def test_button_answer_during_the_night_is_stored(tmp_path):
    out = tmp_path / "night"
    rec = None

    def echo(line):                      # pipeline thread; the press arrives with the alert
        if line.startswith("ALERT onset"):
            rec.answer({"answer": "not_cramp", "source": "button", "press": 1})
    rec = NightRecorder("sim:walk_then_cramp?seed=2", out, speed="max", mode="awake", echo=echo,
                        answers_path=tmp_path / "answers.json")
    result = rec.run()
    assert result.status == "complete"
    db = sqlite3.connect(out / "emgpipe-night.sqlite")
    rows = db.execute("SELECT e.kind, e.channel, e.status, a.answer, a.source, a.answered_at "
                      "FROM answers a JOIN events e ON e.id = a.event_id").fetchall()
    assert len(rows) == 1 and rows[0][:5] == ("cramp", rows[0][1], "final", "not_cramp", "button")
    assert rows[0][5] > 1e9                                   # wall clock, seconds since the epoch
    [night] = load_nights(out)
    assert [e.label for e in night.cramps] == ["not_cramp"]
    [saved] = load_answers(tmp_path / "answers.json")
    assert (saved["source"], saved["channel"]) == ("button", rows[0][1])
