"""Build the Uno sketch (firmware_bridge/bridge_avr) with avr-gcc, for the firmware tests.

Two ways, both against Debian's Arduino AVR core (``arduino-core-avr``):

- :func:`avr_core_objects` + :func:`link_sketch`: avr-gcc by hand, warnings as errors on
  our files, one core build shared by several sketch configurations;
- :func:`arduino_builder`: ``arduino-builder``, the tool the Arduino IDE 1.x runs, which
  finds the EmgBridge library in ``firmware_bridge/libraries`` as the IDE does.
"""
from __future__ import annotations

import atexit
import functools
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FW = REPO / "firmware_bridge"
LIB = FW / "libraries" / "EmgBridge"
LIB_SRC = LIB / "src"
SKETCH = FW / "bridge_avr" / "bridge_avr.ino"

AVR_CORE = Path("/usr/share/arduino/hardware/arduino/avr")
AVR_FLAGS = ["-mmcu=atmega328p", "-DF_CPU=16000000L", "-DARDUINO=10807", "-DARDUINO_AVR_UNO",
             "-DARDUINO_ARCH_AVR", "-Os", "-ffunction-sections", "-fdata-sections",
             f"-I{AVR_CORE / 'cores' / 'arduino'}", f"-I{AVR_CORE / 'variants' / 'standard'}",
             f"-I{AVR_CORE / 'libraries' / 'EEPROM' / 'src'}", f"-I{LIB_SRC}"]
#: Debian's gcc-avr 5.4 <float.h> defines DECIMAL_DIG for C99 only, not C++11, so the core's
#: WString.cpp does not build as shipped; the Arduino IDE's own avr-gcc 7.3 has no such gap.
WSTRING_FIX = "-DDECIMAL_DIG=__DECIMAL_DIG__"
#: ATmega328P flash minus the Uno's optiboot (boards.txt uno.upload.maximum_size), SRAM.
UNO_FLASH = 32256
UNO_RAM = 2048

SKIP_REASON = ("avr-gcc or the Arduino AVR core is not installed "
               "(apt-get install gcc-avr avr-libc arduino-core-avr)")


def have_avr() -> bool:
    return bool(shutil.which("avr-gcc") and shutil.which("avr-g++")
                and (AVR_CORE / "cores" / "arduino" / "Arduino.h").exists())


def _compile(cmd, src, out_dir: Path) -> str:
    obj = out_dir / (Path(src).name + ".o")
    r = subprocess.run([*cmd, "-c", str(src), "-o", str(obj)], capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"{src} does not compile:\n{r.stderr}")
    return str(obj)


def cxx_cmd() -> list:
    return [shutil.which("avr-g++"), "-std=gnu++11", "-fno-exceptions", "-fno-threadsafe-statics",
            *AVR_FLAGS]


def avr_core_objects(out: Path) -> list:
    """The Arduino core and the EmgBridge library, compiled once (objects in ``out``)."""
    gcc = shutil.which("avr-gcc")
    out.mkdir(parents=True, exist_ok=True)
    core = AVR_CORE / "cores" / "arduino"
    objs = [_compile([gcc, "-std=gnu11", *AVR_FLAGS], src, out) for src in sorted(core.glob("*.c"))]
    objs += [_compile([*cxx_cmd(), WSTRING_FIX], src, out) for src in sorted(core.glob("*.cpp"))]
    objs += [_compile([gcc, *AVR_FLAGS, "-x", "assembler-with-cpp"], src, out)
             for src in sorted(core.glob("*.S"))]
    # our library: warnings are errors
    objs += [_compile([gcc, "-std=c99", "-Wall", "-Wextra", "-Werror", *AVR_FLAGS], src, out)
             for src in sorted(LIB_SRC.glob("*.c"))]
    objs += [_compile([*cxx_cmd(), "-Wall", "-Wextra", "-Werror"], src, out)
             for src in sorted(LIB_SRC.glob("*.cpp"))]
    return objs


@functools.lru_cache(maxsize=None)
def shared_core_objects() -> tuple:
    """:func:`avr_core_objects` built once per test process (in a temporary folder)."""
    out = Path(tempfile.mkdtemp(prefix="emgpipe-avrcore-"))
    atexit.register(shutil.rmtree, out, True)
    return tuple(avr_core_objects(out))


def link_sketch(core_objs: list, out: Path, defines: str = "") -> Path:
    """bridge_avr.ino with ``defines`` (e.g. ``-DN_SENSORS=2``), linked into out/bridge_avr.elf."""
    out.mkdir(parents=True, exist_ok=True)
    sketch = _compile([*cxx_cmd(), "-Wall", "-Wextra", "-Werror", *defines.split(), "-x", "c++"],
                      SKETCH, out)
    elf = out / "bridge_avr.elf"
    r = subprocess.run([shutil.which("avr-gcc"), "-mmcu=atmega328p", "-Os", "-Wl,--gc-sections",
                        sketch, *core_objs, "-o", str(elf)], capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"bridge_avr does not link:\n{r.stderr}")
    return elf


def flash_and_ram(elf: Path) -> tuple:
    """(flash, RAM) bytes used: .text + .data, .data + .bss (avr-size -A)."""
    size = subprocess.run(["avr-size", "-A", str(elf)], capture_output=True, text=True).stdout
    sec = {m[0]: int(m[1]) for m in re.findall(r"^\.(\w+)\s+(\d+)", size, flags=re.M)}
    return sec.get("text", 0) + sec.get("data", 0), sec.get("data", 0) + sec.get("bss", 0)


def arduino_builder(build: Path, defines: str = "", timeout: float = 300) -> subprocess.CompletedProcess:
    """Build bridge_avr as the Arduino IDE does: arduino-builder, board Arduino Uno, the
    sketchbook's libraries folder = firmware_bridge/libraries. ELF in build/bridge_avr.ino.elf."""
    build.mkdir(parents=True, exist_ok=True)
    flags = " ".join(x for x in (WSTRING_FIX, defines) if x)
    return subprocess.run(
        ["arduino-builder", "-compile", "-hardware", "/usr/share/arduino/hardware",
         "-hardware", "/usr/share/arduino-builder", "-tools", "/usr/bin",
         "-fqbn", "arduino:avr:uno", "-libraries", str(FW / "libraries"),
         "-build-path", str(build), "-warnings", "all",
         f"-prefs=compiler.cpp.extra_flags={flags}", str(SKETCH)],
        capture_output=True, text=True, timeout=timeout)
