"""The wearer's answers to cramp alerts ("not a cramp" / "cramp"), kept in their profile.

Every cramp alert can be answered: key ``n`` / ``c`` in the live view, a short /
long press of the firmware_bridge button, or ``emgpipe label`` afterwards. Each
answer is appended to ``answers.json`` in the wearer's configuration folder,
beside the calibration profile (:func:`emgpipe.calibration.config_dir`), as a
JSON list of records (:func:`answer_record`). The detector reads them back
(``CrampDetector(..., answers=...)``) through :func:`load_answers`.

The file is rewritten atomically (a temporary file, then ``os.replace``) and
created readable by its owner only (mode 0600 on POSIX): the answers describe
the wearer's body.

Examples
--------
>>> import tempfile, os
>>> from emgpipe.types import Event
>>> path = os.path.join(tempfile.mkdtemp(), "answers.json")
>>> e = Event("cramp", "calf_left", 60.0, 70.0, 63.5, features={"context": "rest", "rms_uv": 80.0})
>>> rec = answer_record(e, "not_cramp", source="key")
>>> record_answer(rec, path)
>>> [(a["channel"], a["answer"], a["alert_s"], a["context"]) for a in load_answers(path)]
[('calf_left', 'not_cramp', 63.5, 'rest')]
"""
from __future__ import annotations

import json
import math
import os
import threading
import time
from pathlib import Path

from .errors import ConfigError, StorageError, UsageError

#: Answer file name inside the configuration folder.
ANSWERS_NAME = "answers.json"
#: The two answers the detector understands.
ANSWERS = ("cramp", "not_cramp")

_lock = threading.Lock()


def default_answers_path() -> Path:
    """``answers.json`` in the wearer's configuration folder (beside ``profile.json``)."""
    from .calibration import config_dir
    return config_dir() / ANSWERS_NAME


def normalize_answer(text: str, option: str = "--as") -> str:
    """``"cramp"`` or ``"not_cramp"`` from what a user typed (``not-cramp``, ``Not_Cramp``...)."""
    s = str(text).strip().lower().replace("-", "_").replace(" ", "_")
    if s not in ANSWERS:
        raise UsageError(f"{option} {text!r}: must be not-cramp or cramp")
    return s


def load_answers(path=None) -> list[dict]:
    """The stored answers (a list of dicts); ``[]`` when the file does not exist yet.

    A file that is not a JSON list of objects raises a one-line
    :class:`~emgpipe.errors.ConfigError` naming it.
    """
    p = Path(path) if path is not None else default_answers_path()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as err:
        raise ConfigError(f"{p}: cannot read the answers file ({err.strerror or err})") from None
    if not text.strip():
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{p}: not a valid answers file (line {err.lineno}: {err.msg}); "
                          f"fix or delete it") from None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ConfigError(f"{p}: not a valid answers file (expected a JSON list of answers); "
                          f"fix or delete it")
    return data


