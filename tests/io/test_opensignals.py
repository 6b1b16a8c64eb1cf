"""OpenSignals/BITalino text: both header variants, ADC -> µV transfer, nSeq gaps, errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from emgpipe.errors import BadData, BadHeader, UsageError
from emgpipe.io.opensignals import adc_to_uv, parse_header, read, transfer

SIMPLE = "# Simple Text Format\n# Sampling Rate (Hz):= 1000.00\n# Resolution:= 12\n# Labels:= EMG\n"


def json_text(rows, sensors=("EMG", "ECG"), device="bitalino_rev", labels=("A1", "A2")):
    info = {"20:16:07:18:14:82": {
        "sensor": list(sensors), "device": device, "column": ["nSeq", "I1", "I2", "O1", "O2", *labels],
        "sampling rate": 1000, "label": list(labels), "resolution": [4, 1, 1, 1, 1, 10, 10],
        "channels": [1, 2], "date": "2024-1-2", "time": "22:00:00.000"}}
    body = "".join("\t".join(str(int(v)) for v in r) + "\t\n" for r in rows)   # OpenSignals' trailing tab
    return f"# OpenSignals Text File Format. Version 1\n# {json.dumps(info)}\n# EndOfHeader\n" + body


def test_transfer_function():
    # mid-scale is 0 V; full scale is +-VCC/2/G = +-1.635 mV for BITalino (VCC 3.3 V, G 1009)
    assert adc_to_uv(np.array([512.0]), 10, 3.3, 1009)[0] == 0
    np.testing.assert_allclose(adc_to_uv(np.array([0.0, 4096.0]), 12, 3.3, 1009),
                               [-1635.28, 1635.28], atol=0.01)
    assert transfer("bitalino_rev")[:2] == (3.3, 1009.0)
    assert transfer("biosignalsplux")[:2] == (3.0, 1000.0)
    assert transfer("")[:2] == (3.3, 1009.0)


def test_parse_json_header():
    h = parse_header(json_text([]).splitlines())
    assert h.variant == "json" and h.fs == 1000 and h.labels == ("A1", "A2")
    assert h.sensors == ("EMG", "ECG") and h.analog == (5, 6) and h.resolution == (10, 10)
    assert (h.seq_col, h.seq_bits, h.n_header_lines, h.device) == (0, 4, 3, "bitalino_rev")
    with pytest.raises(BadHeader, match="line 2: header JSON is not valid"):
        parse_header(["# OpenSignals Text File Format", "# {bad", "# EndOfHeader"], "o.txt")
    with pytest.raises(BadHeader, match="not an OpenSignals text file"):
        parse_header(["%OpenBCI Raw EXG Data"], "o.txt")
    with pytest.raises(BadHeader, match="no '# Resolution"):
        parse_header(["# Simple Text Format", "# Sampling Rate (Hz):= 1000", "# Labels:= EMG"], "o.txt")


def test_simple_format(tmp_path):
    p = tmp_path / "emg.txt"
    p.write_text(SIMPLE + "2048\n2049\n2047\n4095\n0\n")
    rec = read(p)
    assert rec.fs == 1000 and rec.ch_names == ("EMG",) and rec.n_total == 5
    lsb = 3.3 / 4096 / 1009 * 1e6
    np.testing.assert_allclose(rec.to_array()[:, 0], [0, lsb, -lsb, 2047 * lsb, -2048 * lsb])
    assert rec.meta["scaling"]["G_EMG"] == 1009 and rec.meta["scaling"]["bits"] == [12]


def test_json_format_emg_channel_and_nseq_gap(tmp_path):
    seq = np.arange(60)
    keep = np.ones(60, bool)
    keep[20:25] = False                     # 5 samples lost (nSeq is 4 bits: 0..15)
    rows = np.column_stack([seq % 16, np.zeros((60, 4)), 512 + seq, 600 + 0 * seq])[keep]
    p = tmp_path / "opensignals_dev.txt"
    p.write_text(json_text(rows))
    rec = read(p)
    assert rec.ch_names == ("A1",)           # the EMG sensor, not the ECG one
    assert [(g.seq, g.n_missing) for g in rec.gaps] == [(20, 5)]
    lsb = 3.3 / 1024 / 1009 * 1e6
    np.testing.assert_allclose(rec.to_array()[keep, 0], seq[keep] * lsb)
    assert rec.meta["device"] == "bitalino_rev"
    assert read(p, channels=["A2"]).ch_names == ("A2",)
    with pytest.raises(UsageError, match="no channel 'A9'"):
        read(p, channels=["A9"])


def test_no_emg_sensor(tmp_path, problem):
    p = tmp_path / "ecg.txt"
    p.write_text(json_text([[0, 0, 0, 0, 0, 500, 500]], sensors=("ECG", "EDA")))
    with pytest.raises(BadHeader) as e:
        read(p)
    assert problem(e, p).startswith("no EMG channel (sensors: ECG, EDA)")


@pytest.mark.parametrize("body, exc, why", [
    ("", BadData, "no samples (header only)"),
    ("2048\nabc\n", BadData, "line 6: column 'EMG' is not a number ('abc')"),
    ("2048\n5000\n", BadData, "line 6: channel 'EMG' value 5000 is not a 12-bit ADC count (0..4095)"),
    ("2048\n-1.5\n", BadData, "line 6: channel 'EMG' value -1.5 is not a 12-bit ADC count"),
    ("2048\nnan\n", BadData, "line 6: channel 'EMG' is nan (not a finite number)"),
    ("2048 7\n2048 7\n", BadHeader, "line 5: 2 columns but the header names 1 (EMG)"),
])
def test_errors(tmp_path, problem, body, exc, why):
    p = tmp_path / "emg.txt"
    p.write_text(SIMPLE + body)
    with pytest.raises(exc) as e:
        read(p)
    assert problem(e, p).startswith(why)


def test_truncated_last_line_json(tmp_path):
    rows = np.column_stack([np.arange(10) % 16, np.zeros((10, 4)), np.full((10, 2), 512)])
    text = json_text(rows)
    p = tmp_path / "t.txt"
    p.write_text(text[:-8])                  # last row cut after its 5th field
    rec = read(p)
    assert rec.n_total == 9 and rec.meta["dropped_last_line"] == 13


@pytest.mark.parametrize("name, seconds", [("emg.txt", 100.0), ("emg_1.txt", 63.88)])
def test_real_biosppy_files(shared_data, name, seconds):
    rec = read(shared_data / "opensignals_biosppy" / name)
    assert rec.fs == 1000 and rec.ch_names == ("EMG",) and rec.gaps == []
    assert rec.duration_s == pytest.approx(seconds)
    x = rec.to_array()[:, 0]
    # 12-bit counts near mid-scale (2048): baseline within +-50 µV, 1 count = 0.8 µV
    assert abs(np.median(x)) < 50
    dev = np.abs(x - np.median(x))
    assert 0.5 < np.median(dev) < 20                 # rest noise, µV
    assert 5 < np.percentile(dev, 99.9) < 1700       # bursts, within the ±1.64 mV range
