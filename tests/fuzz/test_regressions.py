"""Regression tests for the crashers benchmarks/fuzz.py found, and absurd values in recordings
(issue 16 part 2): one warning naming the file, channel and time, the bad samples a
``signal_loss`` gap; a file in the wrong scale one clear error; no numpy warning."""
from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest

from emgpipe.devices.bridge import protocol as bp
from emgpipe.devices.bridge.stream import ChunkAssembler
from emgpipe.cli import main
from emgpipe.errors import BadData, BadHeader, ProtocolError
from emgpipe.io import read_recording
from emgpipe.io.base import REASON_ABSURD
from emgpipe.io.contract_csv import CsvWriter

HEAD = ("%OpenBCI Raw EXG Data\n%Number of channels = 2\n%Sample Rate = 250 Hz\n"
        "%Board = OpenBCI_GUI$BoardCytonSerial\n"
        "Sample Index, EXG Channel 0, EXG Channel 1, Timestamp, Marker Channel, Timestamp (Formatted)\n")


def _gui(tmp_path, n=2000, edit=None, name="OpenBCI-RAW-x.txt"):
    rows = [[f"{s % 256}", f"{10 * np.sin(s / 7):.2f}", f"{5 * np.cos(s / 5):.2f}",
             f"{1.7e9 + s / 250:.4f}", "0", "00:00:00.000"] for s in range(n)]
    if edit:
        edit(rows)
    p = tmp_path / name
    p.write_text(HEAD + "\n".join(", ".join(r) for r in rows) + "\n")
    return p


def _read_all(p):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        rec = read_recording(p)
        return rec, [c for c in rec.iter_chunks(1.0)]


@pytest.mark.parametrize("col,value", [(3, "12345678901"), (0, "12345678901"), (0, "inf"),
                                       (0, "1e300"), (3, "1e300")])
def test_openbci_gui_absurd_counter_or_clock(tmp_path, col, value):
    """The issue's crasher: an 11-digit number in a column ended in OverflowError (exit 70)
    from the gap-clock refinement; other absurd counters in RuntimeWarning/MemoryError."""
    def edit(rows):
        rows[1500][col] = value
    p = _gui(tmp_path, edit=edit)
    try:
        _read_all(p)
    except BadData as err:
        assert str(err).startswith(str(p)) and "\n" not in str(err)


def test_openbci_gui_11_digit_cli_exit_code(tmp_path, capsys):
    def edit(rows):
        rows[1500][3] = "12345678901"
    p = _gui(tmp_path, edit=edit)
    code = main(["replay", str(p), "--events-out", str(tmp_path / "e.csv"), "--no-progress"])
    assert code in (0, 3), capsys.readouterr().err
    assert "internal error" not in capsys.readouterr().err


def test_opensignals_nseq_not_a_counter(tmp_path):
    import json
    info = {"00:00:00:00:00:01": {"sensor": ["EMG"], "device": "bitalino_rev",
                                  "column": ["nSeq", "I1", "I2", "O1", "O2", "A1"],
                                  "sampling rate": 1000, "label": ["A1"], "resolution": [4, 1, 1, 1, 1, 10]}}
    body = "".join(f"{'inf' if s == 7 else s % 16}\t0\t0\t0\t0\t512\t\n" for s in range(50))
    p = tmp_path / "opensignals_x.txt"
    p.write_text("# OpenSignals Text File Format. Version 1\n# " + json.dumps(info)
                 + "\n# EndOfHeader\n" + body)
    with pytest.raises(BadData, match=r"line 11: sequence column 'nSeq' value inf"):
        _read_all(p)


@pytest.mark.parametrize("record", ["x 2 5ee 100\n", "x/uV 1 1000\nx.dat 16 200 16 0 0 0 0 A\n"])
def test_wfdb_malformed_header_fields(tmp_path, record):
    (tmp_path / "x.dat").write_bytes(b"\x00" * 40)
    p = tmp_path / "x.hea"
    p.write_text(record if "\n" in record[:-1] else record + "x.dat 16 200 16 0 0 0 0 A\nx.dat 16 200 16 0 0 0 0 B\n")
    with pytest.raises((BadHeader, BadData)):
        read_recording(p)


def test_bridge_status_with_zero_adc_bits_is_a_protocol_error():
    st = bp.StatusFrame(bp.FrameType.STATUS, 0, adc_bits=0, fs_hz=1000, n_ch=1,
                        channels=((0, bp.ChannelKind.RAW),))
    with pytest.raises(ProtocolError, match="ADC bits 0"):
        ChunkAssembler(st)


def test_contract_csv_two_rows_around_a_gap(tmp_path):
    p = tmp_path / "r.csv"
    with CsvWriter(p, 1.0, ["a"]) as w:
        w.write(np.zeros((1, 1)))
        w.write(np.zeros((1, 1)), seq=2)
    rec = read_recording(p)
    assert rec.fs == 1.0 and rec.n_missing == 1


# ----------------------------------------------------------------- absurd values
def _csv(tmp_path, x, name="rec.csv", fs=1000.0):
    p = tmp_path / name
    with CsvWriter(p, fs, ["TA", "GM"]) as w:
        w.write(x)
    return p


