"""``emgpipe bench DIR``: replay every labelled recording and score events against labels.

A labelled recording is a recording file ``X.csv`` (or any readable format)
with a sibling ``X.labels.csv``; DIR is searched recursively. Each one is
replayed causally through :func:`emgpipe.pipeline.run_recording` and scored
with :func:`emgpipe.metrics.score` (matching rule in :mod:`emgpipe.metrics`).

Scoring policy: in recordings whose sidecar says ``"signal": "envelope"``
(MyoWare ENV), fasciculation *labels* are not scored, since an envelope
cannot show single potentials (protocols.md §3.1); fasciculation detections
there still count as false positives.

Output: per-kind metrics over all recordings, a table per scenario (sidecar
``scenario`` @ ``device``/fs, else the file stem), and the targets table per
device variant (:func:`targets`; ``--wearer`` adds the false alerts after one
answer of a simulated wearer); ``--json`` prints the same as one JSON object
instead.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path

from ..errors import BadData, UsageError
from ..metrics import EVENT_KINDS, combine, format_table, json_safe, match, read_labels, score

log = logging.getLogger(__name__)


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "bench", help="score the detector on labelled recordings",
        description="Replay every labelled recording in DIR (X.csv with X.labels.csv beside it, searched "
                    "recursively) through the pipeline and print event-level metrics per kind and per "
                    "scenario. Matching: same channel, overlap with slack (cramp 2 s, fasciculation 0.3 s, "
                    "others 1 s), each label matched once, fragments are false positives.")
    p.add_argument("directory", metavar="DIR", help="folder of labelled recordings (e.g. datasets/benchmark)")
    p.add_argument("--mode", choices=("awake", "sleep", "auto"), default="auto",
                   help="detector mode (auto: from each recording's sidecar)")
    p.add_argument("--model", default=None, metavar="NAME", help="detector model (default: default)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="recordings replayed in parallel (processes)")
    p.add_argument("--wearer", action="store_true",
                   help="also measure the wearer's answer: where a false cramp alert comes, a simulated "
                        "wearer answers 'not a cramp' 5 s after it, and the recording is replayed again "
                        "with that answer stored (the next session); prints the false alerts after it")
    from .. import batch
    batch.add_arguments(p)     # --workers N / --scheduler URL / --cohort-out FILE.csv (emgpipe.batch)
    p.set_defaults(func=run)
    return p


def find_labeled(directory) -> list[Path]:
    """Recordings under ``directory`` that have a sibling ``<stem>.labels.csv``."""
    d = Path(directory)
    if not d.is_dir():
        raise BadData(d, "no such directory")
    out = []
    for lab in sorted(d.rglob("*.labels.csv")):
        stem = lab.name[: -len(".labels.csv")]
        cands = [c for c in sorted(lab.parent.glob(stem + ".*"))
                 if c.name not in (lab.name, stem + ".json", stem + ".events.csv", stem + ".png")
                 and not c.name.endswith(".labels.csv")]
        if cands:
            out.append(cands[0])
        else:
            log.warning("%s: no recording beside it", lab)
    return out


def group_key(recording) -> str:
    side = recording.meta.get("sidecar") or {}
    name = side.get("scenario") or Path(recording.path).stem
    dev = side.get("device")
    fs = f"{recording.fs:g}"
    return f"{name}@{dev}{fs}" if dev else f"{name}@{fs}"


#: A simulated wearer answers a false cramp alert this long after it (s).
WEARER_DELAY_S = 5.0
#: Cramps at most this strong (% of the simulated MVC) are "weak" (issue 13: 8-20 %).
WEAK_MVC_PCT = 20.0


def quiet_ratios(rec, labels, signal: str) -> dict:
    """Each cramp label's RMS over the channel's quiet level, as the detector's
    filters see it: ``{(channel, start_s): ratio}``. The quiet level is the
    median 0.25 s RMS of the windows at least 1 s away from every label of
    that channel (for an envelope: of the envelope itself)."""
    import numpy as np

    from ..graph import filters_from_model
    from ..models import load_model

    cramps = [x for x in labels if x.kind == "cramp"]
    if not cramps:
        return {}
    x = np.concatenate([c.data for c in rec.iter_chunks(chunk_s=60.0)]) if rec.n_total else None
    if x is None or not len(x):
        return {}
    if signal != "envelope":
        from ..types import Chunk
        x = filters_from_model(load_model(None))(Chunk(x, fs=rec.fs, ch_names=tuple(rec.ch_names))).data
    n = max(1, int(round(0.25 * rec.fs)))
    out = {}
    for ci, name in enumerate(rec.ch_names):
        mine = [c for c in cramps if c.channel == name]
        if not mine:
            continue
        col = x[:, ci]
        nw = len(col) // n
        w = np.sqrt(np.mean(col[:nw * n].reshape(nw, n) ** 2, axis=1))
        t = np.arange(nw) * n / rec.fs
        busy = np.zeros(nw, bool)
        for lab in labels:
            if lab.channel == name:
                busy |= (t + 0.25 >= lab.start_s - 1.0) & (t <= lab.end_s + 1.0)
        quiet = float(np.median(w[~busy])) if (~busy).any() else float("nan")
        for c in mine:
            a, b = int(c.start_s * rec.fs), int(c.end_s * rec.fs)
            out[(name, c.start_s)] = float(np.sqrt(np.mean(col[a:b] ** 2)) / quiet) if b > a else float("nan")
    return out


def _wearer(labels):
    """A simulated wearer: answers "not a cramp" to the first false cramp alert,
    ``WEARER_DELAY_S`` after it. Returns (before_push hook, state dict)."""
    cramps = [x for x in labels if x.kind == "cramp"]
    state = {"pending": None, "answered": None}

    def on_event(e):
        if e.kind != "cramp" or e.status != "onset" or state["pending"] or state["answered"]:
            return
        if not any(c.channel == e.channel and c.start_s - 2 <= e.alert_s <= c.end_s + 2 for c in cramps):
            state["pending"] = (e.channel, e.alert_s + WEARER_DELAY_S, e)

    def before_push(p, chunk):
        if not state["pending"]:
            if not getattr(p, "_wearer_sink", False):
                p.events.sink(on_event)
                p._wearer_sink = True
            return
        ch, t, e = state["pending"]
        if chunk.start_s >= t:
            state["pending"] = None
            state["answered"] = (ch, chunk.start_s, e)
            p.answer(ch, "not_cramp", chunk.start_s)
    return before_push, state


def bench_one(path, mode="auto", model=None, wearer: bool = False) -> dict:
    """Replay and score one labelled recording (top level: runs in worker processes).

    With ``wearer``, the recording is also replayed (a) with a simulated wearer
    who answers "not a cramp" to the first false alert and (b) again from the
    start with that answer in the wearer's profile (the next session); the
    false alerts after the answer are counted for both.
    """
    from ..io import read_recording
    from ..pipeline import resolve_mode, run_recording, signal_of

    rec = read_recording(path)
    labels = read_labels(Path(path).with_name(Path(path).stem + ".labels.csv"))
    side = rec.meta.get("sidecar") or {}
    if side.get("signal") == "envelope":
        labels = [x for x in labels if x.kind != "fasciculation"]
    t = time.monotonic()
    result = run_recording(rec, mode=mode, model=model)
    replay_s = time.monotonic() - t
    events = getattr(result, "events", result)
    scores = score(events, labels, rec.duration_s)
    m = match(events, labels, "cramp")
    found = {(lab.channel, lab.start_s): d.alert_s - lab.start_s for d, lab in m.pairs}
    ratios = quiet_ratios(rec, labels, signal_of(rec))
    cramps = [{"channel": lab.channel, "start_s": lab.start_s, "mvc_pct": lab.mvc_pct,
               "quiet_ratio": ratios.get((lab.channel, lab.start_s)),
               "found": (lab.channel, lab.start_s) in found,
               "latency_s": found.get((lab.channel, lab.start_s))}
              for lab in labels if lab.kind == "cramp"]
    out = {"path": str(path), "group": group_key(rec), "duration_s": rec.duration_s,
           "mode": resolve_mode(mode, rec) or "awake", "replay_s": replay_s, "scores": scores,
           "n_events": len(events), "n_labels": len(labels), "cramps": cramps,
           "false_alerts": [round(d.alert_s, 2) for d in m.false_positives],
           "pops": any(x.kind == "artifact" and "pop" in (x.detail or "") for x in labels)}
    from ..cohort import cohort_row
    out["cohort"] = cohort_row(path, rec.duration_s, out["mode"], events, getattr(result, "model", ""))
    if wearer and m.false_positives:       # (no false alert: nothing to answer)
        hook, st = _wearer(labels)
        r1 = run_recording(rec, mode=mode, model=model, chunk_s=1.0, before_push=hook)
        out["wearer"] = None
        if st["answered"]:
            ch, t_ans, e = st["answered"]
            fp1 = match(r1.events, labels, "cramp").false_positives
            from ..answers import answer_record
            r2 = run_recording(rec, mode=mode, model=model, answers=[answer_record(e, "not_cramp")])
            fp2 = match(r2.events, labels, "cramp").false_positives
            out["wearer"] = {"answered_s": t_ans, "channel": ch,
                             "after_same_session": sum(d.alert_s > t_ans for d in fp1),
                             "after_h": (rec.duration_s - t_ans) / 3600,
                             "next_session": len(fp2),
                             "next_session_missed": sum(1 for c in cramps if c["found"])
                             - len(match(r2.events, labels, "cramp").pairs)}
    return out


def _row(name, scores: dict, hours: float, n_files: int) -> dict:
    r = {"scenario": name, "files": n_files, "hours": hours}
    for kind, ks in scores.items():
        d = ks.as_dict()
        for key in ("tp", "fp", "fn", "sensitivity", "precision", "f1", "fa_per_h",
                    "latency_median_s", "latency_p95_s"):
            if key in d:
                r[f"{kind}_{key}"] = d[key]
    return r


SCENARIO_COLUMNS = (
    ("scenario", "scenario@device", "{}"), ("files", "files", "{}"), ("hours", "h", "{:.2f}"),
    ("cramp_tp", "cr TP", "{}"), ("cramp_fn", "cr FN", "{}"), ("cramp_fp", "cr FP", "{}"),
    ("cramp_sensitivity", "cr sens", "{:.2f}"), ("cramp_fa_per_h", "cr FA/h", "{:.2f}"),
    ("cramp_latency_median_s", "lat med", "{:.1f}"),
    ("fasciculation_f1", "fasc F1", "{:.2f}"), ("fasciculation_fa_per_h", "fasc FA/h", "{:.1f}"),
    ("voluntary_f1", "vol F1", "{:.2f}"), ("artifact_f1", "art F1", "{:.2f}"),
    ("signal_loss_f1", "loss F1", "{:.2f}"),
)

KIND_COLUMNS = (
    ("kind", "kind", "{}"), ("tp", "TP", "{}"), ("fp", "FP", "{}"), ("fn", "FN", "{}"),
    ("sensitivity", "sens", "{:.3f}"), ("precision", "prec", "{:.3f}"), ("f1", "F1", "{:.3f}"),
    ("fa_per_h", "FA/h", "{:.3f}"), ("latency_median_s", "lat med s", "{:.1f}"),
    ("latency_p95_s", "lat p95 s", "{:.1f}"),
)


def summarize(results: list) -> dict:
    """Overall per-kind metrics and per-scenario rows from :func:`bench_one` results."""
    overall = combine(r["scores"] for r in results)
    groups: dict = {}
    for r in results:
        groups.setdefault(r["group"], []).append(r)
    rows = []
    for name in sorted(groups):
        rs = groups[name]
        rows.append(_row(name, combine(r["scores"] for r in rs), sum(r["duration_s"] for r in rs) / 3600, len(rs)))
    hours = sum(r["duration_s"] for r in results) / 3600
    kinds = [k for k in EVENT_KINDS if k in overall] + sorted(set(overall) - set(EVENT_KINDS))
    return {"n_recordings": len(results), "hours": hours,
            "overall": {k: overall[k].as_dict() for k in kinds}, "scenarios": rows,
            "targets": targets(results) if all("cramps" in r for r in results) else [],
            "recordings": [{"path": r["path"], "group": r["group"], "duration_s": r["duration_s"],
                            "replay_s": round(r["replay_s"], 2), "n_events": r["n_events"],
                            "n_labels": r["n_labels"]} for r in results]}


#: The scenarios where a wearer drives (a calf holding a pedal for minutes):
#: false alerts there are counted per hour of driving, not as cramp-free negatives.
DRIVING = ("driving", "driving_cramp")
#: Scenarios with calf-raise sessions (the "after one answer" figure).
RAISES = ("calf_raises",)


def _scenario(r) -> str:
    return r["group"].split("@", 1)[0]


def _answer_group(r) -> str:
    """Which "after one answer" columns a recording's answer counts in."""
    s = _scenario(r)
    return "driving" if s in DRIVING else "raises" if s in RAISES else "others"


