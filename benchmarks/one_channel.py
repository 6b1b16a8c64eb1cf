"""The detector with one channel: single-channel copies of a benchmark folder, scored.

Many wearers have one sensor (a MyoWare 2.0 on one calf). With one channel the
detector cannot check that a contraction is localised (the co-activation of the
other calf or the shin): standing, walking's pauses and presses are judged on
that channel alone. This script measures what that costs. It copies every
recording of a variant folder that has CHANNEL (default ``calf_right``) into OUT
with that channel only (the recording, its sidecar and the labels of that
channel), then scores the copies as ``emgpipe bench OUT --json`` does and prints
the cramp figures beside those of the same channel in the full recordings.

    python benchmarks/one_channel.py datasets/benchmark/env250 build/one_channel
    python benchmarks/one_channel.py datasets/benchmark/cyton250 build/one_channel --channel calf_left

The copies are plain contract CSV (time_s + one channel), kept in OUT.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path


def copy_one_channel(src: Path, out: Path, channel: str) -> int:
    """Write the single-channel copies; returns how many recordings had ``channel``."""
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for rec in sorted(src.glob("*.csv")):
        if rec.name.endswith(".labels.csv"):
            continue
        labels, side = rec.with_name(rec.stem + ".labels.csv"), rec.with_suffix(".json")
        with open(rec, encoding="utf-8", newline="") as fi:
            head = fi.readline().rstrip("\r\n").split(",")
            if channel not in head or not labels.is_file():
                continue
            k = head.index(channel)
            with open(out / rec.name, "w", encoding="utf-8", newline="") as fo:
                fo.write(f"{head[0]},{channel}\n")
                for line in fi:
                    p = line.rstrip("\r\n").split(",")
                    fo.write(f"{p[0]},{p[k]}\n")
        if side.is_file():
            meta = json.loads(side.read_text(encoding="utf-8"))
            meta["channels"] = [channel]
            if isinstance(meta.get("mvc_rms_uv"), dict):
                meta["mvc_rms_uv"] = {channel: meta["mvc_rms_uv"].get(channel)}
            (out / side.name).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        with open(labels, encoding="utf-8", newline="") as li, \
                open(out / labels.name, "w", encoding="utf-8", newline="") as lo:
            rows = csv.reader(li)
            w = csv.writer(lo, lineterminator="\n")
            w.writerow(next(rows))
            w.writerows(r for r in rows if len(r) > 1 and r[1] == channel)
        n += 1
    return n


def cramp_figures(paths: list, jobs: int) -> dict:
    """``emgpipe bench``'s summary of these recordings (overall scores, targets)."""
    from concurrent.futures import ProcessPoolExecutor

    from emgpipe.commands.bench import bench_one, summarize
    with ProcessPoolExecutor(jobs) as ex:
        results = list(ex.map(bench_one, paths))
    return summarize(results)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("variant", help="a variant folder of the benchmark set (e.g. datasets/benchmark/env250)")
    ap.add_argument("out", help="folder for the single-channel copies")
    ap.add_argument("--channel", default="calf_right", help="the channel kept (default calf_right)")
    ap.add_argument("--jobs", type=int, default=2, help="recordings scored in parallel")
    args = ap.parse_args(argv)
    src, out = Path(args.variant), Path(args.out)
    if not src.is_dir():
        print(f"one_channel: {src}: no such folder", file=sys.stderr)
        return 2
    n = copy_one_channel(src, out, args.channel)
    if not n:
        print(f"one_channel: {src}: no labelled recording has a channel {args.channel}", file=sys.stderr)
        return 2
    from emgpipe.commands.bench import find_labeled
    rows = []
    for name, folder in (("all channels", src), (f"{args.channel} only", out)):
        summary = cramp_figures(find_labeled(folder), args.jobs)
        c = summary["overall"]["cramp"]
        t = summary["targets"][0] if summary.get("targets") else {}
        rows.append((name, c, t.get("negatives_fa"), t.get("negatives_fa_where"), t.get("driving_fa_per_h")))
    print(f"{n} recordings of {src} with {args.channel}; cramps on every channel of the full recordings, "
          f"on {args.channel} alone in the copies ({out})")
    print(f"{'':16} {'TP':>4} {'FP':>4} {'FN':>4} {'sens':>6} {'prec':>6} {'FA/h':>6} {'FA cramp-free':>14} "
          f"{'driving FA/h':>13}  where")
    for name, c, fa, where, drv in rows:
        prec = c["precision"] if c["precision"] is not None else float("nan")
        sens = c["sensitivity"] if c["sensitivity"] is not None else float("nan")
        print(f"{name:16} {c['tp']:>4} {c['fp']:>4} {c['fn']:>4} {sens:6.3f} {prec:6.3f} {c['fa_per_h']:6.2f} "
              f"{fa if fa is not None else '-':>14} {drv if drv is not None else float('nan'):13.2f}  "
              f"{', '.join(where or [])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