def _num(v):
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def answer_record(event, answer: str, source: str = "") -> dict:
    """The stored form of one answer to ``event`` (a cramp :class:`~emgpipe.types.Event`)."""
    answer = normalize_answer(answer, "answer")
    feats = dict(getattr(event, "features", None) or {})
    return {
        "channel": event.channel,
        "answer": answer,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "alert_s": _num(event.alert_s),
        "start_s": _num(event.start_s),
        "context": feats.get("context") if isinstance(feats.get("context"), str) else None,
        "level_uv": _num(feats.get("rms_uv")),
        "baseline_uv": _num(feats.get("baseline_uv")),
        "model": getattr(event, "detector", "") or "",
        "source": source,
    }


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically; a new file is created with mode 0600 (POSIX),
    a new folder 0700."""
    from .night.private import private_dir
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if os.name == "posix":
            os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def record_answer(record: dict, path=None) -> Path:
    """Append ``record`` to the answers file (created if missing); returns its path."""
    p = Path(path) if path is not None else default_answers_path()
    with _lock:
        answers = load_answers(p)
        answers.append(dict(record))
        try:
            _write_private(p, json.dumps(answers, indent=1, allow_nan=False) + "\n")
        except OSError as err:
            raise StorageError(f"{p}: cannot write the answers file ({err.strerror or err})") from None
    return p


class CrampTracker:
    """Which cramp an answer is about: the most recent cramp alert still open,
    else the most recent one. Connect :meth:`on_event` to a pipeline's events.

    Examples
    --------
    >>> from emgpipe.types import Event
    >>> t = CrampTracker()
    >>> t.on_event(Event("cramp", "calf_left", 10.0, 13.5, 13.5, status="onset"))
    >>> t.on_event(Event("cramp", "calf_left", 10.0, 30.0, 13.5))
    >>> t.target().end_s, t.is_open(t.target())
    (30.0, False)
    """

    def __init__(self, keep: int = 32):
        self.keep = keep
        self._events: dict = {}          # (channel, start_s) -> latest Event
        self._open: set = set()
        self._lock = threading.Lock()

    @staticmethod
    def key(e) -> tuple:
        return (e.channel, round(float(e.start_s), 6))

    def on_event(self, e) -> None:
        if e.kind != "cramp":
            return
        k = self.key(e)
        with self._lock:
            self._events.pop(k, None)
            self._events[k] = e
            if e.status == "final":
                self._open.discard(k)
            else:
                self._open.add(k)
            while len(self._events) > self.keep:
                old = next(iter(self._events))
                self._events.pop(old)
                self._open.discard(old)

    def is_open(self, e) -> bool:
        with self._lock:
            return self.key(e) in self._open

    def target(self):
        """The cramp event an answer now applies to, or None before any cramp alert."""
        with self._lock:
            if not self._events:
                return None
            evs = list(self._events.items())
            open_ = [e for k, e in evs if k in self._open]
            pool = open_ or [e for _, e in evs]
            return max(pool, key=lambda e: e.alert_s)


class AnswerQueue:
    """Answers given on other threads (live view keys, the bridge button), applied
    by the pipeline's thread between chunks (:meth:`apply_pending`).

    Applying one: the target is the most recent cramp alert still open, else
    the most recent one (:class:`CrampTracker`, fed by the pipeline's events).
    An open cramp gets :meth:`Pipeline.answer <emgpipe.graph.Pipeline.answer>`
    ("not a cramp" ends it now, its final event carries the label; "cramp"
    labels its final event); for one already over, the events file's row is
    relabelled. Either way the alerts of that cramp are silenced
    (:meth:`AlertManager.silence <emgpipe.alerts.AlertManager.silence>`), the
    answer is appended to ``answers.json`` and ``on_applied(info)`` is called
    with ``{"answer", "source", "event", "was_open", "t_s", "wall_time",
    "events"}`` (``info["event"]`` None: there was no cramp alert to answer).

    Parameters
    ----------
    pipeline : Pipeline
    alerts : AlertManager, optional
    writer : EventsCsvWriter, optional
    answers_path : path, optional
        Default :func:`default_answers_path`; ``False`` stores nothing.
    on_applied : callable, optional
    """

    def __init__(self, pipeline, *, alerts=None, writer=None, answers_path=None, on_applied=None):
        import queue
        self.pipeline = pipeline
        self.alerts = alerts
        self.writer = writer
        self.answers_path = answers_path
        self.on_applied = on_applied
        self.tracker = CrampTracker()
        pipeline.events.sink(self.tracker.on_event)
        self._q = queue.SimpleQueue()
        self.applied: list = []

    def put(self, answer: str, source: str = "") -> None:
        """Queue an answer (any thread; never blocks)."""
        self._q.put((normalize_answer(answer, "answer"), source, time.time()))

    def on_button(self, ev: dict) -> None:
        """A bridge source's button listener (``{"answer": ..., "source": "button"}``)."""
        self.put(ev["answer"], ev.get("source", "button"))

    def apply_pending(self) -> list[dict]:
        """Apply every queued answer (call from the pipeline's thread)."""
        import logging
        import queue
        log = logging.getLogger(__name__)
        done = []
        while True:
            try:
                answer, source, wall = self._q.get_nowait()
            except queue.Empty:
                return done
            target = self.tracker.target()
            info = {"answer": answer, "source": source, "wall_time": wall, "event": target,
                    "was_open": False, "t_s": self.pipeline.end_s, "events": []}
            if target is None:
                log.warning("answer %s (%s): no cramp alert to answer", answer, source)
            else:
                info["was_open"] = was_open = self.tracker.is_open(target)
                if was_open:
                    info["events"] = self.pipeline.answer(target.channel, answer)
                if self.alerts is not None:
                    self.alerts.silence(target.channel)
                if self.writer is not None and not was_open:
                    self.writer.relabel(target, answer)
                if self.answers_path is not False:
                    try:
                        record_answer(answer_record(target, answer, source), self.answers_path)
                    except (ConfigError, StorageError) as err:   # never stop monitoring for it
                        log.warning("answer not saved: %s", err)
                log.info("answer %s (%s) to the %s cramp alert at %.1f s", answer, source,
                         target.channel, target.alert_s)
            self.applied.append(info)
            done.append(info)
            if self.on_applied is not None:
                self.on_applied(info)


def answer_text(info: dict) -> str:
    """One line for the live view / console about an applied answer."""
    word = "not a cramp" if info["answer"] == "not_cramp" else "cramp"
    e = info.get("event")
    how = f" ({info['source']})" if info.get("source") else ""
    if e is None:
        return f"{word}{how}: no cramp alert to answer"
    return f"{word}{how}: {e.channel}, alert at {e.alert_s:.1f} s; saved"
