"""CytonSource end to end: real pyserial through the emulator's pseudo-terminal."""
from __future__ import annotations

import errno
import os
import re
import threading
import time

import numpy as np
import pytest

from emgpipe.errors import DeviceError, DeviceNotFound, DevicePermission, StreamLost, UsageError
from emgpipe.devices.cyton import protocol as cp
from emgpipe.devices.serialport import open_serial, port_error
from emgpipe.devices import open_source
from emgpipe.devices.cyton.source import CytonSource
from tests.devices.openbci_fakes import assemble, collect, random_uv, samples_after_gap

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the Cyton emulator needs a POSIX pty")

EMG_COMMANDS = [cp.channel_command(ch).decode() for ch in range(1, 9)]


def _assert_matches_input(seqs, data, x, gains, start=0):
    """Each received sample equals the emulator's input within half an LSB."""
    want = x[(start + seqs) % len(x)][:, :data.shape[1]]
    lsb = cp.uv_per_count(np.asarray(gains))
    assert np.all(np.abs(data - want) <= lsb / 2 + 1e-9)


def _wait(cond, timeout=2.0):
    t_end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < t_end, "condition not reached"
        time.sleep(0.01)


def test_connect_sequence_and_scaling(cyton_emulator):
    x = random_uv(3000, 8, seed=1)
    emu = cyton_emulator(x)
    with CytonSource(emu.port_name) as src:
        assert (src.fs, src.ch_names) == (250.0, tuple(f"ch{i}" for i in range(1, 9)))
        assert src.meta["firmware"] == "v3.1.2" and not src.meta["daisy"]
        chunks = collect(src, 1000)
    assert emu.commands[:3] == ["s", "v", "d"]
    assert emu.commands[3:11] == EMG_COMMANDS            # bipolar, SRB2 off, gain 24
    assert emu.commands[11] == "b"
    seqs, data, gaps = assemble(chunks)
    assert gaps == [] and seqs[0] == 0 and data.shape[1] == 8
    assert all(c.source_id == f"cyton:{emu.port_name}" and c.units == "uV" for c in chunks)
    _assert_matches_input(seqs, data, x, [24] * 8)
    assert len(chunks) > 3  # batches as they arrive, not one block
    _wait(lambda: emu.commands[-1] == "s" and not emu.streaming)  # close() stopped streaming


def test_per_channel_gains_are_sent_and_tracked(cyton_emulator):
    gains = [24, 12, 8, 6, 4, 2, 1, 24]
    x = random_uv(2000, 8, seed=2)
    emu = cyton_emulator(x)
    with CytonSource(emu.port_name, gain=gains) as src:
        seqs, data, _ = assemble(collect(src, 600))
        assert src.meta["gains"] == gains
    assert emu.gains == gains
    assert emu.commands[3:11] == [cp.channel_command(i + 1, g).decode() for i, g in enumerate(gains)]
    _assert_matches_input(seqs, data, x, gains)


def test_uri_options_reach_the_board(cyton_emulator):
    emu = cyton_emulator(random_uv(500, 8))
    with open_source(f"cyton:{emu.port_name}?gain=12&srb2=on&bias=off&reconnect_s=5") as src:
        collect(src, 50)
        assert src.reconnect_s == 5.0
    assert emu.commands[3] == "x1050010X"


@pytest.mark.parametrize("uri, match", [
    ("cyton:/dev/x?gain=5", "gain"),
    ("cyton:/dev/x?colour=red", "unknown option"),
    ("cyton:/dev/x?daisy=maybe", "daisy"),
    ("cyton:/dev/x?reconnect_s=-1", "reconnect_s"),
    ("cyton:", "needs a serial port"),
])
def test_bad_options_are_usage_errors(uri, match):
    with pytest.raises(UsageError, match=match):
        open_source(uri)


def test_junk_bytes_are_skipped_without_losing_samples(cyton_emulator):
    x = random_uv(4000, 8, seed=3)
    emu = cyton_emulator(x)
    junk = [b"\x00\x01", b"\xa0\x01\x02\xc0\xa0", b"\xc0" * 5, b"\xa0" * 3]
    injected = []

    def inject(chunk, total):
        if total < 1500:
            injected.append(junk[total % 4])
            emu.inject_junk(injected[-1])

    def all_junk_parsed(chunks):  # the emulator is ahead of the consumer by a varying lag
        return sum(c.n_samples for c in chunks) >= 1500 and \
            src.meta["junk_bytes"] == sum(map(len, injected))

    with CytonSource(emu.port_name) as src:
        seqs, data, gaps = assemble(collect(src, 2000, on_chunk=inject, until=all_junk_parsed))
        assert len(injected) >= 3  # every junk byte skipped, no packet byte taken for junk
    assert gaps == []
    assert np.array_equal(seqs, np.arange(len(seqs)))
    _assert_matches_input(seqs, data, x, [24] * 8)


