"""OpenBCI GUI text recordings: header parser, layouts, gaps from counter + clock."""
from __future__ import annotations

import re

import numpy as np
import pytest

from emgpipe.errors import BadData, BadHeader, UsageError
from emgpipe.io.openbci_txt import hms_seconds, layout, parse_header, read

V6_NAMES = ("Sample Index, EXG Channel 0, EXG Channel 1, Accel Channel 0, Accel Channel 1, "
            "Accel Channel 2, Timestamp, Marker Channel, Timestamp (Formatted)")


def v6_text(n=50, fs=200, board="BoardGanglionNative", index=None, ts0=1_700_000_000.0,
            ts=None, sep=", ", values=None):
    """A small v6 file: 2 EXG channels."""
    index = np.arange(n) % 200 if index is None else index
    ts = ts0 + np.arange(n) / fs if ts is None else ts
    rows = []
    for i in range(len(index)):
        a, b = (values[i] if values is not None else (i * 1.5, -i))
        rows.append(sep.join([str(int(index[i])), f"{a:.2f}", f"{b:.2f}", "0.0", "0.0", "0.0",
                              f"{ts[i]:.3f}", "0", "12:00:00.000"]))
    return (f"%OpenBCI Raw EXG Data\n%Number of channels = 2\n%Sample Rate = {fs} Hz\n"
            f"%Board = OpenBCI_GUI${board}\n{V6_NAMES.replace(', ', sep)}\n" + "\n".join(rows) + "\n")


# --- pure parsers -----------------------------------------------------------

def test_parse_header_v6_v5_old():
    h = parse_header(["%OpenBCI Raw EXG Data", "%Number of channels = 8", "%Sample Rate = 250 Hz",
                      "%Board = OpenBCI_GUI$BoardCytonSerial", "Sample Index, EXG Channel 0, x"])
    assert (h.fs, h.n_channels, h.board, h.first_row, h.n_header_lines) == \
        (250.0, 8, "BoardCytonSerial", "names", 5)
    h = parse_header(["%OpenBCI Raw EEG Data", "%Number of channels = 8", "%Sample Rate = 250 Hz",
                      "%Board = OpenBCI_GUI$BoardCytonSerial", "0.0,0.0,0.0"])
    assert h.first_row == "dummy" and h.n_header_lines == 5 and h.columns is None
    old = ["%OpenBCI Raw EEG Data", "%", "%Sample Rate = 200.0 Hz", "%First Column = SampleIndex",
           "%Last Column = Timestamp ", "%Other Columns = EEG data in microvolts followed by Accel",
           "0, -40.62, 13.04, 0.00, 0.00, 0.000, 0.000, 0.000, 11:02:46.251"]
    h = parse_header(old)
    assert (h.fs, h.n_channels, h.board, h.first_row, h.n_header_lines) == (200.0, None, None, "data", 6)
    lay = layout(h, old[-1])
    assert lay.exg == [1, 2, 3, 4] and lay.ch_names == ("ch1", "ch2", "ch3", "ch4")
    assert (lay.index, lay.timestamp, lay.clock, lay.board) == (0, None, 8, "Ganglion")


def test_parse_header_tabs_and_v5_layout():
    h = parse_header(["%OpenBCI Raw EEG Data", "%Number of channels = 2", "%Sample Rate = 250 Hz",
                      "%Board = OpenBCI_GUI$BoardCytonSerial", "0.0\t0.0\t0.0\t0.0\t0.0\t0.0"])
    assert h.delimiter == "\t" and h.first_row == "dummy"
    lay = layout(h, "1\t2.0\t3.0\t0.1\t1557936053329\t12:00:53.329")
    assert lay.exg == [1, 2] and lay.ch_names == ("EXG Channel 0", "EXG Channel 1")
    assert (lay.timestamp, lay.clock, lay.board) == (4, 5, "BoardCytonSerial")


@pytest.mark.parametrize("lines, why", [
    (["%OpenBCI Raw Something"], "not an OpenBCI GUI recording"),
    (["time_s,TA"], "not an OpenBCI GUI recording"),
    (["%OpenBCI Raw EXG Data", "%Number of channels = 2"], "no samples (header only)"),
    (["%OpenBCI Raw EXG Data", "%Number of channels = 2", "0, 1, 2"], "no '%Sample Rate"),
    (["%OpenBCI Raw EXG Data", "%Sample Rate = fast Hz", "0, 1"], "line 2: cannot read 'Sample Rate'"),
])
def test_parse_header_rejects(lines, why):
    with pytest.raises((BadHeader, BadData), match=re.escape(why)):
        parse_header(lines, "f.txt")


def test_hms_seconds():
    assert hms_seconds("23:59:59.999") == pytest.approx(86399.999)
    assert hms_seconds("2023-05-01 00:00:01.500") == 1.5


