"""Soak: an 8-hour simulated night through the code of ``emgpipe night``, at max speed.

Runs :class:`emgpipe.night.NightRecorder` (the same object ``emgpipe night``
runs: the pipeline with the cramp detector, the SQLite night log, rotating
EDF+ files, the alert manager with one sink) on ``sim:night`` for 8 h of
2-channel 1 kHz signal as fast as it goes, samples the process RSS every
0.25 s of wall time against the stream time reached, and prints the wall time,
the multiple of real time, the peak RSS and the RSS after 1 h, 4 h and 8 h of
signal: memory must stay flat (no growth with the length of the night).

    python benchmarks/soak_night.py                  # 8 h (a few minutes)
    python benchmarks/soak_night.py --hours 1 --json
    python benchmarks/soak_night.py --faults         # faults in a night (about 4 minutes)
    python benchmarks/soak_night.py --faults --kills 200 --only kill9

``--faults`` (issue 16 part 5, the scenarios are in ``soak_faults.py``) runs
the night's code against: a serial device unplugged three times (0.5, 1.5,
3 s) and plugged back, on a pseudo-terminal (the Arduino bridge emulator,
then the Cyton emulator), at real speed; an ESP32 over BLE out of range
three times (bleak faked at its API only); the disk filling up
(``RLIMIT_FSIZE`` of 1 MB on a child ``emgpipe night``); ``kill -9`` at a
random moment of ``--kills`` child nights; a webhook whose server takes the
POST and never answers. It prints each gap logged against the time no
samples really came (wall clock), announced events lost, whether raw files
are readable and equal to the signal up to their last flush, and the
detection loop's lag with and without the hanging webhook.

Measured (2-core VM shared with other jobs, load average ~7, Python 3.11,
numba kernels): 8 h of ``sim:night`` (2 channels, 1 kHz, seed 0) in 111 s of
wall time = 260x real time; RSS 227 MB after 1 h of signal, 228 MB after 4 h,
229 MB after 8 h (flat: nothing grows with the night), peak 232 MB; 8 hourly
EDF+ files (117 MB), a 180 kB database; 400 fasciculation episodes, 82 leg
movements, 2 cramps, 4 alerts (onset and reminder each).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import peak_rss_mb  # noqa: E402  (same measure as the throughput benchmark)


def rss_mb() -> float:
    import psutil
    return psutil.Process().memory_info().rss / 2**20


def soak(hours: float, out: Path, seed: int = 0) -> dict:
    from emgpipe.alerts import CallbackSink
    from emgpipe.night import NightRecorder

    alerts = []
    rec = NightRecorder(f"sim:night?duration={hours * 3600:g}&seed={seed}", out, speed="max",
                        alerts=[CallbackSink(alerts.append, "count")])
    samples, done = [], threading.Event()

    def watch():
        while not done.is_set():
            samples.append((rec.progress_s, rss_mb()))
            done.wait(0.25)
    rss0 = rss_mb()
    t = threading.Thread(target=watch, daemon=True)
    t0 = time.perf_counter()
    t.start()
    res = rec.run()
    wall = time.perf_counter() - t0
    done.set()
    t.join()
    samples.append((res.duration_s, rss_mb()))
    marks = {}
    for h in (1, 4, 8):
        if h <= hours + 1e-9:
            marks[f"rss_at_{h}h_mb"] = round(next(r for s, r in samples if s >= h * 3600 - 1e-6), 1)
    return {"hours": hours, "status": res.status, "wall_s": round(wall, 1),
            "x_realtime": round(res.duration_s / wall, 1), "rss_start_mb": round(rss0, 1),
            **marks, "rss_max_sampled_mb": round(max(r for _, r in samples), 1),
            "peak_rss_mb": round(peak_rss_mb(), 1), "events": dict(res.counts), "alerts": len(alerts),
            "raw_files": len(res.files), "raw_mb": round(sum(Path(f).stat().st_size for f in res.files) / 2**20, 1),
            "db_kb": round(res.db.stat().st_size / 1024, 1), "lost_s": res.n_lost / 1000.0}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="keep the night here (default: a temporary folder)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--faults", action="store_true", help="run the fault scenarios instead (soak_faults.py)")
    ap.add_argument("--kills", type=int, default=40, help="--faults: kill -9 runs (default 40)")
    ap.add_argument("--only", nargs="+", default=None, metavar="NAME",
                    help="--faults: serial_bridge serial_cyton ble disk_full kill9 webhook")
    a = ap.parse_args(argv)
    if a.faults:
        import soak_faults
        r = soak_faults.run_all(kills=a.kills, seed=a.seed, only=a.only)
        if a.json:
            print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "details"} for k, v in r.items()}))
        else:
            print(soak_faults.report(r))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        r = soak(a.hours, Path(a.out or tmp), a.seed)
    if a.json:
        print(json.dumps(r))
        return 0
    print(f"soak: {r['hours']:g} h simulated night ({r['status']}) in {r['wall_s']:.0f} s wall "
          f"= {r['x_realtime']:.0f}x real time")
    marks = ", ".join(f"{k[7:-3]} {v:.0f} MB" for k, v in r.items() if k.startswith("rss_at_"))
    print(f"RSS: start {r['rss_start_mb']:.0f} MB, {marks}; peak {r['peak_rss_mb']:.0f} MB")
    print(f"{r['events']}, {r['alerts']} alert(s); {r['raw_files']} raw file(s), {r['raw_mb']:.0f} MB; "
          f"database {r['db_kb']:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
