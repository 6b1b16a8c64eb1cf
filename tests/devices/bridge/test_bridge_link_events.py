"""Issue 14: a bridge link drop reaches the link listeners (live view, night database),
like the Cyton's and Ganglion's."""
from __future__ import annotations

import threading
import time

import pytest

from emgpipe.devices.bridge.source import BridgeSerialSource
from emgpipe.errors import DeviceError
from tests.devices.bridge.bridge_helpers import collect

FAST = {"backoff": (0.05, 0.1, 0.2), "handshake": 2.0}


def test_unplug_replug_is_told_to_link_listeners(emulator):
    emu = emulator(fs=1000, env=False)
    src = BridgeSerialSource(emu.path, **FAST)
    heard = []
    src.link_listeners.append(heard.append)
    src.open()
    try:
        collect(src, 50)
        emu.unplug()
        timer = threading.Timer(0.4, emu.replug, kwargs={"reset": False})
        timer.start()
        try:
            chunks = collect(src, 0, timeout=8, until=lambda cs: any(c.gaps for c in cs))
        finally:
            timer.join()
    finally:
        src.close()
    (gap,) = [g for c in chunks for g in c.gaps]
    assert [e["event"] for e in heard] == ["disconnect", "reconnect"]
    lost, back = heard
    assert lost["source"] == src.uri and lost["seq"] == gap.seq and lost["reason"]
    assert back["n_missing"] == gap.n_missing and back["elapsed_s"] >= 0.3
    assert len(src.meta["disconnects"]) == 1
    assert src.meta["disconnects"][0]["n_missing"] == gap.n_missing


def test_giving_up_is_told_to_link_listeners(emulator):
    emu = emulator(fs=1000, env=False)
    src = BridgeSerialSource(emu.path, reconnect=0.3, **FAST)
    heard = []
    src.link_listeners.append(heard.append)
    src.open()
    try:
        collect(src, 20)
        emu.unplug()
        with pytest.raises(DeviceError, match="not back after"):
            for _ in src.chunks():
                pass
    finally:
        src.close()
    assert [e["event"] for e in heard] == ["disconnect", "gave_up"]


def test_live_session_shows_a_bridge_drop(emulator):
    """The live session's link listener gets the bridge's drop (it used to hear nothing)."""
    from emgpipe.session import Session
    emu = emulator(fs=1000, env=False)
    src = BridgeSerialSource(emu.path, **FAST)
    src.open()
    try:
        session = Session(src, duration_s=3.0)
        shown = []
        session.console.err = shown.append
        timer = threading.Timer(0.5, emu.unplug)
        replug = threading.Timer(0.9, emu.replug, kwargs={"reset": False})
        timer.start()
        replug.start()
        t0 = time.monotonic()
        session.run()
        timer.join()
        replug.join()
        assert time.monotonic() - t0 < 30
    finally:
        src.close()
    assert any("disconnected" in line for line in shown), shown
    assert any("reconnected after" in line for line in shown), shown