# --- reading ----------------------------------------------------------------

@pytest.mark.parametrize("sep", [", ", ",", "\t"])
def test_read_v6_separators(tmp_path, sep):
    p = tmp_path / "OpenBCI-RAW-a.txt"
    p.write_text(v6_text(sep=sep))
    rec = read(p)
    assert rec.fs == 200 and rec.ch_names == ("EXG Channel 0", "EXG Channel 1")
    assert rec.n_total == 50 and not rec.gaps
    np.testing.assert_allclose(rec.to_array()[:, 0], np.round(np.arange(50) * 1.5, 2))
    assert rec.meta["board"] == "BoardGanglionNative" and rec.meta["version"] == "v6"
    assert rec.meta["clock"] == "timestamp"


def test_cyton_counter_wrap_and_loss(tmp_path):
    fs = 250
    seq = np.arange(700)
    keep = np.ones(700, bool)
    keep[300:310] = False                                # 10 samples lost across no wrap
    keep[510:520] = False                                # 10 lost across the 255 -> 0 wrap
    index = (seq % 256)[keep]
    ts = (1_557_936_053_329 + seq * 4)[keep].astype(float)   # epoch ms, like the GUI sample
    p = tmp_path / "c.txt"
    p.write_text(v6_text(index=index, ts=ts, fs=fs, board="BoardCytonSerial",
                         values=[(i, 0) for i in seq[keep]]))
    rec = read(p)
    assert [(g.seq, g.n_missing) for g in rec.gaps] == [(300, 10), (510, 10)]
    assert rec.gaps[0].reason == "dropped packets (sample index jump)"
    assert rec.meta["counter_modulo"] == 256
    arr = rec.to_array()
    np.testing.assert_array_equal(arr[keep, 0], seq[keep])


def test_whole_cycle_loss_found_by_clock(tmp_path):
    """256 samples lost: the counter looks seamless, only the clock shows it."""
    fs = 250
    seq = np.arange(1500)
    keep = np.ones(1500, bool)
    keep[600:856] = False                                # exactly one counter cycle
    rng = np.random.default_rng(3)
    ts = 1_700_000_000 + seq / fs + rng.uniform(0, 0.04, seq.size)    # BLE-like latency
    p = tmp_path / "w.txt"
    p.write_text(v6_text(index=(seq % 256)[keep], ts=ts[keep], fs=fs, board="BoardCytonSerial"))
    rec = read(p)
    assert [(g.seq, g.n_missing) for g in rec.gaps] == [(600, 256)]
    assert rec.gaps[0].reason == "dropped packets (sample index jump)"   # counter-consistent


def test_counter_restart_sized_by_clock(tmp_path):
    """BLE reconnect: the counter restarts at 0; the clock sizes the gap."""
    fs = 200
    n1, lost, n2 = 400, 1234, 400
    idx = np.concatenate([np.arange(n1) % 201, np.arange(n2) % 201])
    t = np.concatenate([np.arange(n1), n1 + lost + np.arange(n2)]) / fs + 1_700_000_000
    p = tmp_path / "r.txt"
    p.write_text(v6_text(index=idx, ts=t, fs=fs))
    rec = read(p)
    assert [(g.seq, g.n_missing) for g in rec.gaps] == [(400, 1234)]
    assert "clock jump" in rec.gaps[0].reason


def test_clock_stall_without_loss_is_not_a_gap(tmp_path):
    """Buffered packets delivered late after a 1.5 s stall: no sample lost."""
    fs = 200
    n = 1600
    t = 1_700_000_000 + np.arange(n) / fs
    t[600:900] = np.maximum(t[600:900], t[600] + 1.5)      # 300 samples arrive in one burst
    p = tmp_path / "s.txt"
    p.write_text(v6_text(n=n, ts=t, fs=fs))
    assert read(p).gaps == []


