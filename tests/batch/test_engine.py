"""emgpipe.batch without a cluster: the serial back end, failures, completion markers,
the cohort table, and that the CLI never imports Dask unless asked."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emgpipe import batch
from emgpipe.cli import main
from emgpipe.cohort import COLUMNS, cohort_row, failed_row, write_cohort
from emgpipe.errors import BadData
from emgpipe.sim import make, write
from emgpipe.types import Event


def _task(x):
    if x == "bad":
        raise BadData("bad.csv", "line 3: not a number")
    if x == "bug":
        raise KeyError("oops")
    return x.upper()


def test_serial_back_end_keeps_order_and_isolates_failures():
    seen = []
    res = batch.run_batch(["a", "bad", "b", "bug", "c"], _task,
                          on_done=lambda item, v, f: seen.append((item, v, f and f.message)))
    assert [v for _, v in res.results] == ["A", "B", "C"]
    assert [(f.item, f.exit_code) for f in res.failures] == [("bad", 3), ("bug", 70)]
    assert res.failures[0].message == "bad.csv: line 3: not a number"
    assert res.failures[1].message == "internal error: KeyError: 'oops'"
    assert "KeyError" in res.failures[1].detail            # the traceback is kept for --debug logs
    assert [s[0] for s in seen] == ["a", "bad", "b", "bug", "c"]
    assert res.exit_code == batch.EXIT_SOME_FAILED


def _task_or_die(x):
    if x == "die":
        os._exit(9)                  # the worker process itself ends (as when the OS kills it)
    return _task(x)


def test_process_pool_back_end_keeps_order_and_isolates_failures():
    """--jobs N without Dask (emgpipe bench): the same results and failures as the serial
    back end, and a worker process that ends is that item's failure, not a crash of all."""
    opts = batch.BatchOptions(processes=2)
    res = batch.run_batch(["a", "bad", "b", "bug", "c"], _task, opts)
    assert [v for _, v in res.results] == ["A", "B", "C"]
    assert [(f.item, f.exit_code, f.message) for f in res.failures] == [
        ("bad", 3, "bad.csv: line 3: not a number"), ("bug", 70, "internal error: KeyError: 'oops'")]
    res = batch.run_batch(["a", "die"], _task_or_die, opts)
    # (a pool whose worker ended fails the tasks still running with it: "a" may be one)
    assert res.failures[-1].item == "die" and [v for _, v in res.results] in (["A"], [])
    for f in res.failures:
        assert f.exit_code == 70 and "worker process ended" in f.message and "\n" not in f.message


def test_failure_named_and_exit_code_of_a_single_item():
    res = batch.run_batch(["bug"], _task, name=lambda item: f"{item}.csv")
    assert res.failures[0].message == "bug.csv: internal error: KeyError: 'oops'"
    assert res.exit_code == 70
    assert batch.run_batch(["a"], _task).exit_code == 0


def test_debug_lets_a_bug_through_in_process():
    with pytest.raises(KeyError):
        batch.run_batch(["bug"], _task, batch.BatchOptions(debug=True))


