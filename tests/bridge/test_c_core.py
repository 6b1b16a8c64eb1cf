"""The portable C codec (firmware_bridge/src/emgframe.c), built with gcc, against the Python one.

The harness is compiled with -std=c99 -Wall -Wextra -Wpedantic -Wconversion -Werror and,
when the toolchain has them, AddressSanitizer + UBSan, so malformed frames that read out of
bounds fail the test rather than pass by luck.
"""
from __future__ import annotations

import importlib.util
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emgpipe.bridge import protocol as P
from tests.bridge.bridge_helpers import FW, run_harness


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


def test_sketch_copies_match_the_core():
    r = subprocess.run([sys.executable, str(FW / "tools" / "sync_core.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_core_has_no_arduino_or_heap_dependencies():
    for name in ("emgframe.h", "emgframe.c"):
        text = (FW / "src" / name).read_text()
        code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        includes = re.findall(r'#include\s+[<"]([^>"]+)[>"]', code)
        assert set(includes) <= {"stddef.h", "stdint.h", "emgframe.h"}, includes
        assert not re.search(r"\b(malloc|calloc|realloc|free)\s*\(", code)


AVR_CORE = Path("/usr/share/arduino/hardware/arduino/avr")
AVR_FLAGS = ["-mmcu=atmega328p", "-DF_CPU=16000000L", "-DARDUINO=10807", "-DARDUINO_AVR_UNO",
             "-DARDUINO_ARCH_AVR", "-Os", "-ffunction-sections", "-fdata-sections",
             f"-I{AVR_CORE / 'cores' / 'arduino'}", f"-I{AVR_CORE / 'variants' / 'standard'}",
             f"-I{AVR_CORE / 'libraries' / 'EEPROM' / 'src'}"]


def _avr_compile(cmd, src, out_dir: Path) -> str:
    obj = out_dir / (Path(src).name + ".o")
    r = subprocess.run([*cmd, "-c", str(src), "-o", str(obj)], capture_output=True, text=True)
    assert r.returncode == 0, f"{src}:\n{r.stderr}"
    return str(obj)


@pytest.fixture(scope="module")
def avr_core(tmp_path_factory):
    """Arduino AVR core objects + the codec, built once (Debian arduino-core-avr)."""
    gcc, gxx = shutil.which("avr-gcc"), shutil.which("avr-g++")
    if not (gcc and gxx and (AVR_CORE / "cores" / "arduino" / "Arduino.h").exists()):
        pytest.skip("avr-gcc or the Arduino AVR core is not installed "
                    "(apt-get install gcc-avr avr-libc arduino-core-avr)")
    out = tmp_path_factory.mktemp("avrcore")
    cxx = [gxx, "-std=gnu++11", "-fno-exceptions", "-fno-threadsafe-statics", *AVR_FLAGS]
    core = AVR_CORE / "cores" / "arduino"
    objs = [_avr_compile([gcc, "-std=gnu11", *AVR_FLAGS], src, out)
            for src in sorted(core.glob("*.c"))]
    # WString.cpp: unused here, and does not build with Debian's gcc-avr 5.4
    objs += [_avr_compile(cxx, src, out) for src in sorted(core.glob("*.cpp"))
             if src.name != "WString.cpp"]
    objs += [_avr_compile([gcc, *AVR_FLAGS, "-x", "assembler-with-cpp"], src, out)
             for src in sorted(core.glob("*.S"))]
    objs.append(_avr_compile([gcc, "-std=c99", "-Wall", "-Wextra", "-Werror", *AVR_FLAGS],
                             FW / "bridge_avr" / "src" / "emgframe.c", out))
    return gcc, cxx, objs


@pytest.mark.parametrize("config", ["", "-DN_SENSORS=2", "-DN_SENSORS=2 -DSEND_ENV=0",
                                    "-DHAPTIC_PIN=-1", "-DBUTTON_PIN=-1"])
def test_avr_sketch_builds_and_fits(avr_core, tmp_path, config):
    """Full avr-gcc build and link of the Uno sketch, warnings as errors, in each configuration."""
    gcc, cxx, core_objs = avr_core
    sketch = _avr_compile([*cxx, "-Wall", "-Wextra", "-Werror", *config.split(), "-x", "c++"],
                          FW / "bridge_avr" / "bridge_avr.ino", tmp_path)
    elf = tmp_path / "bridge_avr.elf"
    r = subprocess.run([gcc, "-mmcu=atmega328p", "-Os", "-Wl,--gc-sections", sketch, *core_objs,
                        "-o", str(elf)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    size = subprocess.run(["avr-size", "-A", str(elf)], capture_output=True, text=True).stdout
    sec = {m[0]: int(m[1]) for m in re.findall(r"^\.(\w+)\s+(\d+)", size, flags=re.M)}
    flash = sec.get("text", 0) + sec.get("data", 0)
    ram = sec.get("data", 0) + sec.get("bss", 0)
    assert flash < 32256 - 512   # ATmega328P flash minus the Uno's optiboot
    assert ram < 2048 - 512      # leave >= 512 B of the 2 KB SRAM for the stack


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