def test_channel_selection(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text(v6_text())
    rec = read(p, channels=["EXG Channel 1"])
    assert rec.ch_names == ("EXG Channel 1",)
    np.testing.assert_allclose(rec.to_array()[:, 0], -np.arange(50))
    with pytest.raises(UsageError, match="no channel 'TA'"):
        read(p, channels=["TA"])


# --- errors -----------------------------------------------------------------

def _err(tmp_path, text, exc=BadData):
    p = tmp_path / "OpenBCI-RAW-x.txt"
    p.write_text(text)
    with pytest.raises(exc) as e:
        read(p)
    return e, p


def test_errors(tmp_path, problem):
    good = v6_text(n=5).splitlines()
    e, p = _err(tmp_path, "")
    assert problem(e, p) == "file is empty"
    e, p = _err(tmp_path, "\n".join(good[:5]) + "\n")
    assert problem(e, p) == "no samples (header only)"
    bad = list(good)
    bad[7] = bad[7].replace("3.00", "x3")
    e, p = _err(tmp_path, "\n".join(bad) + "\n")
    assert problem(e, p) == "line 8: column 'EXG Channel 0' is not a number ('x3')"
    bad = list(good)
    bad[7] = bad[7].replace("3.00", "nan")
    e, p = _err(tmp_path, "\n".join(bad) + "\n")
    assert problem(e, p) == "line 8: channel 'EXG Channel 0' is nan (not a finite number)"
    bad = list(good)
    bad[6] = bad[6].rsplit(",", 3)[0]
    e, p = _err(tmp_path, "\n".join(bad) + "\n")
    assert problem(e, p) == "line 7: expected 9 fields, found 6"
    e, p = _err(tmp_path, "time_s,TA\n0,1\n", BadHeader)
    assert problem(e, p).startswith("line 1: not an OpenBCI GUI recording")


def test_truncated_last_line(tmp_path, caplog):
    text = v6_text(n=10)
    p = tmp_path / "t.txt"
    p.write_text(text[:-30])
    rec = read(p)
    assert rec.n_total == 9 and rec.meta["dropped_last_line"] == 15
    assert "cut short" in caplog.text


# --- real files -------------------------------------------------------------

GANGLION = "openbci_ganglion_myoware"


@pytest.mark.parametrize("name, seconds, present", [
    ("OpenBCI-RAW-S02_S1R0.txt", 131.035, 26207),
    ("OpenBCI-RAW-S02_S1REST.txt", 32.07, 6414),
    ("OpenBCI-RAW-S03_S1REST.txt", 25.085, 5017),
])
def test_real_ganglion_without_losses(shared_data, name, seconds, present):
    """Measured: these three files' counters step by 1 (wrapping 200 -> 0) and
    their clocks never jump more than 0.1 s: no gap at all."""
    rec = read(shared_data / GANGLION / name)
    assert rec.fs == 200 and rec.ch_names == ("ch1", "ch2", "ch3", "ch4")
    assert rec.gaps == [] and rec.n_present == present
    assert rec.duration_s == pytest.approx(seconds)
    assert rec.meta["counter_modulo"] == 201 and rec.meta["version"] == "v5-old"
    x = rec.to_array()
    mad = np.median(np.abs(x - np.median(x, axis=0)), axis=0)
    assert np.all((mad[:2] > 0.5) & (mad[:2] < 200)), mad     # two MyoWare channels, µV
    assert np.all(x[:, 2:] == 0)                              # ch3/ch4 unused in this study


def test_real_ganglion_s03_lost_29_seconds(shared_data):
    """S03_S1R0: 26612 samples (133.06 s) over 162.25 s of wall clock. At row
    1870 the counter goes 60 -> 0 (board restarted) while the clock jumps
    29.204 s; the lower clock envelope sizes the gap at 5840 samples (29.2 s)."""
    rec = read(shared_data / GANGLION / "OpenBCI-RAW-S03_S1R0.txt")
    assert rec.n_present == 26612
    assert len(rec.gaps) == 1
    g = rec.gaps[0]
    assert g.seq == 1870 and g.n_missing / rec.fs == pytest.approx(29.2, abs=0.05)
    assert "clock" in g.reason
    assert sum(g.n_missing for g in rec.gaps) / rec.fs == pytest.approx(29.2, abs=0.05)
    assert rec.duration_s == pytest.approx(162.26, abs=0.05)
    chunks = list(rec.iter_chunks(1.0))
    assert [c.gaps for c in chunks if c.gaps] == [(g,)]


@pytest.mark.parametrize("name, version", [
    ("OpenBCI_GUI-v5-blinks-jawClench-alpha.txt", "v5"),
    ("OpenBCI_GUI-v6-blinks-jawClench-alpha.txt", "v6"),
])
def test_real_gui_sample(shared_data, name, version):
    rec = read(shared_data / "openbci_gui_sample" / name)
    assert rec.fs == 250 and rec.ch_names == tuple(f"EXG Channel {k}" for k in range(8))
    assert rec.n_total == 22490 and rec.gaps == []
    assert rec.meta["version"] == version and rec.meta["board"] == "BoardCytonSerial"
    x = rec.to_array()
    assert x[0, 0] == 61379.36                       # µV as written (large DC offset)
    # sample-to-sample differences (DC removed): scalp EEG/EMG, tens to thousands of µV
    d = np.median(np.abs(np.diff(x, axis=0)), axis=0)
    assert np.all((d > 1) & (d < 5000)), d


def test_real_v5_and_v6_agree(shared_data):
    d = shared_data / "openbci_gui_sample"
    a = read(d / "OpenBCI_GUI-v5-blinks-jawClench-alpha.txt").to_array()
    b = read(d / "OpenBCI_GUI-v6-blinks-jawClench-alpha.txt").to_array()
    np.testing.assert_array_equal(a, b)
