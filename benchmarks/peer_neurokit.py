"""Peer benchmark: NeuroKit2's ``emg_process`` activation + a minimum-duration rule.

The detector a user could build today from a peer library: per channel,
``neurokit2.emg_process(signal, sampling_rate=fs)`` marks EMG activity
(column ``EMG_Activity``); every activation run lasting at least ``min_s``
becomes a ``cramp`` event, announced at ``start + min_s`` (the earliest time a
causal version of the rule could know), every shorter run a ``voluntary``
event (announced at its end). NeuroKit2 has no fasciculation, artefact or
signal-loss detector, so those kinds are never emitted: their sensitivity is
0 and their precision undefined.

Scoring is exactly ``emgpipe bench``'s: the same recordings
(:func:`emgpipe.commands.bench.find_labeled`), the same label policy
(fasciculation labels are not scored on envelope recordings), the same
matching (:func:`emgpipe.metrics.score`), the same per-kind and per-scenario
summaries (:func:`emgpipe.commands.bench.summarize`).

What NeuroKit2 (checked on 0.2.13) does with our inputs
--------------------------------------------------------
* Offline only: ``emg_clean`` is a zero-phase (``filtfilt``) 4th-order
  Butterworth high-pass at 100 Hz, and the activity threshold is one tenth of
  the standard deviation of the *whole* signal's amplitude. Nothing here is
  causal; the peer sees every recording (segment) at once, which favours it.
* ``emg_process`` calls ``emg_amplitude(cleaned)`` without the sampling rate,
  so the amplitude's band-pass (10-400 Hz) and 8 Hz envelope filters are
  designed for 1000 Hz whatever the real rate: at 250 Hz they act as a
  2.5-100 Hz band-pass and a 2 Hz envelope. We keep that: it is what a user
  gets.
* At 200 Hz (Ganglion) the 100 Hz high-pass is at Nyquist and ``emg_clean``
  raises ``ValueError`` (``Wn`` must be < 1). We record the failure and fall
  back to ``method_cleaning="none"`` (raw signal into the amplitude step),
  the one option that works; the notes in the output count these fallbacks.
  At 250 Hz the high-pass keeps only 100-125 Hz.
* Envelope recordings (MyoWare ENV, sidecar ``"signal": "envelope"``) go
  through the same call: the 100 Hz high-pass removes nearly all of an
  envelope's content, so the "activity" left is the envelope's ripple and
  noise. NeuroKit2 is meant for raw EMG; the numbers show what happens when
  it is fed an envelope anyway.
* Gaps: each contiguous segment of a recording (``Recording.segments``) is
  processed on its own; an activation run cannot span a gap. A segment or
  channel NeuroKit2 rejects (too short to filter, flat) gives no events and
  is counted in the notes.
* ``emg_activation`` builds its output columns with a per-sample pandas loop
  (~75 us per sample: hours for this benchmark set). By default we compute
  the same activity column from NeuroKit2's own public steps
  (``emg_clean``, ``emg_amplitude``, the threshold rule, ``events_find`` and
  the baseline cross-check of ``emg_activation``); ``--exact`` calls
  ``nk.emg_process`` itself. tests/benchmarks checks that both agree sample
  for sample.

Usage::

    python benchmarks/peer_neurokit.py datasets/benchmark --jobs 2
    python benchmarks/peer_neurokit.py datasets/benchmark --jobs 2 --json > peer.json

Text output: per-kind metrics, per-scenario table (both at ``--min-s``), the
cramp metrics over the sweep of minimum durations, and the notes. ``--json``:
``summary`` (the same object as ``emgpipe bench --json``), ``sweep``,
``notes`` and ``records`` (per recording: sidecar facts and the activation
runs, from which :func:`runs_to_events` rebuilds the events for any min_s).

NeuroKit2 is a benchmark-only dependency (``pip install neurokit2``), never
imported by emgpipe itself.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import warnings
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from emgpipe.commands.bench import KIND_COLUMNS, SCENARIO_COLUMNS, find_labeled, group_key, summarize
from emgpipe.errors import BadData, EmgpipeError
from emgpipe.metrics import combine, format_table, json_safe, read_labels, score
from emgpipe.types import Event

log = logging.getLogger(__name__)

#: Default minimum activation length for a cramp (s). Cramps last >= 5 s in
#: the lab and 10 s-10 min at night (physiology.md §6); walking bursts and PLM
#: leg movements are shorter than ~3 s / <= 10 s (AASM, physiology.md §7). 3 s
#: trades a few seconds of latency for most walking bursts; the sweep shows the rest.
DEFAULT_MIN_S = 3.0
#: Minimum durations reported in the sweep (s).
SWEEP_MIN_S = (1.0, 3.0, 5.0, 10.0)
#: NeuroKit2 emg_activation defaults (emg_activation.py, 0.2.13): threshold =
#: THRESHOLD_FRACTION * std(amplitude); runs and baselines shorter than
#: MIN_RUN_FRACTION_S * fs samples are dropped.
THRESHOLD_FRACTION = 0.1
MIN_RUN_FRACTION_S = 0.05
DETECTOR_TAG = "neurokit2-emg_process+min-duration"


# --------------------------------------------------------------------------- NeuroKit2 activity

def nk_activity(x, fs: float, cleaning: str = "biosppy", exact: bool = False) -> np.ndarray:
    """NeuroKit2's ``EMG_Activity`` column of one channel, as booleans.

    Parameters
    ----------
    x : (n,) array
        One channel of one contiguous segment (µV).
    fs : float
        Sample rate (Hz).
    cleaning : str
        ``method_cleaning`` of ``emg_process`` (``"biosppy"`` default, or ``"none"``).
    exact : bool
        Call ``nk.emg_process`` itself (slow: a per-sample pandas loop) instead
        of the same steps on arrays.

    Returns
    -------
    (n,) bool array

    Raises
    ------
    ValueError
        Whatever NeuroKit2 raises (filter design at 200 Hz, flat signal, too short).
    """
    import neurokit2 as nk

    x = np.asarray(x, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "No events found" and pandas chatter
        if exact:
            signals, _ = nk.emg_process(x, sampling_rate=fs, method_cleaning=cleaning)
            return signals["EMG_Activity"].to_numpy() > 0
        cleaned = nk.emg_clean(x, sampling_rate=fs, method=cleaning)
        amplitude = np.asarray(nk.emg_amplitude(cleaned))  # no sampling_rate: as emg_process calls it
        threshold = THRESHOLD_FRACTION * np.std(amplitude)
        if threshold > np.max(amplitude):
            raise ValueError("NeuroKit error: emg_activation(): the threshold specified exceeds "
                             "the maximum of the signalamplitude.")
        activity = nk.signal_binarize(amplitude, method="threshold", threshold=threshold)
        dmin = int(MIN_RUN_FRACTION_S * fs)
        act = nk.events_find(activity, threshold=0.5, threshold_keep="above", duration_min=dmin)
        base = nk.events_find(activity == 0, threshold=0.5, threshold_keep="above", duration_min=dmin)
    # emg_activation's cross-check: an activation counts only when it starts
    # where a long-enough baseline ends; offsets must lie inside the signal.
    on = np.asarray(act["onset"], dtype=np.int64)
    off = on + np.asarray(act["duration"], dtype=np.int64)
    base_off = np.asarray(base["onset"], dtype=np.int64) + np.asarray(base["duration"], dtype=np.int64)
    valid = np.isin(on, base_off)
    on, off = on[valid], off[valid]
    off = off[off < len(x)]
    out = np.zeros(len(x), dtype=bool)
    for a, b in zip(on, off):
        out[a:b] = True
    return out


def activity_runs(active: np.ndarray) -> list:
    """``[(start, end), ...]`` sample indices (end exclusive) of the True runs."""
    a = np.concatenate([[False], np.asarray(active, dtype=bool), [False]]).astype(np.int8)
    d = np.diff(a)
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def recording_runs(rec, exact: bool = False) -> tuple[list, Counter]:
    """Activation runs of every channel and segment of a recording.

    Returns
    -------
    runs : list of [channel, start_s, end_s]
        Sorted by start; times in seconds from the first sample.
    notes : Counter
        What NeuroKit2 refused, and the fallbacks taken, by message.
    """
    runs, notes = [], Counter()
    for seq, data in rec.segments:
        for c, ch in enumerate(rec.ch_names):
            x = data[:, c]
            try:
                try:
                    active = nk_activity(x, rec.fs, "biosppy", exact)
                except ValueError as err:
                    if "Wn" not in str(err):  # only the 100 Hz high-pass design has a fallback
                        raise
                    notes[f"{rec.fs:g} Hz: emg_clean(method='biosppy') fails ({_one_line(err)}); "
                          "used method_cleaning='none'"] += 1
                    active = nk_activity(x, rec.fs, "none", exact)
            except ValueError as err:
                notes[f"segment/channel skipped, no events ({_one_line(err)})"] += 1
                continue
            runs.extend([ch, (seq + a) / rec.fs, (seq + b) / rec.fs] for a, b in activity_runs(active))
    runs.sort(key=lambda r: (r[1], r[0]))
    return runs, notes


def _one_line(err) -> str:
    msg = " ".join(str(err).split())
    return msg if len(msg) <= 90 else msg[:87] + "..."


def runs_to_events(runs, min_s: float) -> list:
    """Runs >= ``min_s`` -> ``cramp`` (alert at start + min_s), shorter -> ``voluntary`` (alert at end)."""
    out = []
    for ch, start, end in runs:
        if end - start >= min_s:
            out.append(Event("cramp", ch, start, end, alert_s=start + min_s, detector=DETECTOR_TAG))
        else:
            out.append(Event("voluntary", ch, start, end, alert_s=end, detector=DETECTOR_TAG))
    return out


# --------------------------------------------------------------------------- labelled recordings

def recording_meta(rec) -> dict:
    """Sidecar facts the breakdowns need (scenario, device, fs, signal, mode)."""
    side = rec.meta.get("sidecar") or {}
    return {"scenario": side.get("scenario") or rec.stem, "device": side.get("device"),
            "fs": rec.fs, "signal": side.get("signal") or "emg", "mode": rec.mode,
            "channels": list(rec.ch_names)}


def scored_labels(path, signal: str = "emg") -> list:
    """The labels ``emgpipe bench`` scores for ``path``: no fasciculation labels when
    ``signal`` (the sidecar's) is ``"envelope"``."""
    labels = read_labels(Path(path).with_name(Path(path).stem + ".labels.csv"))
    if signal == "envelope":
        labels = [x for x in labels if x.kind != "fasciculation"]
    return labels


def events_to_rows(events) -> list:
    """JSON form of events: ``[kind, channel, start_s, end_s, alert_s]`` (floats kept exact)."""
    return [[e.kind, e.channel, float(e.start_s), float(e.end_s), float(e.alert_s)] for e in events]


def rows_to_events(rows) -> list:
    return [Event(k, ch, s, e, alert_s=a) for k, ch, s, e, a in rows]


def peer_one(path, exact: bool = False) -> dict:
    """Run the peer on one labelled recording (top level: runs in worker processes).

    Returns a record: path, group (as ``emgpipe bench`` groups), duration_s,
    replay_s, meta (:func:`recording_meta`), runs, notes.
    """
    from emgpipe.io import read_recording

    rec = read_recording(path)
    t = time.monotonic()
    runs, notes = recording_runs(rec, exact)
    return {"path": str(path), "group": group_key(rec), "duration_s": rec.duration_s,
            "replay_s": time.monotonic() - t, "meta": recording_meta(rec),
            "runs": [[ch, float(s), float(e)] for ch, s, e in runs], "notes": dict(notes)}


def with_scores(record: dict, events, labels) -> dict:
    """``record`` plus what :func:`emgpipe.commands.bench.bench_one` adds: scores, n_events, n_labels."""
    return {**record, "scores": score(events, labels, record["duration_s"]),
            "n_events": len(events), "n_labels": len(labels)}


def run_files(fn, paths, jobs: int, *args) -> list:
    """``[fn(p, *args) for p in paths]``, in ``jobs`` processes when > 1."""
    if jobs > 1 and len(paths) > 1:
        with ProcessPoolExecutor(max_workers=jobs) as ex:
            return [f.result() for f in [ex.submit(fn, p, *args) for p in paths]]
    return [fn(p, *args) for p in paths]


def label_sets(records) -> list:
    """Scored labels of every record (read once, reused for every min_s)."""
    return [scored_labels(r["path"], r["meta"]["signal"]) for r in records]


def evaluate(records, min_s: float, sweep=SWEEP_MIN_S, labels=None) -> dict:
    """Summary at ``min_s`` (``emgpipe bench --json`` shape), cramp sweep, notes, records."""
    import neurokit2 as nk

    labels = labels if labels is not None else label_sets(records)

    def at(m):
        return [with_scores(r, runs_to_events(r["runs"], m), lab) for r, lab in zip(records, labels)]

    sweep_rows = []
    for m in sorted(set(sweep) | {min_s}):
        tot = combine(r["scores"] for r in at(m))
        sweep_rows.append({"min_s": m, **{f"cramp_{k}": v for k, v in tot["cramp"].as_dict().items()
                                          if k != "kind"},
                           "voluntary_f1": tot["voluntary"].as_dict()["f1"]})
    notes = Counter()
    for r in records:
        notes.update(r["notes"])
    return {"detector": DETECTOR_TAG, "neurokit2": nk.__version__, "min_s": min_s,
            "summary": summarize(at(min_s)), "sweep": sweep_rows,
            "notes": dict(sorted(notes.items())), "records": records}


SWEEP_COLUMNS = (
    ("min_s", "min s", "{:g}"), ("cramp_tp", "cr TP", "{}"), ("cramp_fn", "cr FN", "{}"),
    ("cramp_fp", "cr FP", "{}"), ("cramp_sensitivity", "cr sens", "{:.3f}"),
    ("cramp_precision", "cr prec", "{:.3f}"), ("cramp_f1", "cr F1", "{:.3f}"),
    ("cramp_fa_per_h", "cr FA/h", "{:.2f}"), ("cramp_latency_median_s", "lat med", "{:.1f}"),
    ("cramp_latency_p95_s", "lat p95", "{:.1f}"), ("voluntary_f1", "vol F1", "{:.3f}"),
)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("directory", metavar="DIR", help="folder of labelled recordings (e.g. datasets/benchmark)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="recordings processed in parallel")
    p.add_argument("--min-s", type=float, default=DEFAULT_MIN_S, metavar="S",
                   help=f"activation length that makes a cramp (default {DEFAULT_MIN_S:g})")
    p.add_argument("--exact", action="store_true",
                   help="call nk.emg_process itself (same activity, ~75 us per sample)")
    args = p.parse_args(argv)
    try:
        import neurokit2  # noqa: F401
    except ImportError:
        print("peer_neurokit: neurokit2 is not installed (pip install neurokit2)", file=sys.stderr)
        return 2
    if args.jobs < 1 or args.min_s <= 0:
        print("peer_neurokit: --jobs must be >= 1 and --min-s > 0", file=sys.stderr)
        return 2
    try:
        paths = find_labeled(args.directory)
        if not paths:
            raise BadData(args.directory, "no labelled recordings (X.csv with X.labels.csv beside it)")
        t = time.monotonic()
        out = evaluate(run_files(peer_one, paths, args.jobs, args.exact), args.min_s)
    except EmgpipeError as err:
        print(f"peer_neurokit: {err}", file=sys.stderr)
        return 2
    out["wall_s"] = round(time.monotonic() - t, 1)
    if args.json:
        print(json.dumps(json_safe(out), indent=1))
        return 0
    s = out["summary"]
    print(f"NeuroKit2 {out['neurokit2']} emg_process + runs >= {args.min_s:g} s -> cramp: "
          f"{s['n_recordings']} labelled recordings, {s['hours']:.2f} h, {out['wall_s']:.0f} s")
    for rows, columns in ((list(s["overall"].values()), KIND_COLUMNS), (s["scenarios"], SCENARIO_COLUMNS),
                          (out["sweep"], SWEEP_COLUMNS)):
        print()
        print(format_table(rows, columns))
    for note, n in out["notes"].items():
        print(f"note: {n} x {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