def test_absurd_values_become_a_signal_loss_gap_with_one_warning(tmp_path, caplog):
    rng = np.random.default_rng(1)
    x = rng.normal(0, 20, (5000, 2))
    p = _csv(tmp_path, x)
    text = p.read_text().splitlines()
    for i, v in ((1001, "1e30"), (3001, "1e300"), (3002, "-12345678901")):
        c = text[i].split(",")
        c[1] = v
        text[i] = ",".join(c)
    p.write_text("\n".join(text) + "\n")
    with caplog.at_level(logging.WARNING):
        rec, chunks = _read_all(p)
        rec2 = list(rec.iter_chunks(0.1))                    # a second pass warns no more
    warns = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warns) == 1, warns
    assert str(p) in warns[0] and "'TA'" in warns[0] and "1.000 s" in warns[0] and "1e+30" in warns[0]
    gaps = [g for c in chunks for g in c.gaps]
    assert [(g.seq, g.n_missing) for g in gaps] == [(1000, 1), (3000, 2)]
    assert all(g.reason == REASON_ABSURD for g in gaps)
    assert all(np.all(np.abs(c.data) < 1e6) for c in chunks + rec2)


def test_replay_absurd_values_warns_and_reports_signal_loss(tmp_path, capsys):
    rng = np.random.default_rng(2)
    x = rng.normal(0, 20, (4000, 2))
    x[2000:2100, 1] = 1e300
    p = _csv(tmp_path, x)
    out = tmp_path / "e.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        code = main(["replay", str(p), "--events-out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 0
    assert "RuntimeWarning" not in err
    rows = [r for r in out.read_text().splitlines() if r.startswith("signal_loss")]
    assert any("absurd values" in r and ",GM," in r for r in rows), rows


def test_file_scaled_by_1e6_is_one_clear_error(tmp_path, capsys):
    rng = np.random.default_rng(3)
    p = _csv(tmp_path, rng.normal(0, 20, (4000, 2)) * 1e6)
    code = main(["replay", str(p), "--events-out", str(tmp_path / "e.csv"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 3
    assert len(err) == 1 and str(p) in err[0] and "scale" in err[0], err


def test_edf_with_absurd_physical_range(tmp_path):
    """EDF values beyond ±1 V (a header scaling them so) are cut out the same way."""
    import edfio
    x = np.random.default_rng(4).normal(0, 20, 2000)
    x[500:510] = 5e6
    p = tmp_path / "r.edf"
    edfio.Edf([edfio.EdfSignal(x, 1000, label="EMG", physical_dimension="uV",
                               physical_range=(-9e6, 9e6))]).write(p)
    rec, chunks = _read_all(p)
    gaps = [g for c in chunks for g in c.gaps]
    assert gaps and gaps[0].reason == REASON_ABSURD


# ----------------------------------------------------------------- found by the 10^6 run
def test_contract_csv_absurd_time_values(tmp_path):
    p = _csv(tmp_path, np.zeros((50, 2)))
    text = p.read_text().splitlines()
    text[30] = "1e300," + text[30].split(",", 1)[1]
    p.write_text("\n".join(text) + "\n")
    (tmp_path / "rec.json").unlink(missing_ok=True)
    with pytest.raises(BadData, match="time_s"):
        _read_all(p)


def test_openbci_gui_infinite_sample_rate(tmp_path):
    p = _gui(tmp_path)
    p.write_text(p.read_text().replace("%Sample Rate = 250 Hz", "%Sample Rate = 1e400 Hz"))
    with pytest.raises(BadHeader, match="sample rate"):
        _read_all(p)


def test_openbci_gui_clock_overflow(tmp_path):
    def edit(rows):
        rows[1200][3] = "1e308"
        rows[1300][3] = "-1e308"
    try:
        _read_all(_gui(tmp_path, edit=edit))
    except BadData:
        pass


def test_edf_corrupt_label_error_is_one_line(tmp_path):
    import edfio
    p = tmp_path / "r.edf"
    edfio.Edf([edfio.EdfSignal(np.zeros(1000), 1000, label="EMG", physical_dimension="uV",
                               physical_range=(-200, 200))]).write(p)
    raw = bytearray(p.read_bytes())
    raw[256 + 3] = 0x0A                                   # a newline inside the label
    raw[256 + 16 * 1 + 80 * 1 + 8 * 1:256 + 16 + 80 + 8 + 8] = b"abc     "   # physical min: not a number
    p.write_bytes(bytes(raw))
    with pytest.raises(BadHeader) as ei:
        read_recording(p)
    assert "\n" not in str(ei.value)


def test_opensignals_absurd_resolution_is_an_error_not_a_hang(tmp_path):
    """'# Resolution:= 1e300' made 2**bits a 10^300-bit integer: a hang (the 10^6 run's only one)."""
    p = tmp_path / "opensignals_simple.txt"
    p.write_text("# Simple Text Format\n# Sampling Rate (Hz):= 1000.00\n# Resolution:= 1e300\n"
                 "# Labels:= EMG\n" + "2034\n2011\n" * 20)
    with pytest.raises(BadHeader, match="resolution"):
        read_recording(p)
