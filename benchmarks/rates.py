"""The same recordings at every sample rate and device: do the cramp alerts agree?

The standard benchmark holds each scenario at four device variants (Cyton 250
Hz, Ganglion 200 Hz, MyoWare ENV 250 Hz, raw 1 kHz). A user's amplifier may
sample at 2 or 4 kHz, and a MyoWare envelope may be read at 1 kHz. This script
simulates a fixed set of labelled recordings (``emgpipe simulate SCENARIO
--seed N --fs F --device D``: the same seed gives the same activities and
cramps at every rate) for each device and rate below, replays them as
``benchmarks/alerts.py`` does (``emgpipe.commands.bench.bench_one``), and
prints

* per device and rate: cramps found, false cramp alerts, precision, and the
  awake and sleep latency median / 95th percentile;
* per labelled cramp: its onset-to-alert latency at every rate side by side
  (``MISS`` where it was not found), and every false alert with its rate.

The recordings are written once under ``--out`` (default ``build/rates``) and
reused. Nothing here is tuned on: it shows whether a figure depends on the
rate (filters, windows and floors are designed from each stream's rate).

    python benchmarks/rates.py                 # all devices and rates
    python benchmarks/rates.py --only raw4000  # one of them
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import alerts  # noqa: E402  (the benchmark beside this one)

#: (device, sample rate Hz): the benchmark's variants, then the rates it does not hold
VARIANTS = [("ganglion", 200), ("cyton", 250), ("myoware_env", 250), ("raw", 1000),
            ("myoware_env", 1000), ("raw", 2000), ("raw", 4000)]
#: (scenario, seed): cramps after walking, mid-drive, weak ones, a raise session,
#: standing and a restless night (the last three have no cramp)
RECORDINGS = [("walk_then_cramp", 0), ("walk_then_cramp", 1), ("walk_then_cramp", 2), ("walk_then_cramp", 3),
              ("driving_cramp", 0), ("weak_cramps", 0), ("weak_cramps_sleep", 0), ("calf_raises", 0),
              ("standing", 0), ("restless_night", 0)]


def folder(out: str, device: str, fs: int) -> Path:
    return Path(out) / f"{device}{fs}"


def simulate(out: str, device: str, fs: int, scenario: str, seed: int) -> None:
    """Write one labelled recording unless it is there (a ``.done`` marker beside it)."""
    d = folder(out, device, fs)
    d.mkdir(parents=True, exist_ok=True)
    csv = d / f"{scenario}_s{seed}.csv"
    done = csv.with_suffix(".done")
    if done.exists():
        return
    cmd = [sys.executable, "-m", "emgpipe", "simulate", scenario, "--seed", str(seed), "--fs", str(fs),
           "--device", device, "--out", str(csv)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"rates: {' '.join(cmd[2:])} failed: {p.stderr.strip()[-300:]}")
    done.write_text("ok\n", encoding="utf-8")


def per_cramp(results_by_variant: dict) -> list[str]:
    """One line per labelled cramp: its latency (s) at every variant."""
    names = list(results_by_variant)
    cramps: dict = {}
    for v, results in results_by_variant.items():
        for r in results:
            rec = Path(r["path"]).name
            for c in r["cramps"]:
                key = (rec, c["channel"], round(float(c["start_s"]), 1))
                cramps.setdefault(key, {})[v] = f"{c['latency_s']:.1f}" if c["found"] else "MISS"
    lines = [f"{'recording':26s} {'channel':12s} {'onset s':>8s} " + " ".join(f"{n:>15s}" for n in names)]
    for (rec, ch, t), by in sorted(cramps.items()):
        lines.append(f"{rec:26s} {ch:12s} {t:8.1f} " + " ".join(f"{by.get(n, '-'):>15s}" for n in names))
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "..", "build", "rates"),
                    help="folder for the simulated recordings (kept and reused)")
    ap.add_argument("--jobs", type=int, default=2, help="recordings simulated and replayed in parallel")
    ap.add_argument("--only", action="append", metavar="DEVICEFS",
                    help="only this variant (e.g. raw4000; repeatable)")
    args = ap.parse_args(argv)
    variants = [(d, f) for d, f in VARIANTS if not args.only or f"{d}{f}" in args.only]
    if not variants:
        print(f"rates: no variant named {', '.join(args.only)}; "
              f"known: {', '.join(f'{d}{f}' for d, f in VARIANTS)}", file=sys.stderr)
        return 2
    jobs = [(args.out, d, f, sc, seed) for d, f in variants for sc, seed in RECORDINGS]
    with ThreadPoolExecutor(max(1, args.jobs)) as ex:
        list(ex.map(lambda j: simulate(*j), jobs))
    results = {f"{d}{f}": alerts.run(folder(args.out, d, f), args.jobs) for d, f in variants}
    print(f"{len(RECORDINGS)} recordings per variant ({', '.join(f'{s}_s{n}' for s, n in RECORDINGS)})")
    for v, res in results.items():
        for s in alerts.summary(res).values():
            print(alerts._fmt(v, s))
    print()
    for line in per_cramp(results):
        print(line)
    fa = [f"  {v}: {Path(r['path']).name} at {', '.join(f'{t:.1f}' for t in r['false_alerts'])} s"
          for v, res in results.items() for r in res if r["false_alerts"]]
    print()
    print("false cramp alerts:" if fa else "false cramp alerts: none")
    for line in fa:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