def test_dropped_packets_become_gaps_with_exact_counts(cyton_emulator):
    x = random_uv(5000, 8, seed=4)
    emu = cyton_emulator(x)
    plan = {300: 3, 1200: 100}

    def drop(chunk, total):
        for at in list(plan):
            if total >= at:
                emu.drop_packets(plan.pop(at))

    with CytonSource(emu.port_name) as src:
        seqs, data, gaps = assemble(collect(src, 2500, on_chunk=drop, until=lambda cs: not plan
                                            and sum(len(c.gaps) for c in cs) >= 2))
        assert src.meta["lost_samples"] == 103
    assert [g.n_missing for g in gaps] == [3, 100]
    assert all(g.fs == 250.0 and "dropped" in g.reason for g in gaps)
    assert emu.packets_dropped == 103
    _assert_matches_input(seqs, data, x, [24] * 8)  # seq stays aligned with the signal


def test_fault_requests_stay_separate_whatever_the_thread_timing(cyton_emulator):
    """Requests made in one go (before the emulator thread runs) are not merged: two
    drop calls are two gaps, and junk pieces land before separate packets."""
    x = random_uv(5000, 8, seed=10)
    emu = cyton_emulator(x)
    junk = [b"\xa0\x01\x02\xc0\xa0", b"\xc0" * 5, b"\xa0" * 3] * 4

    def faults(chunk, total):
        if total >= 100 and not emu.packets_dropped and not faults.done:
            faults.done = True
            emu.drop_packets(3)
            emu.drop_packets(5)
            for j in junk:
                emu.inject_junk(j)
    faults.done = False

    with CytonSource(emu.port_name) as src:
        seqs, data, gaps = assemble(collect(
            src, 300, on_chunk=faults, until=lambda cs: sum(len(c.gaps) for c in cs) >= 2
            and src.meta["junk_bytes"] >= sum(map(len, junk))))
        assert src.meta["junk_bytes"] == sum(map(len, junk))  # every byte skipped, none taken
    assert [g.n_missing for g in gaps] == [3, 5] and emu.packets_dropped == 8
    _assert_matches_input(seqs, data, x, [24] * 8)


def test_a_paused_reader_is_not_a_lost_link(cyton_emulator):
    """Regression: when the host stops running the reader for a while (load, swapping)
    the device's bytes wait in the OS buffers. The first read after the pause returns
    part of them late; that used to look like a silent link whose counter had wrapped
    (a phantom 256-sample gap) or, with a short stall_s, like a lost link."""
    x = random_uv(3000, 8, seed=11)
    emu = cyton_emulator(x, speed=4)
    src = CytonSource(emu.port_name, stall_s=0.5)
    put, paused = src._put, []

    def pausing_put(item):  # the reader thread is not scheduled for 1.5 s, once
        if item[0] == "data" and not paused:
            paused.append(time.monotonic())
            time.sleep(1.5)
        put(item)
    src._put = pausing_put

    with src:
        seqs, data, gaps = assemble(collect(src, 1000))
        assert src.meta["disconnects"] == []
    assert paused and gaps == [] and emu.packets_overflowed == 0
    _assert_matches_input(seqs, data, x, [24] * 8)


def test_daisy_16_channels_at_125_hz(cyton_emulator):
    x = random_uv(3000, 16, seed=5)
    emu = cyton_emulator(x, daisy=True)
    dropped = []

    def drop(chunk, total):
        if total >= 400 and not dropped:
            dropped.append(total)
            emu.drop_packets(1)

    with CytonSource(emu.port_name) as src:
        assert src.fs == 125.0 and len(src.ch_names) == 16 and src.meta["daisy"]
        seqs, data, gaps = assemble(collect(src, 1200, on_chunk=drop,
                                            until=lambda cs: samples_after_gap(cs) >= 100))
    assert emu.commands[3:19] == [cp.channel_command(ch).decode() for ch in range(1, 17)]
    assert [g.n_missing for g in gaps] == [1]      # one lost packet = one lost 16-ch row
    _assert_matches_input(seqs, data, x, [24] * 16)


