"""``emgpipe label FILE --event N --as not-cramp|cramp``: the wearer's answer to an event, afterwards.

FILE is an events CSV (``emgpipe replay`` / ``emgpipe live --events-out``):
N is the event's data row (1 = the first row under the header) and the
answer goes into its ``label`` column (the column is added to a file written
before it existed); the file is rewritten atomically. Or FILE is a night
folder (``emgpipe night --out``) or its database: N is the cramp's number in
the night's report (the ``#`` column of its table of cramps; the latest night
unless ``--night``) and the answer is stored in the database's answers table.

Either way the answer is also appended to the wearer's ``answers.json``
(beside the calibration profile, or ``--answers FILE``), which the detector
reads. Nothing else changes.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import RecordingError, UsageError


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "label", help="answer an event afterwards: not a cramp, or a cramp",
        description="Record the wearer's answer to an event. FILE is an events CSV (N = the event's data "
                    "row, 1 = the first row under the header: its label column is set) or a night folder "
                    "(N = the cramp's number in the night's report: the answer is stored in the night "
                    "database). The answer is also added to the wearer's answers.json, which the detector "
                    "reads. Nothing else changes.")
    p.add_argument("target", metavar="FILE", help="events CSV, or night folder / night database")
    p.add_argument("--event", required=True, type=int, metavar="N",
                   help="events CSV: data row (1 = first); night: the cramp's number in the report")
    p.add_argument("--as", dest="answer", required=True, metavar="ANSWER",
                   help="not-cramp (or not_cramp) or cramp")
    p.add_argument("--night", type=int, default=None, metavar="ID",
                   help="night folder with several nights: which one (default: the latest, as the report)")
    p.add_argument("--answers", default=None, metavar="FILE",
                   help="answers file to append to (default: answers.json in the configuration folder)")
    p.set_defaults(func=run)
    return p


def _is_csv(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in (".csv", ".tsv", ".txt")


def label_events_csv(path: Path, n: int, answer: str):
    """Set row ``n``'s label; returns its event."""
    from ..io.events_csv import read_events, set_label
    try:
        return set_label(path, n, answer)
    except IndexError:
        count = len(read_events(path))
        raise UsageError(f"{path}: --event {n}: no such event (the file has {count} event row"
                         f"{'' if count == 1 else 's'})") from None


def label_night(target: Path, n: int, answer: str, night_id: int | None = None):
    """Store the answer to the report's cramp ``n``; returns (event, night)."""
    from ..night.store import NightStore
    from ..report.data import load_nights
    from ..types import Event
    nights = load_nights(target, night_id=night_id)
    night = nights[-1]
    if night.db is None:
        raise UsageError(f"{target}: no night database here; to label a replayed recording, give its "
                         f"events CSV")
    cramps = night.cramps
    if not 1 <= n <= len(cramps):
        raise UsageError(f"{target}: --event {n}: no such cramp in night {night.night_id} (its report "
                         f"lists {len(cramps)} cramp{'' if len(cramps) == 1 else 's'})")
    ev = cramps[n - 1]
    with NightStore(night.db) as store:          # opened for writing: adds the answers table if missing
        row = next(r for r in store.events(night.night_id) if r["id"] == ev.id)
        store.add_answer(ev.id, answer, source="label")
    try:
        feats = json.loads(row["features"]) if row.get("features") else {}
    except ValueError:
        feats = {}
    event = Event(row["kind"], row["channel"], row["start_s"], max(row["end_s"], row["start_s"]),
                  row["alert_s"], features=feats if isinstance(feats, dict) else {},
                  detector=row.get("model") or "", label=answer)
    return event, night


def run(args) -> int:
    from ..answers import answer_record, default_answers_path, normalize_answer, record_answer
    answer = normalize_answer(args.answer, "--as")
    target = Path(args.target)
    if not target.exists():
        raise UsageError(f"{target}: no such file or directory")
    if args.event < 1:
        raise UsageError(f"--event {args.event}: must be 1 or more (1 = the first event)")
    answers_path = Path(args.answers) if args.answers else default_answers_path()
    if _is_csv(target):
        try:
            event = label_events_csv(target, args.event, answer)
        except RecordingError as err:
            raise UsageError(f"{err} (not an events CSV?)") from None
        where = f"{target}: event {args.event}"
    else:
        event, night = label_night(target, args.event, answer, args.night)
        where = f"{night.db}: night {night.night_id}, cramp {args.event}"
    record_answer(answer_record(event, answer, source="label"), answers_path)
    print(f"{where} ({event.kind} {event.channel} {event.start_s:.1f}-{event.end_s:.1f} s) labelled "
          f"{answer}; answer added to {answers_path}", file=sys.stdout)
    return 0
