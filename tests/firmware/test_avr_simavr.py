"""The Uno firmware runs (issue 16 part 4): bridge_avr, built with avr-gcc, in simavr.

firmware_bridge/tests/simavr/avrsim.c loads the firmware ELF into simavr's ATmega328P at
16 MHz, feeds its ADC inputs from a recording (one row per millisecond of simulated time),
connects its UART to a pseudo-terminal, presses the answer button on D2 and watches the
motor pin D5. ``emgpipe live --source bridge:<pty> --alert haptic`` runs against it as
against a board on USB. Checked: every frame the firmware sent decodes (no CRC or other
errors), the samples are exactly the fed recording through a 10-bit ADC (none lost, none
repeated), the cramp in the recording is caught on the right calf, the alert's BUZZ drives
the motor pin for its duration, and a long press arrives as a BUTTON frame that labels the
cramp. Skips with the reason when simavr, its headers or avr-gcc are missing (Debian:
simavr libsimavr-dev gcc-avr avr-libc arduino-core-avr).

EMGPIPE_SIMAVR_SPEED (default 3) sets how many times faster than a real board the simulation
may run; the UART's timing is simulated at 500 kbaud whatever it is.
"""
from __future__ import annotations

import csv
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from emgpipe import sim
from emgpipe.devices.bridge.protocol import (Board, ButtonFrame, DataFrame, Flag, FrameDecoder,
                                             FrameType, Press, Reason, StatusFrame)
from tests.firmware import avr_build as avr

SIMAVR_DIR = avr.FW / "tests" / "simavr"
SIMAVR_INC = Path("/usr/include/simavr")
SPEED = float(os.environ.get("EMGPIPE_SIMAVR_SPEED", "3"))
FS = 1000
#: the part of walk_then_cramp (seed 2) fed to the firmware: after the walk, rest and a short
#: stand, then the right calf cramps 16.25 s in (labels: 41.25 s in the scenario).
CUT_S = (25.0, 62.0)
CRAMP_S = 41.25 - CUT_S[0]
LIVE_S = 28.0
PRESS_MS, HELD_MS = 24000, 1500          # a long press ("cramp") after the alert


def adc_counts(mv: np.ndarray) -> np.ndarray:
    """simavr's 10-bit conversion with the AVcc (5 V) reference: floor(mV * 1023 / 5000)."""
    return np.floor(np.asarray(mv, dtype=np.float64) * 1023 / 5000).astype(np.int64)