def test_daisy_off_uses_8_channels_at_250_hz(cyton_emulator):
    x = random_uv(2000, 16, seed=6)
    emu = cyton_emulator(x, daisy=True)
    with CytonSource(emu.port_name, daisy=False) as src:
        assert (src.fs, len(src.ch_names)) == (250.0, 8)
        seqs, data, gaps = assemble(collect(src, 500))
    assert "c" in emu.commands[:4] and gaps == []
    _assert_matches_input(seqs, data, x, [24] * 8)


def test_a_second_program_cannot_share_the_open_port(cyton_emulator):
    """Regression: another process opening the same tty (a GUI, a second emgpipe, a test
    harness reopening a recycled /dev/pts/N) used to get a random share of the bytes:
    replies vanished mid-handshake and the emulator saw foreign bytes as commands."""
    import serial
    x = random_uv(2000, 8, seed=9)
    emu = cyton_emulator(x)
    with CytonSource(emu.port_name) as src:
        with pytest.raises(DeviceError, match=re.escape(f"serial port {emu.port_name} is busy: "
                                                        "another program has it open")) as busy:
            open_serial(emu.port_name, "cyton:second", cp.BAUD, 0.1)
        assert type(busy.value) is DeviceError     # not a permission problem (no EACCES)
        with pytest.raises(serial.SerialException, match="exclusively lock"):
            serial.Serial(emu.port_name, cp.BAUD, exclusive=True)
        seqs, data, gaps = assemble(collect(src, 400))
    assert gaps == [] and emu.commands[:12] == ["s", "v", "d", *EMG_COMMANDS, "b"]
    _assert_matches_input(seqs, data, x, [24] * 8)
    with open_serial(emu.port_name, "cyton:again", cp.BAUD, 0.1):  # free again once closed
        pass


def test_emulator_drops_an_incomplete_channel_command_after_1_s(cyton_emulator, monkeypatch):
    from emgpipe.devices.cyton import emulator as em
    monkeypatch.setattr(em, "MULTI_BYTE_TIMEOUT_S", 0.1)  # firmware: 1 s (protocols.md §1.3)
    emu = cyton_emulator()
    with open_serial(emu.port_name, "cyton:test", cp.BAUD, 0.05) as ser:
        src = CytonSource(emu.port_name)
        t0 = time.monotonic()
        assert src._ask(ser, b"x1") == em.MULTI_BYTE_TIMEOUT_REPLY  # a truncated command
        assert time.monotonic() - t0 >= 0.1
        assert "Firmware: v3.1.2" in src._ask(ser, b"v")  # not swallowed as parameters
    assert emu.commands == ["v"]


def test_board_off_is_reported_clearly(cyton_emulator):
    emu = cyton_emulator()
    emu.board_on = False
    with pytest.raises(DeviceNotFound, match="dongle found but Cyton is off: switch the board on"):
        CytonSource(emu.port_name, reply_timeout=1.0).open()


def test_missing_port_lists_the_available_ones(tmp_path):
    port = str(tmp_path / "ttyUSB9")
    with pytest.raises(DeviceNotFound) as err:
        CytonSource(port).open()
    msg = str(err.value)
    assert msg.startswith(f"cyton:{port}: serial port not found: {port}; ")
    assert "available ports: " in msg or "no serial ports found" in msg
    assert "\n" not in msg


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores permissions")
def test_permission_denied_names_the_fix(cyton_emulator):
    emu = cyton_emulator()
    os.chmod(os.path.realpath(emu.port_name), 0)
    with pytest.raises(DevicePermission, match="dialout|driver|another program"):
        CytonSource(emu.port_name).open()


@pytest.mark.parametrize("exc, platform, cls, words", [
    (OSError(errno.EACCES, "Permission denied"), "linux", DevicePermission, "dialout"),
    (OSError(errno.EACCES, "Permission denied"), "darwin", DevicePermission, "FTDI"),
    (Exception("could not open port 'COM7': PermissionError(13, 'Access is denied.')"), "win32",
     DevicePermission, "another program"),
    (Exception("could not open port 'COM9': FileNotFoundError(2, 'The system cannot find the "
               "file specified.')"), "win32", DeviceNotFound, "not found"),
    (OSError(errno.EBUSY, "Device or resource busy"), "linux", DeviceError, "PORT is busy"),
    (OSError(errno.EAGAIN, "Could not exclusively lock port /dev/ttyUSB0: [Errno 11] Resource "
             "temporarily unavailable"), "linux", DeviceError, "PORT is busy"),
])
def test_port_errors_on_every_os(exc, platform, cls, words):
    err = port_error("cyton:PORT", "PORT", exc, platform=platform)
    assert type(err) is cls and words in str(err) and str(err).startswith("cyton:PORT: ")