def _variant(r) -> str:
    return r["group"].split("@", 1)[1] if "@" in r["group"] else "?"


def _pct(values, q):
    import numpy as np
    return float(np.percentile(values, q)) if values else None


def targets(results: list) -> list[dict]:
    """Per device variant, the figures issue 13 sets targets for (each with its
    target in :data:`TARGET_COLUMNS`): cramp sensitivity / precision, false
    alerts on cramp-free recordings other than driving, false alerts per hour of
    driving and the cramps caught mid-drive, weak cramps (<= WEAK_MVC_PCT % MVC,
    >= 2.5x the quiet level) found, onset-to-alert latency awake and asleep,
    fasciculations at 1 kHz and in sleep recordings with electrode pops, and
    (when the results were made with ``wearer=True``) the false alerts after
    one answer, in the same session and the next."""
    variants: dict = {}
    for r in results:
        variants.setdefault(_variant(r), []).append(r)
    rows = []
    for name in sorted(variants):
        rs = variants[name]
        sc = combine(r["scores"] for r in rs)
        row = {"variant": name, "files": len(rs), "hours": sum(r["duration_s"] for r in rs) / 3600}
        if "cramp" in sc:
            row["cramp_sens"], row["cramp_prec"] = sc["cramp"].sensitivity, sc["cramp"].precision
        drive = [r for r in rs if _scenario(r) in DRIVING]
        neg = [r for r in rs if _scenario(r) not in DRIVING and not r["cramps"]]
        row["negatives"] = len(neg)
        row["negatives_fa"] = sum(len(r["false_alerts"]) for r in neg)
        row["negatives_fa_where"] = sorted({_scenario(r) for r in neg if r["false_alerts"]})
        if drive:
            h = sum(r["duration_s"] for r in drive) / 3600
            row["driving_h"] = h
            row["driving_fa_per_h"] = sum(len(r["false_alerts"]) for r in drive) / h
            dc = [c for r in drive for c in r["cramps"]]
            row["driving_cramps"] = f"{sum(c['found'] for c in dc)}/{len(dc)}"
        weak = [c for r in rs for c in r["cramps"]
                if c["mvc_pct"] is not None and c["mvc_pct"] <= WEAK_MVC_PCT and (c["quiet_ratio"] or 0) >= 2.5]
        if weak:
            row["weak_n"] = len(weak)
            row["weak_sens"] = sum(c["found"] for c in weak) / len(weak)
        for mode in ("awake", "sleep"):
            lat = [c["latency_s"] for r in rs if r["mode"] == mode for c in r["cramps"] if c["found"]]
            row[f"{mode}_lat_n"] = len(lat)
            row[f"{mode}_lat_med"], row[f"{mode}_lat_p95"] = _pct(lat, 50), _pct(lat, 95)
        fast = [r for r in rs if r["duration_s"] > 0 and _fs_of(r) >= 1000]
        if fast:
            f = combine(r["scores"] for r in fast).get("fasciculation")
            if f is not None and (f.tp + f.fn + f.fp):
                row["fasc_1k_sens"], row["fasc_1k_prec"] = f.sensitivity, f.precision
        popped = [r for r in rs if r.get("pops") and r["mode"] == "sleep"]
        if popped:
            f = combine(r["scores"] for r in popped).get("fasciculation")
            if f is not None and (f.tp + f.fp):
                row["fasc_pops_prec"] = f.precision
        answered = [r for r in rs if r.get("wearer")]
        for label in ("driving", "raises", "others"):
            ws = [r["wearer"] for r in answered if _answer_group(r) == label]
            if ws:
                row[f"{label}_answered"] = len(ws)
                row[f"{label}_after_same"] = sum(w["after_same_session"] for w in ws)
                row[f"{label}_after_next"] = sum(w["next_session"] for w in ws)
                row[f"{label}_next_missed"] = sum(max(0, w["next_session_missed"]) for w in ws)
        if answered:
            row["answered_next_missed"] = sum(max(0, r["wearer"]["next_session_missed"]) for r in answered)
        rows.append(row)
    return rows