def _make_adc():
    """firmware_bridge/tests/simavr/make_adc.py (µV -> the Uno's A0..A5 in mV)."""
    spec = importlib.util.spec_from_file_location("make_adc", SIMAVR_DIR / "make_adc.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def avrsim(tmp_path_factory) -> Path:
    gcc = shutil.which("gcc")
    if not (gcc and (SIMAVR_INC / "sim_avr.h").exists()):
        pytest.skip("simavr's headers are not installed (apt-get install simavr libsimavr-dev)")
    exe = tmp_path_factory.mktemp("avrsim") / "avrsim"
    r = subprocess.run([gcc, "-O2", "-std=gnu99", "-Wall", "-Wextra", "-Werror", f"-I{SIMAVR_INC}",
                        f"-I{avr.LIB_SRC}", str(SIMAVR_DIR / "avrsim.c"), str(avr.LIB_SRC / "emgframe.c"),
                        "-lsimavr", "-lutil", "-o", str(exe)], capture_output=True, text=True)
    if r.returncode != 0 and "cannot find -lsimavr" in r.stderr:
        pytest.skip("libsimavr is not installed (apt-get install libsimavr-dev)")
    assert r.returncode == 0, r.stderr
    return exe


@pytest.fixture(scope="module")
def firmware(tmp_path_factory) -> Path:
    """bridge_avr for two sensors (both calves) with ENV, as the tests' avr-gcc build makes it."""
    if not avr.have_avr():
        pytest.skip(avr.SKIP_REASON)
    out = tmp_path_factory.mktemp("fw")
    return avr.link_sketch(list(avr.shared_core_objects()), out / "two", "-DN_SENSORS=2")


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """µV of both calves and the ADC input rows (mV on A0..A5) made from them."""
    s = sim.make("walk_then_cramp", fs=FS, seed=2)
    assert s.ch_names == ("calf_left", "calf_right")
    x = np.concatenate([d for _, d in s.segments(10.0)])[int(CUT_S[0] * FS):int(CUT_S[1] * FS)]
    rows = _make_adc().adc_rows(x)
    path = tmp_path_factory.mktemp("rec") / "walk_cut.u16"
    rows.tofile(path)
    return x, rows, path


def run_firmware_with_live(avrsim, firmware, rec_path, tmp: Path):
    link, capture = tmp / "bridge0", tmp / "uart.bin"
    sim_proc = subprocess.Popen(
        [str(avrsim), "--elf", str(firmware), "--adc", str(rec_path), "--fs", str(FS),
         "--link", str(link), "--capture", str(capture), "--speed", str(SPEED),
         "--press", f"{PRESS_MS}:{HELD_MS}", "--from-start", "--duration", "120"],
        stdout=subprocess.PIPE, stderr=(tmp / "avrsim.err").open("w"), text=True)
    try:
        first = ""
        while not first.startswith("pty "):           # simavr says "Loaded ..." first
            first = sim_proc.stdout.readline()
            assert first, (tmp / "avrsim.err").read_text()
        events, answers = tmp / "live.events.csv", tmp / "answers.json"
        t0 = time.monotonic()
        live = subprocess.run(
            [sys.executable, "-m", "emgpipe", "live", "--source",
             f"bridge:{link}?names=calf_left,calf_right", "--no-ui", "--mode", "awake",
             "--duration", str(LIVE_S), "--events-out", str(events), "--alert", "haptic",
             "--answers", str(answers)],
            capture_output=True, text=True, timeout=120, cwd=tmp)
        wall = time.monotonic() - t0
    finally:
        sim_proc.send_signal(signal.SIGTERM)
        out, _ = sim_proc.communicate(timeout=30)
    log = (first + out).splitlines()
    return live, wall, log, capture.read_bytes(), events, answers


def parse_log(lines: list) -> list:
    """avrsim's lines as (t, kind, rest)."""
    out = []
    for line in lines:
        m = re.match(r"t=([\d.]+) (\w+) ?(.*)$", line)
        if m:
            out.append((float(m.group(1)), m.group(2), m.group(3)))
    return out


@pytest.fixture(scope="module")
def session(avrsim, firmware, recording, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("simavr")
    # no warm-up: on a fresh install `emgpipe live` compiles its kernels before it opens
    # the port (prepare_kernels), so the timed session is what a user's first one is
    live, wall, log, uart, events, answers = run_firmware_with_live(avrsim, firmware, recording[2], tmp)
    assert live.returncode == 0, live.stderr[-3000:]
    return {"live": live, "wall": wall, "log": parse_log(log), "raw_log": log, "uart": uart,
            "events": list(csv.DictReader(events.open())), "answers": answers}


def decoded(session):
    dec = FrameDecoder()
    frames = dec.feed(session["uart"])
    return dec, frames


def test_frames_decode_without_errors_and_carry_the_recording(session, recording):
    x, rows, _ = recording
    dec, frames = decoded(session)
    assert dec.stats.bad_frames == 0 and dec.stats.crc == 0, dec.stats.as_dict()
    status = [f for f in frames if isinstance(f, StatusFrame)]
    assert status[0].reason == Reason.BOOT and status[0].board == Board.AVR
    assert all(s.n_ch == 4 and s.fs_hz == FS and s.overruns == 0 and not s.has(Flag.TIMING_FAULT)
               for s in status)
    data = [f for f in frames if isinstance(f, DataFrame)]
    start = next(i for i, f in enumerate(frames) if isinstance(f, StatusFrame) and f.reason == Reason.START)
    data = [f for f in frames[start:] if isinstance(f, DataFrame)]
    assert len(data) >= LIVE_S * FS / 10                      # 10 samples per frame
    firsts = np.array([d.first_sample for d in data])
    assert np.all(np.diff(firsts) == 10)                      # not one sample lost or repeated
    got = np.concatenate([d.samples for d in data]).astype(np.int64)
    # the same samples as the recording through the ADC: RAW - REF and ENV of each sensor
    want = np.stack([adc_counts(rows[:, 0]) - adc_counts(rows[:, 1]), adc_counts(rows[:, 2]),
                     adc_counts(rows[:, 3]) - adc_counts(rows[:, 4]), adc_counts(rows[:, 5])], axis=1)
    # Each column is the recording one for one. The rows change on a 1 ms grid of simulated
    # time whose phase to the firmware's Timer1 ticks is fixed but unknown: the conversions of
    # one tick are 104 us apart, so the first of them may still see the previous row.
    n = min(len(got), len(want)) - 20
    offsets = []
    for c in range(4):
        exact = [k for k in range(-2, 4) if np.array_equal(got[50:n, c], want[50 + k:n + k, c])]
        assert len(exact) == 1, f"column {c}: the firmware's samples are not the fed recording"
        offsets.append(exact[0])
    assert max(offsets) - min(offsets) <= 1
    assert np.abs(got[:, [0, 2]]).max() > 10                 # the cramp is in there, not just rest
    print(f"\nsimavr: {len(frames)} frames ({len(data)} DATA, {len(got)} samples x 4 ch), "
          f"{dec.stats.bytes_in} bytes, 0 bad; each column = recording row + {offsets}")


def test_the_cramp_is_caught_on_the_right_calf(session):
    cramps = [e for e in session["events"] if e["kind"] == "cramp"]
    assert [e["channel"] for e in cramps] == ["calf_right"], session["events"]
    alert = float(cramps[0]["alert_s"])
    assert CRAMP_S < alert < CRAMP_S + 6.0
    summary = session["live"].stderr.strip().splitlines()[-1]
    assert f"duration reached after {LIVE_S:.1f} s of signal" in summary, summary
    assert re.search(r"\b1 cramp\b", summary) and re.search(r"\b[12] alert\(s\)", summary), summary


def test_the_alert_drives_the_buzzer_pin(session):
    log = session["log"]
    start_t = next(t for t, kind, rest in log if kind == "cmd" and rest.startswith(f"0x{FrameType.START:02x}"))
    buzzes = [(t, rest.split()) for t, kind, rest in log if kind == "cmd" and rest.startswith(f"0x{FrameType.BUZZ:02x}")]
    assert buzzes, session["raw_log"]
    on = [(t, int(rest)) for t, kind, rest in log if kind == "buzz" and rest.startswith("on")
          for rest in [rest.split()[1]]]
    off = [t for t, kind, rest in log if kind == "buzz" and rest == "off"]
    t_cmd, (_, _, ms, strength) = buzzes[0][0], buzzes[0][1]
    t_on, duty = on[0]
    assert 0 <= t_on - t_cmd < 0.005                    # the firmware drives D5 within 5 ms
    assert duty == int(strength) and duty > 0
    assert abs((off[0] - t_on) - int(ms) / 1000) < 0.003  # for the requested time
    # the alert's stream time on the firmware's clock: samples count from the START
    cramp = next(e for e in session["events"] if e["kind"] == "cramp")
    t_alert = start_t + float(cramp["alert_s"])
    latency = t_on - t_alert
    assert -0.05 < latency < 1.5, (
        f"latency {latency:.3f} s (simulated), the live run took {session['wall']:.1f} s wall; firmware log:\n"
        + "\n".join(ln for ln in session["raw_log"] if " cmd " in ln or " buzz " in ln or " button " in ln)
        + "\nlive stderr:\n" + session["live"].stderr[-4000:])
    print(f"\nsimavr: alert at stream {float(cramp['alert_s']):.3f} s -> BUZZ received "
          f"{(t_cmd - t_alert) * 1000:.0f} ms later (simulated time, speed x{SPEED:g}) -> "
          f"D5 driven {(t_on - t_cmd) * 1e3:.2f} ms after the command, for {(off[0] - t_on) * 1e3:.0f} ms")


def test_a_button_press_arrives_as_a_frame_and_labels_the_cramp(session):
    log = session["log"]
    down = [t for t, kind, rest in log if kind == "button" and rest == "down"]
    up = [t for t, kind, rest in log if kind == "button" and rest == "up"]
    assert len(down) == len(up) == 1 and abs((up[0] - down[0]) - HELD_MS / 1000) < 0.001
    _, frames = decoded(session)
    presses = [f for f in frames if isinstance(f, ButtonFrame)]
    assert [p.press for p in presses] == [Press.LONG]         # sent once, when held 1 s:
    # held_ms is millis() since the debounced press when the loop sees 1 s: the Uno's
    # millis() skips a value every 42 or 43 ms (1.024 ms ticks), and a loop pass may
    # first wait on the 64-byte serial buffer while a status and a data frame go out
    # (~100 bytes at 500 kbaud, 2 ms): a fresh-clone CI saw 1003
    assert 1000 <= presses[0].held_ms <= 1010
    start = next(f for f in frames if isinstance(f, StatusFrame) and f.reason == Reason.START)
    # pressed PRESS_MS after START; reported once held 1 s (sample counter at 1 kHz)
    assert abs(presses[0].sample - (start.next_sample + PRESS_MS + 1000)) <= 20
    cramp = next(e for e in session["events"] if e["kind"] == "cramp")
    [stored] = json.loads(session["answers"].read_text())     # the wearer's answer, kept
    assert (stored["answer"], stored["source"], stored["channel"]) == ("cramp", "button", "calf_right")
    assert stored["alert_s"] == pytest.approx(float(cramp["alert_s"]))
    assert cramp["label"] == "cramp"                          # and written into the events file
    assert "answer:" in session["live"].stderr


def test_a_press_held_while_the_motor_stops_is_still_one_long_press(avrsim, firmware, recording, tmp_path):
    """The wearer presses while the buzz runs: the motor going off (a write to port D, which
    also holds the button's pin) must not end the press. A bare host, no detector: START, a
    1 s BUZZ at once, the button held 1.5 s from 0.5 s (across the motor stopping at ~1 s)."""
    import serial

    from emgpipe.devices.bridge.protocol import encode_command

    link = tmp_path / "bridge0"
    proc = subprocess.Popen(
        [str(avrsim), "--elf", str(firmware), "--adc", str(recording[2]), "--fs", str(FS),
         "--link", str(link), "--capture", str(tmp_path / "uart.bin"), "--speed", str(SPEED),
         "--press", "500:1500", "--from-start", "--duration", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        first = ""
        while not first.startswith("pty "):                   # simavr says "Loaded ..." first
            first = proc.stdout.readline()
            assert first, "avrsim ended before its pty was ready"
        frames, dec = [], FrameDecoder()
        with serial.Serial(str(link), timeout=0.05) as port:
            port.write(encode_command(FrameType.START, 1))
            port.write(encode_command(FrameType.BUZZ, 2, duration_ms=1000, strength=180))
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not any(isinstance(f, ButtonFrame) for f in frames):
                frames += dec.feed(port.read(4096))
            # the LONG frame comes once the press has lasted 1 s: read on until the
            # simulated time is past the release (2.0 s) and 0.3 s more, for a second
            # BUTTON frame if any (simulated time, not wall time: under load the
            # simulator runs slower than asked)
            past = int(2.3 * FS)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not any(
                    isinstance(f, DataFrame) and f.first_sample + len(f.samples) >= past for f in frames):
                frames += dec.feed(port.read(4096))
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    log = parse_log((first + out).splitlines())
    on = [t for t, kind, rest in log if kind == "buzz" and rest.startswith("on")]
    off = [t for t, kind, rest in log if kind == "buzz" and rest == "off"]
    down = [t for t, kind, rest in log if kind == "button" and rest == "down"]
    up = [t for t, kind, rest in log if kind == "button" and rest == "up"]
    assert on and off and down and up, out
    assert down[0] < off[0] < up[0]                           # the motor stopped mid-press
    presses = [f for f in frames if isinstance(f, ButtonFrame)]
    assert [p.press for p in presses] == [Press.LONG], presses
    assert 1000 <= presses[0].held_ms <= 1002
