"""answers.json: append, load, atomic private writes, corrupt files, the default path."""
from __future__ import annotations

import json
import os
import stat

import pytest

from emgpipe.answers import (CrampTracker, answer_record, default_answers_path, load_answers,
                             normalize_answer, record_answer)
from emgpipe.calibration import config_dir
from emgpipe.errors import ConfigError, UsageError
from emgpipe.types import Event


def _cramp(start=60.0, alert=63.5, status="final", channel="calf_left", end=None):
    return Event("cramp", channel, start, end if end is not None else alert, alert, status=status,
                 features={"context": "rest", "rms_uv": 81.5, "baseline_uv": 3.2}, detector="awake@0.5.0")


def test_default_path_is_beside_the_profile(private_config):
    assert default_answers_path() == config_dir() / "answers.json"
    assert str(default_answers_path()).startswith(str(private_config))
    assert load_answers() == []                       # no file yet


def test_record_and_load_round_trip(tmp_path):
    path = tmp_path / "sub" / "answers.json"
    rec = answer_record(_cramp(), "not_cramp", source="key")
    assert rec["channel"] == "calf_left" and rec["answer"] == "not_cramp"
    assert (rec["alert_s"], rec["start_s"], rec["context"]) == (63.5, 60.0, "rest")
    assert (rec["level_uv"], rec["baseline_uv"], rec["model"], rec["source"]) == (81.5, 3.2, "awake@0.5.0", "key")
    assert rec["time"].endswith("Z") and rec["time"][4] == "-"
    record_answer(rec, path)
    record_answer(answer_record(_cramp(100.0, 104.0, channel="calf_right"), "cramp", "button"), path)
    got = load_answers(path)
    assert [(a["channel"], a["answer"], a["source"]) for a in got] == [
        ("calf_left", "not_cramp", "key"), ("calf_right", "cramp", "button")]
    assert json.loads(path.read_text()) == got
    assert not [p for p in path.parent.iterdir() if p.name != "answers.json"]   # no temp file left
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_record_answer_default_path_goes_to_the_config_folder(private_config):
    record_answer(answer_record(_cramp(), "cramp"))
    assert (private_config / "emgpipe" / "answers.json").is_file()
    assert len(load_answers()) == 1


@pytest.mark.parametrize("text", ["{not json", '{"a": 1}', "[1, 2]"])
def test_corrupt_file_is_one_clear_error(tmp_path, text):
    path = tmp_path / "answers.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_answers(path)
    msg = str(err.value)
    assert str(path) in msg and "\n" not in msg and "answers file" in msg
    with pytest.raises(ConfigError):          # appending refuses to overwrite it
        record_answer(answer_record(_cramp(), "cramp"), path)
    assert path.read_text() == text


def test_normalize_answer():
    assert normalize_answer("not-cramp") == normalize_answer("Not_Cramp") == "not_cramp"
    assert normalize_answer("cramp") == "cramp"
    with pytest.raises(UsageError, match="--as 'maybe'"):
        normalize_answer("maybe")


def test_tracker_prefers_the_most_recent_open_cramp():
    t = CrampTracker()
    assert t.target() is None
    t.on_event(_cramp(10.0, 13.5, "onset", "calf_left"))
    t.on_event(_cramp(20.0, 23.5, "onset", "calf_right"))
    t.on_event(Event("voluntary", "calf_left", 1.0, 2.0, 2.0))        # ignored
    assert t.target().channel == "calf_right"
    t.on_event(_cramp(20.0, 23.5, "final", "calf_right", end=40.0))
    assert t.target().channel == "calf_left"                         # still open wins
    t.on_event(_cramp(10.0, 13.5, "final", "calf_left", end=45.0))
    last = t.target()
    assert (last.channel, last.status, t.is_open(last)) == ("calf_right", "final", False)
