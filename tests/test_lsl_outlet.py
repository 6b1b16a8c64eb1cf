"""LslOutlet: events as JSON markers and the RMS envelope, read back with a real inlet."""
from __future__ import annotations

import json
import uuid

import numpy as np
import pytest

from emgpipe.dsp.features import WindowFeatures
from emgpipe.types import Chunk, Event

pylsl = pytest.importorskip("pylsl", reason="pylsl (extra 'lsl') is not installed")

from emgpipe.lsl_outlet import LslOutlet, event_json  # noqa: E402


def inlet_for(name):
    found = pylsl.resolve_byprop("name", name, minimum=1, timeout=3)
    assert found, f"{name} not visible"
    inlet = pylsl.StreamInlet(found[0])
    inlet.open_stream(timeout=3)
    return inlet


def test_event_json_round_trip_has_contract_fields():
    e = Event("cramp", "calf_left", 10.0, 12.5, 10.75, confidence=0.8, detail="x",
              detector="default@1", status="onset")
    d = json.loads(event_json(e))
    assert d["kind"] == "cramp" and d["status"] == "onset" and d["channel"] == "calf_left"
    assert (d["start_s"], d["end_s"], d["alert_s"]) == (10.0, 12.5, 10.75)
    assert d["peak_uv"] is None  # NaN is not JSON


def test_events_and_envelope_reach_an_inlet():
    name = f"emgpipe-test-{uuid.uuid4().hex[:10]}"
    out = LslOutlet(name, envelope=True)
    ev_in = inlet_for(f"{name}-events")
    e = Event("cramp", "calf_left", 1.0, 1.0, 1.25, status="onset", peak_uv=80.0)
    out.push_event(e)
    sample, ts = ev_in.pull_sample(timeout=3)
    assert json.loads(sample[0])["peak_uv"] == 80.0 and ts > 0

    fs = 1000.0
    x = np.random.default_rng(0).standard_normal((4000, 2)) * [10.0, 50.0]
    wf = WindowFeatures()
    out.push_features(wf(Chunk(x[:2000], fs=fs, ch_names=("a", "b"))))  # creates the outlet
    env_in = inlet_for(f"{name}-envelope")
    info = env_in.info(timeout=3)
    assert info.channel_count() == 2 and info.nominal_srate() == pytest.approx(8.0)
    assert info.desc().child("channels").child("channel").child_value("unit") == "microvolts"
    f = wf(Chunk(x[2000:], fs=fs, seq=2000, ch_names=("a", "b")))
    out.push_features(f)
    got, _ = env_in.pull_chunk(timeout=3, max_samples=f.n_windows)
    np.testing.assert_allclose(np.asarray(got), f.values["rms"], rtol=1e-6)
    assert out.n_events == 1 and out.n_windows >= f.n_windows
    out.close()


def test_live_session_publishes_on_lsl():
    import argparse

    from emgpipe.session import Session
    from emgpipe.devices import open_source
    name = f"emgpipe-test-{uuid.uuid4().hex[:10]}"
    src = open_source("sim:walk_then_cramp", speed="max")
    src.open()
    session = Session(src, lsl_out=name, duration_s=10.0,
                      alert_args=argparse.Namespace(alert=["none"]))
    session.run()
    # 10 s of 0.25 s windows every 0.125 s: 79 windows; every announcement is a marker
    assert session.lsl.n_windows == 79
    assert session.lsl.n_events == sum(session.announced.values()) > 0
