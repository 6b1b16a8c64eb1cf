"""sim.write(), ``emgpipe simulate`` and ``emgpipe bench``."""
from __future__ import annotations

import json

import numpy as np
import pytest

from emgpipe import sim
from emgpipe.cli import main
from emgpipe.io import read_recording
from emgpipe.metrics import read_labels
from emgpipe.types import Event


def test_write_reads_back_with_gaps_labels_and_sidecar(tmp_path):
    s = sim.make("artifact_torture", seed=0, duration=240, device="ganglion")
    assert s.gaps
    rec_path = sim.write(s, tmp_path / "torture")
    assert rec_path.name == "torture.csv"
    rec = read_recording(rec_path)
    assert rec.fs == 200 and rec.ch_names == s.ch_names and rec.mode == "awake"
    assert [(g.seq, g.n_missing) for g in rec.gaps] == [(g.seq, g.n_missing) for g in s.gaps]
    x = s.to_array()
    for seq, data in rec.segments:
        assert np.allclose(data, x[seq:seq + len(data)], atol=6e-4)
    side = json.loads((tmp_path / "torture.json").read_text())
    assert side["scenario"] == "artifact_torture" and side["device"] == "ganglion" and side["seed"] == 0
    assert side["gaps"] == [[g.seq, g.n_missing] for g in s.gaps] and side["channels"] == list(s.ch_names)
    assert [x.row() for x in read_labels(tmp_path / "torture.labels.csv")] == \
        [x.row() for x in sorted(s.labels, key=lambda x: (x.start_s, x.channel, x.kind))]


def test_simulate_command_writes_files_and_plot(tmp_path, capsys):
    out = tmp_path / "w.csv"
    assert main(["simulate", "walk_then_cramp", "--out", str(out), "--duration", "30", "--fs", "250",
                 "--seed", "3", "--plot"]) == 0
    for name in ("w.csv", "w.labels.csv", "w.json", "w.png"):
        assert (tmp_path / name).is_file()
    assert (tmp_path / "w.png").read_bytes()[:4] == b"\x89PNG"
    text = capsys.readouterr().out
    assert "cyton 250 Hz" in text and "cramp" in text
    first = (tmp_path / "w.csv").read_bytes()
    assert main(["simulate", "walk_then_cramp", "--out", str(out), "--duration", "30", "--fs", "250",
                 "--seed", "3"]) == 0
    assert (tmp_path / "w.csv").read_bytes() == first  # same seed, same bytes


