"""The streaming EDF+/BDF+ writer: other libraries read it, at every flush and after a crash."""
import errno
import os
import shutil
import time
from datetime import datetime

import numpy as np
import pyedflib
import pytest

from emgpipe.errors import StorageError
from emgpipe.io.edf import read
from emgpipe.night import edfplus
from emgpipe.night.edfplus import EdfPlusWriter, RotatingEdfWriter, edf_labels, record_layout
from tests.helpers import split_points

FS = 250.0
NAMES = ("gastrocnemius_medial_right", "calf_left")


def signal(n, seed=0):
    return np.random.default_rng(seed).normal(0, 80, (n, 2))


def pyedf(path):
    """(samples (n, ch), annotations [(onset, duration, text)], labels) read with pyedflib."""
    r = pyedflib.EdfReader(str(path))
    try:
        x = np.column_stack([r.readSignal(i) for i in range(r.signals_in_file)])
        on, du, tx = r.readAnnotations()
        return x, list(zip(on.tolist(), du.tolist(), tx.tolist())), r.getSignalLabels()
    finally:
        r.close()


@pytest.mark.parametrize("bdf, lsb", [(False, 20000 / 65535), (True, 375000 / 16777215)])
def test_round_trip_with_pyedflib_and_emgpipe(tmp_path, bdf, lsb):
    x = signal(2600)
    path = tmp_path / ("a.bdf" if bdf else "a.edf")
    w = EdfPlusWriter(path, FS, NAMES, start_wall=1.7e9 + 0.25, bdf=bdf)
    w.append(x)
    w.annotate(2.0, 3.5, "cramp gastrocnemius_medial_right (peak 300 uV)")
    w.close()
    y, ann, labels = pyedf(path)
    assert labels == ["gastro_medial_R", "calf_left"]
    assert y.shape == (2750, 2)                                  # 11 whole 1-s records
    assert np.abs(y[:2600] - x).max() <= lsb / 2 + 1e-9
    assert np.abs(y[2600:]).max() <= lsb / 2 + 1e-9             # padding (0 uV), annotated:
    assert ann == [(2.0, 3.5, "cramp gastrocnemius_medial_right (peak 300 uV)"),
                   (10.4, 0.6, "no data (padding to the record end)")]
    rec = read(path)                                             # emgpipe's own reader (edfio)
    assert rec.meta["flavour"] == ("BDF+C" if bdf else "EDF+C") and rec.fs == FS
    assert np.abs(rec.segments[0][1][:2600] - x).max() <= lsb / 2 + 1e-9
    head = path.read_bytes()[:256]
    assert head[168:184] == time.strftime("%d.%m.%y%H.%M.%S", time.localtime(1.7e9)).encode()
    assert int(head[236:244]) == 11


def test_bytes_do_not_depend_on_chunking(tmp_path):
    x = signal(3000, seed=1)
    ref = tmp_path / "ref.edf"
    w = EdfPlusWriter(ref, FS, NAMES, start_wall=1.7e9)
    w.append(x)
    w.close()
    rng = np.random.default_rng(2)
    for k in range(3):
        path = tmp_path / f"c{k}.edf"
        w = EdfPlusWriter(path, FS, NAMES, start_wall=1.7e9)
        cuts = split_points(len(x), rng, max_len=700)
        for a, b in zip(cuts[:-1], cuts[1:]):
            w.append(x[a:b])
            if rng.random() < 0.3:
                w.flush()
        w.close()
        assert path.read_bytes() == ref.read_bytes()


def test_readable_at_every_flush_and_after_a_crash(tmp_path):
    x = signal(5000, seed=3)
    path = tmp_path / "live.edf"
    w = EdfPlusWriter(path, FS, NAMES, start_wall=1.7e9)
    w.append(x[:100])
    w.flush()
    assert not path.exists()                  # no whole record yet: no file at all
    for a in range(100, 4000, 500):
        w.append(x[a:a + 500])
        w.flush()
        n_rec = (a + 500) // 250
        y, _, _ = pyedf(path)                 # while still open
        assert y.shape[0] == n_rec * 250
        np.testing.assert_allclose(y, x[:n_rec * 250], atol=0.16)
    # a kill between the data write and the header patch: the file is longer than declared
    crashed = tmp_path / "crashed.edf"
    shutil.copy(path, crashed)
    with open(crashed, "ab") as f:
        f.write(b"\x01" * (w.record_bytes + 123))
    y, _, _ = pyedf(crashed)
    assert y.shape[0] == 4000 and np.allclose(y, x[:4000], atol=0.16)
    assert read(crashed).n_total == 4000
    w.close()