def _fs_of(r) -> float:
    import re
    m = re.search(r"([0-9.]+)$", r["group"])
    return float(m.group(1)) if m else 0.0


#: (key, header, format, target as text) of the targets table.
TARGET_COLUMNS = (
    ("variant", "variant", "{}", ""),
    ("cramp_sens", "cramp sens", "{:.3f}", ">= 0.95"),
    ("cramp_prec", "cramp prec", "{:.3f}", ">= 0.95"),
    ("negatives_fa", "FA cramp-free", "{}", "0"),
    ("driving_fa_per_h", "driving FA/h", "{:.2f}", "<= 1"),
    ("driving_cramps", "mid-drive found", "{}", "all"),
    ("weak_sens", "weak >=2.5x", "{:.3f}", ">= 0.9"),
    ("awake_lat_med", "awake lat med", "{:.1f}", "<= 5"),
    ("awake_lat_p95", "awake lat p95", "{:.1f}", "<= 10"),
    ("sleep_lat_med", "sleep lat med", "{:.1f}", "<= 5"),
    ("sleep_lat_p95", "sleep lat p95", "{:.1f}", "<= 10"),
    ("fasc_1k_sens", "fasc 1k sens", "{:.3f}", ">= 0.9"),
    ("fasc_1k_prec", "fasc 1k prec", "{:.3f}", ">= 0.9"),
    ("fasc_pops_prec", "fasc prec (pops)", "{:.3f}", ">= 0.9"),
)

