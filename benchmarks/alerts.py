"""Every false cramp alert, missed cramp and slow alert of a benchmark folder, per recording.

`emgpipe bench` prints totals; a change to the detector is understood one
recording at a time: which false alert went, which cramp got slower. This
script replays every labelled recording of DIR (as ``emgpipe bench DIR``
does, ``emgpipe.commands.bench.bench_one``) and prints

* ``FA`` lines: a false cramp alert (its time, and the labels of that channel
  around it: what the wearer was doing);
* ``MISS`` lines: a cramp not found (its %MVC and its RMS over the channel's
  quiet level);
* ``SLOW`` lines: a cramp found more than ``--slow`` seconds after its onset;

then, per device variant, cramps found, false alerts, precision and the
awake and sleep latency median and 95th percentile. ``--json OUT`` keeps the
results; ``--against OLD.json`` prints what changed since (false alerts added
or removed, cramps found or lost, alerts that moved) beside both summaries.
Measure a change on the standard set, then check it on the validation split:

    python benchmarks/alerts.py datasets/benchmark --json build/alerts.json
    # ... change the detector ...
    python benchmarks/alerts.py datasets/benchmark --against build/alerts.json
    python benchmarks/alerts.py datasets/validation --json build/alerts_val.json
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

#: s: labels of the channel within this much of a false alert are printed beside it
AROUND_S = 10.0
#: s: an alert that moved by more than this is a change
MOVED_S = 0.01


def one(path) -> dict:
    """The cramp results of one recording (top level: runs in worker processes)."""
    from emgpipe.commands.bench import bench_one
    r = bench_one(path)
    return {"path": str(path), "mode": r["mode"], "cramps": r["cramps"], "false_alerts": r["false_alerts"]}


def run(directory, jobs: int) -> list:
    from concurrent.futures import ProcessPoolExecutor

    from emgpipe.commands.bench import find_labeled
    paths = find_labeled(directory)
    if jobs <= 1:
        return [one(p) for p in paths]
    with ProcessPoolExecutor(jobs) as ex:
        return list(ex.map(one, paths))


def _name(path: str) -> str:
    p = Path(path)
    return f"{p.parent.name}/{p.name}"


def _variant(path: str) -> str:
    return Path(path).parent.name


def _around(path: str, t: float) -> str:
    """The labels (kind:detail start-end %MVC) that overlap ``t`` +- AROUND_S."""
    labels = Path(path).with_name(Path(path).stem + ".labels.csv")
    if not labels.is_file():
        return ""
    out = []
    with open(labels, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            try:
                a, b = float(row["start_s"]), float(row["end_s"])
            except (KeyError, TypeError, ValueError):
                continue
            if row.get("kind") != "fasciculation" and a - AROUND_S <= t <= b + AROUND_S:
                mvc = f" {row['mvc_pct']}%" if row.get("mvc_pct") else ""
                out.append(f"{row.get('channel')} {row.get('kind')}:{row.get('detail', '')} {a:.1f}-{b:.1f}{mvc}")
    return "; ".join(out[:4])


def listing(results: list, slow_s: float) -> list[str]:
    lines = []
    for r in results:
        for t in r["false_alerts"]:
            lines.append(f"FA   {_name(r['path'])} {t:.2f}  [{_around(r['path'], t)}]")
        for c in r["cramps"]:
            if not c["found"]:
                qr = c.get("quiet_ratio")
                lines.append(f"MISS {_name(r['path'])} {c['channel']} {c['start_s']:.1f} s, {c.get('mvc_pct')} % MVC, "
                             f"{'-' if qr is None else f'{qr:.1f}'}x quiet")
            elif c["latency_s"] > slow_s:
                lines.append(f"SLOW {_name(r['path'])} {c['channel']} {c['start_s']:.1f} s: {c['latency_s']:.1f} s")
    return lines


def _pct(v: list, q: float) -> float | None:
    import numpy as np
    return float(np.percentile(v, q)) if v else None


def summary(results: list) -> dict:
    """Per variant: found, cramps, false alerts, precision, latency median / p95 awake and asleep."""
    out: dict = {}
    for r in results:
        d = out.setdefault(_variant(r["path"]), {"found": 0, "cramps": 0, "fa": 0, "awake": [], "sleep": []})
        d["fa"] += len(r["false_alerts"])
        for c in r["cramps"]:
            d["cramps"] += 1
            if c["found"]:
                d["found"] += 1
                d["sleep" if r["mode"] == "sleep" else "awake"].append(c["latency_s"])
    rows = {}
    for v, d in sorted(out.items()):
        n = d["found"] + d["fa"]
        rows[v] = {"found": d["found"], "cramps": d["cramps"], "fa": d["fa"],
                   "precision": d["found"] / n if n else None,
                   "awake_med": _pct(d["awake"], 50), "awake_p95": _pct(d["awake"], 95),
                   "sleep_med": _pct(d["sleep"], 50), "sleep_p95": _pct(d["sleep"], 95)}
    return rows


def changes(old: list, new: list) -> list[str]:
    """What changed from ``old`` to ``new`` (results of the same recordings)."""
    before = {r["path"]: r for r in old}
    lines = []
    for r in new:
        o = before.get(r["path"])
        if o is None:
            lines.append(f"NEW  {_name(r['path'])} (not in the old results)")
            continue
        gone = [t for t in o["false_alerts"] if not any(abs(t - u) <= MOVED_S for u in r["false_alerts"])]
        came = [t for t in r["false_alerts"] if not any(abs(t - u) <= MOVED_S for u in o["false_alerts"])]
        if gone or came:
            lines.append(f"FA   {_name(r['path'])} {o['false_alerts']} -> {r['false_alerts']}")
        old_c = {(c["channel"], round(c["start_s"], 3)): c for c in o["cramps"]}
        for c in r["cramps"]:
            p = old_c.get((c["channel"], round(c["start_s"], 3)))
            if p is None:
                continue
            if p["found"] != c["found"] or (c["found"] and abs(p["latency_s"] - c["latency_s"]) > MOVED_S):
                def show(x):
                    return f"{x['latency_s']:.2f} s" if x["found"] else "missed"
                lines.append(f"CR   {_name(r['path'])} {c['channel']} {c['start_s']:.1f} s: {show(p)} -> {show(c)}")
    return lines


def _s(x: float | None, fmt: str = ".1f") -> str:
    return "-" if x is None else format(x, fmt)


def _fmt(v: str, s: dict, tag: str = "") -> str:
    return (f"{v:16} {tag:4} found {s['found']}/{s['cramps']}  FA {s['fa']}  precision {_s(s['precision'], '.3f')}  "
            f"latency awake {_s(s['awake_med'])}/{_s(s['awake_p95'])} s, asleep {_s(s['sleep_med'])}/"
            f"{_s(s['sleep_p95'])} s (median/p95)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("directory", metavar="DIR", help="folder of labelled recordings (datasets/benchmark)")
    ap.add_argument("--jobs", type=int, default=2, help="recordings replayed in parallel")
    ap.add_argument("--json", metavar="OUT", help="keep the per-recording results in this file")
    ap.add_argument("--against", metavar="OLD.json", help="print what changed since these results")
    ap.add_argument("--slow", type=float, default=10.0, metavar="S", help="list alerts later than this (s)")
    args = ap.parse_args(argv)
    if not Path(args.directory).is_dir():
        print(f"alerts: {args.directory}: no such folder", file=sys.stderr)
        return 2
    old = None
    if args.against:
        try:
            old = json.loads(Path(args.against).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            print(f"alerts: {args.against}: cannot read the old results ({e})", file=sys.stderr)
            return 2
    results = run(args.directory, args.jobs)
    if not results:
        print(f"alerts: {args.directory}: no labelled recordings", file=sys.stderr)
        return 2
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results), encoding="utf-8")
    for line in listing(results, args.slow):
        print(line)
    new_s = summary(results)
    if old is not None:
        print("changes:")
        for line in changes(old, results) or ["  none"]:
            print(line)
        old_s = summary(old)
        for v, s in new_s.items():
            if v in old_s:
                print(_fmt(v, old_s[v], "old"))
            print(_fmt(v, s, "new"))
    else:
        for v, s in new_s.items():
            print(_fmt(v, s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
