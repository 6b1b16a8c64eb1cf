"""The firmware core: the EmgBridge Arduino library (firmware_bridge/libraries/EmgBridge).

Its portable C codec (emgframe.c), built with gcc, is checked against the Python one. The
harness is compiled with -std=c99 -Wall -Wextra -Wpedantic -Wconversion -Werror and, when the
toolchain has them, AddressSanitizer + UBSan, so malformed frames that read out of bounds
fail the test rather than pass by luck. The core exists once: both sketches include the
library, and the Uno sketch is built with avr-gcc by hand and with arduino-builder (the IDE's
way), each with the library found where the IDE finds it.
"""
from __future__ import annotations

import importlib.util
import json
import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from emgpipe.devices.bridge import protocol as P
from tests.bridge.bridge_helpers import FW, STRICT, run_harness
from tests.bridge.conftest import _sanitizer_flags
from tests.firmware import avr_build as avr

LIB = avr.LIB
CORE = avr.LIB_SRC


@pytest.fixture(scope="session")
def harness(tmp_path_factory) -> Path:
    """firmware_bridge/tests/harness.c + the library's emgframe.c, built with gcc."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not found: the C frame codec cannot be built on this machine")
    tmp = tmp_path_factory.mktemp("cbuild")
    san = _sanitizer_flags(gcc, tmp)
    obj = tmp / "emgframe.o"
    r = subprocess.run([gcc, *STRICT, *san, "-c", str(CORE / "emgframe.c"), "-o", str(obj)],
                       capture_output=True, text=True)
    assert r.returncode == 0, f"emgframe.c does not compile cleanly:\n{r.stderr}"
    exe = tmp / "harness"
    r = subprocess.run([gcc, "-std=c99", "-Wall", "-Wextra", "-Werror", *san, f"-I{CORE}",
                        str(FW / "tests" / "harness.c"), str(obj), "-o", str(exe)],
                       capture_output=True, text=True)
    assert r.returncode == 0, f"harness.c does not compile:\n{r.stderr}"
    return exe


def _event_line():
    spec = importlib.util.spec_from_file_location("make_vectors", FW / "tools" / "make_vectors.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.event_line


def test_crc_and_cobs_agree(harness, vectors):
    lines, expect = [], []
    for c in vectors["crc"]:
        lines.append(f"crc {c['hex']}")
        expect.append(f"crc {c['crc']:04x}")
    for c in vectors["cobs"]:
        lines += [f"cobs_enc {c['raw']}", f"cobs_dec {c['encoded']}"]
        expect += [f"enc {c['encoded']}", f"dec {c['raw']}"]
    for h in vectors["cobs_invalid"]:
        lines.append(f"cobs_dec {h}")
        expect.append("dec ERR")
    got = run_harness(harness, lines)
    assert got == expect
    assert got[0] == "crc 29b1"  # the CRC-16/CCITT-FALSE check value


def test_c_builders_emit_the_same_bytes(harness, vectors):
    builds = vectors["builds"]
    got = run_harness(harness, [b["cmd"] for b in builds])
    for b, line in zip(builds, got):
        assert line == f"wire {b['wire']}", b["name"]


def test_c_decoder_gives_the_same_events(harness, vectors):
    lines, expect = [], []
    for s in vectors["streams"]:
        lines.append(f"stream {s['hex']}")
        expect += s["events"] + ["end"]
    assert run_harness(harness, lines) == expect


def test_c_and_python_agree_on_random_corruption(harness):
    """Fuzz: mutated and spliced frames plus noise; every event must match."""
    event_line = _event_line()
    rng = random.Random(11)
    nrng = np.random.default_rng(11)
    streams = []
    for k in range(150):
        parts = []
        for j in range(rng.randint(1, 6)):
            n_ch = rng.randint(1, 4)
            n = rng.randint(1, P.max_samples_per_frame(n_ch))
            f = bytearray(P.encode_data(rng.getrandbits(16), rng.getrandbits(32), 1000,
                                        nrng.integers(-32768, 32768, size=(n, n_ch))))
            op = rng.random()
            if op < 0.2:
                f[rng.randrange(len(f))] ^= 1 << rng.randrange(8)      # bit flip (maybe a 0x00)
            elif op < 0.3:
                f = f[:rng.randrange(len(f))]                           # truncated
            elif op < 0.4:
                f = bytearray(os.urandom(rng.randint(1, 300))) + f     # junk before
            elif op < 0.5:
                f = f[1:]                                               # no leading delimiter
            elif op < 0.55:
                f[rng.randrange(len(f))] = 0                            # stray delimiter
            parts.append(bytes(f))
        streams.append(b"".join(parts))
    py = []
    for s in streams:
        py += [event_line(e) for e in P.FrameDecoder().feed_events(s)] + ["end"]
    got = run_harness(harness, [f"stream {s.hex() or '-'}" for s in streams])
    assert got == py
    assert sum(1 for line in py if line.startswith("error")) > 50   # the fuzz did corrupt
    assert sum(1 for line in py if line.startswith("data")) > 200   # and left good frames


def test_the_core_exists_once_in_the_library():
    """One EmgBridge library, no copies in the sketches, no sync script."""
    props = dict(line.split("=", 1) for line in (LIB / "library.properties").read_text().splitlines()
                 if "=" in line)
    assert props["name"] == "EmgBridge" and set(props["architectures"].split(",")) == {"avr", "esp32"}
    assert (CORE / props["includes"]).exists()
    found = sorted(p.relative_to(FW).as_posix() for p in FW.rglob("emgframe.[ch]"))
    assert found == ["libraries/EmgBridge/src/emgframe.c", "libraries/EmgBridge/src/emgframe.h"]
    assert not (FW / "tools" / "sync_core.py").exists()
    for sketch in ("bridge_avr/bridge_avr.ino", "bridge_esp32/bridge_esp32.ino",
                   "bridge_esp32/ports.h"):
        assert "#include <EmgBridge.h>" in (FW / sketch).read_text(), sketch


def test_button_and_motor_code_is_the_librarys():
    """The sketches use EmgButton / EmgHaptic / EmgBlink; none debounces, buzzes or times a
    motor itself (each once had its own copy)."""
    board_files = [FW / "bridge_avr" / "bridge_avr.ino", FW / "bridge_esp32" / "bridge_esp32.ino",
                   FW / "bridge_esp32" / "ports.cpp"]
    for f in board_files:
        code = re.sub(r"/\*.*?\*/", "", f.read_text(), flags=re.S)
        assert not re.search(r"\b(emg_button_update|emg_button_init|analogWrite)\s*\(", code), f.name
        assert not re.search(r"\bbuzz_until\b|\bled_blinks\b", code), f.name
    for f in (board_files[0], board_files[2]):
        code = f.read_text()
        for cls in ("EmgHaptic haptic(HAPTIC_PIN)", "EmgButton button(BUTTON_PIN)", "EmgBlink led(LED_PIN)"):
            assert cls in code, (f.name, cls)


def test_core_has_no_arduino_or_heap_dependencies():
    for name in ("emgframe.h", "emgframe.c"):
        text = (CORE / name).read_text()
        code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        includes = re.findall(r'#include\s+[<"]([^>"]+)[>"]', code)
        assert set(includes) <= {"stddef.h", "stdint.h", "emgframe.h"}, includes
        assert not re.search(r"\b(malloc|calloc|realloc|free)\s*\(", code)


@pytest.fixture(scope="module")
def avr_core():
    """Arduino AVR core objects + the EmgBridge library, built once (Debian arduino-core-avr)."""
    if not avr.have_avr():
        pytest.skip(avr.SKIP_REASON)
    return list(avr.shared_core_objects())


@pytest.mark.parametrize("config", ["", "-DN_SENSORS=2", "-DN_SENSORS=2 -DSEND_ENV=0",
                                    "-DHAPTIC_PIN=-1", "-DBUTTON_PIN=-1"])
def test_avr_sketch_builds_and_fits(avr_core, tmp_path, config):
    """Full avr-gcc build and link of the Uno sketch, warnings as errors, in each configuration."""
    elf = avr.link_sketch(avr_core, tmp_path, config)
    flash, ram = avr.flash_and_ram(elf)
    assert flash < avr.UNO_FLASH - 512
    assert ram < avr.UNO_RAM - 512   # leave >= 512 B of the 2 KB SRAM for the stack


def test_arduino_builder_builds_the_sketch_as_the_ide_does(tmp_path):
    """arduino-builder (what the Arduino IDE 1.x runs) finds EmgBridge in
    firmware_bridge/libraries by the sketch's #include <EmgBridge.h>, and the Uno build fits."""
    if not avr.have_avr() or not shutil.which("arduino-builder"):
        pytest.skip("arduino-builder, avr-gcc or the Arduino AVR core is not installed "
                    "(apt-get install arduino-builder gcc-avr avr-libc arduino-core-avr)")
    r = avr.arduino_builder(tmp_path / "build")
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    out = r.stdout + r.stderr
    # the sketch's #include <EmgBridge.h> resolved to the library, whose sources were built
    cache = json.loads((tmp_path / "build" / "includes.cache").read_text())
    assert {"Include": "EmgBridge.h", "Includepath": str(CORE)}.items() <= \
        next(c for c in cache if c["Include"] == "EmgBridge.h").items()
    built = {p.name for p in (tmp_path / "build" / "libraries" / "EmgBridge").glob("*.o")}
    assert built == {"emgframe.c.o", "EmgBoardIO.cpp.o"}
    ours = [line for line in out.splitlines() if "warning" in line and "firmware_bridge" in line]
    assert not ours, ours                                    # -warnings all: none in our files
    elf = tmp_path / "build" / "bridge_avr.ino.elf"
    flash, ram = avr.flash_and_ram(elf)
    m = re.search(r"Sketch uses (\d+) bytes", out)
    assert m and 4000 < int(m.group(1)) < avr.UNO_FLASH - 512
    assert ram < avr.UNO_RAM - 512


