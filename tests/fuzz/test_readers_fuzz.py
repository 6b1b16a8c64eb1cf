"""Property tests: every recording reader, on mutated copies of small valid files (and of the
heads of real files when present), returns or raises one of emgpipe's errors with a one-line
message naming the file; never another exception, a numpy RuntimeWarning, or a hang; valid
files round-trip."""
from __future__ import annotations

import random
import signal
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

from benchmarks.fuzz import READERS, mutate, real_seeds, run_reader, synthetic_seeds
from emgpipe.errors import EmgpipeError
from emgpipe.io import read_recording
from emgpipe.io.contract_csv import CsvWriter


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    s = synthetic_seeds(tmp_path_factory.mktemp("seeds"))
    for fmt, items in real_seeds().items():
        s[fmt].extend(items)
    return s


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang()


def _check(fmt, work, name, data, side):
    for p in list(work.iterdir()):
        p.unlink()
    old = signal.signal(signal.SIGALRM, _alarm) if hasattr(signal, "SIGALRM") else None
    if old is not None:
        signal.setitimer(signal.ITIMER_REAL, 10.0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            run_reader(fmt, work, name, data, side)
    except EmgpipeError as err:
        assert "\n" not in str(err)
    finally:
        if old is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("fmt", READERS)
def test_reader_on_mutated_files(fmt, seeds, tmp_path_factory):
    work = tmp_path_factory.mktemp(f"fuzz-{fmt}")

    @given(st.integers(0, 2 ** 32 - 1))
    def prop(seed):
        r = random.Random(seed)
        name, base, side = r.choice(seeds[fmt])
        if fmt == "wfdb" and r.random() < 0.5:
            data, side = base, mutate(r, side, False)
        else:
            data = mutate(r, base, fmt not in ("edf", "wfdb"))
        _check(fmt, work, name, data, side)

    prop()


@given(n_ch=st.integers(1, 4), fs=st.floats(1.0, 5000.0),
       vals=st.lists(st.floats(-1e5, 1e5, allow_nan=False), min_size=1, max_size=200),
       lost=st.integers(0, 50))
def test_contract_csv_roundtrip(tmp_path_factory, n_ch, fs, vals, lost):
    """Any finite values within range written by CsvWriter read back (to the 3 decimals
    written), with a lost run read back as one gap."""
    p = tmp_path_factory.mktemp("rt") / "rt.csv"
    x = np.resize(np.round(np.array(vals), 3), (max(2, len(vals) // n_ch), n_ch))
    half = len(x) // 2
    with CsvWriter(p, fs, [f"c{k}" for k in range(n_ch)]) as w:
        w.write(x[:half])
        w.write(x[half:], seq=half + lost)
    rec = read_recording(p)
    assert rec.fs == pytest.approx(fs, rel=1e-3)
    got = np.concatenate([d for _, d in rec.segments])
    np.testing.assert_allclose(got, x, atol=1.5e-3)
    assert rec.n_missing == lost
