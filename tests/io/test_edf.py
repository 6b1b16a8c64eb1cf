"""EDF/EDF+/BDF: header parser on bytes, units, rate selection, annotations, EDF+D gaps, errors."""
from __future__ import annotations

import logging

import edfio
import numpy as np
import pytest

from emgpipe.errors import BadData, BadHeader, UsageError
from emgpipe.io.edf import parse_header, read

pyedflib = pytest.importorskip("pyedflib", reason="pyedflib is a test-only dependency")


def sig(x, fs, label, unit="uV", rng=1000.0, bdf=False):
    cls = edfio.BdfSignal if bdf else edfio.EdfSignal
    kw = {} if not bdf else {"digital_range": (-8388608, 8388607)}
    return cls(np.asarray(x, float), fs, label=label, physical_dimension=unit,
               physical_range=(-rng, rng), **kw)


@pytest.fixture
def emg():
    return np.random.default_rng(0).normal(0, 50, 4000)


def test_parse_header_on_inline_bytes():
    def signal_block(labels, dims, spr):
        cols = [(lb.ljust(16) for lb in labels), (" " * 80 for _ in labels),
                (d.ljust(8) for d in dims), ("-500".ljust(8) for _ in labels),
                ("500".ljust(8) for _ in labels), ("-32768".ljust(8) for _ in labels),
                ("32767".ljust(8) for _ in labels), (" " * 80 for _ in labels),
                (str(n).ljust(8) for n in spr), (" " * 32 for _ in labels)]
        return "".join("".join(c) for c in cols).encode()
    fixed = (b"0".ljust(8) + b" " * 160 + b"01.02.24" + b"22.30.00" + b"768".ljust(8)
             + b"EDF+D".ljust(44) + b"-1".ljust(8) + b"0.5".ljust(8) + b"2".ljust(4))
    h = parse_header(fixed + signal_block(["EMG calf", "EDF Annotations"], ["mV", ""], [1000, 30]))
    assert (h.flavour, h.n_records, h.record_s, h.header_bytes) == ("EDF+D", -1, 0.5, 768)
    assert [s.label for s in h.signals] == ["EMG calf", "EDF Annotations"]
    assert h.signals[1].is_annotation and h.record_bytes == 2 * 1030 and h.start == "01.02.24 22.30.00"
    with pytest.raises(BadHeader, match="not an EDF/BDF file"):
        parse_header(b"1" * 300, "x.edf")
    with pytest.raises(BadHeader, match="shorter than an EDF header"):
        parse_header(fixed[:100], "x.edf")
    with pytest.raises(BadHeader, match="header says 2 signals and 512 header bytes"):
        parse_header(fixed.replace(b"768     ", b"512     ") + b" " * 512, "x.edf")


def test_units_scaled_to_uv_and_read_back_by_pyedflib(tmp_path, emg):
    p = tmp_path / "r.edf"
    edfio.Edf([sig(emg, 1000, "EMG TA", "uV"), sig(emg / 1e3, 1000, "EMG GM", "mV", 1.0),
               sig(emg / 1e6, 1000, "EMG SO", "V", 1e-3), sig(emg * 1e3, 1000, "EMG PL", "nV", 1e6)],
              annotations=[edfio.EdfAnnotation(1.5, 2.0, "calf cramp")]).write(p)
    with pyedflib.EdfReader(str(p)) as f:       # the file is valid EDF+ for another reader too
        assert f.getSignalLabels() == ["EMG TA", "EMG GM", "EMG SO", "EMG PL"]
        ref = f.readSignal(0)
    rec = read(p)
    assert rec.fs == 1000 and rec.ch_names == ("EMG TA", "EMG GM", "EMG SO", "EMG PL")
    x = rec.to_array()
    np.testing.assert_allclose(x[:, 0], ref, atol=1e-9)
    for k in range(4):
        np.testing.assert_allclose(x[:, k], emg, atol=1000 / 32767 + 1e-9)   # 1 LSB of ±1000 µV
    assert rec.meta["annotations"] == [{"onset_s": 1.5, "duration_s": 2.0, "text": "calf cramp"}]
    assert rec.meta["flavour"] == "EDF+C" and rec.gaps == []


