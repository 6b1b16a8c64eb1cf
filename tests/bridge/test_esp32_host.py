"""The ESP32 sketch's board-independent part, compiled and run on the host.

No ESP32 (xtensa) toolchain is reachable here, so bridge_esp32.ino itself (timer, FreeRTOS
sampling task, BLE, Serial) is not compiled. What does not depend on the board is:
bridge_esp32/ports.cpp (the two transports, commands, STATUS, DATA framing from the sample
ring, the button answer on every connected transport) and the EmgBridge library it shares
with the AVR sketch (frame codec; button, motor and LED code). g++ builds them with warnings
as errors against a host <Arduino.h> that only records pins (firmware_bridge/tests/host/),
and firmware_bridge/tests/host/esp32_host.cpp plays the board part. The frames it sends are
decoded by emgpipe's own codec.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from emgpipe.devices.bridge.protocol import (AckFrame, Board, ButtonFrame, DataFrame, Flag,
                                             FrameDecoder, FrameType, Press, Reason, Result,
                                             StatusFrame, encode_ack, encode_command)
from tests.bridge.bridge_helpers import FW
from tests.bridge.conftest import _sanitizer_flags

LIB_SRC = FW / "libraries" / "EmgBridge" / "src"
HOST = FW / "tests" / "host"
ESP = FW / "bridge_esp32"
CXX_FLAGS = ["-std=c++11", "-Wall", "-Wextra", "-Wpedantic", "-Wconversion", "-Wshadow",
             "-Werror", f"-I{HOST}", f"-I{LIB_SRC}", f"-I{ESP}"]
HAPTIC, BUTTON, LED = 25, 27, 2
RAW_PIN, REF_PIN, ENV_PIN = 32, 33, 39       # A4, A5, A3 on the generic ESP32 boards


def _build(tmp: Path, defines=()) -> Path:
    gcc, gxx = shutil.which("gcc"), shutil.which("g++")
    if not (gcc and gxx):
        pytest.skip("gcc/g++ not found: the ESP32 sketch's host part cannot be built")
    san = _sanitizer_flags(gcc, tmp)
    objs = []
    r = subprocess.run([gcc, "-std=c99", "-Wall", "-Wextra", "-Werror", *san, "-c",
                        str(LIB_SRC / "emgframe.c"), "-o", str(tmp / "emgframe.o")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    objs.append(str(tmp / "emgframe.o"))
    for src in (ESP / "ports.cpp", LIB_SRC / "EmgBoardIO.cpp", HOST / "esp32_host.cpp"):
        obj = tmp / (src.name + ".o")
        r = subprocess.run([gxx, *CXX_FLAGS, *defines, *san, "-c", str(src), "-o", str(obj)],
                           capture_output=True, text=True)
        assert r.returncode == 0, f"{src.name}:\n{r.stderr}"
        objs.append(str(obj))
    exe = tmp / "esp32_host"
    r = subprocess.run([gxx, *san, *objs, "-o", str(exe)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return exe


@pytest.fixture(scope="module")
def esp32(tmp_path_factory) -> Path:
    return _build(tmp_path_factory.mktemp("esp32host"))


class Run:
    """One run of the host program: commands in, frames per transport and pin events out."""

    def __init__(self, exe: Path, script: list):
        r = subprocess.run([str(exe)], input="\n".join(script) + "\n", capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0 and not r.stderr, r.stderr[-3000:]
        self.lines = r.stdout.splitlines()
        self.frames = {0: [], 1: []}
        self.decoders = {0: FrameDecoder(), 1: FrameDecoder()}
        self.pins = []
        for i, line in enumerate(self.lines):
            kind, *rest = line.split()
            if kind == "tx":
                t = int(rest[0])
                frames = self.decoders[t].feed(bytes.fromhex(rest[1]))
                assert len(frames) == 1, line           # board_write gets one whole frame
                self.frames[t].append((i, frames[0]))
            elif kind in ("mode", "dw", "pwm"):
                self.pins.append((i, kind, int(rest[0]), int(rest[1])))
            else:
                assert kind == "clock", line
        for d in self.decoders.values():
            assert d.stats.bad_frames == 0

    def of(self, t: int, cls) -> list:
        return [f for _, f in self.frames[t] if isinstance(f, cls)]


def cmd(t: int, ftype: FrameType, seq: int, **kw) -> str:
    return f"rx {t} {encode_command(ftype, seq, **kw).hex()}"


def expected_samples(first: int, n: int) -> np.ndarray:
    k = np.arange(first, first + n)
    return np.stack([(k % 2001) - 1000, k % 4096], axis=1)


def test_boot_pins_and_status(esp32):
    run = Run(esp32, ["begin 305419896", cmd(0, FrameType.IDENTIFY, 7), "loop"])
    modes = {(p, m) for _, kind, p, m in run.pins if kind == "mode"}
    assert modes == {(LED, 3), (HAPTIC, 3), (BUTTON, 5)}   # OUTPUT, OUTPUT, INPUT_PULLUP
    assert not {p for p, _ in modes} & {RAW_PIN, REF_PIN, ENV_PIN}   # sensor inputs untouched
    boot, ident = run.of(0, StatusFrame)
    assert boot.reason == Reason.BOOT and ident.reason == Reason.IDENTIFY
    assert (boot.board, boot.adc_bits, boot.vref_mv, boot.fs_hz, boot.n_ch) == (Board.ESP32, 12, 3300, 1000, 2)
    assert boot.boot_id == 305419896 and boot.samples_per_frame == 10 and boot.max_fs_hz == 2000
    assert boot.has(Flag.USB) and boot.has(Flag.HAPTIC) and not boot.has(Flag.STREAMING)
    [ack] = run.of(0, AckFrame)
    assert (ack.cmd_type, ack.cmd_seq, ack.result) == (FrameType.IDENTIFY, 7, Result.OK)
    blink = [v for _, kind, p, v in run.pins if kind == "dw" and p == LED]
    assert blink == [1]                                    # the identify blink began
    assert run.frames[1] == []                             # no BLE central: nothing on BLE


def test_streams_on_serial_and_ble_with_their_own_batches(esp32):
    script = ["begin 1", "connect 1 1", cmd(0, FrameType.START, 1), cmd(1, FrameType.START, 1),
              "loop", "tick 100", "ms 10"] + ["loop"] * 12
    run = Run(esp32, script)
    for t, spf in ((0, 10), (1, 25)):
        data = run.of(t, DataFrame)
        assert [d.n_samples for d in data] == [spf] * (100 // spf)
        assert [d.first_sample for d in data] == list(range(0, 100, spf))
        got = np.concatenate([d.samples for d in data])
        np.testing.assert_array_equal(got, expected_samples(0, 100))
        seqs = [f.seq for _, f in run.frames[t]]
        assert seqs == list(range(len(seqs)))              # each transport counts its own frames
        st = [s for s in run.of(t, StatusFrame) if s.reason == Reason.START][0]
        assert st.has(Flag.STREAMING) and st.has(Flag.BLE if t else Flag.USB)


def test_buzz_runs_the_motor_and_status_says_so(esp32):
    script = ["begin 1", "ms 1000", cmd(0, FrameType.BUZZ, 3, duration_ms=600, strength=200), "loop",
              cmd(0, FrameType.IDENTIFY, 4), "loop", "ms 1600", "loop", cmd(0, FrameType.IDENTIFY, 5), "loop"]
    run = Run(esp32, script)
    assert [(p, v) for _, kind, p, v in run.pins if kind == "pwm"] == [(HAPTIC, 200), (HAPTIC, 0)]
    acks = run.of(0, AckFrame)
    assert [(a.cmd_type, a.cmd_seq, a.result) for a in acks] == [
        (FrameType.BUZZ, 3, Result.OK), (FrameType.IDENTIFY, 4, Result.OK), (FrameType.IDENTIFY, 5, Result.OK)]
    during, after = [s for s in run.of(0, StatusFrame) if s.reason == Reason.IDENTIFY]
    assert during.has(Flag.BUZZING) and not after.has(Flag.BUZZING)


def test_motor_stops_on_time(esp32):
    """Off exactly when the time is up: 600 ms, and 5000 ms for a longer request."""
    def off_after(duration_ms, probe_ms):
        run = Run(esp32, ["begin 1", "ms 1000", cmd(0, FrameType.BUZZ, 1, duration_ms=duration_ms,
                                                     strength=90), "loop", f"ms {1000 + probe_ms}", "loop"])
        return [v for _, kind, p, v in run.pins if kind == "pwm"]
    assert off_after(600, 599) == [90]
    assert off_after(600, 600) == [90, 0]
    assert off_after(60000, 4999) == [90]
    assert off_after(60000, 5000) == [90, 0]


def test_no_motor_answers_unsupported(tmp_path):
    exe = _build(tmp_path, ["-DHAPTIC_PIN=-1"])
    run = Run(exe, ["begin 1", cmd(0, FrameType.BUZZ, 9, duration_ms=500, strength=255), "loop"])
    [ack] = run.of(0, AckFrame)
    assert ack.result == Result.UNSUPPORTED
    assert not [p for p in run.pins if p[1] == "pwm"]
    assert not run.of(0, StatusFrame)[0].has(Flag.HAPTIC)


def press(t0: int, held_ms: int, step: int = 5) -> list:
    """The button pressed at t0 for held_ms, loop() every step ms, then 100 ms released."""
    out = [f"ms {t0}", f"pin {BUTTON} 0", "loop"]
    t = t0
    while t < t0 + held_ms:
        t += step
        out += [f"ms {t}", "loop"]
    out += [f"pin {BUTTON} 1"]
    for _ in range(100 // step):
        t += step
        out += [f"ms {t}", "loop"]
    return out


def test_button_presses_go_to_every_connected_transport(esp32):
    script = ["begin 1", "connect 1 1", "tick 1234"] + press(1000, 200) + press(3000, 1500)
    script += ["connect 1 0"] + press(6000, 300)
    run = Run(esp32, script)
    serial = run.of(0, ButtonFrame)
    ble = run.of(1, ButtonFrame)
    assert [(b.press, b.sample) for b in serial] == [(Press.SHORT, 1234), (Press.LONG, 1234),
                                                      (Press.SHORT, 1234)]
    assert [b.press for b in ble] == [Press.SHORT, Press.LONG]   # BLE dropped before the third
    assert 195 <= serial[0].held_ms <= 205 and serial[1].held_ms == 1000
    assert [b.answer for b in serial] == ["not_cramp", "cramp", "not_cramp"]


def test_rates_unknown_commands_and_overrun(esp32):
    script = ["begin 1", cmd(0, FrameType.SET_RATE, 1, fs_hz=2000), "loop",
              cmd(0, FrameType.SET_RATE, 2, fs_hz=3000), cmd(0, FrameType.SET_RATE, 3, fs_hz=300),
              f"rx 0 {encode_ack(4, FrameType.IDENTIFY, 1, 0).hex()}",        # not a command
              cmd(0, FrameType.START, 5), "loop", "tick 600", "ms 5", "loop", "late 3", "ms 1200", "loop"]
    run = Run(esp32, script)
    acks = [(a.cmd_type, a.result) for a in run.of(0, AckFrame)]
    assert acks == [(FrameType.SET_RATE, Result.OK), (FrameType.SET_RATE, Result.BAD_ARGUMENT),
                    (FrameType.SET_RATE, Result.BAD_ARGUMENT), (FrameType.ACK, Result.UNKNOWN_COMMAND),
                    (FrameType.START, Result.OK)]
    assert [line for line in run.lines if line.startswith("clock")] == ["clock 1000", "clock 2000"]
    data = run.of(0, DataFrame)
    assert data[0].fs_hz == 2000 and data[0].n_samples == 20      # 10 ms at 2 kHz
    assert data[0].first_sample == 600 - 256                      # a ring behind: skipped to half a ring
    got = np.concatenate([d.samples for d in data])              # one frame per loop()
    assert len(got) == 40
    np.testing.assert_array_equal(got, expected_samples(600 - 256, len(got)))
    periodic = [s for s in run.of(0, StatusFrame) if s.reason == Reason.PERIODIC][-1]
    assert periodic.overruns == 600 - 256 and periodic.has(Flag.TIMING_FAULT)


def test_button_pin_cannot_be_a_sensor_input(tmp_path):
    """GPIO 32 is A4 (the RAW input) on the generic ESP32 boards: refused at compile time."""
    if not shutil.which("g++"):
        pytest.skip("g++ not found")
    r = subprocess.run([shutil.which("g++"), *CXX_FLAGS, "-DBUTTON_PIN=32", "-fsyntax-only",
                        str(ESP / "ports.cpp")], capture_output=True, text=True)
    assert r.returncode != 0 and "BUTTON_PIN is a sensor, motor or LED pin" in r.stderr
