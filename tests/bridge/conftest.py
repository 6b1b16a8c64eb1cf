"""Fixtures of the firmware_bridge C-core tests: committed vectors, the C harness."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.bridge.bridge_helpers import FW, STRICT, VECTORS


@pytest.fixture(scope="session")
def vectors() -> dict:
    return json.loads(VECTORS.read_text())


def _sanitizer_flags(gcc: str, tmp: Path) -> list:
    """-fsanitize=address,undefined when this gcc can link it, else nothing."""
    src = tmp / "probe.c"
    src.write_text("int main(void){return 0;}\n")
    flags = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
    r = subprocess.run([gcc, *flags, str(src), "-o", str(tmp / "probe")], capture_output=True)
    return flags if r.returncode == 0 else []


@pytest.fixture(scope="session")
def harness(tmp_path_factory) -> Path:
    """The C test harness (firmware_bridge/tests/harness.c + src/emgframe.c) built with gcc."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not found: the C frame codec cannot be built on this machine")
    tmp = tmp_path_factory.mktemp("cbuild")
    san = _sanitizer_flags(gcc, tmp)
    obj = tmp / "emgframe.o"
    r = subprocess.run([gcc, *STRICT, *san, "-c", str(FW / "src" / "emgframe.c"), "-o", str(obj)],
                       capture_output=True, text=True)
    assert r.returncode == 0, f"emgframe.c does not compile cleanly:\n{r.stderr}"
    exe = tmp / "harness"
    r = subprocess.run([gcc, "-std=c99", "-Wall", "-Wextra", "-Werror", *san,
                        f"-I{FW / 'src'}", str(FW / "tests" / "harness.c"), str(obj),
                        "-o", str(exe)], capture_output=True, text=True)
    assert r.returncode == 0, f"harness.c does not compile:\n{r.stderr}"
    return exe
