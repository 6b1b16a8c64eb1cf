"""The sim: and file: sources have the live API: chunks with seq, gaps announced, pacing."""
import time

import numpy as np
import pytest

from emgpipe.errors import UsageError
from emgpipe.devices import open_source, parse_uri


def collect(src):
    with src:
        chunks = list(src)
    return chunks


def test_sim_source_matches_simulator_and_reports_gaps():
    src = open_source("sim:artifact_torture?speed=max&seed=2&duration=300")
    chunks = collect(src)
    data = np.concatenate([c.data for c in chunks])
    ref = np.concatenate([d for _, d in src.sim.segments(10.0)])
    np.testing.assert_array_equal(data, ref)
    seqs = [(c.seq, c.next_seq) for c in chunks]
    gaps = [g for c in chunks for g in c.gaps]
    # every jump of seq is announced as a gap on the chunk right after it
    for (a0, a1), (b0, _), c in zip(seqs, seqs[1:], chunks[1:]):
        if b0 != a1:
            assert c.gaps and c.gaps[0].seq == a1 and c.gaps[0].n_missing == b0 - a1
    lost = sum(g.n_missing for g in gaps)
    assert lost == src.sim.n_samples - len(data)


def test_sim_source_paces_in_real_time():
    src = open_source("sim:walk_then_cramp?speed=50&chunk_s=0.1&duration=10")
    t0 = time.monotonic()
    chunks = collect(src)
    assert sum(c.n_samples for c in chunks) == 10000
    assert time.monotonic() - t0 >= 10 / 50 * 0.9


def test_file_source_replays_a_recording(tmp_path):
    from emgpipe.io.contract_csv import CsvWriter
    x = np.random.default_rng(0).normal(size=(3000, 2))
    with CsvWriter(tmp_path / "r.csv", 1000.0, ("a", "b")) as w:
        w.write(x[:1000])
        w.write(x[1000:], seq=1500)
    chunks = collect(open_source(f"file:{tmp_path / 'r.csv'}?speed=max"))
    assert sum(c.n_samples for c in chunks) == 3000
    gaps = [g for c in chunks for g in c.gaps]
    assert [(g.seq, g.n_missing) for g in gaps] == [(1000, 500)]


def test_uri_errors():
    assert parse_uri("cyton:COM3") == ("cyton", "COM3", {})
    with pytest.raises(UsageError, match="unknown source type 'usb'"):
        open_source("usb:/dev/x")
    with pytest.raises(UsageError, match="unknown scenario"):
        open_source("sim:nope")
    with pytest.raises(UsageError, match="SCHEME:TARGET"):
        open_source("walk.csv")
