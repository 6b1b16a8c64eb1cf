"""The events CSV (replay / live output), see CONTRACT.md.

Columns: ``kind,channel,start_s,end_s,alert_s`` (the contract) then
``duration_s,peak_uv,confidence,n_potentials,detail,model,label``; ``label`` is the
wearer's answer (``cramp``, ``not_cramp``), empty until answered, and files
written before it existed are still read. One row per event
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
           "confidence", "n_potentials", "detail", "model", "label")
REQUIRED = COLUMNS[:5]


def _fmt(v: float, nd: int = 4) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{nd}f}"


def event_row(e: Event, model: str = "") -> list[str]:
    return [e.kind, e.channel, _fmt(e.start_s), _fmt(e.end_s), _fmt(e.alert_s), _fmt(e.duration_s),
            _fmt(e.peak_uv, 2), _fmt(e.confidence, 3), str(int(e.n_potentials)), e.detail,
            e.detector or model, e.label or ""]


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
        self._rows: dict = {}        # (kind, channel, start_s) -> data row number (1-based)
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
        self._rows[(event.kind, event.channel, _fmt(event.start_s))] = self.n_rows

    def relabel(self, event: Event, label: str) -> bool:
        """Set the ``label`` of ``event``'s row if it was already written (the
        wearer answered after the cramp ended). The file is rewritten
        atomically and appending goes on. False if the row is not written yet."""
        n = self._rows.get((event.kind, event.channel, _fmt(event.start_s)))
        if n is None or self._f.closed:
            return False
        try:
            self._f.flush()
            self._f.close()
            set_label(self.path, n, label)
            self._f = open(self.path, "a", newline="", encoding="utf-8")
            self._w = csv.writer(self._f)
        except OSError as err:
            raise StorageError(f"{self.path}: cannot write events ({err.strerror or err})") from None
        return True

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
                             detector=r.get("model") or "", label=(r.get("label") or "").strip()))
        except (TypeError, ValueError) as err:
            raise BadHeader(path, f"line {i}: {err}") from None
    return out


def set_label(path: str | os.PathLike, row: int, label: str) -> Event:
    """Write ``label`` into the ``label`` column of data row ``row`` (1 = the first
    row under the header) of an events CSV, atomically (temporary file +
    ``os.replace``). A file written before the column existed gets it (empty
    in the other rows). Nothing else changes. Returns the row's event.

    Raises :class:`~emgpipe.errors.BadHeader` (names the file) when the file
    cannot be read or is not an events CSV, ``IndexError`` when ``row`` is out
    of range.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise BadHeader(path, f"cannot read ({err.strerror or err})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadHeader(path, "not a text file (UTF-8)") from None
    events = read_events(path, text=text)
    if not 1 <= row <= len(events):
        raise IndexError(f"{path}: no event {row} (the file has {len(events)} event row(s))")
    eol = "\r\n" if "\r\n" in text else "\n"
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    if "label" not in header:
        header.append("label")
    col = header.index("label")
    data = [r for r in rows[1:] if r]          # what csv.DictReader counts as rows
    for r in data:
        r.extend([""] * (len(header) - len(r)))
    data[row - 1][col] = label
    out = io.StringIO()
    w = csv.writer(out, lineterminator=eol)
    w.writerow(header)
    w.writerows(data)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            f.write(out.getvalue())
            f.flush()
            os.fsync(f.fileno())
        try:
            os.chmod(tmp, path.stat().st_mode & 0o777)
        except OSError:
            pass
        os.replace(tmp, path)
    except OSError as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise StorageError(f"{path}: cannot write events ({err.strerror or err})") from None
    return events[row - 1]