def test_unplug_replug_reconnects_and_reports_the_lost_time(cyton_emulator):
    x = random_uv(6000, 8, seed=7)
    emu = cyton_emulator(x, speed=10)
    events, state = [], {}

    def unplug(chunk, total):
        if total >= 500 and "t" not in state:
            state["t"] = time.monotonic()
            emu.unplug()
            threading.Timer(0.3, emu.replug).start()

    src = CytonSource(emu.port_name, reconnect_s=5.0)
    src.link_listeners.append(events.append)
    with src:
        seqs, data, gaps = assemble(collect(src, 1500, on_chunk=unplug,
                                            until=lambda cs: samples_after_gap(cs) >= 300))
        disc = src.meta["disconnects"]
    assert [e["event"] for e in events] == ["disconnect", "reconnect"]
    assert len(gaps) == 1 and gaps[0].reason.startswith("reconnect")
    g = gaps[0]
    assert 0.3 * 250 <= g.n_missing <= 2.0 * 250
    assert g.n_missing == events[1]["n_missing"] == round(events[1]["elapsed_s"] * 250)
    assert disc == [{"lost_at": events[0]["time"], "reason": events[0]["reason"],
                     "seq": g.seq, "reconnected_at": events[1]["time"], "n_missing": g.n_missing}]
    assert "read failed" in events[0]["reason"]
    assert emu.commands.count("v") == 2 and emu.commands.count("b") == 2
    before, after = seqs < g.seq, seqs >= g.seq + g.n_missing
    _assert_matches_input(seqs[before], data[before], x, [24] * 8)
    _assert_matches_input(seqs[after] - (g.seq + g.n_missing), data[after], x, [24] * 8,
                          start=emu.stream_starts[-1])


def test_board_switched_off_mid_stream_is_a_stall_then_reconnect(cyton_emulator):
    x = random_uv(4000, 8, seed=8)
    emu = cyton_emulator(x, speed=5)
    state = {}

    def power_cycle(chunk, total):
        if total >= 300 and not state:
            state["off"] = True
            emu.board_on = False
            threading.Timer(0.5, setattr, (emu, "board_on", True)).start()

    with CytonSource(emu.port_name, stall_s=0.2, reply_timeout=0.3, reconnect_s=5) as src:
        seqs, data, gaps = assemble(collect(src, 800, on_chunk=power_cycle,
                                            until=lambda cs: samples_after_gap(cs) >= 200))
        assert src.meta["disconnects"][0]["reason"] == "no data for 0.2 s"
    assert len(gaps) == 1 and 0.5 * 250 <= gaps[0].n_missing <= 2.5 * 250
    assert any("Failure" in c or c == "v" for c in emu.commands[12:])


def test_gives_up_after_reconnect_s(cyton_emulator):
    emu = cyton_emulator(random_uv(1000, 8), speed=5)
    events = []
    src = CytonSource(emu.port_name, reconnect_s=0.3)
    src.link_listeners.append(events.append)
    with src:
        t0 = time.monotonic()
        with pytest.raises(StreamLost, match="could not reconnect within 0.3 s"):
            collect(src, 10 ** 6, timeout=5.0, on_chunk=lambda c, n: n > 100 and emu.unplug())
        assert time.monotonic() - t0 < 3.0
    assert [e["event"] for e in events] == ["disconnect", "gave_up"]


def test_stop_ends_iteration(cyton_emulator):
    emu = cyton_emulator(random_uv(1000, 8))
    with CytonSource(emu.port_name) as src:
        n = 0
        for chunk in src:
            n += chunk.n_samples
            if n > 100:
                src.stop()
    assert n > 100


def test_emulator_command_line_entry(tmp_path, capsys):
    from emgpipe.devices.cyton.emulator import main
    link = tmp_path / "ttyFAKE"
    assert main(["--duration", "0.2", "--link", str(link), "--daisy"]) == 0
    out = capsys.readouterr().out
    assert f"16 channels, 125 Hz) on {link}" in out and f"cyton:{link}" in out
    assert not link.exists()  # the port vanishes when the emulator stops