def _debounce_line(readings) -> str:
    return "debounce " + " ".join(f"{t}:{int(level)}" for t, level in readings)


def _python_presses(readings) -> list:
    b = P.ButtonDebouncer()
    out = []
    for t, level in readings:
        r = b.update(level, t)
        if r is not None:
            out.append(f"press {int(r[0])} {r[1]} {t}")
    return out + ["end"]


def _held(t0, t1, step=5):
    return [(t, 1) for t in range(t0, t1, step)]


def test_c_button_debouncer_short_long_and_bounce(harness):
    bounce = [(0, 1), (2, 0), (4, 1), (6, 0), (8, 1)]                 # contact bounce at the press
    short = bounce + _held(10, 250) + [(250, 0), (252, 1), (254, 0)] + [(t, 0) for t in range(256, 400, 5)]
    long_ = _held(0, 1600) + [(t, 0) for t in range(1600, 1700, 5)]
    glitch = [(0, 1), (10, 0)] + [(t, 0) for t in range(15, 200, 5)]   # 10 ms spike: no press
    wrap = [((2**32 - 100 + t) % 2**32, lv) for t, lv in _held(0, 1200) + [(1200, 0), (1300, 0)]]
    cases = [short, long_, glitch, wrap]
    got = run_harness(harness, [_debounce_line(r) for r in cases])
    want = sum((_python_presses(r) for r in cases), [])
    assert got == want
    ends = [i for i, line in enumerate(got) if line == "end"]
    per_case = [got[a + 1:b] for a, b in zip([-1] + ends[:-1], ends)]
    assert per_case[0] == ["press 1 246 286"]         # short: at the release once 30 ms steady; 8..254 ms
    assert per_case[1] == ["press 2 1000 1000"]       # long: once, at 1 s, while still held; nothing at release
    assert per_case[2] == []                          # a 10 ms glitch is not a press
    assert per_case[3] == ["press 2 1000 900"]        # millis() wrap-around


def test_c_and_python_debouncers_agree_on_random_presses(harness):
    rng = random.Random(5)
    cases = []
    for _ in range(60):
        t, level, readings = rng.randrange(2**32), 0, []
        for _ in range(rng.randint(5, 80)):
            t = (t + rng.choice((1, 2, 5, 10, 40, 200, 700, 1100))) % 2**32
            if rng.random() < 0.4:
                level ^= 1
            readings.append((t, level))
        cases.append(readings)
    got = run_harness(harness, [_debounce_line(r) for r in cases])
    assert got == sum((_python_presses(r) for r in cases), [])
    assert sum(line.startswith("press 1") for line in got) > 10
    assert sum(line.startswith("press 2") for line in got) > 10