#: The "after one answer" columns (``--wearer``).
WEARER_COLUMNS = (
    ("variant", "variant", "{}", ""),
    ("driving_answered", "drives answered", "{}", ""),
    ("driving_after_same", "driving FA after, same session", "{}", "0"),
    ("driving_after_next", "driving FA, next session", "{}", "0"),
    ("raises_answered", "raise sessions answered", "{}", ""),
    ("raises_after_same", "raises FA after, same session", "{}", "0"),
    ("raises_after_next", "raises FA, next session", "{}", "0"),
    ("others_answered", "other recordings answered", "{}", ""),
    ("others_after_same", "others FA after, same session", "{}", ""),
    ("others_after_next", "others FA, next session", "{}", ""),
    ("answered_next_missed", "cramps missed next session", "{}", "0"),
)


def target_met(key: str, value) -> bool | None:
    """Whether ``value`` meets the target of column ``key`` (None: no target or no value)."""
    target = {c[0]: c[3] for c in TARGET_COLUMNS + WEARER_COLUMNS}.get(key, "")
    if value is None or not target:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if target == "all":
        a, b = str(value).split("/")
        return a == b
    if target.startswith(">="):
        return float(value) >= float(target[2:])
    if target.startswith("<="):
        return float(value) <= float(target[2:])
    return float(value) == float(target)


