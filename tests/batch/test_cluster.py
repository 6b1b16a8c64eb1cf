"""Many recordings on a real Dask cluster started by the tests (two worker processes):
the same events, cohort rows, metrics and reports as in process; failures isolated and
listed; reruns resume. A few short simulated recordings keep it to seconds."""
from __future__ import annotations

import csv
import functools
import json
import operator
import os
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed", reason="dask[distributed] not installed "
                                                        "(pip install 'emgpipe[test]')")

from emgpipe import batch  # noqa: E402
from emgpipe.cli import main  # noqa: E402
from emgpipe.sim import make, write  # noqa: E402

BAD = "time_s,a\n0,1\n0.001,x\n"


@pytest.fixture(scope="module")
def cluster():
    """An existing cluster (as 'dask scheduler' + 2 x 'dask worker' would make), for --scheduler:
    here the local cluster that --workers 2 starts, memory-limited."""
    client, local = batch.open_client(batch.BatchOptions(workers=2, memory_limit="1GiB"))
    try:
        limits = [w["memory_limit"] for w in client.scheduler_info()["workers"].values()]
        assert limits == [2 ** 30, 2 ** 30]          # bounded memory per worker
        yield local.scheduler_address
    finally:
        client.close()
        local.close()


@pytest.fixture(scope="module")
def recs(tmp_path_factory):
    """Four short labelled recordings (two 1 kHz raw, two 250 Hz Cyton) and a broken one."""
    d = tmp_path_factory.mktemp("recs")
    for i, fs in enumerate((1000, 250, 1000, 250)):
        write(make("walk_then_cramp", fs=fs, seed=10 + i, duration=20), d / f"r{i}.csv")
    (d / "r9_bad.csv").write_text(BAD)
    (d / "r9_bad.labels.csv").write_text("kind,channel,start_s,end_s\n")
    return d


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_replay_on_two_workers_same_events_failures_listed_then_resumed(recs, cluster, tmp_path, capsys):
    ser, dsk = tmp_path / "serial", tmp_path / "dask"
    assert main(["replay", str(recs), "--events-out", str(ser), "--no-progress",
                 "--cohort-out", str(tmp_path / "serial.csv")]) == 3
    capsys.readouterr()
    # --workers 2: a local cluster of two worker processes started by emgpipe itself
    code = main(["replay", str(recs), "--events-out", str(dsk), "--workers", "2",
                 "--cohort-out", str(tmp_path / "dask.csv")])
    cap = capsys.readouterr()
    assert code == 3
    names = sorted(p.name for p in ser.glob("*.events.csv"))
    assert names == [f"r{i}.events.csv" for i in range(4)]
    for n in names:   # events identical to the serial run, byte for byte
        assert (dsk / n).read_bytes() == (ser / n).read_bytes(), n
    assert (tmp_path / "dask.csv").read_text() == (tmp_path / "serial.csv").read_text()
    rows = _rows(tmp_path / "dask.csv")
    assert [Path(r["path"]).name for r in rows] == ["r0.csv", "r1.csv", "r2.csv", "r3.csv", "r9_bad.csv"]
    for i, r in enumerate(rows[:4]):     # the row says what the events file holds
        kinds = [e["kind"] for e in _rows(dsk / f"r{i}.events.csv")]
        assert r["error"] == "" and int(r["cramps"]) == kinds.count("cramp"), r
        assert float(r["hours"]) == round(20 / 3600, 4) and r["mode"] == "awake"
        assert r["model"] == _rows(dsk / f"r{i}.events.csv")[0]["model"] != ""
    assert sum(int(r["cramps"]) for r in rows[:4]) == 4
    assert "line 3" in rows[4]["error"]
    # every good recording printed its line; the bad one is listed at the end with its one-line error
    assert sum(line.endswith("real time]") for line in cap.out.splitlines()) == 4
    err = cap.err.splitlines()
    assert err[-2:] == ["emgpipe: 1 of 5 recording(s) failed:",
                        f"  {recs / 'r9_bad.csv'}: line 3: column 'a' is not a number ('x')"]
    assert all((dsk / f"r{i}.events.csv.done.json").is_file() for i in range(4))

    # a rerun (here on an existing cluster) skips what is complete, and retries the failure
    mtimes = {n: (dsk / n).stat().st_mtime_ns for n in names}
    code = main(["replay", str(recs), "--events-out", str(dsk), "--scheduler", cluster,
                 "--cohort-out", str(tmp_path / "again.csv")])
    cap = capsys.readouterr()
    assert code == 3
    assert cap.out.count("skipped") == 4 and "r9_bad.csv" in cap.err
    assert {n: (dsk / n).stat().st_mtime_ns for n in names} == mtimes
    assert (tmp_path / "again.csv").read_text() == (tmp_path / "dask.csv").read_text()


