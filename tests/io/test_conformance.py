"""One suite over every reader: a small synthetic file per format (with lost samples
where the format can say so), read through the registry, checked for the
Recording invariants and for Recording.iter_chunks covering every present
sample exactly once with the right seq and gap attributes."""
from __future__ import annotations

import json

import edfio
import numpy as np
import pytest
import wfdb

from emgpipe.io import read_recording
from emgpipe.io.contract_csv import CsvWriter

N = 1200
LOST = slice(500, 530)          # 30 samples lost (where the format records losses)


def _values(n_ch, scale=1.0):
    t = np.arange(N)
    return np.column_stack([(t % 97) * scale + k for k in range(n_ch)]).astype(float)


def make_csv(tmp_path):
    x = _values(2)
    p = tmp_path / "rec.csv"
    with CsvWriter(p, 1000, ["TA", "GM"], {"mode": "sleep"}) as w:
        w.write(x[:LOST.start])
        w.write(x[LOST.stop:], seq=LOST.stop)
    return p, 1000.0, ("TA", "GM"), x, True


def make_openbci(tmp_path):
    x = _values(2)
    seq = np.arange(N)
    keep = np.ones(N, bool)
    keep[LOST] = False
    names = "Sample Index, EXG Channel 0, EXG Channel 1, Timestamp, Marker Channel, Timestamp (Formatted)"
    rows = [f"{s % 256}, {x[s, 0]:.2f}, {x[s, 1]:.2f}, {1.7e9 + s / 250:.4f}, 0, 00:00:00.000"
            for s in seq[keep]]
    p = tmp_path / "OpenBCI-RAW-rec.txt"
    p.write_text("%OpenBCI Raw EXG Data\n%Number of channels = 2\n%Sample Rate = 250 Hz\n"
                 "%Board = OpenBCI_GUI$BoardCytonSerial\n" + names + "\n" + "\n".join(rows) + "\n")
    return p, 250.0, ("EXG Channel 0", "EXG Channel 1"), x, True


def make_brainflow(tmp_path):
    x = _values(4)
    seq = np.arange(N)
    rows = np.zeros((N, 15))
    rows[:, 0] = seq % 200
    rows[:, 1:5] = x
    rows[:, 13] = 1.7e9 + seq / 200
    keep = np.ones(N, bool)
    keep[LOST] = False
    p = tmp_path / "BrainFlow-RAW_rec.csv"
    np.savetxt(p, rows[keep], fmt="%f", delimiter="\t")
    return p, 200.0, tuple(f"EXG Channel {k}" for k in range(4)), x, True


def make_edf(tmp_path):
    x = _values(2)
    p = tmp_path / "rec.edf"
    edfio.Edf([edfio.EdfSignal(x[:, k], 1000, label=f"EMG {k}", physical_dimension="uV",
                               physical_range=(-200, 200)) for k in range(2)],
              data_record_duration=0.1,
              annotations=[edfio.EdfAnnotation(0.1, None, "lights off")]).write(p)
    return p, 1000.0, ("EMG 0", "EMG 1"), x, False


def make_wfdb(tmp_path):
    x = _values(2)
    y = x.copy()
    y[LOST] = np.nan
    wfdb.wrsamp("rec", fs=500, units=["uV", "uV"], sig_name=["TA", "GM"], p_signal=y,
                fmt=["16", "16"], adc_gain=[100.0, 100.0], baseline=[0, 0], write_dir=str(tmp_path))
    return tmp_path / "rec.hea", 500.0, ("TA", "GM"), x, True


def make_opensignals(tmp_path):
    adc = 512 + (np.arange(N) % 97)
    x = ((adc / 1024 - 0.5) * 3.3 / 1009 * 1e6)[:, None]
    info = {"00:00:00:00:00:01": {"sensor": ["EMG"], "device": "bitalino_rev",
                                  "column": ["nSeq", "I1", "I2", "O1", "O2", "A1"],
                                  "sampling rate": 1000, "label": ["A1"],
                                  "resolution": [4, 1, 1, 1, 1, 10]}}
    keep = np.ones(N, bool)
    keep[500:510] = False                        # nSeq is 4 bits: losses under 16 samples
    body = "".join(f"{s % 16}\t0\t0\t0\t0\t{adc[s]}\t\n" for s in np.flatnonzero(keep))
    p = tmp_path / "opensignals_rec.txt"
    p.write_text("# OpenSignals Text File Format. Version 1\n# " + json.dumps(info)
                 + "\n# EndOfHeader\n" + body)
    return p, 1000.0, ("A1",), x, slice(500, 510)


