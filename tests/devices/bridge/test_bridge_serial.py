"""End to end: the real ``bridge:`` source (pyserial) against the emulator on a pseudo-terminal.

The emulator speaks the firmware's protocol byte for byte on a pty; a symlink in tmp_path
always points at the current pty, so unplug/replug looks like a USB cable to the source.
"""
from __future__ import annotations

import errno
import os
import threading
import time

import numpy as np
import pytest
import serial

from emgpipe.devices.bridge.links import PORT_HINTS
from emgpipe.devices.serialport import port_error
from emgpipe.devices.bridge.protocol import FrameType
from emgpipe.devices.bridge.source import BridgeSerialSource
from emgpipe.errors import DeviceError, DeviceNotFound, DevicePermission, ProtocolError, UsageError
from emgpipe.devices import open_source
from tests.devices.bridge.bridge_helpers import collect

FAST = {"backoff": (0.05, 0.1, 0.2), "handshake": 2.0}


def _source(emu, **kw):
    src = BridgeSerialSource(emu.path, **{**FAST, **kw})
    src.open()
    return src


def _device_values(emu, chunks, scale, origin=None):
    """Received values next to what the emulator sent for the same device sample index."""
    sent = emu.model.delivered_counts()
    origin = min(sent) if origin is None else origin
    by_index = {first + i: row for first, block in sent.items() for i, row in enumerate(block)}
    got, want = [], []
    for c in chunks:
        for i in range(c.n_samples):
            got.append(c.data[i])
            want.append(by_index[origin + c.seq + i][: c.n_channels] * scale)
    return np.array(got), np.array(want)


def test_data_arrives_scaled_to_microvolts(emulator):
    emu = emulator(fs=1000, sensors=2, env=True, board="avr")
    with _source(emu, env=True) as src:
        assert src.fs == 1000.0
        assert src.ch_names == ("raw1", "env1", "raw2", "env2")
        chunks = collect(src, 300)
        assert src.meta["board"] == "avr" and src.meta["uv_per_count"] == pytest.approx(24.4379,
                                                                                        rel=1e-5)
    seqs = [c.seq for c in chunks]
    assert seqs[0] == 0 and all(b.seq == a.next_seq for a, b in zip(chunks, chunks[1:]))
    assert not any(c.gaps for c in chunks)
    uv = 5.0 / 1023 / 200 * 1e6
    env_uv = 5.0 / 1023 / 10200 * 1e6
    got, want = _device_values(emu, chunks, np.array([uv, env_uv, uv, env_uv]))
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert np.abs(got[:, 0]).max() > 0  # a real signal went through


def test_rate_is_set_and_esp32_scaling_is_used(emulator):
    emu = emulator(fs=1000, board="esp32", env=True)
    with _source(emu, rate=2000) as src:
        assert src.fs == 2000.0 and emu.model.fs == 2000
        chunks = collect(src, 200)
        assert src.meta["uv_per_count"] == pytest.approx(3.3 / 4095 / 200 * 1e6)
    got, want = _device_values(emu, chunks, np.array([3.3 / 4095 / 200 * 1e6]))
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert [c.type for c in emu.model.commands][:3] == [FrameType.IDENTIFY, FrameType.SET_RATE,
                                                        FrameType.IDENTIFY]


def test_refused_rate_is_a_clear_error(emulator):
    emu = emulator(fs=1000, sensors=2, env=True)  # 6 conversions: AVR max 1282 Hz
    with pytest.raises(ProtocolError, match=r"refused 2000 Hz.*up to 1282 Hz"):
        _source(emu, rate=2000)


def test_dropped_frames_are_gaps_of_the_right_length(emulator):
    emu = emulator(fs=1000, env=False, samples_per_frame=10)
    with _source(emu) as src:
        collect(src, 50)
        emu.model.drop_next = 3
        chunks = collect(src, 0, until=lambda cs: any(c.gaps for c in cs))
        chunks += collect(src, 50)
        gaps = [g for c in chunks for g in c.gaps]
        assert [g.n_missing for g in gaps] == [30]
        assert src.counters()["lost_frames"] == 3 and src.counters()["bad_frames"] == 0
        after = next(c for c in chunks if c.gaps)
        assert after.seq == gaps[0].seq + 30
    got, want = _device_values(emu, chunks, np.array([5.0 / 1023 / 200 * 1e6]))
    np.testing.assert_allclose(got, want, rtol=1e-12)  # nothing shifted by the gap


def test_crc_errors_are_counted_and_become_gaps(emulator):
    emu = emulator(fs=1000, env=False, samples_per_frame=10)
    with _source(emu) as src:
        collect(src, 50)
        emu.model.corrupt_next = 2
        chunks = collect(src, 0, until=lambda cs: any(c.gaps for c in cs))
        gaps = [g for c in chunks for g in c.gaps]
        assert [g.n_missing for g in gaps] == [20]
        cnt = src.counters()
        assert cnt["bad_frames"] == 2 and cnt["crc_errors"] + cnt["cobs_errors"] == 2


