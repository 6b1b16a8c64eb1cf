"""benchmarks/alerts.py: per-recording false alerts, misses and slow alerts, and what changed."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.helpers import load_script

ROOT = Path(__file__).resolve().parents[2]


def _module():
    return load_script(ROOT / "benchmarks" / "alerts.py")


def _rec(path, mode="awake", fa=(), cramps=()):
    return {"path": path, "mode": mode, "false_alerts": list(fa),
            "cramps": [{"channel": ch, "start_s": t, "mvc_pct": 15.0, "quiet_ratio": 4.0,
                        "found": lat is not None, "latency_s": lat} for ch, t, lat in cramps]}


def test_changes_name_each_false_alert_and_cramp_that_moved():
    m = _module()
    old = [_rec("d/v1/a.csv", fa=[10.0, 20.0], cramps=[("calf_right", 100.0, 4.0), ("calf_left", 200.0, 5.0)]),
           _rec("d/v1/b.csv", cramps=[("calf_right", 50.0, None)])]
    new = [_rec("d/v1/a.csv", fa=[20.0, 30.0], cramps=[("calf_right", 100.0, 4.0), ("calf_left", 200.0, 6.5)]),
           _rec("d/v1/b.csv", cramps=[("calf_right", 50.0, 7.0)])]
    lines = m.changes(old, new)
    assert lines == ["FA   v1/a.csv [10.0, 20.0] -> [20.0, 30.0]",
                     "CR   v1/a.csv calf_left 200.0 s: 5.00 s -> 6.50 s",
                     "CR   v1/b.csv calf_right 50.0 s: missed -> 7.00 s"]
    assert m.changes(new, new) == []


def test_listing_and_summary():
    m = _module()
    res = [_rec("d/v1/a.csv", fa=[12.5], cramps=[("calf_right", 100.0, 4.0), ("calf_right", 300.0, 12.0)]),
           _rec("d/v1/n.csv", mode="sleep", cramps=[("calf_left", 60.0, None)])]
    lines = m.listing(res, slow_s=10.0)
    assert lines[0].startswith("FA   v1/a.csv 12.50")
    assert lines[1] == "SLOW v1/a.csv calf_right 300.0 s: 12.0 s"
    assert lines[2] == "MISS v1/n.csv calf_left 60.0 s, 15.0 % MVC, 4.0x quiet"
    s = m.summary(res)["v1"]
    assert (s["found"], s["cramps"], s["fa"]) == (2, 3, 1)
    assert abs(s["precision"] - 2 / 3) < 1e-12 and s["awake_med"] == 8.0
    assert s["sleep_med"] is None                                # no cramp found asleep: printed "-"
    assert "asleep -/- s" in m._fmt("v1", s)


def test_a_folder_replayed_twice_has_no_changes(tmp_path, capsys):
    m = _module()
    d = tmp_path / "sample"
    d.mkdir()
    for f in (ROOT / "datasets" / "sample").glob("walk_then_cramp.*"):
        shutil.copy(f, d / f.name)
    out = tmp_path / "a.json"
    assert m.main([str(d), "--jobs", "1", "--json", str(out)]) == 0
    first = capsys.readouterr().out
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert len(saved) == 1 and saved[0]["cramps"] and saved[0]["cramps"][0]["found"]
    assert "sample " in first and "found 1/1" in first
    assert m.main([str(d), "--jobs", "1", "--against", str(out)]) == 0
    again = capsys.readouterr().out
    assert "changes:\n  none\n" in again
    assert m.main([str(tmp_path / "absent")]) == 2
