"""The NeuroKit2 peer benchmark (benchmarks/peer_neurokit.py); skipped without neurokit2."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

nk = pytest.importorskip("neurokit2", reason="neurokit2 (benchmark-only dependency) is not installed")

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
import peer_neurokit as peer  # noqa: E402

from emgpipe.commands.bench import find_labeled  # noqa: E402
from emgpipe.io.base import Recording  # noqa: E402
from emgpipe.metrics import read_labels  # noqa: E402
from emgpipe.types import Gap  # noqa: E402

SAMPLE = REPO / "datasets" / "sample"


def burst_signal(fs, n_s=12.0, burst=(3.0, 9.0), seed=0):
    """Rest noise (3 µV) with one burst (100 µV) of broadband activity."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(n_s * fs)) / fs
    x = 3.0 * rng.standard_normal(len(t))
    on = (t >= burst[0]) & (t < burst[1])
    x[on] += 100.0 * rng.standard_normal(on.sum())
    return x


@pytest.mark.parametrize("fs, cleaning", [(1000.0, "biosppy"), (250.0, "biosppy"), (200.0, "none")])
def test_fast_activity_is_emg_process_activity(fs, cleaning):
    x = burst_signal(fs, n_s=8.0, burst=(2.0, 5.0), seed=int(fs))
    fast = peer.nk_activity(x, fs, cleaning)
    exact = peer.nk_activity(x, fs, cleaning, exact=True)
    assert fast.dtype == bool and len(fast) == len(x)
    np.testing.assert_array_equal(fast, exact)
    assert fast.any() and not fast.all()


def test_fast_activity_matches_on_a_real_sample_envelope():
    from emgpipe.io import read_recording

    rec = read_recording(SAMPLE / "walk_then_cramp_env.csv")
    x = rec.segments[0][1][: int(20 * rec.fs), 0]
    np.testing.assert_array_equal(peer.nk_activity(x, rec.fs), peer.nk_activity(x, rec.fs, exact=True))


def test_default_cleaning_fails_at_200_hz_and_the_fallback_is_noted():
    x = burst_signal(200.0)
    with pytest.raises(ValueError, match="Wn"):
        peer.nk_activity(x, 200.0)
    rec = Recording("mem.csv", 200.0, ("a",), [(0, x[:, None])])
    runs, notes = peer.recording_runs(rec)
    assert sum(notes.values()) == 1 and "method_cleaning='none'" in next(iter(notes))
    assert any(ch == "a" and e - s > 4.0 for ch, s, e in runs)


def test_activity_runs():
    assert peer.activity_runs(np.array([], dtype=bool)) == []
    assert peer.activity_runs(np.array([1, 1, 0, 0, 1, 0, 1], dtype=bool)) == [(0, 2), (4, 5), (6, 7)]


def test_runs_to_events_min_duration_rule():
    runs = [["a", 1.0, 2.5], ["a", 10.0, 13.0], ["b", 20.0, 40.0]]
    ev = peer.runs_to_events(runs, 3.0)
    assert [e.kind for e in ev] == ["voluntary", "cramp", "cramp"]
    assert ev[0].alert_s == 2.5                       # a short run is announced at its end
    assert ev[1].alert_s == 13.0 and ev[2].alert_s == 23.0  # a cramp at start + min_s
    assert [e.kind for e in peer.runs_to_events(runs, 10.0)] == ["voluntary", "voluntary", "cramp"]


def test_segments_are_processed_separately_and_keep_stream_time():
    fs = 1000.0
    a, b = burst_signal(fs, seed=1), burst_signal(fs, seed=2)
    gap = 5000
    seq2 = len(a) + gap
    rec = Recording("mem.csv", fs, ("m",), [(0, a[:, None]), (seq2, b[:, None])],
                    gaps=[Gap(seq=len(a), n_missing=gap, fs=fs)])
    runs, notes = peer.recording_runs(rec)
    assert not notes
    long_runs = [(s, e) for _, s, e in runs if e - s > 4.0]
    assert len(long_runs) == 2
    (s1, e1), (s2, e2) = long_runs
    assert 2.5 < s1 < 3.5 and 8.5 < e1 < 9.5
    t2 = seq2 / fs
    assert t2 + 2.5 < s2 < t2 + 3.5 and t2 + 8.5 < e2 < t2 + 9.5
    assert all(not (s < len(a) / fs < e) for _, s, e in runs)  # nothing spans the gap


def test_evaluate_scores_like_bench(tmp_path):
    paths = [p for p in find_labeled(SAMPLE) if p.stem in ("walk_then_cramp", "artifact_torture")]
    records = [peer.peer_one(p) for p in paths]
    out = peer.evaluate(records, 3.0, sweep=(1.0, 10.0))
    s = out["summary"]
    assert s["n_recordings"] == 2
    n_cramp = sum(lab.kind == "cramp" for p in paths for lab in read_labels(p.with_name(p.stem + ".labels.csv")))
    cr = s["overall"]["cramp"]
    assert cr["tp"] + cr["fn"] == n_cramp
    assert [r["min_s"] for r in out["sweep"]] == [1.0, 3.0, 10.0]
    n_alerts = [r["cramp_tp"] + r["cramp_fp"] for r in out["sweep"]]
    assert n_alerts == sorted(n_alerts, reverse=True)  # a longer minimum never adds cramps
    # ganglion (200 Hz) sample: the fallback is reported
    assert any("200 Hz" in k for k in out["notes"])
    # the JSON output round-trips and rebuilds the same events
    back = json.loads(json.dumps(peer.json_safe(out)))
    assert back["records"][0]["runs"] == records[0]["runs"]


def test_cli_text_and_json(tmp_path, capsys):
    d = tmp_path / "set"
    d.mkdir()
    for ext in (".csv", ".labels.csv", ".json"):
        (d / f"walk_then_cramp{ext}").write_bytes((SAMPLE / f"walk_then_cramp{ext}").read_bytes())
    assert peer.main([str(d), "--min-s", "5"]) == 0
    text = capsys.readouterr().out
    assert "runs >= 5 s -> cramp" in text and "min s" in text
    assert peer.main([str(d), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["min_s"] == peer.DEFAULT_MIN_S and data["summary"]["n_recordings"] == 1
    assert peer.main([str(tmp_path / "nothing")]) == 2
    (tmp_path / "empty").mkdir()
    assert peer.main([str(tmp_path / "empty")]) == 2  # a folder with no labelled recording
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("peer_neurokit: ") for line in err)
