"""The two-process replay (emgpipe.split): the in-process replay's events, in the same
order, the same errors, and no process left behind."""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from emgpipe import split
from emgpipe.cli import main
from emgpipe.io import read_recording
from emgpipe.io.contract_csv import CsvWriter
from emgpipe.models import load_model
from emgpipe.pipeline import build_pipeline, run_recording, signal_of

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals in some tests")


def _signal(n, n_ch, fs, seed):
    """Noise, a burst every ~40 s, electrode pops (steps that decay), a flat stretch."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 5.0, (n, n_ch))
    t = np.arange(n) / fs
    burst = (t % 40.0) < 6.0
    x[burst] += rng.normal(0.0, 80.0, (int(burst.sum()), n_ch))
    for k, at in enumerate((0.13, 0.37, 0.71)):
        i = int(at * n)
        x[i:, k % n_ch] += 300.0 * np.exp(-np.arange(n - i) / (0.2 * fs))
    x[int(0.5 * n):int(0.5 * n) + int(20 * fs), n_ch - 1] = 3.0
    return x


def write_csv(path, fs=250.0, n_ch=4, seconds=900.0, gaps=((0.2, 700), (0.6, 25)), seed=0):
    """A contract CSV with gaps (``(where as a fraction, samples lost)``)."""
    n = int(seconds * fs)
    x = _signal(n, n_ch, fs, seed)
    with CsvWriter(path, fs, tuple(f"ch{k + 1}" for k in range(n_ch)), {"mode": "awake"}) as w:
        a, lost = 0, 0
        for at, n_lost in gaps:
            b = int(at * n)
            w.write(x[a:b], seq=a + lost)
            a, lost = b, lost + n_lost
        w.write(x[a:], seq=a + lost)
    return path


def write_edf(path, fs=1000.0, n_ch=2, seconds=600.0, seed=1):
    from emgpipe.night.edfplus import EdfPlusWriter
    x = _signal(int(seconds * fs), n_ch, fs, seed)
    w = EdfPlusWriter(path, fs=fs, ch_names=tuple(f"EMG {k}" for k in range(n_ch)), start_wall=1.7e9)
    try:
        for a in range(0, len(x), int(60 * fs)):
            w.append(x[a:a + int(60 * fs)])
    finally:
        w.close()
    return path


def in_process(path, mode):
    rec = read_recording(path)
    return rec, run_recording(rec, mode=mode)


def two_processes(path, mode):
    rec = read_recording(path)
    front = split.start(rec, load_model(None), None, signal_of(rec))
    pipe = build_pipeline(rec, mode=mode)
    try:
        result = front.run(pipe)
    finally:
        pipe.destroy()
        front.stop()
    assert not front.proc.is_alive() and front.proc.exitcode == 0
    return rec, result, front


def same(a, b):
    (rec1, r1), (rec2, r2) = a, b
    assert [repr(e) for e in r2.announced] == [repr(e) for e in r1.announced]   # every field, in order
    assert [repr(e) for e in r2.events] == [repr(e) for e in r1.events]
    assert (r2.duration_s, r2.n_samples, r2.n_lost, r2.mains_hz, r2.model) == \
        (r1.duration_s, r1.n_samples, r1.n_lost, r1.mains_hz, r1.model)
    assert rec2.gaps == rec1.gaps and rec2.n_total == rec1.n_total and rec2.meta == rec1.meta


@pytest.fixture(scope="module")
def csv_250(tmp_path_factory):
    return write_csv(tmp_path_factory.mktemp("split") / "gaps.csv")


@pytest.fixture(scope="module")
def edf_1k(tmp_path_factory):
    return write_edf(tmp_path_factory.mktemp("split") / "night.edf")


@pytest.mark.parametrize("mode", ["awake", "sleep"])
def test_same_events_multichannel_csv_with_gaps(csv_250, mode):
    ref = in_process(csv_250, mode)
    assert ref[1].n_lost == 725 and len(ref[0].gaps) == 2
    assert {e.kind for e in ref[1].events} >= {"signal_loss", "artifact", "voluntary"}
    rec, result, front = two_processes(csv_250, mode)
    assert front.cut == split.CUT_FEATURES           # 250 Hz: the child computes the features
    same(ref, (rec, result))


@pytest.mark.parametrize("mode", ["awake", "sleep"])
def test_same_events_edf(edf_1k, mode):
    ref = in_process(edf_1k, mode)
    rec, result, front = two_processes(edf_1k, mode)
    assert front.cut == split.CUT_FILTERED           # 1 kHz: the child sends the filtered samples
    same(ref, (rec, result))


def test_the_command_writes_the_same_file_and_line(csv_250, tmp_path, capsys):
    lines = []
    for n in ("1", "2"):
        out = tmp_path / f"{n}.events.csv"
        assert main(["replay", str(csv_250), "--events-out", str(out), "--processes", n]) == 0
        lines.append(capsys.readouterr().out.split(" -> ")[0])
    assert (tmp_path / "1.events.csv").read_bytes() == (tmp_path / "2.events.csv").read_bytes()
    assert lines[0] == lines[1] and "lost in 2 gap(s)" in lines[0]
    assert not mp.active_children()


def test_a_reader_error_mid_file_is_the_same_error_after_the_same_events(tmp_path, capsys):
    path = write_csv(tmp_path / "bad.csv", fs=250.0, n_ch=2, seconds=1200.0, gaps=((0.05, 500),))
    lines = path.read_text().splitlines(keepends=True)
    k = int(len(lines) * 0.6)                          # a few chunks in
    cells = lines[k].split(",")
    cells[1] = "abc"
    lines[k] = ",".join(cells)
    path.write_text("".join(lines))
    got = []
    for n in ("1", "2"):
        out = tmp_path / f"{n}.events.csv"
        code = main(["replay", str(path), "--events-out", str(out), "--processes", n])
        got.append((code, capsys.readouterr().err.strip(), out.read_text().replace(f"{n}.events", "")))
    assert got[0][0] == 3 and f"line {k + 1}" in got[0][1]     # BadData: exit 3, one line
    assert got[1] == got[0]
    assert got[0][2].count("\n") > 2                   # events written before the error stay written
    assert not mp.active_children()


def test_an_error_in_the_child_keeps_its_type_and_attributes():
    from emgpipe.errors import BadData
    err = split._unpack_error(split._pack_error(BadData("x.csv", "line 3: bad")))
    assert type(err) is BadData and str(err) == "x.csv: line 3: bad" and err.exit_code == 3
    assert err.path == "x.csv" and err.problem == "line 3: bad"
    err = split._unpack_error(("Weird", "it broke", None, ""))
    assert type(err).__name__ == "Weird" and str(err) == "it broke"


def test_a_child_that_dies_does_not_hang_the_parent(edf_1k):
    rec = read_recording(edf_1k)
    front = split.start(rec, load_model(None), None, signal_of(rec))
    os.kill(front.proc.pid, signal.SIGKILL)
    pipe = build_pipeline(rec, mode="sleep")
    t0 = time.monotonic()
    with pytest.raises(split.ChildDied, match="killed by signal 9"):
        front.run(pipe)
    pipe.destroy()
    assert time.monotonic() - t0 < 10 and not front.proc.is_alive()


def test_spawn_gives_the_same_events(csv_250, monkeypatch):
    monkeypatch.setattr(split, "context", lambda: mp.get_context("spawn"))
    same(in_process(csv_250, "sleep"), two_processes(csv_250, "sleep")[:2])


def test_ctrl_c_stops_both_processes(edf_1k, tmp_path):
    psutil = pytest.importorskip("psutil")
    from tests.helpers import ctrl_c_enabled
    with ctrl_c_enabled():
        p = subprocess.Popen([sys.executable, "-m", "emgpipe", "replay", str(edf_1k), "--events-out",
                              str(tmp_path / "e.csv"), "--processes", "2", "--speed", "max"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        children = []
        for _ in range(200):                           # until the child runs
            children = psutil.Process(p.pid).children()
            if children:
                break
            time.sleep(0.02)
        assert children, "no child process started"
        os.killpg(p.pid, signal.SIGINT)                # Ctrl-C in a terminal: the whole group
        out, err = p.communicate(timeout=20)
    # 0: it had finished already; -SIGINT: it had finished and was shutting down
    # (its summary printed), where Python ends on an uncaught Ctrl-C by the signal
    finished = b"real time]" in out
    # -SIGINT after "interrupted": the interrupt was handled and reported, then the
    # interpreter still ended by the signal while shutting down (seen once in a
    # loaded fresh-clone CI run, session 22, and under two busy loops; cause not
    # found). Either way the replay stopped at once and said so.
    reported = err.decode().strip().endswith("emgpipe: interrupted")
    assert (p.returncode == 130 or (p.returncode == -signal.SIGINT and reported)
            or (p.returncode in (0, -signal.SIGINT) and finished)), (p.returncode, out, err)
    if p.returncode == 130:
        assert reported
    for c in children:
        assert not c.is_running() or c.status() == psutil.STATUS_ZOMBIE


def test_when_two_processes(edf_1k, monkeypatch):
    rec = read_recording(edf_1k)                      # 10 min of 2 ch at 1 kHz: below the break-even
    monkeypatch.delenv(split.ENV, raising=False)
    assert not split.wanted(None, rec, None)
    assert split.wanted(2, rec, None) and not split.wanted(1, rec, None)
    assert not split.wanted(2, rec, 1.0)               # paced: never
    monkeypatch.setenv(split.ENV, "2")
    assert split.wanted(None, rec, None) and not split.wanted(1, rec, None)
    monkeypatch.setattr(split, "MIN_SAMPLES", 1)
    monkeypatch.setenv(split.ENV, "1")
    assert not split.wanted(None, rec, None)
    monkeypatch.delenv(split.ENV)
    assert split.wanted(None, rec, None) == (split._cores() >= 2)


def test_a_filter_error_after_the_quality_stage_gives_the_same_events(csv_250, monkeypatch):
    """An exception between the quality stage and the detectors: the chunk's quality events
    are out (as in process), then the error (the child is forked with the broken filter)."""
    from emgpipe.dsp.filters import Cascade
    if "fork" not in mp.get_all_start_methods():
        pytest.skip("the broken filter reaches the child only by fork")
    calls = {"n": 0}
    real = Cascade.__call__

    def failing(self, chunk):
        calls["n"] += 1
        if calls["n"] == 4:
            raise ValueError("filter broke")
        return real(self, chunk)
    monkeypatch.setattr(Cascade, "__call__", failing)
    monkeypatch.setattr(split, "context", lambda: mp.get_context("fork"))
    results = []
    for run in (in_process, two_processes):
        calls["n"] = 0
        rec = read_recording(csv_250)
        pipe = build_pipeline(rec, mode="awake")
        announced = []
        pipe.events.sink(announced.append)
        with pytest.raises(ValueError, match="filter broke"):
            if run is in_process:
                run_recording(rec, pipeline=pipe)
            else:
                front = split.start(rec, load_model(None), None, signal_of(rec))
                try:
                    front.run(pipe)
                finally:
                    front.stop()
        pipe.destroy()
        results.append([repr(e) for e in announced])
    assert results[1] == results[0] and len(results[0]) > 0
