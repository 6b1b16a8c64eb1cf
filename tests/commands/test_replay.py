"""`emgpipe replay` as in CONTRACT.md: outputs, summaries, exit codes, one-line errors."""
import csv
import subprocess
import sys

import numpy as np
import pytest

from emgpipe.cli import main
from emgpipe.io.contract_csv import CsvWriter
from emgpipe.io.events_csv import REQUIRED, read_events


def write_rec(path, fs=1000.0, seconds=6.0, gap_at=None, gap_n=0, flat_ch=None, seed=0):
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    x = rng.normal(0, 5, (n, 2))
    if flat_ch is not None:
        x[:, flat_ch] = 3.0
    with CsvWriter(path, fs, ("calf_left", "calf_right"), {"mode": "awake"}) as w:
        if gap_at is None:
            w.write(x)
        else:
            w.write(x[:gap_at])
            w.write(x[gap_at:], seq=gap_at + gap_n)
    return path


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_one_file_to_a_file(tmp_path, capsys):
    rec = write_rec(tmp_path / "a.csv", gap_at=2000, gap_n=500, flat_ch=1)
    out = tmp_path / "out.csv"
    assert main(["replay", str(rec), "--events-out", str(out)]) == 0
    header = open(out).readline().strip().split(",")
    assert header[:5] == list(REQUIRED)
    ev = read_events(out)
    loss = [e for e in ev if "samples lost" in e.detail]
    assert {e.channel for e in loss} == {"calf_left", "calf_right"}
    assert all(abs(e.start_s - 2.0) < 1e-9 and abs(e.end_s - 2.5) < 1e-9 for e in loss)
    flat = [e for e in ev if e.detail.startswith("flat")]
    assert [e.channel for e in flat] == ["calf_right"]   # flat on both sides of the gap: one event
    assert flat[0].start_s == 0 and flat[0].end_s == 6.5 and flat[0].alert_s == 1.0
    assert all(r["model"].startswith("default@") for r in rows(out))  # the mode (awake here) is not a model
    line = capsys.readouterr().out.strip().splitlines()
    assert len(line) == 1 and line[0].startswith("a.csv: 6.5 s, 2 ch @ 1000 Hz")
    assert "0.5 s lost in 1 gap(s)" in line[0] and str(out) in line[0]


def test_several_files_and_directory(tmp_path, capsys):
    d = tmp_path / "recs"
    d.mkdir()
    write_rec(d / "one.csv")
    write_rec(d / "two.csv", seed=1)
    out = tmp_path / "events"
    assert main(["replay", str(d), "--events-out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["one.events.csv", "two.events.csv"]
    assert len(capsys.readouterr().out.strip().splitlines()) == 2
    out2 = tmp_path / "events2"
    assert main(["replay", str(d / "one.csv"), str(d / "two.csv"), "--events-out", str(out2)]) == 0
    assert sorted(p.name for p in out2.iterdir()) == ["one.events.csv", "two.events.csv"]


def test_several_inputs_need_a_directory(tmp_path, capsys):
    a, b = write_rec(tmp_path / "a.csv"), write_rec(tmp_path / "b.csv")
    f = tmp_path / "file.csv"
    f.write_text("x")
    assert main(["replay", str(a), str(b), "--events-out", str(f)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "must be a directory" in err


@pytest.mark.parametrize("content,needle", [
    ("", "empty"),
    ("time_s,a\n0.0,1\n0.001,abc\n", "line 3"),
    ("time_s,a\n0.0,1\n0.001,nan\n", "line 3"),
])
def test_bad_files_one_line_error(tmp_path, capsys, content, needle):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    code = main(["replay", str(p), "--events-out", str(tmp_path / "o.csv")])
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert err.count("\n") == 0 and "bad.csv" in err and needle in err
    assert "Traceback" not in err


def test_missing_input_and_bad_speed(tmp_path, capsys):
    assert main(["replay", str(tmp_path / "nope.csv"), "--events-out", str(tmp_path / "o.csv")]) == 2
    assert "nope.csv: no such file" in capsys.readouterr().err
    rec = write_rec(tmp_path / "a.csv")
    assert main(["replay", str(rec), "--events-out", str(tmp_path / "o.csv"), "--speed", "fast"]) == 2
    assert "--speed" in capsys.readouterr().err


def test_bad_file_among_good_ones_keeps_going(tmp_path, capsys):
    d = tmp_path / "recs"
    d.mkdir()
    write_rec(d / "good.csv")
    (d / "bad.csv").write_text("time_s,a\n0,1\n0.001,x\n")
    code = main(["replay", str(d), "--events-out", str(tmp_path / "ev")])
    cap = capsys.readouterr()
    assert code == 3
    assert (tmp_path / "ev" / "good.events.csv").exists()
    assert "good.csv:" in cap.out and "bad.csv" in cap.err


def test_realtime_speed_paces(tmp_path):
    import time
    rec = write_rec(tmp_path / "a.csv", seconds=1.0)
    t0 = time.monotonic()
    assert main(["replay", str(rec), "--events-out", str(tmp_path / "o.csv"), "--speed", "4"]) == 0
    assert time.monotonic() - t0 >= 0.2   # 1 s of signal at 4x real time


def test_cli_subprocess_help_and_no_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "emgpipe", "replay", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--events-out" in r.stdout
    r = subprocess.run([sys.executable, "-m", "emgpipe", "replay", str(tmp_path / "x.edf"),
                        "--events-out", str(tmp_path / "o.csv")], capture_output=True, text=True)
    assert r.returncode != 0 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert r.stdout == ""   # no progress bar when stdout is not a terminal


def test_replay_real_gap_file(shared_data, tmp_path):
    src = shared_data / "openbci_ganglion_myoware" / "OpenBCI-RAW-S03_S1R0.txt"
    out = tmp_path / "s03.csv"
    assert main(["replay", str(src), "--events-out", str(out)]) == 0
    loss = [e for e in read_events(out) if e.kind == "signal_loss" and "lost" in e.detail]
    assert len(loss) == 4   # one gap, reported on each of the 4 channels
    assert all(abs(e.duration_s - 29.2) < 0.1 for e in loss)