def test_markers_say_complete_only_for_the_same_input_options_and_model(tmp_path):
    rec = tmp_path / "r.csv"
    rec.write_text("time_s,a\n0,1\n")
    (tmp_path / "r.json").write_text("{}")
    out = tmp_path / "r.events.csv"
    out.write_text("kind,channel,start_s,end_s,alert_s\n")
    batch.write_marker(out, rec, "opts1", "default@1", extra={"row": {"cramps": 2}})
    assert batch.marker_path(out).name == "r.events.csv.done.json"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]   # written via rename

    def model(_):
        return "default@1"
    assert batch.completed(out, rec, "opts1", model)["extra"]["row"] == {"cramps": 2}
    assert batch.completed(out, rec, "opts2", model) is None                      # other options
    assert batch.completed(out, rec, "opts1", lambda m: "default@2") is None      # new model version
    # the input changes (here its sidecar): redo
    st = (tmp_path / "r.json").stat()
    os.utime(tmp_path / "r.json", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert batch.completed(out, rec, "opts1", model) is None
    batch.write_marker(out, rec, "opts1", "default@1")
    assert batch.completed(out, rec, "opts1", model) is not None
    # the events file is cut or rewritten after the marker: redo
    with open(out, "a") as f:
        f.write("cramp,a,1,2,3\n")
    assert batch.completed(out, rec, "opts1", model) is None
    batch.write_marker(out, rec, "opts1", "default@1")
    batch.remove_marker(out)
    assert batch.completed(out, rec, "opts1", model) is None
    batch.remove_marker(out)                                                      # no marker: fine


def test_cohort_rows_and_file(tmp_path):
    evs = [Event("cramp", "calf_left", 100.0, 160.0, 103.5), Event("cramp", "calf_right", 300.0, 310.0, 303.5),
           Event("fasciculation", "calf_left", 20.0, 20.5, 20.6),
           Event("voluntary", "calf_left", 30.0, 35.0, 31.0),
           Event("signal_loss", "calf_left", 10.0, 15.0, 15.0),
           Event("signal_loss", "calf_right", 12.0, 18.0, 18.0),
           Event("signal_loss", "calf_right", 40.0, 41.0, 41.0)]
    awake = cohort_row("a.csv", 7200.0, "awake", evs, "awake@1")
    asleep = cohort_row("a.csv", 7200.0, "sleep", evs, "sleep@1")
    assert awake["hours"] == 2.0 and awake["cramps"] == 2 and awake["cramp_total_s"] == 70.0
    assert awake["fasciculation_episodes_per_h"] == 0.5 and awake["signal_lost_s"] == 9.0
    assert awake["leg_movements_per_h"] == 0.0 and asleep["leg_movements_per_h"] == 0.5
    path = write_cohort(tmp_path / "cohort.csv", [awake, failed_row("b.csv", "b.csv: bad header")])
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == COLUMNS
    assert rows[0]["model"] == "awake@1" and rows[0]["error"] == ""
    assert rows[1]["path"] == "b.csv" and rows[1]["error"] == "b.csv: bad header" and rows[1]["cramps"] == ""


def test_importing_the_cli_does_not_import_dask():
    code = ("import sys, emgpipe.cli; p = emgpipe.cli.build_parser(); "
            "p.parse_args(['replay', 'x.csv', '--events-out', 'o', '--workers', '2']); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def _sim(folder: Path, n: int, seconds: float = 12.0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [write(make("walk_then_cramp", fs=250, seed=i, duration=seconds), folder / f"r{i}.csv")
            for i in range(n)]


def test_replay_cohort_out_without_dask(tmp_path, capsys):
    _sim(tmp_path / "recs", 2)
    (tmp_path / "recs" / "zz_bad.csv").write_text("time_s,a\n0,1\n0.001,x\n")
    code = main(["replay", str(tmp_path / "recs"), "--events-out", str(tmp_path / "ev"),
                 "--cohort-out", str(tmp_path / "cohort.csv"), "--no-progress"])
    cap = capsys.readouterr()
    assert code == 3
    # the failure is printed when it happens and listed again at the end, one line
    assert cap.err.splitlines()[-2:] == ["emgpipe: 1 of 3 recording(s) failed:",
                                         f"  {tmp_path / 'recs' / 'zz_bad.csv'}: line 3: column 'a' is not a "
                                         f"number ('x')"]
    with open(tmp_path / "cohort.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [Path(r["path"]).name for r in rows] == ["r0.csv", "r1.csv", "zz_bad.csv"]
    for r in rows[:2]:
        with open(tmp_path / "ev" / (Path(r["path"]).stem + ".events.csv"), newline="") as f:
            assert r["model"] == next(csv.DictReader(f))["model"] != ""
        assert r["mode"] == "awake" and float(r["hours"]) == round(12 / 3600, 4)
    assert rows[2]["error"] and rows[2]["hours"] == ""
    # in process, no marker is written unless --resume: today's outputs only
    assert sorted(p.name for p in (tmp_path / "ev").iterdir()) == ["r0.events.csv", "r1.events.csv"]


def test_replay_resume_in_process(tmp_path, capsys):
    recs = _sim(tmp_path / "recs", 2)
    args = ["replay", str(tmp_path / "recs"), "--events-out", str(tmp_path / "ev"), "--no-progress", "--resume",
            "--cohort-out", str(tmp_path / "c1.csv")]
    assert main(args) == 0
    first = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "ev").glob("*.events.csv")}
    marker = json.loads((tmp_path / "ev" / "r0.events.csv.done.json").read_text())
    with open(tmp_path / "ev" / "r0.events.csv", newline="") as f:
        assert marker["model"] == next(csv.DictReader(f))["model"] and marker["extra"]["mode"] == "awake"
    capsys.readouterr()
    time.sleep(0.01)
    args[-1] = str(tmp_path / "c2.csv")
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.count("skipped") == 2
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "ev").glob("*.events.csv")} == first
    # the skipped recordings keep their cohort rows
    assert (tmp_path / "c1.csv").read_text() == (tmp_path / "c2.csv").read_text()
    # another model: redone; an input changed: only that one redone
    assert main(args + ["--model", "default"]) == 0
    assert "skipped" not in capsys.readouterr().out
    st = recs[1].stat()
    os.utime(recs[1], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert main(args + ["--model", "default"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("r0.csv:") and "skipped" in line for line in lines)
    assert any(line.startswith("r1.csv:") and "skipped" not in line for line in lines)


def test_dask_options_are_checked(tmp_path, capsys):
    _sim(tmp_path / "recs", 1)
    assert main(["replay", str(tmp_path / "recs"), "--events-out", str(tmp_path / "ev"), "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:      # argparse: one line, exit 2
        main(["replay", str(tmp_path / "recs"), "--events-out", str(tmp_path / "ev"),
              "--workers", "1", "--scheduler", "tcp://127.0.0.1:1"])
    assert exc.value.code == 2 and "not allowed with" in capsys.readouterr().err
