"""What a report is made of: one night from the SQLite log, or a replayed recording's events CSV."""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..channels import parse_channel
from ..errors import UsageError
from ..io.events_csv import read_events
from ..night.store import NightStore, find_databases

#: A night still marked "recording" whose progress is older than this was
#: killed or crashed (progress is written every second while recording).
STALE_S = 120.0


@dataclass
class ReportEvent:
    kind: str
    channel: str
    start_s: float
    end_s: float
    alert_s: float
    status: str = "final"          # "onset": announced, never finished (recording cut)
    confidence: float | None = None
    peak_uv: float | None = None
    n_potentials: int = 0
    detail: str = ""
    label: str = ""                # the wearer's answer: "cramp", "not_cramp" or "" (none)
    id: int | None = None          # row id in the night database (None for an events CSV)

    @property
    def answer_text(self) -> str:
        return {"cramp": "cramp (confirmed)", "not_cramp": "not a cramp"}.get(self.label, "-")

    @property
    def duration_s(self) -> float:
        return max(0.0, self.end_s - self.start_s)

    @property
    def leg(self) -> str:
        return parse_channel(self.channel).leg or "?"

    @property
    def muscle(self) -> str:
        return parse_channel(self.channel).muscle_group or self.channel


@dataclass
class NightData:
    """One night (or one replayed recording) ready to report."""

    title: str
    name: str                       # file-name friendly
    source: str
    started_time: float | None      # host clock of stream time 0 (None: unknown, replay)
    duration_s: float
    channels: list
    mode: str | None
    status: str
    model: str = ""
    device: str = ""
    fs: float | None = None
    events: list = field(default_factory=list)
    gaps: list = field(default_factory=list)          # (start_s, end_s, reason)
    disconnects: list = field(default_factory=list)   # dicts
    alerts: list = field(default_factory=list)        # dicts
    quality: list = field(default_factory=list)       # (start_s, channel, rms_uv, lost_s)
    files: list = field(default_factory=list)         # dicts
    mvc_uv: dict = field(default_factory=dict)        # channel -> MVC RMS (µV), when known
    calibration: dict | None = None
    night_id: int | None = None
    out_dir: Path | None = None
    db: Path | None = None                            # the night database, when there is one
    recording: Path | None = None                     # the replayed recording (raw EMG), when found
    signal: str = "emg"                               # "envelope": the device streamed an envelope
    duration_note: str = ""                           # why the length is uncertain ("" when known)

    def of(self, *kinds) -> list:
        return [e for e in self.events if e.kind in kinds]

    @property
    def cramps(self) -> list:
        return self.of("cramp")

    @property
    def leg_movement_kinds(self) -> tuple:
        """Asleep, voluntary activity runs are the leg movements (the detector's own
        ``leg_movement`` kind counts too when a detector has one)."""
        return ("leg_movement", "voluntary") if self.mode != "awake" else ("leg_movement",)

    @property
    def hours(self) -> float:
        return self.duration_s / 3600.0

    @property
    def lost_s(self) -> float:
        return sum(b - a for a, b, _ in self.gaps)

    def clock(self, t_s: float) -> str:
        """``HH:MM`` local time of stream time ``t_s`` (or ``+h:mm`` from the start)."""
        if self.started_time is not None:
            return time.strftime("%H:%M", time.localtime(self.started_time + t_s))
        return f"+{int(t_s // 3600)}:{int(t_s % 3600 // 60):02d}"


def _ev(row: dict, last_s: float, answers: dict | None = None) -> ReportEvent:
    end = row["end_s"]
    if row["status"] != "final":  # cut by a kill: it lasted at least until the log stopped
        end = max(end, last_s)
    answer = (answers or {}).get(row["id"])
    return ReportEvent(row["kind"], row["channel"], row["start_s"], end, row["alert_s"], row["status"],
                       row["confidence"], row["peak_uv"], row["n_potentials"] or 0, row["detail"] or "",
                       label=answer["answer"] if answer else "", id=row["id"])


def _status(row: dict, now: float | None = None) -> str:
    now = time.time() if now is None else now
    if row["status"] == "recording":
        if now - (row.get("updated_time") or row["started_time"]) > STALE_S:
            return "ended without a clean stop (killed or crashed)"
        return "still recording"
    return row["status"] + (f" ({row['stop_reason']})" if row.get("stop_reason") else "")