def test_simulate_list_and_errors(tmp_path, capsys):
    assert main(["simulate", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in sim.SCENARIOS) and "myoware_env" in out
    assert main(["simulate", "nope", "--out", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("emgpipe: simulate: unknown scenario 'nope'") and "\n" not in err
    assert main(["simulate", "walking", "--out", str(tmp_path / "x.csv"), "--fs", "300"]) == 2
    assert "1000-4000" in capsys.readouterr().err
    # a missing folder is made (the README's `--out sim/walk.csv`); one that cannot be is one line
    assert main(["simulate", "walking", "--out", str(tmp_path / "new" / "x.csv"), "--duration", "10"]) == 0
    assert (tmp_path / "new" / "x.csv").is_file()
    capsys.readouterr()
    (tmp_path / "file").write_text("")
    assert main(["simulate", "walking", "--out", str(tmp_path / "file" / "x.csv"), "--duration", "10"]) == 5
    err = capsys.readouterr().err.strip()
    assert "cannot create folder" in err and "\n" not in err


@pytest.fixture
def bench_dir(tmp_path):
    for i, (sc, dev) in enumerate([("walk_then_cramp", "raw"), ("walk_then_cramp", "cyton")]):
        s = sim.make(sc, seed=i, duration=40, device=dev)
        sim.write(s, tmp_path / f"{sc}_{dev}.csv")
    return tmp_path


def test_bench_scores_a_perfect_and_a_silent_detector(bench_dir, monkeypatch, capsys):
    import emgpipe.pipeline as pipeline

    def perfect(recording, mode=None, model=None, **kw):
        labels = read_labels(recording.path.replace(".csv", ".labels.csv"))
        return [Event(x.kind, x.channel, x.start_s, x.end_s, alert_s=x.start_s + 1.0) for x in labels]

    monkeypatch.setattr(pipeline, "run_recording", perfect)
    assert main(["bench", str(bench_dir), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["n_recordings"] == 2
    cr = res["overall"]["cramp"]
    assert cr["tp"] == 2 and cr["fp"] == 0 and cr["fn"] == 0 and cr["sensitivity"] == 1.0
    assert cr["latency_median_s"] == pytest.approx(1.0)
    assert {r["scenario"] for r in res["scenarios"]} == {"walk_then_cramp@raw1000", "walk_then_cramp@cyton250"}

    monkeypatch.setattr(pipeline, "run_recording", lambda rec, mode=None, model=None, **kw: [])
    assert main(["bench", str(bench_dir)]) == 0
    out = capsys.readouterr().out
    assert "2 labelled recordings" in out and "walk_then_cramp@cyton250" in out
    assert "cramp" in out.splitlines()[3]


def test_bench_runs_the_real_pipeline(bench_dir, capsys):
    assert main(["bench", str(bench_dir), "--json", "--jobs", "2"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["n_recordings"] == 2 and res["overall"]["cramp"]["tp"] + res["overall"]["cramp"]["fn"] == 2


def test_bench_errors(tmp_path, capsys):
    assert main(["bench", str(tmp_path / "missing")]) != 0
    assert "no such directory" in capsys.readouterr().err
    assert main(["bench", str(tmp_path)]) == 2
    assert "no labelled recordings" in capsys.readouterr().err


def test_bench_names_a_bad_recording_and_scores_the_others(bench_dir, capsys):
    """A recording that cannot be read, replayed in this process (--jobs 1) or in a
    worker process (--jobs 2), is named with its line, left out and listed at the end;
    the others are scored, and the exit code says that some failed, as with Dask
    (emgpipe.batch). In a worker its exception did not survive pickling: --jobs 2 was
    a BrokenProcessPool "internal error", and --jobs 1 stopped at the first bad file."""
    good = (bench_dir / "walk_then_cramp_raw.csv").read_text().splitlines()
    bad = bench_dir / "broken.csv"
    bad.write_text("\n".join(good[:40] + ["0.039,abc,1.0"] + good[41:80]) + "\n")
    (bench_dir / "broken.labels.csv").write_text((bench_dir / "walk_then_cramp_raw.labels.csv").read_text())
    for jobs in ("1", "2"):
        assert main(["bench", str(bench_dir), "--jobs", jobs, "--json"]) == 3
        out = capsys.readouterr()
        err = out.err.strip().splitlines()
        assert err[0].startswith("emgpipe: ") and "broken.csv: line 41: column" in err[0], err
        assert err[1] == "emgpipe: 1 of 3 recording(s) failed:" and "broken.csv: line 41" in err[2], err
        res = json.loads(out.out)
        assert res["n_recordings"] == 2 and res["overall"]["cramp"]["tp"] + res["overall"]["cramp"]["fn"] == 2


def test_bench_targets_per_variant_and_the_wearer(tmp_path, monkeypatch, capsys):
    """The targets table: per device variant, the false alerts of a driving recording per hour of
    driving, the ones on cramp-free recordings, weak cramps and latencies; --wearer answers the
    first false alert and counts the alerts after it."""
    import emgpipe.pipeline as pipeline
    for sc, seed in (("driving", 0), ("walk_then_cramp", 1), ("walking", 2)):
        sim.write(sim.make(sc, seed=seed, duration=120, device="raw"), tmp_path / f"{sc}.csv")

    def fake(recording, mode=None, model=None, answers=None, before_push=None, **kw):
        """Every cramp found 2 s after onset; a false alert at 30 s and one at 80 s on every
        driving / walking channel, except after a "not a cramp" answer (same session: the
        answer comes through the hook; next session: stored answers)."""
        labels = read_labels(recording.path.replace(".csv", ".labels.csv"))
        ev = [Event("cramp", x.channel, x.start_s, x.end_s, alert_s=x.start_s + 2.0, status="onset")
              for x in labels if x.kind == "cramp"]
        if "walk_then" not in recording.path:
            answered = []

            class P:
                def __init__(self):
                    self.sinks = []
                    self.events = self

                def sink(self, fn):
                    self.sinks.append(fn)

                def answer(self, ch, a, t):
                    answered.append(t)
            p = P()
            for t in (30.0, 80.0):
                if answers or answered:
                    break
                e = Event("cramp", recording.ch_names[0], t, t + 20, alert_s=t + 3, status="onset",
                          features={"rms_uv": 50.0, "baseline_uv": 3.0, "context": "rest"})
                ev.append(e)
                if before_push:
                    from types import SimpleNamespace
                    before_push(p, SimpleNamespace(start_s=0.0))
                    for fn in p.sinks:
                        fn(e)
                    before_push(p, SimpleNamespace(start_s=t + 10))
        return SimpleResult(ev)

    class SimpleResult:
        def __init__(self, events):
            self.events = events

    monkeypatch.setattr(pipeline, "run_recording", fake)
    assert main(["bench", str(tmp_path), "--json", "--wearer"]) == 0
    res = json.loads(capsys.readouterr().out)
    [row] = res["targets"]
    assert row["variant"] == "raw1000"
    drive_h = 120 / 3600
    assert row["driving_fa_per_h"] == pytest.approx(2 / drive_h)   # no action from the wearer: both
    assert row["negatives_fa"] == 2 and row["negatives_fa_where"] == ["walking"]
    assert row["awake_lat_med"] == pytest.approx(2.0) and row["cramp_sens"] == 1.0
    assert row["driving_answered"] == 1 and row["driving_after_same"] == 0 and row["driving_after_next"] == 0
    assert main(["bench", str(tmp_path), "--wearer"]) == 0
    out = capsys.readouterr().out
    assert "Targets per device variant" in out and "raw1000" in out and "After one answer" in out
    assert "false alerts in walking" in out


def test_target_met():
    from emgpipe.commands.bench import target_met
    assert target_met("cramp_sens", 0.96) and not target_met("cramp_sens", 0.9)
    assert target_met("driving_fa_per_h", 1.0) and not target_met("driving_fa_per_h", 1.2)
    assert target_met("negatives_fa", 0) and not target_met("negatives_fa", 2)
    assert target_met("driving_cramps", "2/2") and not target_met("driving_cramps", "1/2")
    assert target_met("variant", "raw1000") is None and target_met("cramp_sens", None) is None
