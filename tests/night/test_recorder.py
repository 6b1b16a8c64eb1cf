"""NightRecorder end to end in-process: events, alerts, raw files, quality, reconnects, full disk."""
import errno
import os
import sys
import threading

import numpy as np
import pytest

from emgpipe.alerts import CallbackSink
from emgpipe.cli import main
from emgpipe.errors import DeviceNotFound, StorageError, StreamLost
from emgpipe.night import edfplus, recorder
from emgpipe.night.recorder import NightRecorder, QualityMeter, choose_raw_format
from emgpipe.devices.base import Source
from emgpipe.types import Chunk, Gap
from tests.alerts.alert_helpers import ScriptedDetector
from tests.helpers import random_chunks
from tests.night.night_helpers import query, read_edf, sim_data

SCRIPT = [("fasciculation", "calf_right", 10.0, 11.0), ("cramp", "calf_left", 20.0, 58.0),
          ("voluntary", "calf_right", 60.0, 62.0)]


def record(tmp_path, uri="sim:walk_then_cramp", script=SCRIPT, **kw):
    got = []
    kw.setdefault("speed", "max")
    rec = NightRecorder(uri, tmp_path, detectors=[ScriptedDetector(script)],
                        alerts=[CallbackSink(got.append, "ui")], reminder_s=30, **kw)
    return rec.run(), got


def test_a_night_is_logged_whole(tmp_path):
    res, alerts = record(tmp_path, uri="sim:walk_then_cramp?chunk_s=0.5")
    db = res.db
    assert res.status == "complete" and res.duration_s == 75.0 and res.n_samples == 75_000
    night = query(db, "SELECT * FROM nights")[0]
    assert night["status"] == "complete" and night["fs"] == 1000.0 and night["mode"] == "awake"
    assert night["channels"] == '["calf_left", "calf_right"]' and night["model"] == "default"
    assert night["source"] == "sim:walk_then_cramp?chunk_s=0.5" and night["last_s"] == 75.0
    ev = query(db, "SELECT kind, channel, start_s, end_s, alert_s, status FROM events ORDER BY start_s")
    assert [(e["kind"], e["channel"], e["start_s"], e["end_s"], e["status"]) for e in ev] == [
        ("fasciculation", "calf_right", 10.0, 11.0, "final"), ("cramp", "calf_left", 20.0, 58.0, "final"),
        ("voluntary", "calf_right", 60.0, 62.0, "final")]
    cramp = ev[1]
    assert 21.0 <= cramp["alert_s"] < 21.2            # the onset's announcement time is kept
    al = query(db, "SELECT kind, channel, alert_s, event_id FROM alerts ORDER BY alert_s")
    assert [(a["kind"], a["channel"]) for a in al] == [("onset", "calf_left"), ("reminder", "calf_left")]
    assert al[0]["alert_s"] == cramp["alert_s"] and al[0]["event_id"] is not None
    assert 50.0 <= al[1]["alert_s"] < 50.2
    assert [a.kind for a in alerts] == ["onset", "reminder"]
    assert query(db, "SELECT sink, status FROM alert_deliveries") == [{"sink": "ui", "status": "sent"}] * 2
    # raw file: every sample, readable by pyedflib, annotated
    files = query(db, "SELECT * FROM files")
    assert len(files) == 1 and files[0]["closed"] == 1 and files[0]["n_records"] == 75
    x, ann = read_edf(tmp_path / files[0]["path"])
    np.testing.assert_allclose(x, sim_data(), atol=0.16)      # EDF step: 0.305 µV
    assert [(a[0], a[1], a[2].split(" (")[0]) for a in ann] == [
        (10.0, 1.0, "fasciculation calf_right"), (20.0, 38.0, "cramp calf_left")]
    q = query(db, "SELECT start_s, channel, rms_uv, lost_s FROM quality ORDER BY start_s, channel")
    assert [(r["start_s"], r["channel"]) for r in q] == [(0.0, "calf_left"), (0.0, "calf_right"),
                                                          (60.0, "calf_left"), (60.0, "calf_right")]
    assert all(r["rms_uv"] > 1 and r["lost_s"] == 0 for r in q)
    assert "1 cramp, 1 fasciculation, 1 voluntary" in res.summary()


def test_saturation_is_annotated_in_the_raw_file_other_artefacts_are_not(tmp_path):
    script = [("artifact", "calf_left", 30.0, 31.5, "saturation / clipping"),
              ("artifact", "calf_right", 40.0, 41.0, "motion artefact or electrode pop")]
    res, _ = record(tmp_path, script=script)
    kinds = query(res.db, "SELECT kind, channel FROM events ORDER BY start_s")
    assert [(e["kind"], e["channel"]) for e in kinds] == [("artifact", "calf_left"), ("artifact", "calf_right")]
    [f] = query(res.db, "SELECT * FROM files")
    _, ann = read_edf(tmp_path / f["path"])
    assert [(a[0], a[1], a[2]) for a in ann] == [(30.0, 1.5, "artifact calf_left: saturation / clipping")]