def test_bdf(tmp_path, emg):
    p = tmp_path / "r.bdf"
    x = np.resize(emg, 4096)                        # 2 s at 2048 Hz
    edfio.Bdf([sig(x, 2048, "EMG1", bdf=True), sig(x, 2048, "EMG2", bdf=True)]).write(p)
    rec = read(p)
    assert rec.fs == 2048 and rec.meta["flavour"].startswith("BDF") and rec.n_total == 4096
    np.testing.assert_allclose(rec.to_array()[:, 1], x, atol=1e-3)     # 24 bit: 0.12 nV LSB


def test_rate_selection_and_channels(tmp_path, emg, caplog):
    p = tmp_path / "mix.edf"
    edfio.Edf([sig(emg, 1000, "EMG TA"), sig(emg[:800], 200, "EMG slow"),
               sig(emg, 1000, "EMG GM"), sig(np.full(400, 36.0), 100, "Temp", "degC", 50),
               sig(emg, 1000, "EEG C3")]).write(p)
    with caplog.at_level(logging.WARNING):
        rec = read(p)
    assert rec.ch_names == ("EMG TA", "EMG GM")      # EMG-labelled, at the most common rate
    assert rec.meta["dropped_signals"] == ["EMG slow"] and "EMG slow" in caplog.text
    assert read(p, channels=["EEG C3"]).ch_names == ("EEG C3",)
    assert read(p, channels=["EMG slow"]).fs == 200
    with pytest.raises(BadHeader, match="different sample rates: 'EMG TA' 1000 Hz, 'EMG slow' 200 Hz"):
        read(p, channels=["EMG TA", "EMG slow"])
    with pytest.raises(UsageError, match="no signal 'X'"):
        read(p, channels=["X"])


def test_no_voltage_signal(tmp_path, problem):
    p = tmp_path / "t.edf"
    edfio.Edf([sig(np.ones(100), 100, "Temp", "degC", 50)]).write(p)
    with pytest.raises(BadHeader) as e:
        read(p)
    assert problem(e, p) == "no signal in volts (uV/mV/V/nV): 'Temp' [degC]"


def test_discontinuous_edf_plus_gaps(tmp_path):
    """EDF+D: record 3 starts 2 s late (patched TAL '+2' -> '+4', same length)."""
    p = tmp_path / "d.edf"
    x = np.arange(5 * 100, dtype=float)
    edfio.Edf([sig(x, 100, "EMG", rng=1000)], data_record_duration=1.0,
              annotations=[edfio.EdfAnnotation(0.5, None, "start")]).write(p)
    raw = bytearray(p.read_bytes())
    h = parse_header(bytes(raw))
    assert h.flavour == "EDF+C"
    raw[192:236] = b"EDF+D".ljust(44)
    for r, new in ((2, b"+4"), (3, b"+5"), (4, b"+6")):
        a = h.header_bytes + r * h.record_bytes + 2 * 100
        assert bytes(raw[a:a + 2]) == f"+{r}".encode()
        raw[a:a + 2] = new
    p.write_bytes(bytes(raw))
    rec = read(p)
    assert [(g.seq, g.n_missing) for g in rec.gaps] == [(200, 200)]
    assert [(s, len(d)) for s, d in rec.segments] == [(0, 200), (400, 300)]
    np.testing.assert_allclose(rec.segments[1][1][:, 0], x[200:], atol=0.02)


def test_truncated_file_reads_whole_records(tmp_path, emg, caplog):
    p = tmp_path / "cut.edf"
    edfio.Edf([sig(emg, 1000, "EMG")]).write(p)      # 4 records of 1 s
    raw = p.read_bytes()
    p.write_bytes(raw[:-700])                         # cut inside the last record
    with caplog.at_level(logging.WARNING):
        rec = read(p)
    assert rec.n_total == 3000 and rec.meta["dropped_bytes"] == 2000 - 700
    assert "3 whole ones" in caplog.text
    np.testing.assert_allclose(rec.to_array()[:, 0], emg[:3000], atol=0.05)


