"""Throughput and memory of the streaming pipeline (filters + features + quality).

Generates synthetic sEMG-like signal chunk by chunk (so generation itself is
memory-flat), pushes it through the live graph at max speed, and prints the
multiple of real time and the peak RSS of each run. Each case runs in its own
process so that its peak RSS is its own.

    python benchmarks/throughput.py            # all cases
    python benchmarks/throughput.py --quick    # 10-minute versions

Each case runs ``--repeat`` times (default 3) in its process; the table shows
the best and the median multiple of real time. On a shared machine other
work only ever adds time, so the best run is the estimate of what the code
costs, and the median shows how much the load moved it.

Cases: filters + features alone on 1 h of 1 channel at 1 kHz; then the
whole graph with detection (quality checks and the cramp detector) on 1 h of
1 channel at 1 kHz, 1 h of 8 channels at 250 Hz, and 4 h of 1 channel at
1 kHz (memory must not grow with length).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def peak_rss_mb() -> float:
    try:
        import psutil
        mi = psutil.Process().memory_info()
        return getattr(mi, "peak_wset", 0) / 2**20 or _ru_maxrss()
    except ImportError:
        return _ru_maxrss()


def _ru_maxrss() -> float:
    import resource
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 2**20 if sys.platform == "darwin" else r / 1024


def run_case(hours: float, fs: float, n_ch: int, chunk_s: float, stage: str, repeat: int = 1) -> dict:
    runs = [_run_once(hours, fs, n_ch, chunk_s, stage) for _ in range(max(1, repeat))]
    best = min(runs, key=lambda r: r["wall_s"])
    walls = sorted(r["wall_s"] for r in runs)
    median_wall = walls[len(walls) // 2]
    return {**best, "repeat": len(runs), "median_x_realtime": round(hours * 3600 / median_wall),
            "peak_rss_mb": round(peak_rss_mb(), 1)}


def _run_once(hours: float, fs: float, n_ch: int, chunk_s: float, stage: str) -> dict:
    import numpy as np

    from emgpipe.graph import Pipeline
    from emgpipe.pipeline import make_pipeline
    from emgpipe.types import Chunk

    from emgpipe.devices.base import max_speed_chunk_s
    rng = np.random.default_rng(0)
    chunk_s = chunk_s or max_speed_chunk_s(fs, n_ch)
    n_chunk = int(chunk_s * fs)
    n_total = int(hours * 3600 * fs)
    names = tuple(f"ch{i + 1}" for i in range(n_ch))
    # warm-up (numba kernels load from their cache on first use)
    warm = Pipeline("default")
    warm.push(Chunk(rng.standard_normal((int(5 * fs), n_ch)), fs=fs, ch_names=names))
    pipe = make_pipeline("default") if stage == "with detection" else Pipeline("default")
    n_events = [0]
    pipe.events.sink(lambda e: n_events.__setitem__(0, n_events[0] + 1))
    n_windows = [0]
    pipe.features.sink(lambda f: n_windows.__setitem__(0, n_windows[0] + f.n_windows))
    t_gen = 0.0
    t0 = time.perf_counter()
    seq = 0
    t = np.arange(n_chunk) / fs
    while seq < n_total:
        g0 = time.perf_counter()
        n = min(n_chunk, n_total - seq)
        x = rng.standard_normal((n, n_ch)) * 5.0
        x += (20 * np.sin(2 * np.pi * 50 * (t[:n] + seq / fs)))[:, None]
        if (seq // n_chunk) % 6 == 0:
            x *= 40.0  # an activity burst every minute-ish
        t_gen += time.perf_counter() - g0
        chunk = Chunk(x, fs=fs, seq=seq, ch_names=names)
        if stage == "filters+features":
            pipe.window_features(pipe.filters(chunk))
        else:
            pipe.push(chunk)
        seq += n
    if stage != "filters+features":
        pipe.close()
    wall = time.perf_counter() - t0 - t_gen
    return {"stage": stage, "hours": hours, "fs": fs, "channels": n_ch, "chunk_s": chunk_s,
            "wall_s": round(wall, 3), "x_realtime": round(hours * 3600 / wall),
            "peak_rss_mb": round(peak_rss_mb(), 1), "windows": n_windows[0], "events": n_events[0]}


CASES = [
    (1.0, 1000.0, 1, "filters+features"),
    (1.0, 1000.0, 1, "with detection"),
    (1.0, 250.0, 8, "with detection"),
    (4.0, 1000.0, 1, "with detection"),
]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10-minute recordings instead of hours")
    ap.add_argument("--chunk-s", type=float, default=None,
                    help="chunk length (default: what max-speed replay uses, ~30 000 samples per channel)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per case; the best and the median are shown")
    ap.add_argument("--case", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.case:
        hours, fs, n_ch, stage = json.loads(args.case)
        print(json.dumps(run_case(hours, fs, n_ch, args.chunk_s, stage, args.repeat)))
        return 0
    print(f"{'stage':18s} {'length':>7s} {'fs':>6s} {'ch':>3s} {'chunk s':>8s} {'wall s':>8s} "
          f"{'x real time':>12s} {'(median)':>9s} {'peak RSS MB':>12s}")
    for hours, fs, n_ch, stage in CASES:
        if args.quick:
            hours = min(hours, 1.0) / 6
        r = subprocess.run([sys.executable, os.path.abspath(__file__), "--chunk-s", str(args.chunk_s or 0),
                            "--repeat", str(args.repeat),
                            "--case", json.dumps([hours, fs, n_ch, stage])],
                           capture_output=True, text=True, check=True)
        d = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"{d['stage']:18s} {d['hours']:6.2f}h {d['fs']:6.0f} {d['channels']:3d} {d['chunk_s']:8.1f} "
              f"{d['wall_s']:8.2f} "
              f"{d['x_realtime']:12,d} {d['median_x_realtime']:9,d} {d['peak_rss_mb']:12.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