def test_duration_cuts_at_the_sample(tmp_path):
    res, _ = record(tmp_path, duration_s=30.5)
    assert res.status == "complete" and res.n_samples == 30_500
    ev = query(res.db, "SELECT kind, status, end_s FROM events")
    assert ev == [{"kind": "fasciculation", "status": "final", "end_s": 11.0},
                  {"kind": "cramp", "status": "final", "end_s": 30.5}]   # closed at the end
    f = query(res.db, "SELECT path, end_s FROM files")[0]
    assert f["end_s"] == 30.5
    assert len(read_edf(tmp_path / f["path"])[0]) == 31_000      # padded to the record, annotated


def test_quality_meter_is_chunk_invariant():
    fs = 100.0
    x = np.random.default_rng(0).normal(0, 5, (int(fs * 150), 2))
    ref = QualityMeter(fs, ("a", "b"))
    ref.add(Chunk(x, fs=fs))
    want = ref.close()
    for seed in range(3):
        m = QualityMeter(fs, ("a", "b"))
        for c in random_chunks(x, fs, np.random.default_rng(seed), max_len=4000):
            m.add(c)
        got = m.take() + m.close()
        assert [r[:2] for r in got] == [r[:2] for r in want]
        np.testing.assert_allclose([r[2] for r in got], [r[2] for r in want], rtol=1e-9)
    m = QualityMeter(fs, ("a",))                    # a minute is 6000 samples here
    m.gap(Gap(5900, 200, fs))                       # 1 s lost in minute 0, 1 s in minute 1
    m.add(Chunk(np.ones((5900, 1)), fs=fs))
    m.add(Chunk(np.ones((100, 1)), fs=fs, seq=6100))
    m.gap(Gap(6200, 12000, fs))                     # 58 s of minute 1, all of minute 2, 2 s of minute 3
    m.add(Chunk(np.ones((100, 1)), fs=fs, seq=18200))
    rows = m.close()
    assert [(r[0], r[3]) for r in rows] == [(0.0, 1.0), (60.0, 59.0), (120.0, 60.0), (180.0, 2.0)]
    assert np.isnan(rows[2][2]) and rows[3][2] == 1.0


def test_raw_format_choice():
    assert choose_raw_format({"device": "ganglion"})[0] is True
    assert choose_raw_format({"device": "simulator (cyton)"}) == (True, 187500.0)
    assert choose_raw_format({"device": "bridge", "adc_bits": 10}) == (False, 10000.0)
    assert choose_raw_format({"device": "raw"}, "bdf", 5000.0) == (True, 5000.0)
    # regression: an Uno behind the MyoWare (10-bit ADC, 24.4 µV a count) got BDF+ "±205 µV"
    # and every sample beyond it clipped; its full scale is ±512 counts = ±12.5 mV, 16 bits hold it
    uno = {"device": "MyoWare 2.0 via firmware_bridge", "adc_bits": 10, "uv_per_count": 5e6 / 1023 / 200}
    assert choose_raw_format(uno) == (False, 12512.2)
    esp32 = {"device": "MyoWare 2.0 via firmware_bridge", "adc_bits": 12, "uv_per_count": 3.3e6 / 4095 / 200}
    assert choose_raw_format(esp32) == (False, 8252.01)
    with pytest.raises(Exception, match="--format 'gdf'"):
        choose_raw_format({}, "gdf")


class FlakySource(Source):
    """A device that streams ``n_ok`` samples and then drops out (StreamLost)."""

    fs = 250.0
    ch_names = ("calf_left", "calf_right")

    def __init__(self, data, start, n_ok):
        super().__init__()
        self.data, self.start, self.n_ok = data, start, n_ok
        self.uri = "flaky:x"
        self.speed = None

    def chunks(self):
        for a in range(0, self.n_ok, 25):
            if self._stopped:
                return
            yield Chunk(self.data[self.start + a:self.start + a + 25], fs=self.fs, seq=a,
                        ch_names=self.ch_names, source_id=self.uri)
        if self.start + self.n_ok < 1000:
            raise StreamLost("flaky:x: link lost")


def test_a_source_that_gives_up_is_reopened_and_the_gap_recorded(tmp_path, monkeypatch):
    monkeypatch.setattr(recorder, "REOPEN_FIRST_S", 0.05)
    data = np.random.default_rng(1).normal(0, 30, (1000, 2))
    calls = []

    def factory(uri, **kw):
        calls.append(uri)
        if len(calls) == 1:
            return FlakySource(data, 0, 400)
        if len(calls) == 2:
            raise DeviceNotFound("flaky:x: not there")       # still unplugged: try again
        return FlakySource(data, 400, 600)

    rec = NightRecorder("flaky:x", tmp_path, detectors=[], source_factory=factory)
    res = rec.run()
    assert len(calls) == 3 and res.status == "complete" and res.n_reconnects == 1
    gaps = query(res.db, "SELECT start_s, n_missing, reason FROM gaps")
    assert len(gaps) == 1 and gaps[0]["start_s"] == 400 / 250 and gaps[0]["reason"].startswith("reconnect after")
    n = gaps[0]["n_missing"]
    assert n >= 0.05 * 250 * 0.5
    disc = query(res.db, "SELECT event, reason FROM disconnects ORDER BY id")
    assert [d["event"] for d in disc] == ["disconnect", "reconnect"] and "link lost" in disc[0]["reason"]
    assert res.duration_s == pytest.approx((1000 + n) / 250)
    path = tmp_path / query(res.db, "SELECT path FROM files")[0]["path"]
    x, ann = read_edf(path)
    np.testing.assert_allclose(x[:400], data[:400], atol=0.16)
    np.testing.assert_allclose(x[400 + n:1000 + n], data[400:], atol=0.16)
    assert ann[0][2] == f"signal loss: {n} samples ({gaps[0]['reason']})"


