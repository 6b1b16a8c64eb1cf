"""Issue 14: pipelines are torn down when done (``Pipeline.destroy``), so replaying
many recordings does not keep every graph alive in streamz's global sink set."""
from __future__ import annotations

import gc
import weakref

import numpy as np
from streamz.sinks import _global_sinks

from emgpipe.cli import main
from emgpipe.graph import Pipeline
from emgpipe.io import read_recording
from emgpipe.io.contract_csv import CsvWriter
from emgpipe.pipeline import build_pipeline, run_recording


def _write(path, seed, seconds=3.0, fs=500.0):
    x = np.random.default_rng(seed).normal(0, 5, (int(seconds * fs), 2))
    with CsvWriter(path, fs, ("calf_left", "calf_right"), {"mode": "awake"}) as w:
        w.write(x)
    return path


def _live_pipelines() -> int:
    gc.collect()
    return sum(isinstance(o, Pipeline) for o in gc.get_objects())


def test_destroy_empties_the_graph_and_frees_the_pipeline():
    before = len(_global_sinks)
    p = build_pipeline()
    got = []
    p.events.sink(got.append)
    p.filtered.sink(lambda c: None)
    p.features.sink(lambda f: None)
    assert len(_global_sinks) == before + 3
    p.close()
    p.destroy()
    p.destroy()                                   # twice is harmless
    assert len(_global_sinks) == before
    assert not p.chunks.downstreams and not p.closing.downstreams
    ref = weakref.ref(p)
    del p
    gc.collect()
    assert ref() is None


def test_run_recording_leaves_nothing_behind(tmp_path):
    rec_path = _write(tmp_path / "a.csv", 0)
    run_recording(read_recording(rec_path))       # warm-up (caches, lazy imports)
    sinks0, pipes0 = len(_global_sinks), _live_pipelines()
    for i in range(20):
        run_recording(read_recording(_write(tmp_path / f"r{i}.csv", i)))
    assert len(_global_sinks) == sinks0
    # no more than before: a pipeline held by another test's background thread
    # (an alert sink retrying a webhook) may be released meanwhile
    assert _live_pipelines() <= pipes0


def test_replay_of_many_files_keeps_memory_flat(tmp_path, capsys):
    src = tmp_path / "recs"
    src.mkdir()
    for i in range(3):
        _write(src / f"w{i}.csv", i)
    assert main(["replay", str(src), "--events-out", str(tmp_path / "o0"), "--no-progress"]) == 0
    sinks0, pipes0 = len(_global_sinks), _live_pipelines()
    for i in range(3, 30):
        _write(src / f"w{i}.csv", i)
    assert main(["replay", str(src), "--events-out", str(tmp_path / "o1"), "--no-progress"]) == 0
    assert len(list((tmp_path / "o1").glob("*.events.csv"))) == 30
    assert len(_global_sinks) == sinks0
    # no more than before: a pipeline held by another test's background thread
    # (an alert sink retrying a webhook) may be released meanwhile
    assert _live_pipelines() <= pipes0


def test_live_session_and_night_tear_their_pipeline_down(tmp_path):
    from emgpipe.session import Session
    from emgpipe.night.recorder import NightRecorder
    from emgpipe.devices import open_source
    sinks0 = len(_global_sinks)
    src = open_source(f"file:{_write(tmp_path / 'l.csv', 1)}", speed="max")
    src.open()
    try:
        session = Session(src)
        session.run()
    finally:
        src.close()
    assert len(_global_sinks) == sinks0
    NightRecorder(f"file:{_write(tmp_path / 'n.csv', 2)}", tmp_path / "night", speed="max").run()
    assert len(_global_sinks) == sinks0
