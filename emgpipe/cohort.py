"""The cohort table: one row per recording, the table a trial statistician loads.

``emgpipe replay|bench|report ... --cohort-out FILE.csv`` writes it, with or
without Dask. Columns (:data:`COLUMNS`):

============================  ==========================================================
``path``                      the recording (replay, bench) or events file / night (report)
``hours``                     length of the recording, h
``mode``                      detector mode used: ``awake`` or ``sleep`` (empty if unknown)
``cramps``                    number of cramps (all channels)
``cramp_total_s``             total cramp time, s (sum of the cramps' durations)
``fasciculation_episodes_per_h``  fasciculation episodes (one event per channel) per hour
``leg_movements_per_h``       leg movements per hour: asleep, the voluntary activity runs
                              (as in the morning report); awake, only a detector's own
                              ``leg_movement`` events (walking is not a leg movement)
``signal_lost_s``             time with signal lost on at least one channel, s: dropped
                              samples, lead-off (flat line) (``signal_loss``)
``model``                     detector model ``name@version``
``error``                     empty; for a recording that failed, its one-line error
                              (and every other column but ``path`` is empty)
============================  ==========================================================

Rows are in the order of the recordings given, whatever order a cluster
finishes them in; the file is written atomically.

Examples
--------
>>> from emgpipe.types import Event
>>> evs = [Event("cramp", "calf_left", 100.0, 160.0, 103.5),
...        Event("fasciculation", "calf_left", 20.0, 20.5, 20.6),
...        Event("signal_loss", "calf_left", 10.0, 15.0, 15.0),
...        Event("signal_loss", "calf_right", 12.0, 18.0, 18.0)]
>>> r = cohort_row("a.csv", 1800.0, "awake", evs, "awake@1")
>>> r["hours"], r["cramps"], r["cramp_total_s"], r["fasciculation_episodes_per_h"], r["signal_lost_s"]
(0.5, 1, 60.0, 2.0, 8.0)
"""
from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

from .errors import StorageError

COLUMNS = ("path", "hours", "mode", "cramps", "cramp_total_s", "fasciculation_episodes_per_h",
           "leg_movements_per_h", "signal_lost_s", "model", "error")


def leg_movement_kinds(mode: str | None) -> tuple:
    """The event kinds that count as leg movements in ``mode`` (the morning report's rule)."""
    return ("leg_movement", "voluntary") if mode != "awake" else ("leg_movement",)


def _union_s(intervals) -> float:
    total, end = 0.0, None
    for a, b in sorted(intervals):
        if end is None or a > end:
            total += max(0.0, b - a)
            end = b
        elif b > end:
            total += b - end
            end = b
    return total


def cohort_row(path, duration_s: float, mode: str | None, events, model: str) -> dict:
    """One recording's row from its final events (anything with kind, start_s, end_s)."""
    hours = max(0.0, float(duration_s)) / 3600.0
    cramps = [e for e in events if e.kind == "cramp"]
    fas = sum(1 for e in events if e.kind == "fasciculation")
    lm_kinds = leg_movement_kinds(mode)
    lm = sum(1 for e in events if e.kind in lm_kinds)
    lost = _union_s((e.start_s, e.end_s) for e in events if e.kind == "signal_loss")

    def per_h(n):
        return round(n / hours, 3) if hours > 0 else ""
    return {"path": str(path), "hours": round(hours, 4), "mode": mode or "",
            "cramps": len(cramps), "cramp_total_s": round(sum(max(0.0, e.end_s - e.start_s) for e in cramps), 3),
            "fasciculation_episodes_per_h": per_h(fas), "leg_movements_per_h": per_h(lm),
            "signal_lost_s": round(lost, 3), "model": model or "", "error": ""}


def night_row(night) -> dict:
    """The row of a report's night (:class:`emgpipe.report.data.NightData`)."""
    where = night.db if getattr(night, "db", None) else night.source
    path = f"{where}#night{night.night_id}" if getattr(night, "night_id", None) is not None else str(where)
    return cohort_row(path, night.duration_s, night.mode, night.events, night.model)


def failed_row(path, message: str) -> dict:
    row = {k: "" for k in COLUMNS}
    row.update(path=str(path), error=message)
    return row


def write_cohort(path, rows) -> Path:
    """Write the cohort CSV atomically (a temporary file beside it, then renamed)."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise StorageError(f"--cohort-out {path}: folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".csv", dir=folder)
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
            w.writeheader()
            for r in rows:
                w.writerow(r)
        os.replace(tmp, path)
    except OSError as err:
        raise StorageError(f"--cohort-out {path}: cannot write ({err.strerror or err})") from None
    return path
