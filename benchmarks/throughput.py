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

Then the whole process (issue 15 part 2 targets): ``python -m emgpipe replay
FILE --mode sleep`` in a subprocess, its wall time from start to exit
(interpreter start, imports, reading the EDF, full detection, the events
file), on the simulated 8-h two-channel 1 kHz EDF night of
``benchmarks/peers_brainflow.py`` (target >= 20,000x real time per channel)
and on 1-h and 8-h eight-channel 250 Hz EDF recordings (noise, hum and a
burst every 20 s, as ``benchmarks/memory.py`` writes them; target >= 5,000x).
The files are built once and kept under ``build/throughput/``. The replays
run with the kernels as installed: compiled ahead of time into emgpipe._aot
at install (emgpipe/_compiled.py), or numba's JIT where that module is not
built; the table says which. ``--kernels both`` alternates them (the JIT
through ``EMGPIPE_KERNELS=jit``). They run as Python does by default, writing
and reusing bytecode caches: ``PYTHONDONTWRITEBYTECODE``, which some
sandboxes set, is removed from their environment (with it an editable
install compiles emgpipe's modules afresh at every start, ~0.15 s). Last, the
compile cost: the same replay of the 1-h night twice with empty numba and
filter-design caches (``NUMBA_CACHE_DIR``, ``EMGPIPE_CACHE_DIR``): the first
run designs the filters (and with numba's JIT compiles every kernel), the
second loads them.

    python benchmarks/throughput.py --no-replay    # the in-process table only
    python benchmarks/throughput.py --replay-only  # the whole-process figures only
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

    from emgpipe.pipeline import build_pipeline
    from emgpipe.types import Chunk

    from emgpipe.devices.base import max_speed_chunk_s
    rng = np.random.default_rng(0)
    chunk_s = chunk_s or max_speed_chunk_s(fs, n_ch)
    n_chunk = int(chunk_s * fs)
    n_total = int(hours * 3600 * fs)
    names = tuple(f"ch{i + 1}" for i in range(n_ch))
    # warm-up (numba kernels load from their cache on first use)
    warm = build_pipeline(model="default", detectors=())
    warm.push(Chunk(rng.standard_normal((int(5 * fs), n_ch)), fs=fs, ch_names=names))
    pipe = build_pipeline(model="default", detectors=None if stage == "with detection" else ())
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


HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.join(os.path.dirname(HERE), "build", "throughput")


def _env(**extra) -> dict:
    """The replays' environment: Python's default bytecode caching, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "EMGPIPE_KERNELS")}
    return {**env, **extra}


#: --kernels -> the environment of each kind of replay
KERNEL_ENVS = {"installed": {}, "jit": {"EMGPIPE_KERNELS": "jit"}}


def kernels_in_use(env: dict) -> str:
    """What runs the kernels of a replay with ``env``: "ahead of time", "numba JIT" or "numpy"."""
    code = "from emgpipe.pipeline import kernel_backend; print(kernel_backend())"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env=env).stdout.strip()


def _replay(path, repeat, env=None, processes="auto"):
    """Best wall time (s) and its CPU time (its reading process's included) of
    ``python -m emgpipe replay path --processes N`` in a child process."""
    env = _env(**(env or {}))
    out = os.path.join(BUILD, os.path.basename(path) + ".events.csv")
    best = None
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        p = subprocess.Popen([sys.executable, "-m", "emgpipe", "replay", path, "--mode", "sleep",
                              "--events-out", out, "--no-progress", "--processes", processes],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        err = p.stderr.read()
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.stderr.close()
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"replay {path} failed: {err.decode(errors='replace')[-500:]}")
        cpu = usage.ru_utime + usage.ru_stime
        if best is None or wall < best[0]:
            best = (wall, cpu)
    return best


def replay_figures(repeat: int, processes: str = "auto", compile_cost: bool = True,
                   kernels: str = "installed") -> None:
    """The whole-process figures (module docstring); ``processes``: replay's
    ``--processes`` (``both``: 1 and 2, alternating run by run); ``kernels``:
    ``installed``, ``jit`` or ``both`` (alternating)."""
    sys.path.insert(0, HERE)
    import memory
    import peers_brainflow
    os.makedirs(BUILD, exist_ok=True)
    files = [(peers_brainflow.build_night(8.0), 8.0, 1000.0, 2, 20_000)]
    for hours in (1.0, 8.0):
        path = os.path.join(BUILD, f"synth_8ch_250Hz_{hours:g}h.edf")
        if not os.path.exists(path + ".done"):
            memory.write_edf(path, hours, 250.0, 8)
            open(path + ".done", "w").close()
        files.append((path, hours, 250.0, 8, 5_000))
    print()
    print(f"whole process: python -m emgpipe replay FILE --mode sleep --processes N (best of {repeat})")
    kinds = ("installed", "jit") if kernels == "both" else (kernels,)
    names = {k: kernels_in_use(_env(**KERNEL_ENVS[k])) for k in kinds}
    print(f"{'recording':34s} {'N':>4s} {'kernels':>13s} {'wall s':>7s} {'CPU s':>7s} {'x real time':>12s} "
          f"{'per channel':>12s} {'target':>8s}")
    each = [(n, k) for n in (("1", "2") if processes == "both" else (processes,)) for k in kinds]
    for path, hours, fs, n_ch, target in files:
        best = {nk: None for nk in each}
        for _ in range(max(1, repeat)):            # alternating: the load moves all alike
            for n, k in each:
                run = _replay(path, 1, env=KERNEL_ENVS[k], processes=n)
                if best[n, k] is None or run[0] < best[n, k][0]:
                    best[n, k] = run
        for n, k in each:
            wall, cpu = best[n, k]
            x = hours * 3600 / wall
            per_ch = x * n_ch if fs == 1000.0 else x
            what = "per channel" if fs == 1000.0 else "all 8"
            print(f"{os.path.basename(path):34s} {n:>4s} {names[k]:>13s} {wall:7.2f} {cpu:7.2f} {x:12,.0f} "
                  f"{x * n_ch:12,.0f} {target:>7,d}{'' if per_ch >= target else ' (not met)'} ({what})")
    if not compile_cost:
        return
    # compile cost: fresh caches, then the same command again
    import tempfile
    night1 = peers_brainflow.build_night(1.0)
    with tempfile.TemporaryDirectory(prefix="emgpipe-cold-") as tmp:
        env = {**KERNEL_ENVS[kinds[0]], "NUMBA_CACHE_DIR": os.path.join(tmp, "numba"),
               "EMGPIPE_CACHE_DIR": os.path.join(tmp, "emgpipe")}
        first = _replay(night1, 1, env)
        second = _replay(night1, repeat, env)
    warm = _replay(night1, repeat, KERNEL_ENVS[kinds[0]])
    print()
    print(f"compile cost (replay of the 1-h 2-channel night, empty numba and filter-design caches; "
          f"kernels {names[kinds[0]]}):")
    what = "designs the filters" + (", compiles the kernels" if names[kinds[0]] == "numba JIT" else "")
    print(f"  first run  {first[0]:6.2f} s wall, {first[1]:6.2f} s CPU ({what})")
    print(f"  second run {second[0]:6.2f} s wall, {second[1]:6.2f} s CPU (loads them from the caches)")
    print(f"  usual run  {warm[0]:6.2f} s wall, {warm[1]:6.2f} s CPU (the installed caches)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10-minute recordings instead of hours")
    ap.add_argument("--chunk-s", type=float, default=None,
                    help="chunk length (default: what max-speed replay uses, ~30 000 samples per channel)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per case; the best and the median are shown")
    ap.add_argument("--no-replay", action="store_true", help="skip the whole-process replay figures")
    ap.add_argument("--replay-only", action="store_true", help="only the whole-process replay figures")
    ap.add_argument("--processes", choices=("1", "2", "auto", "both"), default="auto",
                    help="replay --processes for the whole-process figures; both: 1 and 2 alternating")
    ap.add_argument("--no-compile-cost", action="store_true",
                    help="skip the compile-cost runs of the whole-process figures")
    ap.add_argument("--kernels", choices=("installed", "jit", "both"), default="installed",
                    help="the whole-process replays' kernels: as installed (ahead of time where built), "
                         "numba's JIT, or both alternating")
    ap.add_argument("--case", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.replay_only:
        replay_figures(args.repeat, args.processes, not args.no_compile_cost, args.kernels)
        return 0
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
    if not args.no_replay:
        replay_figures(args.repeat, args.processes, not args.no_compile_cost, args.kernels)
    return 0


if __name__ == "__main__":
    sys.exit(main())
