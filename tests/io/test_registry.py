"""Registry: sniffing, the extension table's suggestions, find_recordings."""
from __future__ import annotations

import edfio
import numpy as np
import pytest

from emgpipe.errors import BadData, UnsupportedFormat, UsageError
from emgpipe.io import find_recordings, read_recording
from emgpipe.io.contract_csv import CsvWriter
from emgpipe.io.registry import guess_format, normalise_fmt, sniff_bytes


@pytest.mark.parametrize("head, fmt", [
    (b"time_s,TA,GM\n0.000000,1.0,2.0\n", "csv"),
    (b"\xef\xbb\xbftime_s,TA\n", "csv"),
    (b"%OpenBCI Raw EEG Data\n%\n", "openbci"),
    (b"%OpenBCI Raw EXG Data\n%Number of channels = 8\n", "openbci"),
    (b"# Simple Text Format\n# Sampling Rate (Hz):= 1000.00\n", "opensignals"),
    (b"# OpenSignals Text File Format. Version 1\n# {}\n", "opensignals"),
    (b"\t".join([b"1.000000"] * 24) + b"\n", "brainflow"),
    (b",".join([b"1.0"] * 15) + b"\n", "brainflow"),
    (b"\xffBIOSEMI" + b" " * 300, "edf"),
    (b"0       " + b" " * 176 + b"512     " + b" " * 64, "edf"),
    (b"rec01 2 1000 60000\nrec01.dat 16 200/uV\n", "wfdb"),
    (b"hello world\n", None),
    (b"\t".join([b"1.0"] * 7) + b"\n", None),
    (b"\x00\x01\x02binary", None),
    (b"", None),
])
def test_sniff_bytes(head, fmt):
    assert sniff_bytes(head) == fmt


def test_normalise_fmt():
    assert normalise_fmt("BDF") == "edf" and normalise_fmt("contract") == "csv"
    with pytest.raises(UsageError, match="--format 'xls': unknown format"):
        normalise_fmt("xls")


def _edf(path):
    edfio.Edf([edfio.EdfSignal(np.zeros(100), 100, label="EMG", physical_dimension="uV",
                               physical_range=(-1, 1))]).write(path)


def test_renamed_files_get_a_suggestion(tmp_path, problem):
    p = tmp_path / "x.csv"
    _edf(p)
    with pytest.raises(UnsupportedFormat) as e:
        read_recording(p)
    assert problem(e, p) == ("looks like an EDF/BDF file (renamed?); rename it to x.edf or read it "
                             "with --format edf")
    assert read_recording(p, fmt="edf").n_total == 100          # forcing works
    q = tmp_path / "y.edf"
    with CsvWriter(q, 1000, ["TA"]) as w:
        w.write(np.zeros((5, 1)))
    with pytest.raises(UnsupportedFormat) as e:
        read_recording(q)
    assert problem(e, q).startswith("looks like a contract recording CSV file (renamed?); rename it to y.csv")
    r = tmp_path / "z.csv"
    r.write_text("%OpenBCI Raw EXG Data\n")
    with pytest.raises(UnsupportedFormat, match="looks like an OpenBCI GUI text file"):
        guess_format(r)


def test_unknown_and_sidecar(tmp_path, problem):
    p = tmp_path / "notes.xyz"
    p.write_text("hello")
    with pytest.raises(UnsupportedFormat) as e:
        read_recording(p)
    assert problem(e, p).startswith("not a recording format emgpipe knows (extensions: .bdf, .csv")
    j = tmp_path / "rec.json"
    j.write_text("{}")
    with pytest.raises(UnsupportedFormat) as e:
        read_recording(j)
    assert problem(e, j) == "is a sidecar JSON, not a recording (give the .csv beside it)"
    # a .csv whose content is no known format goes to the contract reader, which says why
    c = tmp_path / "table.csv"
    c.write_text("a,b\n1,2\n")
    with pytest.raises(Exception) as e:
        read_recording(c)
    assert problem(e, c) == "line 1: header must start with 'time_s', found 'a'"


def test_missing_and_directory(tmp_path, problem):
    with pytest.raises(BadData) as e:
        read_recording(tmp_path / "gone.csv")
    assert problem(e, tmp_path / "gone.csv") == "file not found"
    with pytest.raises(BadData) as e:
        read_recording(tmp_path)
    assert problem(e, tmp_path).startswith("is a directory")


def test_find_recordings_skips_what_is_not_a_recording(tmp_path):
    def csv(name):
        with CsvWriter(tmp_path / name, 1000, ["TA"]) as w:
            w.write(np.zeros((3, 1)))
    csv("b.csv")
    csv("a.csv")                                       # + a.json / b.json sidecars
    (tmp_path / "a.events.csv").write_text("kind,channel,start_s,end_s,alert_s\n")
    (tmp_path / "a.labels.csv").write_text("kind,channel,start_s,end_s\n")
    (tmp_path / "a.cycles.csv").write_text("V1,V2\n1,2\n")
    (tmp_path / "LICENSE_source.txt").write_text("MIT License\n")
    (tmp_path / "README.md").write_text("# data\n")
    (tmp_path / "info_source.txt").write_text("Raw EMG data acquired with ...\n")
    (tmp_path / ".hidden.csv").write_text("time_s,TA\n0,1\n")
    (tmp_path / "OpenBCI-RAW-1.txt").write_text("%OpenBCI Raw EXG Data\n")
    import wfdb
    wfdb.wrsamp("w1", fs=100, units=["uV"], sig_name=["TA"], p_signal=np.zeros((10, 1)),
                fmt=["16"], adc_gain=[1.0], baseline=[0], write_dir=str(tmp_path))
    _edf(tmp_path / "n.edf")
    (tmp_path / "sub").mkdir()
    csv("sub/c.csv")
    found = [p.name for p in find_recordings(tmp_path)]
    assert found == ["OpenBCI-RAW-1.txt", "a.csv", "b.csv", "n.edf", "w1.hea"]
    # files as given, in the given order, no duplicates; directories expanded
    got = find_recordings([tmp_path / "b.csv", tmp_path / "sub", tmp_path / "b.csv"])
    assert [p.name for p in got] == ["b.csv", "c.csv"]
    assert find_recordings(str(tmp_path / "w1")) == [tmp_path / "w1"]   # WFDB record name


def test_find_recordings_errors(tmp_path, problem):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README.txt").write_text("nothing here\n")
    with pytest.raises(UnsupportedFormat) as e:
        find_recordings([empty])
    assert problem(e, empty).startswith("no recordings found in this directory")
    with pytest.raises(BadData) as e:
        find_recordings([tmp_path / "nope"])
    assert problem(e, tmp_path / "nope") == "no such file or directory"


def test_real_data_folders(shared_data):
    found = find_recordings(sorted(p for p in shared_data.iterdir() if p.is_dir()))
    names = [p.name for p in found]
    assert len(names) == 19 and "LICENSE_source.txt" not in names
    assert "EMG_general_info_source.txt" not in names and "ID0012_TW_01.cycles.csv" not in names
    fmts = {}
    for p in found:
        rec = read_recording(p)
        fmts[rec.meta["format"]] = fmts.get(rec.meta["format"], 0) + 1
    assert fmts == {"contract_csv": 11, "openbci_txt": 6, "opensignals": 2}
