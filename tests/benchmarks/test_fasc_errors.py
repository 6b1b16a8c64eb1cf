"""benchmarks/fasc_errors.py: each error goes to the place its docstring
names, and its totals are the matching's (``emgpipe bench``'s)."""
from __future__ import annotations

import json
from pathlib import Path

from emgpipe.metrics import Label
from tests.helpers import load_script

ROOT = Path(__file__).resolve().parents[2]
M = load_script(ROOT / "benchmarks" / "fasc_errors.py")


def test_each_error_is_placed_by_the_labels_of_its_channel():
    walk = Label("voluntary", "calf_right", 10.0, 20.0, detail="walking 94 spm")
    pedal = Label("voluntary", "calf_right", 40.0, 80.0, detail="pedal")
    cramp = Label("cramp", "calf_right", 100.0, 130.0, detail="ramp 2.0s, precursor 30s")
    others = [walk, pedal, cramp]
    assert M.place(39.5, others, missed=False) == "onset voluntary/pedal"
    assert M.place(15.0, others, missed=True) == "during voluntary/walking"
    assert M.place(60.0, others, missed=False) == "during voluntary/pedal"
    assert M.place(85.0, others, missed=True) == "before cramp"
    assert M.place(85.0, others, missed=False) == "quiet"
    assert M.place(21.5, others, missed=False) == "after voluntary"
    assert M.place(131.0, others, missed=True) == "after cramp"
    assert M.place(200.0, others, missed=True) == "quiet"


def test_the_sample_s_totals_are_the_matching_s_and_the_json_keeps_every_error(tmp_path, capsys):
    out = tmp_path / "errors.json"
    assert M.main([str(ROOT / "datasets" / "sample"), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    rows = json.loads(out.read_text(encoding="utf-8"))
    tp = sum(r["tp"] for r in rows)
    fp = sum(len(r["fp"]) for r in rows)
    fn = sum(len(r["fn"]) for r in rows)
    assert tp + fn > 0
    assert f"found {tp}/{tp + fn}" in printed and f"false {fp} " in printed
    # every error has a place, and the places printed add up to the totals
    places = [e[2] for r in rows for e in r["fp"] + r["fn"]]
    assert all(p for p in places)
    counted = sum(int(line.split()[1]) for line in printed.splitlines() if line.startswith("  "))
    assert counted == fp + fn


def test_a_missing_folder_is_one_line_and_exit_2(tmp_path, capsys):
    assert M.main([str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert "nope" in err and "\n" not in err
