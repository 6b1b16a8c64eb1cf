"""Everyday recordings replayed with the calves only: what the shin channels buy.

The benchmark's drives, calf-raise sessions, standing and cycling are
recorded with a shin (tibialis anterior) channel beside each calf, and some
of the detector's rules use it (a press placed by its antagonist, the
accelerator after a brake). A wearer with one sensor per calf, or another
simulator's recordings, has none. This script replays each such recording
of a benchmark folder twice, with every channel and with the ``calf*``
channels only, and prints per device variant and scenario the false cramp
alerts (and per hour for drives) and the cramps found, for both:

    python benchmarks/calves_only.py datasets/benchmark --jobs 2

``--json OUT`` keeps the per-recording results. A measurement, not a test:
the figures go into docs/detector.md and the README's limits.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

#: the scenarios replayed (the ones whose recordings have shin channels)
SCENARIOS = ("driving", "driving_cramp", "calf_raises", "standing", "cycling", "stairs")


def one(path: str) -> dict:
    """Both replays of one recording (top level: runs in worker processes)."""
    import numpy as np

    from emgpipe.io import read_recording
    from emgpipe.io.base import Recording
    from emgpipe.metrics import match, read_labels
    from emgpipe.pipeline import run_recording

    rec = read_recording(path)
    x = rec.to_array()
    x = x[0] if isinstance(x, tuple) else x
    names = list(rec.ch_names)
    labels = read_labels(Path(path).with_name(Path(path).stem + ".labels.csv"))
    calves = [i for i, n in enumerate(names) if n.startswith("calf")]
    out = {"path": path, "duration_s": rec.duration_s, "n_channels": len(names)}
    for tag, cols in (("all", list(range(len(names)))), ("calves", calves)):
        # (the sidecar kept: an envelope stays an envelope)
        r = Recording(path, rec.fs, tuple(names[i] for i in cols), [(0, np.asarray(x[:, cols], dtype=float))],
                      meta=dict(rec.meta))
        keep = {names[i] for i in cols}
        lab = [lb for lb in labels if lb.channel in keep]
        m = match(run_recording(r, mode="awake").events, lab, "cramp")
        out[tag] = {"false_alerts": [round(d.alert_s, 2) for d in m.false_positives],
                    "found": len(m.pairs), "cramps": sum(1 for lb in lab if lb.kind == "cramp")}
    return out


def scenario(path: str) -> str:
    """The scenario of a recording: its name without the seed (``driving_s2001``: ``driving``)."""
    stem = Path(path).stem
    head, _, seed = stem.rpartition("_s")
    return head if head and seed.isdigit() else stem


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("directory", help="a benchmark folder (variant subfolders of labelled recordings)")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--json", help="write the per-recording results here")
    ap.add_argument("--scenarios", nargs="+", default=list(SCENARIOS),
                    help=f"the scenarios replayed (default: {' '.join(SCENARIOS)})")
    a = ap.parse_args(argv)
    if not Path(a.directory).is_dir():
        print(f"calves_only: {a.directory}: no such folder (make it with datasets/make_benchmark.py)",
              file=sys.stderr)
        return 2
    paths = sorted(str(p) for p in Path(a.directory).rglob("*.csv")
                   if not p.name.endswith(".labels.csv") and scenario(str(p)) in a.scenarios)
    if not paths:
        print(f"calves_only: {a.directory}: no {', '.join(a.scenarios)} recordings", file=sys.stderr)
        return 2
    if a.jobs > 1:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(a.jobs) as ex:
            results = list(ex.map(one, paths))
    else:
        results = [one(p) for p in paths]
    with_shin = [r for r in results if r["n_channels"] > 2]
    print(f"{len(results)} recordings, {len(with_shin)} with more than two channels")
    print(f"{'variant':<16}{'scenario':<15}{'hours':>6}  {'FA all':>7}{'FA calves':>10}"
          f"{'FA/h all':>9}{'FA/h calves':>12}  {'found all':>10}{'found calves':>13}")
    groups: dict = {}
    for r in results:
        groups.setdefault((Path(r["path"]).parent.name, scenario(r["path"])), []).append(r)
    for (variant, scen), rs in sorted(groups.items()):
        h = sum(r["duration_s"] for r in rs) / 3600
        fa = {t: sum(len(r[t]["false_alerts"]) for r in rs) for t in ("all", "calves")}
        found = {t: f"{sum(r[t]['found'] for r in rs)}/{sum(r[t]['cramps'] for r in rs)}" for t in ("all", "calves")}
        print(f"{variant:<16}{scen:<15}{h:6.2f}  {fa['all']:7d}{fa['calves']:10d}"
              f"{fa['all'] / h:9.2f}{fa['calves'] / h:12.2f}  {found['all']:>10}{found['calves']:>13}")
    for r in results:
        if r["all"]["false_alerts"] != r["calves"]["false_alerts"]:
            print(f"  {Path(r['path']).parent.name}/{Path(r['path']).name}: "
                  f"all {r['all']['false_alerts']}  calves {r['calves']['false_alerts']}")
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
