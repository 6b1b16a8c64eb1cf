"""benchmarks/one_channel.py: the single-channel copies keep one channel's samples and labels."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.helpers import load_script

ROOT = Path(__file__).resolve().parents[2]


def _module():
    return load_script(ROOT / "benchmarks" / "one_channel.py")


def test_copies_keep_one_channel_its_labels_and_its_sidecar(tmp_path):
    src = tmp_path / "env250"
    src.mkdir()
    (src / "a.csv").write_text("time_s,calf_left,calf_right\n0.000,1.5,2.5\n0.004,1.6,2.6\n", encoding="utf-8")
    (src / "a.labels.csv").write_text(
        "kind,channel,start_s,end_s,mvc_pct,ending,n_potentials,detail\n"
        "voluntary,calf_left,0.0,1.0,40.0,,0,walking\n"
        "cramp,calf_right,0.5,9.0,18.0,stretch,0,weak\n", encoding="utf-8")
    (src / "a.json").write_text(json.dumps({"fs": 250, "channels": ["calf_left", "calf_right"],
                                            "mvc_rms_uv": {"calf_left": 400.0, "calf_right": 410.0}}),
                                encoding="utf-8")
    (src / "b.csv").write_text("time_s,shin_left\n0.000,1.0\n", encoding="utf-8")      # no calf_right
    (src / "b.labels.csv").write_text("kind,channel,start_s,end_s\n", encoding="utf-8")
    out = tmp_path / "one"
    assert _module().copy_one_channel(src, out, "calf_right") == 1
    assert (out / "a.csv").read_text(encoding="utf-8") == "time_s,calf_right\n0.000,2.5\n0.004,2.6\n"
    rows = list(csv.reader(open(out / "a.labels.csv", encoding="utf-8")))
    assert [r[:2] for r in rows[1:]] == [["cramp", "calf_right"]]
    meta = json.loads((out / "a.json").read_text(encoding="utf-8"))
    assert meta["channels"] == ["calf_right"] and meta["mvc_rms_uv"] == {"calf_right": 410.0}
    assert not (out / "b.csv").exists()