def test_relative_paths_reach_workers_running_elsewhere(recs, cluster, tmp_path, monkeypatch, capsys):
    # the cluster's workers were started in another directory (as on another machine)
    monkeypatch.chdir(recs.parent)
    rel = [f"{recs.name}/r0.csv", f"{recs.name}/r1.csv"]
    assert main(["replay", *rel, "--events-out", str(tmp_path / "ser"), "--no-progress",
                 "--cohort-out", str(tmp_path / "ser.csv")]) == 0
    capsys.readouterr()
    assert main(["replay", *rel, "--events-out", str(tmp_path / "dsk"), "--scheduler", cluster,
                 "--cohort-out", str(tmp_path / "dsk.csv")]) == 0
    lines = sorted(capsys.readouterr().out.splitlines())
    assert [line.split(":")[0] for line in lines] == ["cohort", "r0.csv", "r1.csv"]
    for n in ("r0.events.csv", "r1.events.csv"):
        assert (tmp_path / "dsk" / n).read_bytes() == (tmp_path / "ser" / n).read_bytes()
    assert (tmp_path / "dsk.csv").read_text() == (tmp_path / "ser.csv").read_text()
    assert _rows(tmp_path / "dsk.csv")[0]["path"] == rel[0]


def test_bench_and_report_on_an_existing_cluster(recs, cluster, tmp_path, capsys):
    # bench: the same metrics; the broken recording is listed and left out
    good = tmp_path / "good"
    good.mkdir()
    for p in recs.glob("r[0-3]*"):
        (good / p.name).write_bytes(p.read_bytes())
    assert main(["bench", str(good), "--json"]) == 0
    serial = json.loads(capsys.readouterr().out)
    code = main(["bench", str(recs), "--json", "--scheduler", cluster, "--cohort-out", str(tmp_path / "b.csv")])
    cap = capsys.readouterr()
    assert code == 3 and cap.err.splitlines()[-2:] == [
        "emgpipe: 1 of 5 recording(s) failed:", f"  {recs / 'r9_bad.csv'}: line 3: column 'a' is not a number ('x')"]
    dask_run = json.loads(cap.out)
    assert dask_run["n_recordings"] == 4
    assert dask_run["overall"] == serial["overall"] and dask_run["scenarios"] == serial["scenarios"]
    assert [Path(r["path"]).name for r in _rows(tmp_path / "b.csv")][-1] == "r9_bad.csv"

    # report: one report per replayed recording, made on the workers, same summaries
    ev = tmp_path / "ev"
    assert main(["replay", str(good / "r0.csv"), str(good / "r1.csv"), "--events-out", str(ev),
                 "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["report", str(ev), "--all", "--out", str(tmp_path / "rep1"), "--recordings", str(good)]) == 0
    serial_out = capsys.readouterr().out
    assert main(["report", str(ev), "--all", "--out", str(tmp_path / "rep2"), "--recordings", str(good),
                 "--scheduler", cluster,
                 "--cohort-out", str(tmp_path / "r.csv")]) == 0
    dask_out = capsys.readouterr().out

    def summary(text):
        return sorted(line for line in text.splitlines() if not line.startswith(("report:", "index:", "cohort:")))
    assert summary(dask_out) == summary(serial_out)
    assert sorted(p.name for p in (tmp_path / "rep2").iterdir()) == sorted(p.name for p in (tmp_path / "rep1").iterdir())
    rows = _rows(tmp_path / "r.csv")
    assert len(rows) == 2 and [int(r["cramps"]) for r in rows] == [
        [e["kind"] for e in _rows(ev / f"r{i}.events.csv")].count("cramp") for i in range(2)]
    assert [r["mode"] for r in rows] == ["awake", "awake"]
    assert [r["model"] for r in rows] == [_rows(ev / f"r{i}.events.csv")[0]["model"] for i in range(2)]


def test_a_worker_that_dies_fails_only_its_item(cluster):
    # (last in this file: the killed workers come back fresh, without emgpipe imported)
    items = [functools.partial(abs, -1), functools.partial(os._exit, 7), functools.partial(abs, -3)]
    res = batch.run_batch(items, operator.call, batch.BatchOptions(scheduler=cluster))
    assert [v for _, v in res.results] == [1, 3]
    assert len(res.failures) == 1 and "worker died" in res.failures[0].message
