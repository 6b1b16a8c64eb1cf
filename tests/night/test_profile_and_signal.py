"""Issue 14: night and live hand the detector the same per-channel calibration as replay,
warn when a profile's channels match none of the stream's, and take the signal kind
(MyoWare ENV envelope or EMG) from the source."""
from __future__ import annotations

import json
import logging

import numpy as np

from emgpipe.devices.bridge.protocol import ChannelKind, FrameType, StatusFrame
from emgpipe.devices.bridge.source import BridgeSerialSource
from emgpipe.devices.bridge.stream import ChunkAssembler
from emgpipe.calibration import Profile
from emgpipe.night.recorder import NightRecorder, load_profile
from emgpipe.devices import open_source

CHANNELS = {"calf_left": {"rest_uv": 2.5, "mvc_uv": 310.0}, "calf_right": {"rest_uv": 3.0, "mvc_uv": 280.0}}


def _profile_file(tmp_path, channels=CHANNELS):
    path = tmp_path / "profile.json"
    path.write_text(json.dumps({"version": 1, "fs": 1000.0, "source": "sim:x", "created": "",
                                "model": "default", "channels": channels}))
    return path


def _night(tmp_path, uri="sim:walk_then_cramp?duration=10", **kw):
    rec = NightRecorder(uri, tmp_path / "night", speed="max", **kw)
    rec.run()
    return rec


def _live(uri, **kw):
    from emgpipe.session import Session
    src = open_source(uri, speed="max")
    src.open()
    try:
        session = Session(src, **kw)
        session.run()
    finally:
        src.close()
    return session


def test_night_live_and_replay_give_the_detector_the_same_calibration(tmp_path):
    path = _profile_file(tmp_path)
    rec = _night(tmp_path, profile=load_profile(path), profile_path=path)
    assert rec.pipe.detectors[0].profile == CHANNELS          # was the whole file: rest/MVC None
    session = _live("sim:walk_then_cramp?duration=10", profile=Profile.load(path), profile_path=path)
    assert session.pipeline.detectors[0].profile == CHANNELS
    assert Profile.load(path).detector_profile() == CHANNELS  # what replay passes
    ch = rec.pipe.detectors[0]._ch
    assert [c.name for c in ch] == ["calf_left", "calf_right"]


def test_a_profile_for_other_channels_is_one_warning(tmp_path, caplog):
    path = _profile_file(tmp_path, {"ch1": {"rest_uv": 2.0, "mvc_uv": 200.0}})
    with caplog.at_level(logging.WARNING):
        rec = _night(tmp_path, profile=load_profile(path), profile_path=path)
    (msg,) = [r.getMessage() for r in caplog.records if "calibration profile" in r.getMessage()]
    assert "\n" not in msg and str(path) in msg and "ch1" in msg and "calf_left, calf_right" in msg
    assert rec.pipe.detectors[0].profile == {}
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        session = _live("sim:walk_then_cramp?duration=10", profile=Profile.load(path), profile_path=path)
    assert any(str(path) in r.getMessage() for r in caplog.records)
    assert session.pipeline.detectors[0].profile == {}


def test_night_command_uses_the_profile(tmp_path, capsys):
    from emgpipe.cli import main
    path = _profile_file(tmp_path)
    assert main(["night", "--source", "sim:walk_then_cramp?duration=10", "--out", str(tmp_path / "n"),
                 "--speed", "max", "--profile", str(path)]) == 0


def test_live_and_night_take_the_envelope_kind_from_the_source(tmp_path):
    uri = "sim:walk_then_cramp?duration=10&device=myoware_env"
    assert open_source(uri).meta["signal"] == "envelope"
    assert _live(uri).pipeline.signal == "envelope"           # was band-passed as EMG
    assert _night(tmp_path, uri).pipe.signal == "envelope"
    assert _live("sim:walk_then_cramp?duration=10").pipeline.signal == "emg"


def _bridge_meta(channels):
    st = StatusFrame(FrameType.STATUS, 0, fs_hz=1000, n_ch=len(channels), channels=channels)
    src = BridgeSerialSource("/dev/null-bridge", env=True)
    src.status = st
    src.assembler = ChunkAssembler(st, include_env=True)
    src._update_meta()
    return src.meta


def test_bridge_says_whether_it_streams_the_envelope():
    meta = _bridge_meta(((0, ChannelKind.ENV), (1, ChannelKind.ENV)))
    assert meta["signal"] == "envelope" and meta["channel_kinds"] == ["env", "env"]
    assert _bridge_meta(((0, ChannelKind.RAW),))["signal"] == "emg"
    assert _bridge_meta(((0, ChannelKind.RAW), (0, ChannelKind.ENV)))["signal"] == "emg"
    assert np.isfinite(meta["uv_per_count"])
