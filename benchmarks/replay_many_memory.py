"""Memory over ``emgpipe replay`` of many files in one process (issue 14 part 2).

Every replayed recording builds a pipeline; streamz keeps each sink in a
module-level set until the pipeline is torn down (:meth:`Pipeline.destroy`),
so a process that replays a folder must tear each one down or it grows with
every file. This script simulates ``--distinct`` labelled recordings
(``walk_then_cramp`` with different seeds, 75 s of 2 channels at 1 kHz,
copied to 100 files), then runs ``emgpipe replay`` in this process over the
first 10, the next 40 and the last 50 files (the CLI's own ``main``, as a user
would) and prints the resident memory (RSS) after 10, 50 and 100 files, with
the objects the garbage collector tracks and the pipelines still alive.

``--leak`` replays the same files with ``Pipeline.destroy`` turned into a
no-op: what the figures would be without the teardown (the measurement's
control).

Usage::

    python benchmarks/replay_many_memory.py            # ~1 min on one core
    python benchmarks/replay_many_memory.py --leak     # the control
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import io
import os
import shutil
import sys
import tempfile
import time
import weakref


def rss_mb() -> float:
    """Current resident set size (MB): /proc on Linux, psutil elsewhere, else the peak."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        import psutil
        return psutil.Process().memory_info().rss / 2 ** 20
    except ImportError:
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (2 ** 20 if sys.platform == "darwin" else 1024)


def make_recordings(folder: str, n_files: int, n_distinct: int, duration_s: float) -> list[str]:
    from emgpipe import sim
    distinct = []
    for k in range(n_distinct):
        distinct.append(str(sim.write(sim.make("walk_then_cramp", fs=1000, seed=k + 1, duration=duration_s),
                                      os.path.join(folder, f"seed{k + 1}.csv"))))
    paths = []
    for i in range(n_files):
        src = distinct[i % n_distinct]
        dst = os.path.join(folder, "many", f"rec{i:03d}.csv")
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(src, dst)
        shutil.copyfile(src[:-4] + ".json", dst[:-4] + ".json")
        paths.append(dst)
    return paths


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument("--distinct", type=int, default=5, help="distinct simulated recordings (copied)")
    ap.add_argument("--duration", type=float, default=75.0, help="seconds per recording")
    ap.add_argument("--leak", action="store_true", help="control: Pipeline.destroy does nothing")
    args = ap.parse_args(argv)

    from emgpipe.cli import main as emgpipe_main
    from emgpipe.graph import Pipeline

    alive = weakref.WeakSet()
    init = Pipeline.__init__

    def tracked_init(self, *a, **kw):
        init(self, *a, **kw)
        alive.add(self)
    Pipeline.__init__ = tracked_init
    if args.leak:
        Pipeline.destroy = lambda self: None

    tmp = tempfile.mkdtemp(prefix="emgpipe-replay-many-")
    try:
        paths = make_recordings(tmp, args.files, args.distinct, args.duration)
        out = os.path.join(tmp, "events")
        marks = [m for m in (10, 50, 100) if m <= args.files] or [args.files]
        gc.collect()
        print(f"replay of {args.files} recordings ({args.duration:g} s, 2 ch @ 1 kHz, walk_then_cramp)"
              f"{' with Pipeline.destroy disabled (control)' if args.leak else ''}")
        print(f"{'files':>5}  {'RSS MB':>7}  {'gc objects':>10}  {'pipelines alive':>15}  {'wall s':>6}")
        print(f"{0:5d}  {rss_mb():7.1f}  {len(gc.get_objects()):10d}  {len(alive):15d}  {0:6.1f}")
        done, t0 = 0, time.perf_counter()
        for mark in marks:
            with contextlib.redirect_stdout(io.StringIO()):       # one summary line per file
                rc = emgpipe_main(["replay", *paths[done:mark], "--events-out", out, "--no-progress"])
            if rc != 0:
                print(f"replay failed with exit code {rc}", file=sys.stderr)
                return rc
            done = mark
            gc.collect()
            print(f"{done:5d}  {rss_mb():7.1f}  {len(gc.get_objects()):10d}  {len(alive):15d}  "
                  f"{time.perf_counter() - t0:6.1f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
