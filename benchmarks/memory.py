"""Peak memory of ``emgpipe replay`` against recording length (issue 15).

Writes synthetic recordings to a temporary directory (deleted at the end):
1, 4 and 8 h of 2 channels at 1 kHz and 8 h of 8 channels at 250 Hz, each as
EDF+ (the night writer, :class:`emgpipe.night.edfplus.EdfPlusWriter`) and as
contract CSV (:class:`emgpipe.io.contract_csv.CsvWriter`). Both writers are
fed 60 s blocks, so generating an 8 h file is itself memory-flat. Each file is
then replayed by ``python -m emgpipe replay FILE --events-out ...`` in its own
subprocess; the table gives that process's peak resident memory
(``ru_maxrss`` from ``os.wait4`` for that child alone), wall time and speed
(x real time). The first row is the same interpreter importing emgpipe's
replay path and doing nothing else (the floor).

Target: peak RSS <= 250 MB, and flat in the recording's length.

A long replay runs in two processes (``emgpipe.split``; ``--processes 1|2|auto``
here is passed to it): ``ru_maxrss`` is then the larger of the two, and the
"summed MB" column the peak of their RSS added up, sampled every 20 ms (needs
psutil), which counts twice the pages the two share after ``fork`` (the
imported modules): an upper bound of what they use together.

Usage::

    python benchmarks/memory.py            # all sizes (~10 min on one core, ~3.5 GB of temp files)
    python benchmarks/memory.py --hours 1  # only the 1 h recordings (+ the 8-channel one at 1 h)
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

BLOCK_S = 60.0


def synth_blocks(hours: float, fs: float, n_ch: int, seed: int = 0):
    """Yield (n, n_ch) blocks of EMG-like µV: noise, 50 Hz hum, a burst every 20 s."""
    rng = np.random.default_rng(seed)
    n_total = int(round(hours * 3600 * fs))
    n_blk = int(BLOCK_S * fs)
    for a in range(0, n_total, n_blk):
        n = min(n_blk, n_total - a)
        t = (a + np.arange(n)) / fs
        x = rng.normal(0.0, 4.0, (n, n_ch))
        x += 3.0 * np.sin(2 * np.pi * 50.0 * t)[:, None]
        burst = ((t % 20.0) < 1.5)[:, None]
        x += np.where(burst, rng.normal(0.0, 60.0, (n, n_ch)), 0.0)
        yield x


def write_edf(path, hours, fs, n_ch):
    from emgpipe.night.edfplus import EdfPlusWriter
    w = EdfPlusWriter(path, fs=fs, ch_names=tuple(f"EMG {k}" for k in range(n_ch)), start_wall=1.7e9)
    try:
        for x in synth_blocks(hours, fs, n_ch):
            w.append(x)
            w.flush()
    finally:
        w.close()


def write_csv(path, hours, fs, n_ch):
    from emgpipe.io.contract_csv import CsvWriter
    with CsvWriter(path, fs, [f"EMG{k}" for k in range(n_ch)], {"mode": "sleep"}) as w:
        for x in synth_blocks(hours, fs, n_ch):
            w.write(x)


def run_child(argv, tree=None):
    """Run a command; return (exit code, peak RSS in MB of that child alone, wall s).

    ``tree``: a list that receives the peak of the summed RSS (MB) of the child and
    its own children (a two-process replay), sampled every 20 ms (needs psutil;
    pages the two share after ``fork`` count twice, so it overstates).
    """
    import threading
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    done = threading.Event()
    sampler = None
    if tree is not None:
        sampler = threading.Thread(target=_sample_tree, args=(p.pid, done, tree), daemon=True)
        sampler.start()
    _, status, usage = os.wait4(p.pid, 0)
    done.set()
    if sampler is not None:
        sampler.join()
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode(errors="replace").strip()
    p.stderr.close()
    if p.returncode != 0:
        print(f"  ! exit {p.returncode}: {err[-300:]}", file=sys.stderr)
    kb = usage.ru_maxrss if sys.platform != "darwin" else usage.ru_maxrss / 1024
    return p.returncode, kb / 1024.0, wall


def _sample_tree(pid, done, out):
    try:
        import psutil
    except ImportError:
        return
    peak = 0.0
    try:
        proc = psutil.Process(pid)
        while not done.is_set():
            try:
                total = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children())
            except psutil.Error:
                total = 0
            peak = max(peak, total / 2**20)
            done.wait(0.02)
    except psutil.Error:
        pass
    out.append(peak)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, nargs="*", default=[1, 4, 8],
                    help="lengths of the 2-channel 1 kHz recordings (default 1 4 8)")
    ap.add_argument("--formats", default="edf,csv", help="edf,csv (default both)")
    ap.add_argument("--keep", default=None, metavar="DIR", help="write the files here and keep them")
    ap.add_argument("--processes", choices=("1", "2", "auto"), default="auto",
                    help="replay --processes (default auto); the table adds the peak of the summed "
                         "RSS of the replay and its reading process")
    args = ap.parse_args(argv)
    cases = [(h, 1000.0, 2) for h in args.hours] + [(max(args.hours), 250.0, 8)]
    fmts = [f.strip() for f in args.formats.split(",") if f.strip()]
    tmp = args.keep or tempfile.mkdtemp(prefix="emgpipe-mem-")
    os.makedirs(tmp, exist_ok=True)
    py = sys.executable
    rows = []
    try:
        _, rss, wall = run_child([py, "-c", "import emgpipe.commands.replay, emgpipe.pipeline, "
                                            "emgpipe.io.edf, emgpipe.io.contract_csv, edfio"])
        rows.append(("(import only)", "", "", "", rss, wall, None, None))
        for hours, fs, n_ch in cases:
            for fmt in fmts:
                name = f"{n_ch}ch_{fs:g}Hz_{hours:g}h.{fmt}"
                path = os.path.join(tmp, name)
                t0 = time.perf_counter()
                (write_edf if fmt == "edf" else write_csv)(path, hours, fs, n_ch)
                t_write = time.perf_counter() - t0
                size = os.path.getsize(path) / 1e6
                ev = os.path.join(tmp, name + ".events.csv")
                tree = []
                code, rss, wall = run_child([py, "-m", "emgpipe", "replay", path, "--events-out", ev,
                                             "--no-progress", "--processes", args.processes], tree)
                speed = hours * 3600 / wall if code == 0 else float("nan")
                both = tree[0] if tree else None
                rows.append((fmt.upper(), f"{n_ch} ch {fs:g} Hz", f"{hours:g}", f"{size:,.0f}", rss,
                             wall, speed, both))
                print(f"  {name}: written in {t_write:.0f} s ({size:,.0f} MB), replay peak RSS "
                      f"{rss:.0f} MB (summed over its processes {both or 0:.0f} MB), {wall:.1f} s",
                      file=sys.stderr, flush=True)
                if not args.keep:
                    os.remove(path)
                    for extra in (ev, os.path.splitext(path)[0] + ".json"):
                        if os.path.exists(extra):
                            os.remove(extra)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"emgpipe replay, peak resident memory (python {sys.version.split()[0]}, "
          f"numpy {np.__version__})")
    print(f"{'format':14s} {'recording':14s} {'hours':>5s} {'file MB':>8s} {'peak RSS MB':>12s} "
          f"{'summed MB':>10s} {'wall s':>8s} {'x real time':>12s}")
    for fmt, what, hours, size, rss, wall, speed, both in rows:
        sp = "" if speed is None else f"{speed:,.0f}"
        sm = "" if both is None else f"{both:.0f}"
        print(f"{fmt:14s} {what:14s} {hours:>5s} {size:>8s} {rss:12.0f} {sm:>10s} {wall:8.1f} {sp:>12s}")
    worst = max(r[4] for r in rows)
    summed = [r[7] for r in rows if r[7]]
    if summed:
        print(f"largest summed RSS {max(summed):.0f} MB (two processes: shared pages counted twice)")
    print(f"worst peak RSS {worst:.0f} MB (target <= 250 MB, flat in length)")
    return 0 if worst <= 250 else 1


if __name__ == "__main__":
    sys.exit(main())
