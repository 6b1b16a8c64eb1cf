"""Issue 14: the flat-line test must not call a quantised but live signal a lead-off
(an Arduino Uno's 10-bit ADC behind the MyoWare: 24.4 µV steps, rest sits on one code)."""
from __future__ import annotations

import os

import numpy as np
import pytest

from emgpipe.detect.quality import QualityDetector
from emgpipe.types import Chunk

FS = 1000.0
UNO_LSB = 5.0 / 1023 / 200 * 1e6          # µV per count (protocols.md §3.1)


def _flat_events(x, lsb=None, chunk=500):
    q = QualityDetector()
    attrs = {} if lsb is None else {"lsb_uv": lsb}
    ev = []
    for i in range(0, len(x), chunk):
        ev += q(Chunk(x[i:i + chunk], fs=FS, seq=i, t0=i / FS, ch_names=("raw1",), attrs=attrs))
    ev += q.close(len(x) / FS)
    return [(e.start_s, e.end_s) for e in ev if e.detail.startswith("flat line") and e.status == "final"]


def _uno_rest(seconds, seed=0, sd=4.0):
    x = np.random.default_rng(seed).normal(0, sd, (int(seconds * FS), 1))
    return np.round(x / UNO_LSB) * UNO_LSB


def test_quantised_rest_is_not_a_flat_line():
    x = _uno_rest(150)
    assert _flat_events(x) != []                          # what the old test said (lead-off!)
    assert _flat_events(x, (UNO_LSB,)) == []


def test_a_coarse_adc_stuck_away_from_rest_is_still_a_flat_line():
    x = _uno_rest(20, seed=1)
    x[8000:14000] = 40 * UNO_LSB                          # lead off: the output sits near a rail
    (ev,) = _flat_events(x, (UNO_LSB,))
    assert 7.9 <= ev[0] <= 8.3 and 13.9 <= ev[1] <= 14.3
    for chunk in (1, 137, 2500, 20000):                   # chunk-invariant
        assert _flat_events(x, (UNO_LSB,), chunk) == [ev]


def test_a_fine_adc_keeps_the_flat_uv_rule():
    x = np.random.default_rng(2).normal(0, 4, (10000, 1))
    x[3000:7000] = 0.0
    assert _flat_events(x, (0.0224,)) == _flat_events(x) and len(_flat_events(x)) == 1


@pytest.mark.skipif(os.name != "posix", reason="the bridge emulator needs a POSIX pty")
def test_emulated_uno_at_rest_shows_no_lead_off(tmp_path):
    from emgpipe.devices.bridge.emulator import BridgeEmulator
    from emgpipe.session import Session
    from emgpipe.devices import open_source
    rest = np.random.default_rng(3).normal(0, 4, (int(60 * FS), 1))
    emu = BridgeEmulator(rest, link=tmp_path / "bridge0", board="avr", fs=1000, env=False, speed=20).start()
    try:
        src = open_source(f"bridge:{emu.path}")
        src.open()
        try:
            session = Session(src, duration_s=40.0)
            flats = []
            session.pipeline.events.sink(lambda e: flats.append(e) if e.detail.startswith("flat") else None)
            session.run()
        finally:
            src.close()
    finally:
        emu.stop()
    assert session.pipeline.end_s == pytest.approx(40.0)
    assert flats == []