def night_from_store(store: NightStore, row: dict) -> NightData:
    nid = row["id"]
    last_s = float(row.get("last_s") or 0.0)
    answers = store.answers(nid)
    events = [_ev(r, last_s, answers) for r in store.events(nid)]
    duration = max([last_s] + [e.end_s for e in events]) if events or last_s else 0.0
    meta = row.get("source_meta") or {}
    calib = row.get("calibration") or {}
    mvc = {}
    for src in (meta.get("mvc_rms_uv"), (calib or {}).get("mvc_rms_uv")):
        if isinstance(src, dict):
            mvc.update({str(k): float(v) for k, v in src.items() if v})
    start = row["started_time"]
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(start))
    return NightData(
        title=f"Night of {stamp}", name=f"report-{time.strftime('%Y%m%d-%H%M', time.localtime(start))}-{nid}",
        source=row.get("source") or "", started_time=start, duration_s=duration,
        channels=row.get("channels") or sorted({e.channel for e in events}), mode=row.get("mode"),
        status=_status(row), model=f"{row.get('model') or ''}@{row.get('model_version') or ''}".strip("@"),
        device=row.get("device") or "", fs=row.get("fs"), events=events,
        gaps=[(g["start_s"], g["end_s"], g["reason"] or "") for g in store.table("gaps", nid)],
        disconnects=store.table("disconnects", nid), alerts=store.table("alerts", nid),
        quality=[(q["start_s"], q["channel"], q["rms_uv"], q["lost_s"]) for q in store.table("quality", nid)],
        files=store.table("files", nid), mvc_uv=mvc, calibration=calib or None, night_id=nid,
        out_dir=store.path.parent, db=store.path, signal=str(meta.get("signal") or "emg"))


#: Extensions of recordings that ``emgpipe replay`` reads (io/registry.py EXTENSIONS).
RECORDING_EXTS = (".csv", ".edf", ".bdf", ".txt", ".tsv", ".hea", ".rec")
#: Names beside recordings that are not recordings (io/registry.py NOT_RECORDINGS).
NOT_RECORDINGS = (".events.csv", ".labels.csv", ".cycles.csv")


def events_stem(path: Path) -> str:
    return path.name[:-len(".events.csv")] if path.name.endswith(".events.csv") else path.stem


def find_recording(events_path: Path, recordings=None) -> Path | None:
    """The recording an events CSV was replayed from: ``<stem>.<ext>`` in ``recordings``
    (a folder or file), beside the events file, or in the folder above it."""
    events_path = Path(events_path)
    if recordings is not None and Path(recordings).is_file():
        return Path(recordings)
    stem = events_stem(events_path)
    dirs = ([Path(recordings)] if recordings is not None else []) + [events_path.parent, events_path.parent.parent]
    for d in dirs:
        for ext in RECORDING_EXTS:
            cand = d / (stem + ext)
            if cand.is_file() and cand.resolve() != events_path.resolve() and not cand.name.endswith(NOT_RECORDINGS):
                return cand
    return None