def test_junk_between_frames_is_skipped_without_losing_data(emulator):
    emu = emulator(fs=1000, env=False)
    with _source(emu) as src:
        collect(src, 30)
        for junk in (b"ets Jun  8 2016 00:22:57\r\nrst:0x1", bytes(range(1, 200)), b"\xff" * 40):
            emu.model.inject_junk(junk)
        chunks = collect(src, 300)
        assert not any(c.gaps for c in chunks)
        assert src.counters()["bad_frames"] == 3  # each junk run is one bad frame


def test_buzz_reaches_the_device(emulator):
    emu = emulator(fs=1000)
    with _source(emu) as src:
        assert src.send_buzz(300)
        assert src.send_buzz(9000, strength=100)  # the firmware clamps to 5000 ms
        collect(src, 100)
        deadline = time.monotonic() + 2
        while src.counters()["buzz_acked"] < 2 and time.monotonic() < deadline:
            collect(src, 10)
        assert emu.model.buzzes == [(300, 255), (5000, 100)]
        assert src.counters()["buzz_sent"] == 2 and src.counters()["buzz_acked"] == 2
        with pytest.raises(ValueError):
            src.send_buzz(-1)


def _unplug_and_replug(emu, src, reset: bool, off_s: float = 0.4):
    """Pull the cable for ``off_s`` seconds (a timer plugs it back in) while reading."""
    collect(src, 50)
    emu.unplug()
    t_off = time.monotonic()
    timer = threading.Timer(off_s, emu.replug, kwargs={"reset": reset})
    timer.start()
    try:
        chunks = collect(src, 0, timeout=8, until=lambda cs: any(c.gaps for c in cs)
                         and sum(c.n_samples for c in cs) >= 100)
    finally:
        timer.join()
    return chunks, time.monotonic() - t_off


def test_unplug_replug_same_device_gives_an_exact_gap(emulator):
    emu = emulator(fs=1000, env=False)
    with _source(emu) as src:
        chunks, _ = _unplug_and_replug(emu, src, reset=False)
        (gap,) = [g for c in chunks for g in c.gaps]
        assert gap.reason.startswith("disconnect")
        assert "estimated" not in gap.reason
        assert gap.n_missing >= 400 * 0.9  # at least the time the cable was out
        assert src.counters()["disconnects"] == 1 and src.counters()["restarts"] == 0
        got, want = _device_values(emu, [c for c in chunks if c.seq >= gap.seq],
                                   np.array([5.0 / 1023 / 200 * 1e6]),
                                   origin=min(emu.model.delivered_counts()))
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_unplug_replug_rebooted_device_estimates_the_gap(emulator):
    emu = emulator(fs=1000, env=False)
    with _source(emu) as src:
        boot = src.status.boot_id
        chunks, outage = _unplug_and_replug(emu, src, reset=True)
        (gap,) = [g for c in chunks for g in c.gaps]
        assert "estimated from the host clock" in gap.reason
        assert 300 <= gap.n_missing <= outage * 1000 + 100
        assert src.status.boot_id != boot and src.counters()["restarts"] == 1
        after = [c for c in chunks if c.seq >= gap.seq + gap.n_missing]
        assert all(b.seq == a.next_seq for a, b in zip(after, after[1:]))


def test_silent_device_is_treated_as_lost_and_recovered(emulator):
    emu = emulator(fs=1000, env=False)
    with _source(emu, stall=0.3) as src:
        collect(src, 50)
        emu.model.silent = True
        timer = threading.Timer(0.6, setattr, args=(emu.model, "silent", False))
        timer.start()
        chunks = collect(src, 0, timeout=6, until=lambda cs: any(c.gaps for c in cs))
        timer.join()
        (gap,) = [g for c in chunks for g in c.gaps]
        assert "no data" in gap.reason and gap.n_missing >= 400
        assert src.counters()["disconnects"] == 1


def test_reconnect_gives_up_after_the_timeout(emulator):
    emu = emulator(fs=1000, env=False)
    src = _source(emu, reconnect=0.3)
    try:
        collect(src, 20)
        emu.unplug()
        with pytest.raises(DeviceError, match="not back after 0.3 s"):
            for _ in src.chunks():
                pass
    finally:
        src.close()


def test_missing_port_is_a_one_line_device_not_found(tmp_path):
    port = str(tmp_path / "ttyACM9")
    with pytest.raises(DeviceNotFound) as ei:
        open_source(f"bridge:{port}").open()
    msg = str(ei.value)
    assert "\n" not in msg and msg.startswith(f"bridge:{port}: serial port")
    assert "COM3" in msg and "/dev/ttyACM0" in msg and "/dev/tty.usbmodem" in msg


