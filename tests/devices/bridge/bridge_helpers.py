"""Helpers of the bridge source tests (chunk collection)."""
from __future__ import annotations

import threading
import time


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
