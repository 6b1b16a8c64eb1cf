"""Helpers of the firmware_bridge tests (paths, the C harness runner, chunk collection)."""
from __future__ import annotations

import subprocess
import threading
import time
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


def collect(src, n_samples: int, timeout: float = 5.0, until=None) -> list:
    """Chunks from ``src`` until ``n_samples`` arrived (or ``until(chunks)`` is true).

    A watchdog stops the source if nothing comes, so a broken source fails the
    test instead of hanging it.
    """
    got, total = [], 0
    timer = threading.Timer(timeout, src.stop)
    timer.start()
    t0 = time.monotonic()
    try:
        for c in src.chunks():
            got.append(c)
            total += c.n_samples
            if (until(got) if until else total >= n_samples):
                break
    finally:
        timer.cancel()
    assert time.monotonic() - t0 < timeout, f"timed out with {total} samples"
    return got
