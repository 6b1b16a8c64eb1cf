"""Fasciculation errors of a benchmark folder, by what surrounds them.

Each recording of a folder of labelled recordings (``datasets/benchmark``, its
device-variant subfolders, or one of them) is replayed, its fasciculation
episodes are matched to the labels (``emgpipe.metrics``: the same matching as
``emgpipe bench``), and every false episode and every missed label is put in
one place by the other labels of its channel:

* ``onset <kind>/<what>``: a false episode in the second before a label of
  that channel begins (the recruitment leading into a contraction);
* ``during <kind>/<what>``: inside one (a missed one: potentials inside
  walking or standing, which the detector does not look for);
* ``before cramp``: a missed one in the 30 s before a cramp (its precursor);
* ``after <kind>``: within 3 s after one ended;
* ``quiet``: none of these.

``<what>`` is the first word of the label's detail (``pedal``, ``walking``,
``pop``...). Per device variant it prints the totals (sensitivity,
precision) and the places, most common first:

    python benchmarks/fasc_errors.py datasets/benchmark/raw1000 --jobs 2

``--json OUT`` keeps every error with its recording, channel and time. A
measurement, not a test: the figures go into docs/detector.md. MyoWare ENV
recordings (an envelope shows no single potential) are skipped, as
``emgpipe bench`` does not score their fasciculations.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

#: s: a false episode this long before a label begins is at that label's onset
ONSET_S = 1.0
#: s: ... this long after one ends, after it
AFTER_S = 3.0
#: s: a missed one this long before a cramp is in its precursor
PRECURSOR_S = 30.0


def _what(label) -> str:
    word = (label.detail or "").split()[0] if (label.detail or "").split() else ""
    return f"{label.kind}/{word.rstrip(',')}" if word else label.kind


def place(t: float, others: list, missed: bool) -> str:
    """Where an error at ``t`` s lies among ``others``, the labels of its
    channel that are not fasciculations (the module docstring's places)."""
    if not missed:
        for lb in others:
            if lb.start_s - ONSET_S <= t < lb.start_s:
                return "onset " + _what(lb)
    for lb in others:
        if lb.start_s <= t <= lb.end_s:
            return "during " + _what(lb)
    if missed:
        for lb in others:
            if lb.kind == "cramp" and lb.start_s - PRECURSOR_S <= t < lb.start_s:
                return "before cramp"
    for lb in others:
        if 0.0 <= t - lb.end_s < AFTER_S:
            return "after " + lb.kind
    return "quiet"


def one(path: str) -> dict | None:
    """The fasciculation errors of one recording (top level: runs in worker
    processes); None for an envelope (MyoWare ENV), which shows no potential."""
    from emgpipe.io import read_recording
    from emgpipe.metrics import match, read_labels
    from emgpipe.pipeline import run_recording, signal_of

    rec = read_recording(path)
    if signal_of(rec) == "envelope":
        return None
    labels = read_labels(Path(path).with_name(Path(path).stem + ".labels.csv"))
    m = match(run_recording(rec).events, labels, "fasciculation")
    others: dict = {}
    for lb in labels:
        if lb.kind != "fasciculation":
            others.setdefault(lb.channel, []).append(lb)
    fp = [(d.channel, round(d.start_s, 3), place(d.start_s, others.get(d.channel, []), False))
          for d in m.false_positives]
    fn = [(lb.channel, round(lb.start_s, 3), place(lb.start_s, others.get(lb.channel, []), True))
          for lb in m.false_negatives]
    return {"path": path, "tp": len(m.pairs), "fp": fp, "fn": fn}


def summary(results: list) -> dict:
    """Per device variant (the recording's folder): totals and the places of its errors."""
    out: dict = {}
    for r in results:
        v = out.setdefault(Path(r["path"]).parent.name, {"tp": 0, "fp": 0, "fn": 0,
                                                         "fp_places": Counter(), "fn_places": Counter()})
        v["tp"] += r["tp"]
        v["fp"] += len(r["fp"])
        v["fn"] += len(r["fn"])
        v["fp_places"].update(x[2] for x in r["fp"])
        v["fn_places"].update(x[2] for x in r["fn"])
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", help="a folder of labelled recordings (datasets/benchmark or a variant of it)")
    ap.add_argument("--jobs", type=int, default=1, help="recordings replayed in parallel")
    ap.add_argument("--json", metavar="OUT", help="keep every error here")
    ap.add_argument("--top", type=int, default=8, help="places listed per variant")
    a = ap.parse_args(argv)
    folder = Path(a.folder)
    if not folder.is_dir():
        print(f"fasc_errors: {folder}: no such folder", file=sys.stderr)
        return 2
    from emgpipe.commands.bench import find_labeled      # (the recordings emgpipe bench scores)
    paths = [str(p) for p in find_labeled(folder)]
    if a.jobs > 1:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(a.jobs) as ex:
            results = list(ex.map(one, paths))
    else:
        results = [one(p) for p in paths]
    results = [r for r in results if r is not None]
    if not results:
        print(f"fasc_errors: {folder}: no labelled recordings with potentials (not an envelope)", file=sys.stderr)
        return 2
    for variant, v in sorted(summary(results).items()):
        tp, fp, fn = v["tp"], v["fp"], v["fn"]
        sens = f"{tp / (tp + fn):.3f}" if tp + fn else "-"
        prec = f"{tp / (tp + fp):.3f}" if tp + fp else "-"
        print(f"{variant}: fasciculation episodes found {tp}/{tp + fn} (sensitivity {sens}), "
              f"false {fp} (precision {prec})")
        for name, key in (("false", "fp_places"), ("missed", "fn_places")):
            for where, n in v[key].most_common(a.top):
                print(f"  {name:6s} {n:5d}  {where}")
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