MAKERS = {"csv": make_csv, "openbci": make_openbci, "brainflow": make_brainflow, "edf": make_edf,
          "wfdb": make_wfdb, "opensignals": make_opensignals}


@pytest.fixture(params=sorted(MAKERS))
def case(request, tmp_path):
    path, fs, names, x, lost = MAKERS[request.param](tmp_path)
    if lost is True:
        lost = LOST
    return request.param, path, fs, names, x, lost or None


def check_invariants(rec):
    assert rec.fs > 0 and rec.units == "uV"
    assert len(set(rec.ch_names)) == len(rec.ch_names) > 0
    assert rec.segments, "a recording has at least one segment"
    gaps = {g.seq: g for g in rec.gaps}
    pos = 0
    for k, (seq, data) in enumerate(rec.segments):
        assert isinstance(seq, int) and data.dtype == np.float64
        assert data.ndim == 2 and data.shape[1] == len(rec.ch_names) and len(data) > 0
        assert np.isfinite(data).all()
        if seq != pos:                       # a jump must be exactly one reported gap
            g = gaps.pop(pos)
            assert g.n_missing == seq - pos and g.fs == rec.fs and g.reason
        pos = seq + len(data)
    assert not gaps, f"gaps not between segments: {gaps}"
    assert rec.n_total == pos and rec.n_present + rec.n_missing == rec.n_total
    assert rec.meta.get("format")


def test_reader_conformance(case):
    fmt, path, fs, names, x, lost = case
    rec = read_recording(path)               # the registry picks the reader
    check_invariants(rec)
    assert rec.fs == fs and rec.ch_names == names and rec.n_total == len(x)
    present = np.ones(len(x), bool)
    if lost is not None:
        present[lost] = False
        assert [(g.seq, g.n_missing) for g in rec.gaps] == [(lost.start, lost.stop - lost.start)]
    else:
        assert rec.gaps == []
    arr = rec.to_array()
    assert np.isnan(arr[~present]).all()
    tol = 0.01 if fmt != "edf" else 400 / 65535    # text: 2-3 decimals; EDF: 1 LSB
    np.testing.assert_allclose(arr[present], x[present], atol=tol)
    assert read_recording(path, fmt=fmt).n_total == rec.n_total    # forcing the same reader


@pytest.mark.parametrize("chunk_s", [0.013, 0.1, 0.5, 10.0])
def test_iter_chunks_cover_present_samples_once(case, chunk_s):
    fmt, path, fs, names, x, lost = case
    rec = read_recording(path)
    seen = np.zeros(rec.n_total, int)
    out = np.full((rec.n_total, len(names)), np.nan)
    expect_seq = None
    announced = []
    for c in rec.iter_chunks(chunk_s, source_id="test"):
        assert c.fs == rec.fs and c.ch_names == rec.ch_names and c.source_id == "test"
        assert c.n_samples > 0
        if expect_seq is not None and c.seq != expect_seq:
            # only right after a gap, which the chunk announces
            assert c.gaps and c.gaps[0].seq == expect_seq and c.gaps[0].seq + c.gaps[0].n_missing == c.seq
        announced.extend(c.gaps)
        seen[c.seq:c.next_seq] += 1
        out[c.seq:c.next_seq] = c.data
        expect_seq = c.next_seq
    present = np.ones(rec.n_total, bool)
    if lost is not None:
        present[lost] = False
    np.testing.assert_array_equal(seen, present.astype(int))
    np.testing.assert_array_equal(out, rec.to_array())
    assert announced == rec.gaps


def test_iter_chunks_part(case):
    fmt, path, fs, names, x, lost = case
    rec = read_recording(path)
    start, stop = 0.2 * rec.duration_s, 0.7 * rec.duration_s
    chunks = list(rec.iter_chunks(0.05, start_s=start, stop_s=stop))
    first = int(np.ceil(start * rec.fs - 1e-9))
    assert chunks[0].seq == first and chunks[0].t0 == pytest.approx(first / rec.fs)
    assert chunks[-1].next_seq <= stop * rec.fs + 1e-9