def test_errors(tmp_path, problem, emg):
    p = tmp_path / "e.edf"
    p.write_bytes(b"")
    with pytest.raises(BadData) as e:
        read(p)
    assert problem(e, p) == "file is empty"
    edfio.Edf([sig(emg, 1000, "EMG")]).write(p)
    raw = p.read_bytes()
    p.write_bytes(raw[:512])                          # header only
    with pytest.raises(BadData) as e:
        read(p)
    assert problem(e, p) == "no samples (header only)"
    p.write_bytes(raw[:200])
    with pytest.raises(BadHeader) as e:
        read(p)
    assert problem(e, p) == "only 200 bytes: shorter than an EDF header (256)"
    with pytest.raises(BadData) as e:
        read(tmp_path / "none.edf")
    assert problem(e, tmp_path / "none.edf") == "file not found"
    with pytest.raises(UsageError, match="board"):
        read(p, board="cyton")


def test_time_keeping_only_rows_are_what_the_regex_matches():
    """The vectorised test that skips a record's annotation bytes (emgpipe/io/edf.py) says
    True exactly where the per-record regex it replaces matches: valid TALs, and the same
    with one or two bytes changed."""
    import random
    import re

    from emgpipe.io.edf import _time_keeping_only
    tk_only = re.compile(rb"[+-]\d+(?:\.\d+)?\x14\x14\x00+")
    rnd = random.Random(2)
    rows, w = [], 20
    for _ in range(20000):
        num = rnd.choice(b"+-").to_bytes(1, "little") + bytes(rnd.choice(b"0123456789")
                                                              for _ in range(rnd.randint(1, 5)))
        if rnd.random() < 0.5:
            num += b"." + bytes(rnd.choice(b"0123456789") for _ in range(rnd.randint(0, 4)))
        b = bytearray((num + b"\x14\x14").ljust(w, b"\x00")[:w])
        for _ in range(rnd.choice([0, 0, 1, 2])):
            b[rnd.randrange(w)] = rnd.choice(b"+-0123456789.\x14\x00a")
        rows.append(bytes(b))
    got = _time_keeping_only(np.frombuffer(b"".join(rows), np.uint8).reshape(-1, w))
    ref = np.array([bool(tk_only.fullmatch(r)) for r in rows])
    assert 5000 < ref.sum() < 15000
    assert np.array_equal(got, ref)


def test_annotations_read_in_batches_of_records(tmp_path, emg, monkeypatch):
    """The annotation bytes are read a batch of data records at a time (memory flat in
    length): batches of 3 records find what one batch finds, the EDF+D onsets too."""
    import emgpipe.io.edf as edf
    p = tmp_path / "a.edf"
    x = np.resize(emg, 9 * 100)
    anns = [edfio.EdfAnnotation(t, None if k % 2 else 0.5, f"mark {k}") for k, t in enumerate((0.5, 3.2, 6.0, 8.5))]
    edfio.Edf([sig(x, 100, "EMG", rng=1000)], data_record_duration=1.0, annotations=anns).write(p)
    whole = read(p).meta["annotations"]
    assert [a["text"] for a in whole] == ["mark 0", "mark 1", "mark 2", "mark 3"]
    monkeypatch.setattr(edf, "ANNOTATION_BATCH", 3)
    assert read(p).meta["annotations"] == whole
    # batches limited by bytes mapped at once (one record, then two), each map its own
    for records in (1, 2):
        monkeypatch.setattr(edf, "ANNOTATION_MAP_BYTES", records * parse_header(p.read_bytes()).record_bytes)
        assert read(p).meta["annotations"] == whole
    raw = bytearray(p.read_bytes())                   # EDF+D, record 6 one second late
    h = parse_header(bytes(raw))
    raw[192:236] = b"EDF+D".ljust(44)
    for r in range(6, 9):
        a = h.header_bytes + r * h.record_bytes + 2 * 100
        assert bytes(raw[a:a + 2]) == f"+{r}".encode()
        raw[a:a + 2] = f"+{r + 1}".encode()
    p.write_bytes(bytes(raw))
    rec = read(p)
    assert [(g.seq, g.n_missing) for g in rec.gaps] == [(600, 100)] and rec.n_total == 1000
    assert [a["text"] for a in rec.meta["annotations"]] == ["mark 0", "mark 1", "mark 2", "mark 3"]
