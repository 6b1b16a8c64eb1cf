"""The night log: one SQLite database per output folder, committed as things happen.

Tables (times ``*_s`` are stream seconds from the night's first sample; ``*_time``
are host clock seconds since the epoch, UTC):

``nights``
    One row per recording: source URI, device, fs, channels (JSON), units,
    mode, model name and version, calibration profile (JSON), source facts
    (JSON), emgpipe version, host, start/end wall clock, ``status``
    (``recording``, ``complete``, ``interrupted``, ``failed``) and progress
    (``last_s``, ``n_samples``, ``n_lost``) updated at every flush. A night
    still ``recording`` whose process is gone was killed: its ``last_s`` says
    how far it got.
``events``
    Every event as soon as it is announced: kind, channel, start_s, end_s,
    alert_s, status (``onset`` until the ``final`` event updates the same row),
    confidence, peak_uv, n_potentials, detail, model, features (JSON),
    announced_time / final_time (wall clock).
``alerts``
    Each alert made (onset, reminder) with its event, text and time;
    ``alert_deliveries``: per sink, sent / failed / dropped.
``gaps``
    Samples the source lost (start_s, end_s, n_missing, reason).
``disconnects``
    Link events from the source (disconnect, reconnect, gave_up) and reopens.
``files``
    The raw EMG files (path relative to the folder, format, start_s, end_s,
    n_records, closed).
``quality``
    Per minute and channel: RMS of the filtered signal (µV) and seconds lost.
``answers``
    The wearer's answers to cramp alerts (schema version 2): the event, the
    answer (``cramp`` / ``not_cramp``), when it was given (wall clock) and
    how (``key``, ``button``, ``label``). A database of version 1 gets the
    table the first time it is opened for writing.

Durability: WAL journal, ``synchronous=NORMAL`` (a commit survives the
process being killed; WAL keeps the file consistent after power loss), one
commit per event, alert, gap and link change. All methods are thread-safe
(sink threads record deliveries). A full disk raises
:class:`~emgpipe.errors.StorageError`; what was committed stays.

Room for the events on a full disk: a writer reserves :data:`RESERVE_BYTES`
beside the database (``<db>.reserve``, :meth:`NightStore.reserve_space`) and
keeps the WAL small (checkpoint every :data:`WAL_PAGES` pages, so it stops
growing early). When the raw files fill the disk the recorder frees the
reserve (:meth:`NightStore.release_reserve`) and the database goes on in it.
A clean close removes the reserve.
"""
from __future__ import annotations

import json
import logging
import math
import os
import platform
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from .. import __version__
from ..errors import StorageError
from .private import open_private, private_dir, private_file

log = logging.getLogger(__name__)

#: Database file name inside the output folder.
DB_NAME = "emgpipe-night.sqlite"
SCHEMA_VERSION = 2
#: Space set aside for the database when the disk fills up: the WAL's growth to its
#: steady size (:data:`WAL_PAGES` x 4 KiB) plus a night of events, alerts and quality rows.
RESERVE_BYTES = 2 * 2**20
#: WAL auto-checkpoint (pages): 1 MiB of WAL, then SQLite reuses it from the start.
WAL_PAGES = 256

SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_info (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS nights (
    id INTEGER PRIMARY KEY,
    started_time REAL NOT NULL, started_local TEXT NOT NULL, ended_time REAL,
    status TEXT NOT NULL, stop_reason TEXT,
    source TEXT, device TEXT, fs REAL, channels TEXT, units TEXT, mode TEXT,
    model TEXT, model_version TEXT, calibration TEXT, source_meta TEXT,
    raw_format TEXT, emgpipe_version TEXT, host TEXT, platform TEXT,
    last_s REAL DEFAULT 0, n_samples INTEGER DEFAULT 0, n_lost INTEGER DEFAULT 0,
    speed REAL, updated_time REAL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, night_id INTEGER NOT NULL REFERENCES nights(id),
    kind TEXT NOT NULL, channel TEXT NOT NULL, start_s REAL NOT NULL, end_s REAL NOT NULL,
    alert_s REAL NOT NULL, status TEXT NOT NULL, confidence REAL, peak_uv REAL,
    n_potentials INTEGER, detail TEXT, model TEXT, features TEXT,
    announced_time REAL NOT NULL, final_time REAL
);
CREATE INDEX IF NOT EXISTS events_night ON events (night_id, kind, start_s);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY, night_id INTEGER NOT NULL REFERENCES nights(id),
    event_id INTEGER REFERENCES events(id), kind TEXT NOT NULL, channel TEXT NOT NULL,
    start_s REAL, alert_s REAL NOT NULL, headline TEXT, message TEXT, wall_time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_deliveries (
    id INTEGER PRIMARY KEY, alert_id INTEGER REFERENCES alerts(id), sink TEXT NOT NULL,
    status TEXT NOT NULL, error TEXT, wall_time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS gaps (
    id INTEGER PRIMARY KEY, night_id INTEGER NOT NULL REFERENCES nights(id),
    start_s REAL NOT NULL, end_s REAL NOT NULL, n_missing INTEGER NOT NULL, reason TEXT,
    wall_time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS disconnects (
    id INTEGER PRIMARY KEY, night_id INTEGER NOT NULL REFERENCES nights(id),
    event TEXT NOT NULL, reason TEXT, stream_s REAL, n_missing INTEGER, elapsed_s REAL,
    wall_time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY, night_id INTEGER NOT NULL REFERENCES nights(id),
    path TEXT NOT NULL UNIQUE, format TEXT, start_s REAL, end_s REAL, n_records INTEGER,
    closed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS quality (
    night_id INTEGER NOT NULL REFERENCES nights(id), start_s REAL NOT NULL,
    channel TEXT NOT NULL, rms_uv REAL, lost_s REAL, PRIMARY KEY (night_id, start_s, channel)
);
""" + """
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY, event_id INTEGER NOT NULL REFERENCES events(id),
    answer TEXT NOT NULL, answered_at REAL NOT NULL, source TEXT
);
CREATE INDEX IF NOT EXISTS answers_event ON answers (event_id);
"""


def _num(v):
    """NaN/inf are not SQL values: store NULL."""
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _json(v) -> str:
    return json.dumps(v, default=str, allow_nan=False, sort_keys=True) if v is not None else None


def _jsonable(d) -> dict:
    """Source meta and features may hold numpy values, NaN or odd objects."""
    out = {}
    for k, v in dict(d or {}).items():
        try:
            json.dumps(v, allow_nan=False)
            out[str(k)] = v
        except (TypeError, ValueError):
            if hasattr(v, "tolist"):
                v = v.tolist()
            out[str(k)] = v if isinstance(v, (int, str, list)) else _num(v) if isinstance(v, float) else str(v)
    return out


def find_databases(folder) -> list[Path]:
    """Night databases (``*.sqlite``, ``*.db``) in ``folder`` and below, sorted."""
    folder = Path(folder)
    if folder.is_file():
        return [folder]
    found = [p for pat in ("*.sqlite", "*.db") for p in folder.rglob(pat)]
    return sorted(set(found))


class NightStore:
    """The SQLite night log of one output folder.

    Examples
    --------
    >>> import tempfile
    >>> from emgpipe.types import Event
    >>> store = NightStore(tempfile.mkdtemp())
    >>> night = store.begin_night(source="sim:night", fs=1000.0, channels=["calf_left"])
    >>> store.add_event(Event("cramp", "calf_left", 60.0, 61.5, 61.5, status="onset"))
    1
    >>> store.add_event(Event("cramp", "calf_left", 60.0, 150.0, 61.5))
    1
    >>> [(e["status"], e["end_s"]) for e in store.events(night)]
    [('final', 150.0)]
    >>> store.close()
    """

    def __init__(self, folder, name: str = DB_NAME, readonly: bool = False):
        folder = Path(folder)
        self.path = folder / name if folder.suffix not in (".sqlite", ".db") else folder
        self._lock = threading.RLock()
        self.night_id = None
        self._open_events: dict = {}
        self.readonly = readonly
        with self._guard("open the night database"):
            if readonly:  # for reports: never create or change the schema
                if not self.path.is_file():
                    raise StorageError(f"{self.path}: no such night database")
                self.db = sqlite3.connect(self.path, check_same_thread=False)
                tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                if "nights" not in tables or "events" not in tables:
                    self.db.close()
                    raise StorageError(f"{self.path}: not an emgpipe night database (no nights/events tables)")
            else:
                private_dir(self.path.parent)
                if not self.path.exists():           # health data: created 0600
                    os.close(open_private(self.path, os.O_WRONLY | os.O_CREAT))
                self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
                self.db.execute("PRAGMA journal_mode=WAL")
                for side in ("-wal", "-shm"):        # SQLite creates these with the db file's mode
                    private_file(f"{self.path}{side}")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self.db.execute(f"PRAGMA wal_autocheckpoint={WAL_PAGES}")
                self.db.executescript(SCHEMA)       # creates what is missing (the migration to 2)
                row = self.db.execute("SELECT MAX(version) FROM schema_info").fetchone()
                if row[0] is None:
                    self.db.execute("INSERT INTO schema_info VALUES (?)", (SCHEMA_VERSION,))
                elif row[0] < SCHEMA_VERSION:
                    log.info("%s: night database schema %d -> %d (answers table)", self.path, row[0],
                             SCHEMA_VERSION)
                    self.db.execute("UPDATE schema_info SET version=?", (SCHEMA_VERSION,))
            self.db.row_factory = sqlite3.Row

    # ------------------------------------------------------------------ plumbing
    @contextmanager
    def _guard(self, what: str):
        """One lock; SQLite errors become a one-line StorageError naming the file."""
        with self._lock:
            try:
                yield
            except sqlite3.Error as err:
                msg = str(err)
                if "full" in msg.lower():
                    msg = f"disk full ({msg}); everything committed before is kept"
                raise StorageError(f"{self.path}: cannot {what}: {msg}") from None
            except OSError as err:
                raise StorageError(f"{self.path}: cannot {what}: {err.strerror or err}") from None

    def _write(self, what: str, sql: str, args=()) -> int:
        with self._guard(what):
            cur = self.db.execute(sql, args)   # autocommit: each statement is its own transaction
            return cur.lastrowid

    # ------------------------------------------------------------------ nights
    def begin_night(self, *, source: str = "", device: str = "", fs: float = 0.0, channels=(),
                    units: str = "uV", mode: str | None = None, model: str = "", calibration=None,
                    source_meta=None, raw_format: str = "", speed=None, started_time: float | None = None) -> int:
        """Insert the night's row (status ``recording``); returns its id."""
        t = time.time() if started_time is None else float(started_time)
        name, _, version = model.partition("@")
        self.night_id = self._write(
            "record the night",
            "INSERT INTO nights (started_time, started_local, status, source, device, fs, channels, units, "
            "mode, model, model_version, calibration, source_meta, raw_format, emgpipe_version, host, "
            "platform, speed, updated_time) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (t, time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(t)), "recording", source, device,
             float(fs), _json(list(channels)), units, mode, name, version, _json(calibration),
             _json(_jsonable(source_meta)), raw_format, __version__, platform.node(),
             f"{platform.system()} {platform.release()}", _num(speed), t))
        return self.night_id

    def progress(self, last_s: float, n_samples: int, n_lost: int) -> None:
        self._write("record progress", "UPDATE nights SET last_s=?, n_samples=?, n_lost=?, updated_time=? "
                    "WHERE id=?", (float(last_s), int(n_samples), int(n_lost), time.time(), self.night_id))

    def end_night(self, status: str, reason: str = "") -> None:
        self._write("close the night", "UPDATE nights SET status=?, stop_reason=?, ended_time=?, "
                    "updated_time=? WHERE id=?", (status, reason, time.time(), time.time(), self.night_id))

    # ------------------------------------------------------------------ events
    def add_event(self, e) -> int:
        """Insert an announced event, or complete the row its onset created. Returns the row id."""
        key = (e.kind, e.channel, round(e.start_s, 6))
        values = (e.end_s, e.alert_s, e.status, _num(e.confidence), _num(e.peak_uv), int(e.n_potentials),
                  e.detail, e.detector, _json(_jsonable(e.features)))
        row = self._open_events.get(key)
        now = time.time()
        if row is not None:
            if e.status == "final":
                del self._open_events[key]
            self._write("record an event", "UPDATE events SET end_s=?, alert_s=MIN(alert_s, ?), status=?, "
                        "confidence=?, peak_uv=?, n_potentials=?, detail=?, model=?, features=?, "
                        "final_time=? WHERE id=?", values + (now if e.status == "final" else None, row))
            return row
        row = self._write("record an event",
                          "INSERT INTO events (night_id, kind, channel, start_s, end_s, alert_s, status, "
                          "confidence, peak_uv, n_potentials, detail, model, features, announced_time, "
                          "final_time) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                          (self.night_id, e.kind, e.channel, e.start_s) + values
                          + (now, now if e.status == "final" else None))
        if e.status != "final":
            self._open_events[key] = row
        return row

    def event_id(self, kind: str, channel: str, start_s: float):
        """Row id of an event still open (onset announced, not final)."""
        return self._open_events.get((kind, channel, round(start_s, 6)))

    def find_event_id(self, kind: str, channel: str, start_s: float):
        """Row id of this night's event (open or final) with that kind, channel and start."""
        eid = self.event_id(kind, channel, start_s)
        if eid is not None:
            return eid
        rows = self._rows("SELECT id FROM events WHERE night_id=? AND kind=? AND channel=? "
                          "AND ABS(start_s - ?) < 1e-6 ORDER BY id DESC LIMIT 1",
                          (self.night_id, kind, channel, float(start_s)))
        return rows[0]["id"] if rows else None

    def add_alert(self, alert, event=None) -> int:
        eid = self.event_id("cramp", event.channel, event.start_s) if event is not None else None
        return self._write("record an alert",
                           "INSERT INTO alerts (night_id, event_id, kind, channel, start_s, alert_s, headline, "
                           "message, wall_time) VALUES (?,?,?,?,?,?,?,?,?)",
                           (self.night_id, eid, alert.kind, alert.channel, alert.start_s, alert.alert_s,
                            alert.headline, alert.message, alert.wall_time or time.time()))

    def add_delivery(self, alert_id, sink: str, status: str, error: str | None = None) -> None:
        self._write("record an alert delivery", "INSERT INTO alert_deliveries (alert_id, sink, status, "
                    "error, wall_time) VALUES (?,?,?,?,?)", (alert_id, sink, status, error, time.time()))

    def add_gap(self, gap) -> None:
        self._write("record a gap", "INSERT INTO gaps (night_id, start_s, end_s, n_missing, reason, wall_time) "
                    "VALUES (?,?,?,?,?,?)", (self.night_id, gap.start_s, gap.end_s, int(gap.n_missing),
                                            gap.reason, time.time()))

    def add_link_event(self, ev: dict, stream_s: float | None = None) -> None:
        self._write("record a disconnect",
                    "INSERT INTO disconnects (night_id, event, reason, stream_s, n_missing, elapsed_s, wall_time) "
                    "VALUES (?,?,?,?,?,?,?)",
                    (self.night_id, ev.get("event", "?"), ev.get("reason"), _num(stream_s),
                     ev.get("n_missing"), _num(ev.get("elapsed_s")), ev.get("time") or time.time()))

    def file_changed(self, info: dict) -> None:
        """Insert or update a raw file's row (from :class:`~.edfplus.RotatingEdfWriter`)."""
        path = os.path.relpath(info["path"], self.path.parent)
        self._write("record a raw file",
                    "INSERT INTO files (night_id, path, format, start_s, end_s, n_records, closed) "
                    "VALUES (?,?,?,?,?,?,?) ON CONFLICT(path) DO UPDATE SET end_s=excluded.end_s, "
                    "n_records=excluded.n_records, closed=excluded.closed",
                    (self.night_id, path, info["format"], info["start_s"], info["end_s"],
                     info["n_records"], int(info["closed"])))

    def add_quality(self, rows) -> None:
        """Rows of (start_s, channel, rms_uv, lost_s), one transaction."""
        rows = [(self.night_id, float(s), ch, _num(r), float(lost)) for s, ch, r, lost in rows]
        if not rows:
            return
        with self._guard("record signal quality"):
            self.db.execute("BEGIN")
            try:
                self.db.executemany("INSERT OR REPLACE INTO quality VALUES (?,?,?,?,?)", rows)
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    # ------------------------------------------------------------------ answers
    def add_answer(self, event_id: int, answer: str, answered_at: float | None = None,
                   source: str = "") -> int:
        """Store the wearer's answer (``cramp`` / ``not_cramp``) to the event row ``event_id``."""
        if answer not in ("cramp", "not_cramp"):
            raise ValueError(f"answer must be 'cramp' or 'not_cramp', got {answer!r}")
        return self._write("record an answer",
                           "INSERT INTO answers (event_id, answer, answered_at, source) VALUES (?,?,?,?)",
                           (int(event_id), answer, time.time() if answered_at is None else float(answered_at),
                            source))

    def answers(self, night_id: int) -> dict:
        """``{event_id: latest answer row}`` of a night (empty for a database without answers)."""
        with self._guard("read the night database"):
            has = self.db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='answers'").fetchone()
        if not has:
            return {}
        rows = self._rows("SELECT a.* FROM answers a JOIN events e ON e.id = a.event_id WHERE e.night_id=? "
                          "ORDER BY a.answered_at, a.id", (night_id,))
        return {r["event_id"]: r for r in rows}

    # ------------------------------------------------------------------ reading
    def _rows(self, sql: str, args=()) -> list[dict]:
        with self._guard("read the night database"):
            return [dict(r) for r in self.db.execute(sql, args).fetchall()]

    def nights(self) -> list[dict]:
        rows = self._rows("SELECT * FROM nights ORDER BY started_time")
        for r in rows:
            for k in ("channels", "calibration", "source_meta"):
                r[k] = json.loads(r[k]) if r.get(k) else None
        return rows

    def events(self, night_id: int) -> list[dict]:
        return self._rows("SELECT * FROM events WHERE night_id=? ORDER BY start_s, id", (night_id,))

    def table(self, name: str, night_id: int) -> list[dict]:
        """Rows of ``alerts``, ``gaps``, ``disconnects``, ``files`` or ``quality`` for a night."""
        if name not in ("alerts", "gaps", "disconnects", "files", "quality"):
            raise ValueError(name)
        order = {"alerts": "alert_s", "gaps": "start_s", "disconnects": "wall_time", "files": "start_s",
                 "quality": "start_s, channel"}[name]
        return self._rows(f"SELECT * FROM {name} WHERE night_id=? ORDER BY {order}", (night_id,))

    # ------------------------------------------------------------------ full disk
    @property
    def reserve_path(self) -> Path:
        return self.path.with_name(self.path.name + ".reserve")

    def reserve_space(self, nbytes: int = RESERVE_BYTES) -> bool:
        """Set ``nbytes`` of disk aside for the database (True if done; a disk too
        full or a file-size limit below it: False, logged)."""
        try:
            fd = open_private(self.reserve_path, os.O_WRONLY | os.O_CREAT)
        except OSError as err:
            log.info("%s: no space reserved for the database (%s)", self.path.name, err.strerror or err)
            return False
        try:
            if hasattr(os, "posix_fallocate"):
                os.posix_fallocate(fd, 0, nbytes)
            else:
                os.ftruncate(fd, 0)
                os.write(fd, bytes(nbytes))
            self._reserved = True
            return True
        except OSError as err:
            log.info("%s: no space reserved for the database (%s)", self.path.name, err.strerror or err)
            os.close(fd)
            fd = None
            self.release_reserve()
            return False
        finally:
            if fd is not None:
                os.close(fd)

    def release_reserve(self) -> bool:
        """Free the reserved space (the disk is full: the database may use it). True if freed."""
        self._reserved = False
        try:
            self.reserve_path.unlink()
            return True
        except FileNotFoundError:
            return False
        except OSError as err:
            log.info("%s: could not free the reserve (%s)", self.path.name, err.strerror or err)
            return False

    def close(self) -> None:
        if getattr(self, "_reserved", False):     # only the writer that set it aside
            self.release_reserve()
        with self._lock:
            if getattr(self, "db", None) is not None:
                try:
                    self.db.close()
                except sqlite3.Error:
                    pass
                self.db = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