@pytest.mark.skipif(sys.platform.startswith("win"), reason="the Cyton emulator needs a pty")
def test_cyton_unplugged_and_replugged(tmp_path):
    from emgpipe.devices.cyton.emulator import CytonEmulator
    with CytonEmulator(None, speed=10.0) as emu:
        rec = NightRecorder(f"cyton:{emu.port_name}?reconnect_s=5", tmp_path, duration_s=15.0, detectors=[])
        unplug = threading.Timer(0.6, emu.unplug)        # unplugged for 0.3 s mid-night
        replug = threading.Timer(0.9, emu.replug)
        unplug.start()
        replug.start()
        res = rec.run()
        unplug.cancel()
        replug.cancel()
    assert res.status == "complete"
    disc = query(res.db, "SELECT event, stream_s, n_missing FROM disconnects ORDER BY id")
    assert [d["event"] for d in disc] == ["disconnect", "reconnect"]
    gaps = query(res.db, "SELECT start_s, n_missing, reason FROM gaps")
    assert len(gaps) == 1 and gaps[0]["reason"].startswith("reconnect") and gaps[0]["n_missing"] == disc[1]["n_missing"]
    night = query(res.db, "SELECT raw_format, device FROM nights")[0]
    assert night["raw_format"].startswith("BDF+") and night["device"] == "cyton"
    paths = [tmp_path / f["path"] for f in query(res.db, "SELECT path FROM files ORDER BY start_s")]
    assert all(p.suffix == ".bdf" for p in paths)
    total = sum(len(read_edf(p)[0]) for p in paths)
    assert total >= 15 * 250 - gaps[0]["n_missing"] - 250


def test_full_disk_stops_the_raw_files_with_one_line_and_keeps_the_events(tmp_path, monkeypatch, capsys):
    n = {"writes": 0}
    real = edfplus._raw_write

    def filling(fd, data):
        n["writes"] += 1
        if n["writes"] > 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data)
    monkeypatch.setattr(edfplus, "_raw_write", filling)
    out = tmp_path / "night"
    code = main(["night", "--source", "sim:walk_then_cramp?chunk_s=1", "--speed", "max", "--out", str(out),
                 "--alert", "none"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 5 and len(err) == 1
    assert err[0].startswith("emgpipe: ") and "No space left on device" in err[0] and "intact" in err[0]
    db = out / "emgpipe-night.sqlite"
    night = query(db, "SELECT status, stop_reason, last_s FROM nights")[0]
    assert night["status"] == "complete" and "No space left" in night["stop_reason"]
    assert night["last_s"] == 75.0                       # the night went on to its end
    assert query(db, "SELECT COUNT(*) AS n FROM events WHERE kind = 'cramp'")[0]["n"] >= 1
    f = query(db, "SELECT path, n_records, end_s, closed FROM files")[0]
    x, _ = read_edf(out / f["path"])
    assert len(x) == f["n_records"] * 1000 > 0 and f["end_s"] * 1000 == len(x) and f["closed"]
    np.testing.assert_allclose(x, sim_data()[:len(x)], atol=0.16)
    assert not (out / "emgpipe-night.sqlite.reserve").exists()      # freed, then the night ended


def test_bad_options_are_one_line_errors(tmp_path, capsys):
    out = str(tmp_path / "n")
    assert main(["night", "--source", "sim:walk_then_cramp", "--out", out, "--duration", "-1"]) == 2
    assert main(["night", "--source", "sim:nosuch", "--out", out]) == 2
    assert main(["night", "--source", "sim:walk_then_cramp", "--out", out, "--alert", "webhook"]) == 2
    assert main(["night", "--source", "sim:walk_then_cramp", "--out", out, "--profile",
                 str(tmp_path / "none.json")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == "emgpipe: --duration -1: must be positive"
    assert err[1].startswith("emgpipe: --source sim:nosuch: unknown scenario")
    assert err[2].startswith("emgpipe: --alert webhook needs --webhook-url")
    assert err[3].startswith(f"emgpipe: {tmp_path / 'none.json'}: cannot read the calibration profile")
    assert len(err) == 4 and not (tmp_path / "n").exists()     # nothing written for a bad start
