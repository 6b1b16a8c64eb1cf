"""The events CSV (replay / live output), see CONTRACT.md.

Columns: ``kind,channel,start_s,end_s,alert_s`` (the contract) then
``duration_s,peak_uv,confidence,n_potentials,detail,model``. One row per event
(a cramp is one row for its whole length); rows are written and flushed as
events become final, so a live run that is killed keeps every finished event.
"""
from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path

from ..errors import BadHeader, StorageError
from ..types import Event

COLUMNS = ("kind", "channel", "start_s", "end_s", "alert_s", "duration_s", "peak_uv",
           "confidence", "n_potentials", "detail", "model")
REQUIRED = COLUMNS[:5]


def _fmt(v: float, nd: int = 4) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{nd}f}"


def event_row(e: Event, model: str = "") -> list[str]:
    return [e.kind, e.channel, _fmt(e.start_s), _fmt(e.end_s), _fmt(e.alert_s), _fmt(e.duration_s),
            _fmt(e.peak_uv, 2), _fmt(e.confidence, 3), str(int(e.n_potentials)), e.detail,
            e.detector or model]


class EventsCsvWriter:
    """Append final events to a CSV file, flushing each row.

    Examples
    --------
    >>> import tempfile, os
    >>> from emgpipe.types import Event
    >>> path = os.path.join(tempfile.mkdtemp(), "x.events.csv")
    >>> with EventsCsvWriter(path, model="default@0.1.0") as w:
    ...     w.write(Event("cramp", "calf", 10.0, 70.0, 13.5, confidence=0.9))
    >>> [e.kind for e in read_events(path)]
    ['cramp']
    """

    def __init__(self, path: str | os.PathLike, model: str = ""):
        self.path = Path(path)
        self.model = model
        self.n_rows = 0
        try:
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._f = open(self.path, "w", newline="", encoding="utf-8")
            self._w = csv.writer(self._f)
            self._w.writerow(COLUMNS)
            self._f.flush()
        except OSError as err:
            raise StorageError(f"{self.path}: cannot write events ({err.strerror or err})") from None

    def write(self, event: Event) -> None:
        if event.status != "final":
            return
        try:
            self._w.writerow(event_row(event, self.model))
            self._f.flush()
        except OSError as err:
            raise StorageError(f"{self.path}: cannot write events ({err.strerror or err})") from None
        self.n_rows += 1

    def close(self):
        if not self._f.closed:
            self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def read_events(path: str | os.PathLike, text: str | None = None) -> list[Event]:
    """Read an events (or labels) CSV into :class:`Event` objects.

    Labels files have only ``kind,channel,start_s,end_s``; ``alert_s`` then
    defaults to ``start_s``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8") if text is None else text
    except OSError as err:
        raise BadHeader(path, f"cannot read ({err.strerror or err})") from None
    rows = csv.DictReader(io.StringIO(text))
    need = ("kind", "channel", "start_s", "end_s")
    if rows.fieldnames is None or any(c not in rows.fieldnames for c in need):
        raise BadHeader(path, f"header must contain {','.join(need)}; got {rows.fieldnames}")
    out = []
    for i, r in enumerate(rows, start=2):
        try:
            start, end = float(r["start_s"]), float(r["end_s"])
            alert = float(r["alert_s"]) if r.get("alert_s") not in (None, "") else start
            conf = float(r["confidence"]) if r.get("confidence") not in (None, "") else 1.0
            peak = float(r["peak_uv"]) if r.get("peak_uv") not in (None, "") else float("nan")
            npot = int(float(r["n_potentials"])) if r.get("n_potentials") not in (None, "") else 0
            out.append(Event(r["kind"], r["channel"], start, end, alert, confidence=conf, peak_uv=peak,
                             n_potentials=npot, detail=r.get("detail") or "",
                             detector=r.get("model") or ""))
        except (TypeError, ValueError) as err:
            raise BadHeader(path, f"line {i}: {err}") from None
    return out