def format_targets(rows: list, columns=TARGET_COLUMNS) -> str:
    """The targets table: one row per variant, a ``!`` after each figure that misses its target."""
    out = []
    for r in rows:
        o = {}
        for key, _, fmt, _ in columns:
            v = r.get(key)
            if v is None or (isinstance(v, float) and math.isnan(v)):
                o[key] = None
                continue
            o[key] = fmt.format(v) + ("" if target_met(key, v) in (True, None) else " !")
        out.append(o)
    target_row = {c[0]: c[3] for c in columns}
    target_row[columns[0][0]] = "target"
    cols = [(k, h, "{}") for k, h, _, _ in columns]
    return format_table([target_row] + out, cols)


def run(args) -> int:
    paths = find_labeled(args.directory)
    if not paths:
        raise UsageError(f"bench: {args.directory}: no labelled recordings (X.csv with X.labels.csv beside it)")
    if args.jobs < 1:
        raise UsageError("bench: --jobs must be at least 1")
    t = time.monotonic()
    # one task per recording (emgpipe.batch: in this process, in --jobs processes or on
    # Dask); a recording that cannot be read is named, left out and listed at the end
    from functools import partial

    from .many import bench_many
    results, failed = bench_many(paths, partial(bench_one, mode=args.mode, model=args.model,
                                                wearer=args.wearer), args)
    if not results:
        return failed.exit_code
    summary = summarize(results)
    summary["wall_s"] = round(time.monotonic() - t, 1)
    if args.json:
        print(json.dumps(json_safe(summary), indent=1))
        return failed.exit_code
    print(f"{summary['n_recordings']} labelled recordings, {summary['hours']:.2f} h of signal, "
          f"replayed in {summary['wall_s']:.0f} s")
    print()
    print(format_table(list(summary["overall"].values()), KIND_COLUMNS))
    print()
    print(format_table(summary["scenarios"], SCENARIO_COLUMNS))
    print()
    print("Targets per device variant (! = target missed; FA cramp-free = false cramp alerts on recordings "
          "without cramps other than driving):")
    print(format_targets(summary["targets"]))
    missed = {r["variant"]: r["negatives_fa_where"] for r in summary["targets"] if r.get("negatives_fa_where")}
    for v, where in missed.items():
        print(f"  {v}: false alerts in {', '.join(where)}")
    if args.wearer:
        print()
        print("After one answer ('not a cramp' 5 s after the first false alert of a recording):")
        print(format_targets(summary["targets"], WEARER_COLUMNS))
    return failed.exit_code
