"""Fixtures of the firmware_bridge C-core tests: committed vectors, the sanitizer probe
(test_c_core.py builds the C harness against firmware_bridge/libraries/EmgBridge)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.bridge.bridge_helpers import VECTORS


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