def test_short_gap_filled_and_annotated_long_gap_starts_a_new_file(tmp_path):
    files = []
    r = RotatingEdfWriter(tmp_path, "n", FS, NAMES, wall0=1.7e9, on_file=files.append)
    x = signal(4000, seed=4)
    r.write(0, x[:1000])
    r.write(1030, x[1030:2000], "dropped packets")       # 30 samples lost: < 1 record
    r.write(2000 + 500 * 250, x[2000:4000], "reconnect")  # 500 s lost: new file
    r.annotate((2000 + 500 * 250 + 10) / FS, None, "late")   # after the last record: placed anyway
    r.close()
    a, b = sorted(tmp_path.glob("n_*.edf"))
    ya, anna, _ = pyedf(a)
    assert ya.shape[0] == 2000
    np.testing.assert_allclose(ya[:1000], x[:1000], atol=0.16)
    assert np.abs(ya[1000:1030]).max() < 0.16
    np.testing.assert_allclose(ya[1030:2000], x[1030:2000], atol=0.16)
    assert anna[0] == (4.0, 0.12, "signal loss: 30 samples (dropped packets)")
    yb, annb, _ = pyedf(b)
    np.testing.assert_allclose(yb, x[2000:4000], atol=0.16)
    assert annb[0][2] == "late" and annb[0][0] == pytest.approx(10 / FS, abs=1e-6)
    hb = pyedflib.EdfReader(str(b))
    start_b = hb.getStartdatetime().replace(microsecond=0)
    hb.close()
    assert start_b == datetime.fromtimestamp(1.7e9 + (2000 + 500 * 250) / FS)   # its own start time
    closed = [f for f in files if f["closed"]]
    assert [(f["start_s"], f["end_s"]) for f in closed] == [(0.0, 8.0), (508.0, 516.0)]


def test_rotates_at_least_hourly(tmp_path):
    r = RotatingEdfWriter(tmp_path, "n", 200.0, ("ch1",), wall0=1.7e9, rotate_s=30.0)
    x = np.random.default_rng(5).normal(0, 10, (200 * 75, 1))
    for a in range(0, len(x), 333):
        r.write(a, x[a:a + 333])
    r.close()
    paths = sorted(tmp_path.glob("n_*.edf"))
    assert [p.name for p in paths] == ["n_001.edf", "n_002.edf", "n_003.edf"]
    got = np.concatenate([pyedf(p)[0][:, 0] for p in paths])
    np.testing.assert_allclose(got[:len(x)], x[:, 0], atol=0.16)
    assert [len(pyedf(p)[0]) for p in paths] == [6000, 6000, 3000]


