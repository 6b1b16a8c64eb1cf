"""WFDB records: header parser, units to µV, invalid samples as gaps, errors."""
from __future__ import annotations

import numpy as np
import pytest
import wfdb

from emgpipe.errors import BadData, BadHeader, UnsupportedFormat, UsageError
from emgpipe.io.wfdb_io import parse_header, read


def write(tmp_path, name, x, units, names=("TA", "GM"), fs=1000, gains=None):
    wfdb.wrsamp(name, fs=fs, units=list(units), sig_name=list(names), p_signal=x,
                fmt=["16"] * x.shape[1], adc_gain=gains or [1000.0] * x.shape[1],
                baseline=[0] * x.shape[1], write_dir=str(tmp_path))
    return tmp_path / f"{name}.hea"


def test_parse_header():
    h = parse_header("# comment\nrec 2 2000/1000(0) 60000 10:00:00 01/01/2024\n"
                     "rec.dat 212x1:3+512 200(-12)/uV 12 0 -3 0 0 left TA\nrec.dat 212 100\n")
    assert (h.record, h.n_sig, h.fs, h.n_samples) == ("rec", 2, 2000.0, 60000)
    assert [(s.fmt, s.units, s.description) for s in h.signals] == [("212", "uV", "left TA"),
                                                                     ("212", "mV", "")]
    assert parse_header("multi/3 2 360 1000\n").n_segments == 3
    assert parse_header("r 1\nr.dat 16\n").fs == 250.0            # WFDB default
    with pytest.raises(BadHeader, match="line 1: not a WFDB record line"):
        parse_header("time_s,TA\n", "r.hea")
    with pytest.raises(BadHeader, match="says 2 signals, found 1"):
        parse_header("r 2 100\nr.dat 16 200/mV\n", "r.hea")
    with pytest.raises(BadHeader, match="line 2: bad gain field"):
        parse_header("r 1 100\nr.dat 16 abc/mV\n", "r.hea")


def test_units_and_paths(tmp_path):
    x = np.random.default_rng(0).normal(0, 0.05, (3000, 2))          # mV
    hea = write(tmp_path, "r01", np.column_stack([x[:, 0], x[:, 1] * 1000]), ["mV", "uV"],
                gains=[20000.0, 20.0])
    for given in (hea, tmp_path / "r01.dat", tmp_path / "r01"):
        rec = read(given)
        assert rec.path == str(hea) and rec.fs == 1000 and rec.ch_names == ("TA", "GM")
    np.testing.assert_allclose(rec.to_array(), x * 1000, atol=0.05 + 1e-9)   # 1 LSB = 0.05 µV
    assert rec.meta["units"] == ["mV", "uV"] and rec.gaps == []
    assert read(hea, channels=["GM"]).ch_names == ("GM",)
    with pytest.raises(UsageError, match="no signal 'SO'"):
        read(hea, channels=["SO"])


def test_invalid_rows_become_gaps(tmp_path):
    x = np.random.default_rng(1).normal(0, 0.05, (1000, 2))
    x[0:5] = np.nan
    x[400:450] = np.nan
    rec = read(write(tmp_path, "r02", x, ["mV", "mV"], fs=500, gains=[20000.0, 20000.0]))
    assert [(g.seq, g.n_missing) for g in rec.gaps] == [(0, 5), (400, 50)]
    assert rec.n_total == 1000 and rec.n_present == 945
    arr = rec.to_array()
    ok = np.isfinite(x[:, 0])
    np.testing.assert_allclose(arr[ok], x[ok] * 1000, atol=0.05 + 1e-9)


def test_partly_invalid_row_is_an_error(tmp_path, problem):
    x = np.zeros((100, 2))
    x[17, 1] = np.nan
    hea = write(tmp_path, "r03", x, ["mV", "mV"])
    with pytest.raises(BadData) as e:
        read(hea)
    assert problem(e, hea) == "sample 18: channel 'GM' is nan (not a finite number)"


def test_errors(tmp_path, problem):
    hea = write(tmp_path, "r04", np.zeros((10, 1)), ["degC"], names=["T"])
    with pytest.raises(BadHeader) as e:
        read(hea)
    assert problem(e, hea) == "signal 'T': unit 'degC' is not a voltage"
    (tmp_path / "r04.dat").unlink()
    with pytest.raises(BadData) as e:
        read(hea)
    assert problem(e, hea) == "signal file r04.dat not found beside the header"
    empty = tmp_path / "e.hea"
    empty.write_text("")
    with pytest.raises(BadData) as e:
        read(empty)
    assert problem(e, empty) == "file is empty"
    multi = tmp_path / "m.hea"
    multi.write_text("m/2 1 360 100\nseg1 50\nseg2 50\n")
    with pytest.raises(UnsupportedFormat, match="multi-segment"):
        read(multi)
    zero = tmp_path / "z.hea"
    zero.write_text("z 1 360 0\nz.dat 16 200/mV\n")
    with pytest.raises(BadData, match="no samples"):
        read(zero)
    with pytest.raises(BadData) as e:
        read(tmp_path / "nope.hea")
    assert problem(e, tmp_path / "nope.hea") == "file not found"