def _sidecar(events_path: Path, recording: Path | None) -> dict:
    stem = events_stem(events_path)
    cands = ([recording.with_suffix(".json")] if recording is not None else []) + [
        events_path.with_name(stem + ".json"), events_path.parent.parent / (stem + ".json")]
    for cand in cands:
        if cand.is_file():
            try:
                side = json.loads(cand.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(side, dict):
                return side
    return {}


def night_from_events_csv(path: Path, recordings=None) -> NightData:
    """A replayed recording's events (``emgpipe replay`` output) as a night.

    The recording's length comes from its sidecar (``duration_s``) or from the recording
    itself (header, else one pass over the file), never from the last event: a quiet end
    is part of the recording. Only when the recording is not found does the length fall
    back to the last event's end, and the report says so (``duration_note``).
    """
    path = Path(path)
    events = read_events(path)
    stem = events_stem(path)
    recording = find_recording(path, recordings)
    side = _sidecar(path, recording)
    rep = [ReportEvent(e.kind, e.channel, e.start_s, e.end_s, e.alert_s, e.status, e.confidence,
                       None if math.isnan(e.peak_uv) else e.peak_uv, e.n_potentials, e.detail,
                       label=e.label)
           for e in events]
    last = max([e.end_s for e in rep], default=0.0)
    duration, note = None, ""
    try:
        duration = float(side["duration_s"]) if side.get("duration_s") is not None else None
    except (TypeError, ValueError):
        duration = None
    if duration is None and recording is not None:
        from .rawemg import recording_duration
        duration = recording_duration(recording)
    if duration is None or not math.isfinite(duration):
        duration = last
        note = (f"the recording's length is not known (its file was not found beside {path.name}; "
                f"give it with --recordings): at least this long, from the last event")
    gaps = [(e.start_s, e.end_s, e.detail) for e in rep if e.kind == "signal_loss" and "lost" in e.detail]
    # one gap is reported once per channel: keep one
    gaps = sorted(set(gaps))
    channels = side.get("channels") or sorted({e.channel for e in rep})
    mvc = {str(k): float(v) for k, v in (side.get("mvc_rms_uv") or {}).items() if v}
    return NightData(title=f"Recording {stem} (replayed)", name=f"{stem}.report", source=str(path),
                     started_time=None, duration_s=max(duration, 0.0), channels=list(channels),
                     mode=side.get("mode"), status="replayed",
                     model=next((e.detector for e in events if e.detector), ""),
                     events=rep, gaps=gaps, mvc_uv=mvc, fs=side.get("fs"), out_dir=path.parent,
                     recording=recording, signal=side.get("signal") or "emg", duration_note=note)


def _is_events_csv(path: Path) -> bool:
    if path.name.endswith(".events.csv"):
        return True
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.readline()
    except OSError:
        return False
    cols = [c.strip() for c in head.split(",")]
    return all(c in cols for c in ("kind", "channel", "start_s", "end_s"))


@dataclass(frozen=True)
class ReportTarget:
    """One report to make: a night in a database, or a replayed recording's events CSV.
    Small and picklable (a worker process can make the report from it)."""

    kind: str                       # "night" or "events"
    path: Path                      # the database, or the events CSV
    night_id: int | None = None
    recordings: Path | None = None  # where to look for the replayed recording
    name: str | None = None         # the report's file name (without .html) when the default clashes

    def load(self) -> NightData:
        if self.kind == "events":
            night = night_from_events_csv(self.path, self.recordings)
            if self.name:
                night.name = self.name
            return night
        with NightStore(self.path, readonly=True) as store:
            rows = [r for r in store.nights() if r["id"] == self.night_id]
            if not rows:
                raise UsageError(f"{self.path}: no night {self.night_id} in the database")
            return night_from_store(store, rows[0])


def find_targets(target, night_id: int | None = None, every: bool = False,
                 recordings=None) -> list[ReportTarget]:
    """What to report for ``target``: the latest night of a night folder or database
    (``night_id``: that one; ``every``: all), an events CSV, a recording whose events CSV
    is beside it, or every ``*.events.csv`` below a folder (one report each)."""
    target = Path(target)
    rec_dir = Path(recordings) if recordings is not None else None
    if rec_dir is not None and not rec_dir.exists():
        raise UsageError(f"--recordings {rec_dir}: no such file or directory")
    if not target.exists():
        raise UsageError(f"{target}: no such file or directory")
    if target.is_file() and target.suffix.lower() in RECORDING_EXTS:
        if target.suffix.lower() == ".csv" and _is_events_csv(target):
            return [ReportTarget("events", target, recordings=rec_dir)]
        stem = target.stem
        for cand in (target.with_name(stem + ".events.csv"), target.parent / "events" / (stem + ".events.csv")):
            if cand.is_file():
                return [ReportTarget("events", cand, recordings=target)]
        raise UsageError(f"{target}: no events for this recording ({stem}.events.csv not found beside it); "
                         f"run 'emgpipe replay {target} --events-out {target.with_name(stem + '.events.csv')}' "
                         f"first")
    dbs = find_databases(target) if target.is_dir() else [target]
    out = []
    for db in dbs:
        with NightStore(db, readonly=True) as store:
            rows = store.nights()
            if night_id is not None:
                rows = [r for r in rows if r["id"] == night_id]
            elif not every and rows:
                rows = rows[-1:]
            out.extend((r["started_time"], ReportTarget("night", db, r["id"])) for r in rows)
    out = [t for _, t in sorted(out, key=lambda x: x[0])] if out else []
    if not dbs and target.is_dir():
        paths = sorted(target.rglob("*.events.csv"))
        if not paths:
            raise UsageError(f"{target}: no night database (*.sqlite, *.db) and no *.events.csv here")
        stems = [events_stem(p) for p in paths]
        # the same name in two subfolders: prefix the folders, so --out receives both reports
        return [ReportTarget("events", p, recordings=rec_dir,
                             name=None if stems.count(s) == 1 else
                             "-".join(p.relative_to(target).parent.parts + (s,)) + ".report")
                for p, s in zip(paths, stems)]
    if not out:
        raise UsageError(f"{target}: no night {night_id} in the database" if night_id is not None
                         else f"{target}: the night database holds no night yet")
    if not every and night_id is None and len(out) > 1:
        out = out[-1:]
    return out


def load_nights(target, night_id: int | None = None, every: bool = False, recordings=None) -> list[NightData]:
    """The nights to report for ``target`` (see :func:`find_targets`), loaded."""
    return [t.load() for t in find_targets(target, night_id, every, recordings)]