def test_silent_port_is_a_clear_error(tmp_path):
    if os.name != "posix":
        pytest.skip("needs a pseudo-terminal")
    master, slave = os.openpty()
    try:
        with pytest.raises(DeviceNotFound, match="no firmware_bridge device answered"):
            BridgeSerialSource(os.ttyname(slave), handshake=0.4).open()
    finally:
        os.close(master)
        os.close(slave)


def test_wrong_protocol_version_is_a_protocol_error(tmp_path):
    if os.name != "posix":
        pytest.skip("needs a pseudo-terminal")
    import struct
    from emgpipe.devices.bridge.protocol import cobs_encode, crc16
    master, slave = os.openpty()
    body = struct.pack("<BBH", 2, 0x02, 0) + bytes(40)
    frame = b"\x00" + cobs_encode(body + struct.pack("<H", crc16(body))) + b"\x00"
    stop = threading.Event()

    def device():  # a future firmware answering anything with a v2 frame
        while not stop.is_set():
            try:
                if os.read(master, 100):
                    os.write(master, frame)
            except OSError:
                return
    t = threading.Thread(target=device, daemon=True)
    t.start()
    try:
        with pytest.raises(ProtocolError, match="protocol version 2"):
            BridgeSerialSource(os.ttyname(slave), handshake=0.6).open()
    finally:
        stop.set()
        os.close(master)
        os.close(slave)


@pytest.mark.parametrize("exc,platform,cls,words", [
    (serial.SerialException(errno.EACCES, "could not open port /dev/ttyACM0: [Errno 13] "
                            "Permission denied: '/dev/ttyACM0'"), "linux", DevicePermission,
     ("dialout", "uucp")),
    (serial.SerialException("could not open port 'COM3': PermissionError(13, 'Access is denied.', "
                            "None, 5)"), "win32", DevicePermission, ("Serial Monitor", "driver")),
    (serial.SerialException("could not open port 'COM7': FileNotFoundError(2, 'The system cannot "
                            "find the file specified.', None, 2)"), "win32", DeviceNotFound,
     ("not found", "COM3")),
    (serial.SerialException(errno.EBUSY, "could not open port: [Errno 16] Device or resource busy"),
     "linux", DeviceError, ("serial port /dev/ttyACM0 is busy", "Serial Monitor")),
])
def test_open_errors_name_the_fix(exc, platform, cls, words):
    port = "COM3" if platform == "win32" else "/dev/ttyACM0"
    err = port_error(f"bridge:{port}", port, exc, platform=platform, **PORT_HINTS)
    assert type(err) is cls
    assert "\n" not in str(err) and str(err).startswith(f"bridge:{port}:")
    for w in words:
        assert w in str(err)


def test_uri_options_are_typed_and_checked():
    src = open_source("bridge:/dev/ttyACM0?baud=1000000&rate=500&env=1&names=calf_l&reconnect=inf")
    assert (src.link.baud, src.rate, src.env, src.names) == (1000000, 500, True, ("calf_l",))
    assert src.reconnect == float("inf")
    with pytest.raises(UsageError, match="unknown option 'bogus'"):
        open_source("bridge:/dev/ttyACM0?bogus=1")
    with pytest.raises(UsageError, match="not a number"):
        open_source("bridge:/dev/ttyACM0?rate=fast")
    with pytest.raises(UsageError, match="name the serial port"):
        open_source("bridge:")


def test_backends_do_not_import_bleak_until_a_ble_source_opens():
    import subprocess
    import sys
    code = ("import sys; from emgpipe.devices import open_source; "
            "s = open_source('bridge-ble:EMGBridge-0001'); open_source('bridge:/dev/null'); "
            "print('bleak' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_run_emulator_entry_point(tmp_path):
    """What ``emgpipe emulate bridge`` runs: prints the port, serves it, reports buzzes."""
    if os.name != "posix":
        pytest.skip("needs a pseudo-terminal")
    import argparse
    import io
    from emgpipe.devices.bridge.emulator import add_emulator_arguments, run_emulator
    ap = argparse.ArgumentParser()
    add_emulator_arguments(ap)
    link = tmp_path / "emu0"
    args = ap.parse_args(["--board", "esp32", "--link", str(link), "--duration", "1.5"])
    out = io.StringIO()
    t = threading.Thread(target=run_emulator, args=(args, out))
    t.start()
    try:
        deadline = time.monotonic() + 2
        while not link.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        with open_source(f"bridge:{link}?env=1") as src:
            assert src.meta["board"] == "esp32" and src.ch_names == ("raw1", "env1")
            assert src.send_buzz(120)
            collect(src, 100)
    finally:
        t.join(5)
    text = out.getvalue()
    assert f"bridge:{link}" in text and "buzz 120 ms" in text
    assert not link.exists()
