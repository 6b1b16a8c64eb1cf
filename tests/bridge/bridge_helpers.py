"""Helpers of the firmware_bridge tests (paths, the C harness runner)."""
from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FW = REPO / "firmware_bridge"
VECTORS = FW / "test_vectors.json"

#: Flags the shared codec must compile cleanly with (C99, no extensions).
STRICT = ["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Wconversion", "-Wsign-conversion",
          "-Wshadow", "-Wcast-qual", "-Wstrict-prototypes", "-Werror"]


def run_harness(exe: Path, lines: list) -> list:
    r = subprocess.run([str(exe)], input="\n".join(lines) + "\n", capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, f"harness failed ({r.returncode}):\n{r.stderr[-3000:]}"
    assert not r.stderr, r.stderr[-3000:]
    return r.stdout.splitlines()