def test_full_disk_is_one_clear_error_and_keeps_what_was_written(tmp_path, monkeypatch):
    x = signal(5000, seed=6)
    path = tmp_path / "full.edf"
    w = EdfPlusWriter(path, FS, NAMES, start_wall=1.7e9)
    w.append(x[:1000])
    w.flush()
    calls = []

    def full(fd, data):
        calls.append(len(data))
        if len(calls) == 1:      # the disk fills in the middle of a write
            return os.write(fd, bytes(data[:100]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(edfplus, "_raw_write", full)
    w.append(x[1000:3000])
    with pytest.raises(StorageError) as err:
        w.flush()
    msg = str(err.value)
    assert msg.startswith(str(path)) and "No space left on device" in msg and "4 data record(s)" in msg
    assert "\n" not in msg
    y, _, _ = pyedf(path)
    assert y.shape[0] == 1000 and np.allclose(y, x[:1000], atol=0.16)
    # the torn record is cut off: the file is exactly its header and whole records
    assert path.stat().st_size == len(w.header(0)) + 4 * w.record_bytes
    with pytest.raises(StorageError):   # nothing more is written, the same error again
        w.flush()
    w.close()                           # closes without writing
    assert path.stat().st_size == len(w.header(0)) + 4 * w.record_bytes


@pytest.mark.parametrize("cut", [100, 256 * 4 + 3 * (2 * 2 * 250 + 256) + 7, 0])   # header 1024 B, records 1256 B
def test_a_first_write_cut_short_leaves_no_invalid_file(tmp_path, monkeypatch, cut):
    """Regression: the first flush (header + records in one write) that the disk cut short
    left a file whose header counted records it did not hold (pyedflib refuses such a file).
    Now it is written as <name>.part and renamed when whole; cut short, the whole records
    that made it are kept under a header that counts them, or no file at all."""
    x = signal(2000, seed=7)
    path = tmp_path / "first.edf"
    w = EdfPlusWriter(path, FS, NAMES, start_wall=1.7e9)
    w.append(x)                                  # 8 records of 250 samples

    def full(fd, data):
        if not getattr(full, "done", False):
            full.done = True
            if cut:
                return os.write(fd, bytes(data[:cut]))
        raise OSError(errno.EFBIG, os.strerror(errno.EFBIG))
    monkeypatch.setattr(edfplus, "_raw_write", full)
    with pytest.raises(StorageError, match="File too large"):
        w.flush()
    w.close()
    assert not list(tmp_path.glob("*.part"))
    whole = max(0, (cut - len(w.header(0))) // w.record_bytes)
    if whole == 0:
        assert not path.exists() and w.n_records == 0
    else:
        y, _, _ = pyedf(path)
        assert w.n_records == whole == 3 and y.shape[0] == whole * 250
        np.testing.assert_allclose(y, x[:len(y)], atol=0.16)
        assert read(path).n_total == len(y)


def test_a_file_exists_under_its_name_only_once_whole(tmp_path, monkeypatch):
    """The first flush goes to <name>.part: a kill -9 in its middle leaves no .edf at all."""
    seen = []
    real = edfplus._raw_write

    def spy(fd, data):
        seen.append(sorted(p.name for p in tmp_path.iterdir()))
        return real(fd, data)
    monkeypatch.setattr(edfplus, "_raw_write", spy)
    w = EdfPlusWriter(tmp_path / "a.edf", FS, NAMES, start_wall=1.7e9)
    w.append(signal(500))
    w.flush()
    assert seen[0] == ["a.edf.part"] and sorted(p.name for p in tmp_path.iterdir()) == ["a.edf"]
    w.close()


def test_rotating_writer_stops_cleanly_on_a_full_disk(tmp_path, monkeypatch):
    """The rotating writer raises RawWriteError once, then ignores writes and annotations."""
    got = []
    rw = RotatingEdfWriter(tmp_path, "n", FS, NAMES, 1.7e9, flush_s=1.0, flush_wall_s=0.0, on_file=got.append)
    x = signal(5000, seed=8)
    rw.write(0, x[:1000])
    monkeypatch.setattr(edfplus, "_raw_write", lambda fd, data: (_ for _ in ()).throw(
        OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))))
    with pytest.raises(edfplus.RawWriteError) as err:
        rw.write(1000, x[1000:2000])
    assert err.value.n_records == 4 and "No space left" in str(err.value)
    rw.write(2000, x[2000:3000])                # ignored
    rw.annotate(9.0, 10.0, "cramp")
    rw.close()
    assert rw.stopped is err.value and rw.recorded_s == 4.0
    assert got[-1]["closed"] and got[-1]["n_records"] == 4 and got[-1]["end_s"] == 4.0
    y, _, _ = pyedf(tmp_path / "n_001.edf")
    np.testing.assert_allclose(y, x[:1000], atol=0.16)


def test_header_numbers_keep_their_zeros():
    """Regression: _num(205000000) gave "205" (trailing zeros stripped from a whole number),
    so a bridge night's BDF said ±205 µV and clipped everything beyond."""
    assert edfplus._num(12512.2) == "12512.2" and edfplus._num(187500.0) == "187500"
    assert edfplus._num(-2.5) == "-2.5" and edfplus._num(10.0) == "10"
    with pytest.raises(StorageError, match="does not fit"):
        edfplus._num(205000000.0)


def test_labels_and_layouts():
    long = ["calf_left", "tibialis_anterior_left", "tibialis_anterior_right", "x" * 40, "x" * 41]
    labels = edf_labels(long)
    assert labels[:3] == ["calf_left", "tibial_anteri_L", "tibial_anteri_R"]
    assert len(set(labels)) == 5 and all(len(s) <= 16 for s in labels)
    assert record_layout(1000.0) == (1.0, 1000) and record_layout(200.0) == (1.0, 200)
    assert record_layout(100.5) == (2.0, 201)
    with pytest.raises(StorageError, match="no whole number"):
        record_layout(1000 / 3)
