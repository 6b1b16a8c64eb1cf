"""The ``bridge-ble:`` source against a fake bleak module.

There is no Bluetooth radio in CI, so these tests replace bleak at its API
boundary (``BleakScanner`` / ``BleakClient``, see ``bridge_fakes.py``) with an
emulated ESP32 (the same DeviceModel that drives the serial emulator): real
notification payloads, real command writes, scans, disconnects and rescans.
What they cannot check is a real OS Bluetooth stack (MTU negotiation, BlueZ
caching, notification loss patterns): that needs hardware.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest

from emgpipe.devices.bridge.emulator import DeviceModel
from emgpipe.devices.bridge.protocol import FrameType
from emgpipe.devices.bridge.source import BridgeBleSource
from emgpipe.errors import DeviceNotFound, ProtocolError
from tests.devices.bridge.bridge_fakes import FakeRadio
from tests.devices.bridge.bridge_helpers import collect

UV = 3.3 / 4095 / 200 * 1e6  # ESP32 12-bit, 3.3 V, MyoWare RAW gain 200


def _esp32(mtu=247, **kw):
    model = DeviceModel(board="esp32", fs=1000, sensors=1, env=True, samples_per_frame=25, **kw)
    return FakeRadio(model, mtu=mtu)


def _open(radio, target="EMGBridge-1A2B", **kw):
    src = BridgeBleSource(target, bleak_module=radio.module, scan=0.2, handshake=2.0,
                          backoff=(0.05, 0.1), **kw)
    src.open()
    return src


@pytest.mark.parametrize("target", ["EMGBridge-1A2B", "24:6f:28:aa:1a:2b", ""])
def test_finds_the_device_by_name_address_or_service(target):
    radio = _esp32()
    src = _open(radio, target)
    try:
        assert radio.connects == 1 and src.fs == 1000.0 and src.ch_names == ("raw1",)
        chunks = collect(src, 100)
    finally:
        src.close()
    assert chunks[0].seq == 0 and all(b.seq == a.next_seq for a, b in zip(chunks, chunks[1:]))
    assert src.meta["board"] == "esp32" and src.meta["link"].startswith("BLE 24:6F")
    sent = radio.model.delivered_counts()
    origin = min(sent)
    flat = np.concatenate([sent[k] for k in sorted(sent)])[:, 0]
    got = np.concatenate([c.data[:, 0] for c in chunks])
    np.testing.assert_allclose(got, flat[:len(got)] * UV, rtol=1e-12)
    assert origin == sorted(sent)[0]


def test_env_channel_and_buzz_over_ble():
    radio = _esp32()
    src = _open(radio, env=True)
    try:
        assert src.ch_names == ("raw1", "env1")
        assert src.send_buzz(250, strength=180)
        collect(src, 60)
        assert radio.model.buzzes == [(250, 180)]
    finally:
        src.close()
    assert FrameType.STOP in [c.type for c in radio.model.commands]


def test_lost_notifications_are_exact_gaps():
    radio = _esp32()
    src = _open(radio)
    try:
        collect(src, 50)
        radio.drop_notifications = 2          # the host stack loses two notifications
        chunks = collect(src, 0, until=lambda cs: any(c.gaps for c in cs))
        (gap,) = [g for c in chunks for g in c.gaps]
        assert gap.n_missing == 2 * 25
        assert src.counters()["lost_frames"] == 2
    finally:
        src.close()


def test_link_loss_rescans_reconnects_and_reports_the_gap():
    radio = _esp32()
    src = _open(radio)
    try:
        collect(src, 50)
        timer = threading.Timer(0.05, radio.drop_link)
        timer.start()
        chunks = collect(src, 0, timeout=5, until=lambda cs: any(c.gaps for c in cs)
                         and sum(c.n_samples for c in cs) >= 100)
        timer.join()
        (gap,) = [g for c in chunks for g in c.gaps]
        # the ESP32 kept counting samples while disconnected: the gap is exact, not estimated
        assert gap.reason.startswith("disconnect") and "estimated" not in gap.reason
        assert gap.n_missing > 0
        assert radio.connects == 2 and radio.scans >= 2   # a fresh scan before reconnecting
        assert src.counters()["disconnects"] == 1
        starts = [c for c in radio.model.commands if c.type == FrameType.START]
        assert len(starts) == 2                            # streaming restarted
        after = [c for c in chunks if c.seq >= gap.seq]
        assert all(b.seq == a.next_seq for a, b in zip(after, after[1:]))
    finally:
        src.close()


def test_device_absent_is_device_not_found():
    radio = _esp32()
    radio.advertising = False
    src = BridgeBleSource("EMGBridge-FFFF", bleak_module=radio.module, scan=0.1)
    with pytest.raises(DeviceNotFound, match=r"bridge-ble:EMGBridge-FFFF: no BLE device named"):
        src.open()


def test_frames_longer_than_the_mtu_arrive_in_pieces():
    # default ATT MTU 23: a 25-sample frame (2 ch, 117 bytes on the wire) takes 6 notifications
    radio = _esp32(mtu=23)
    src = _open(radio)
    try:
        collect(src, 100)
        assert radio.notifications > 5 * len(radio.model.sent)
        radio.drop_notifications = 1   # one lost piece costs exactly its frame
        chunks = collect(src, 0, until=lambda cs: any(c.gaps for c in cs))
        assert [g.n_missing for c in chunks for g in c.gaps] == [25]
        assert src.counters()["bad_frames"] == 1
    finally:
        src.close()


def test_bleak_missing_is_a_clear_error(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_bleak(name, *a, **k):
        if name == "bleak":
            raise ImportError("No module named 'bleak'")
        return real_import(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", no_bleak)
    with pytest.raises(Exception, match="pip install 'emgpipe\\[ble\\]'"):
        BridgeBleSource("EMGBridge-1A2B", scan=0.1).open()


def test_protocol_errors_propagate_over_ble():
    radio = _esp32()
    with pytest.raises(ProtocolError, match="refused 4000 Hz"):
        _open(radio, rate=4000)
