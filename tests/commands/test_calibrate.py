"""emgpipe calibrate: rest then a maximal contraction -> a profile the detector uses."""
import json

import numpy as np
import pytest

from emgpipe.calibration import Profile, compute_profile
from emgpipe.cli import main
from emgpipe.detect.cramp import CrampDetector, CrampSettings
from emgpipe.errors import ConfigError
from emgpipe.io.contract_csv import CsvWriter


def calibration_recording(path, fs=1000.0, mvc=(300.0, 150.0), seed=0):
    """2 s settle + 10 s rest + 2 s settle + 5 s contraction, 2 channels."""
    rng = np.random.default_rng(seed)
    n = int(20 * fs)
    x = rng.normal(0, 3.0, (n, 2))
    on = slice(int(13 * fs), n)
    for k, level in enumerate(mvc):
        x[on, k] = rng.normal(0, level, n - on.start)
    with CsvWriter(path, fs, ("calf_left", "shin_left")) as w:
        w.write(x)
    return path


def test_calibrate_writes_profile(tmp_path, capsys):
    rec = calibration_recording(tmp_path / "cal.csv")
    out = tmp_path / "me.json"
    assert main(["calibrate", "--source", f"file:{rec}", "--speed", "max", "--out", str(out)]) == 0
    prof = Profile.load(out)
    assert set(prof.channels) == {"calf_left", "shin_left"}
    left = prof.channels["calf_left"]
    # rest: white noise of 3 µV through the 20-450 Hz band-pass (~0.95 of the band)
    assert 2.0 < left["rest_uv"] < 3.2
    assert 250 < left["mvc_uv"] < 320 and 120 < prof.channels["shin_left"]["mvc_uv"] < 165
    text = capsys.readouterr().out
    assert "Relax" in text and "CONTRACT" in text and "calf_left" in text


def test_calibrate_without_contraction_fails_one_line(tmp_path, capsys):
    rec = calibration_recording(tmp_path / "cal.csv", mvc=(300.0, 4.0))
    code = main(["calibrate", "--source", f"file:{rec}", "--speed", "max", "--out", str(tmp_path / "p.json")])
    err = capsys.readouterr().err.strip()
    assert code != 0 and err.count("\n") == 0 and "shin_left" in err and "contract harder" in err
    assert not (tmp_path / "p.json").exists()


def test_profile_validation(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text(json.dumps({"channels": {"a": {"rest_uv": 5, "mvc_uv": 2}}}))
    with pytest.raises(ConfigError, match="rest_uv < mvc_uv"):
        Profile.load(p)
    with pytest.raises(ConfigError, match="no such profile"):
        Profile.load(tmp_path / "none.json")


def test_compute_profile_uses_periods():
    t = np.arange(1, 161) * 0.125
    rms = np.where(t[:, None] < 12, 3.0, 200.0) * np.ones((1, 1))
    prof = compute_profile(t, rms, ("a",), 1000.0, (2, 12), (14, 19))
    assert prof.channels["a"] == {"rest_uv": 3.0, "mvc_uv": 200.0}


def test_detector_uses_profile_mvc_floor():
    """With a profile, a cramp must reach cramp_mvc of the MVC: 30 µV is a cramp
    for a weak muscle (MVC 200 µV) but not for a strong one (MVC 2000 µV)."""
    from emgpipe.graph import Pipeline
    from emgpipe.types import Chunk
    rng = np.random.default_rng(1)
    fs = 1000.0
    x = rng.normal(0, 2.5, (int(40 * fs), 2))
    x[int(10 * fs):int(35 * fs), 0] = rng.normal(0, 30, int(25 * fs))

    def cramps(mvc):
        prof = {"calf_left": {"rest_uv": 2.4, "mvc_uv": mvc}, "calf_right": {"rest_uv": 2.4, "mvc_uv": mvc}}
        p = Pipeline("default", detectors=[CrampDetector(CrampSettings(), profile=prof)])
        ev = []
        p.events.sink(ev.append)
        p.push(Chunk(x, fs=fs, ch_names=("calf_left", "calf_right")))
        p.close()
        return [e for e in ev if e.kind == "cramp" and e.status == "final"]
    assert len(cramps(200.0)) == 1
    assert cramps(2000.0) == []
