"""Overnight logging: a source through the pipeline into raw EDF+/BDF+ files and the SQLite log.

Per chunk, in order (DESIGN.md: the night log is lossless, append-only, flushed):

1. gaps announced on the chunk go to the ``gaps`` table;
2. the raw samples go to the rotating EDF+/BDF+ writer (flushed every few
   seconds; a file is readable up to its last flush);
3. the chunk goes through the pipeline; every event it announces is
   committed to the ``events`` table *before* anything else sees it, then
   annotated in the raw file (cramps, fasciculations) and handed to the
   alerts (which never block);
4. the alert manager's clock advances (reminders follow stream time).

A full disk (or a file-size limit, an I/O error) on the raw files stops the
raw EMG only: the file keeps its whole records, the stop is one line (the
``on_warning`` callback) and one ``raw_stopped`` row in ``disconnects``, and
detection, the events database and the alerts go on until the night ends
(the events matter most at night). If the database cannot be written either,
the night stops with one error.

Disconnects: a device source that reconnects by itself (Cyton, Ganglion,
bridge) reports the lost time as a gap and tells its ``link_listeners``,
which are logged. If the source gives up (``StreamLost`` or another
:class:`~emgpipe.errors.DeviceError` after data flowed), the recorder reopens
it with back-off for as long as the night lasts; the time lost becomes one
gap and stream time keeps counting (the sample counter is the clock).
"""
from __future__ import annotations

import json
import logging
import math
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import ConfigError, DeviceError, EmgpipeError, StorageError, UsageError
from ..types import Chunk, Gap
from .edfplus import BDF_RANGE_UV, EDF_RANGE_UV, RawWriteError, RotatingEdfWriter
from .store import NightStore

log = logging.getLogger(__name__)

#: Event kinds annotated in the raw files (all kinds are in the database) ...
ANNOTATED = ("cramp", "fasciculation", "signal_loss")
#: ... and artefacts whose detail starts so: a railed channel (signal_loss
#: until model 0.7.13; its samples are not the muscle's)
ANNOTATED_ARTIFACTS = ("saturation",)
#: Back-off between reopen attempts after a source gave up (s): doubles to the cap.
REOPEN_FIRST_S, REOPEN_MAX_S = 1.0, 30.0


def choose_raw_format(meta: dict, choice: str = "auto", range_uv: float | None = None) -> tuple[bool, float]:
    """(BDF?, physical range µV) for a source.

    ``auto``: 24-bit BDF when the source's ADC has more than 16 bits
    (``meta["adc_bits"]``; without it: the Cyton's and Ganglion's
    ADS1299/MCP3912, or a ``uv_per_count`` scale), else 16-bit EDF. With a
    ``uv_per_count`` scale the range is the ADC's full scale, ±2^(bits-1)
    counts (24 bits unless ``adc_bits`` says otherwise), so nothing clips.

    >>> lsb = 4.5 / 24 / (2 ** 23 - 1) * 1e6   # Cyton at gain 24 (protocols.md §1.4)
    >>> choose_raw_format({"device": "cyton", "uv_per_count": [lsb, lsb]})
    (True, 187500.0)
    >>> choose_raw_format({"device": "raw"})
    (False, 10000.0)
    >>> choose_raw_format({"device": "MyoWare", "adc_bits": 10, "uv_per_count": 24.4379})  # an Uno
    (False, 12512.2)
    """
    choice = (choice or "auto").lower()
    if choice not in ("auto", "edf", "bdf"):
        raise UsageError(f"--format {choice!r}: expected auto, edf or bdf")
    text = f"{meta.get('device', '')} {meta.get('board', '')}".lower()
    scale = meta.get("uv_per_count")
    bits = int(meta.get("adc_bits") or 0)
    # a 10-bit Arduino with its scale is not a 24-bit device (it got BDF+ clipped at ±205 µV)
    wide = bits > 16 if bits else (scale is not None or any(d in text for d in ("cyton", "ganglion")))
    bdf = wide if choice == "auto" else choice == "bdf"
    if range_uv is None:
        if scale is not None:  # the ADC's full scale: never clips
            range_uv = float(np.max(scale)) * 2 ** ((bits or 24) - 1)
            range_uv = float(f"{range_uv:.6g}")
        else:
            range_uv = float(meta.get("full_scale_uv") or (BDF_RANGE_UV if bdf else EDF_RANGE_UV))
    return bdf, float(range_uv)


class QualityMeter:
    """Per-minute RMS of the filtered signal and seconds lost, per channel (chunk-invariant)."""

    def __init__(self, fs: float, ch_names, minute_s: float = 60.0):
        self.fs = fs
        self.ch_names = tuple(ch_names)
        self.minute_s = minute_s
        self.n_per = max(1, int(round(minute_s * fs)))
        self._cur = None
        self._ss = np.zeros(len(self.ch_names))
        self._n = 0
        self._lost = defaultdict(int)
        self._rows = []

    def add(self, chunk: Chunk) -> None:
        x, seq, i = chunk.data, chunk.seq, 0
        while i < len(x):
            m = (seq + i) // self.n_per
            if self._cur is not None and m != self._cur:
                self._emit()
            self._cur = m
            end = min(len(x), (m + 1) * self.n_per - seq)
            blk = x[i:end]
            self._ss += np.einsum("ij,ij->j", blk, blk)
            self._n += len(blk)
            i = end

    def gap(self, g: Gap) -> None:
        a, b = g.seq, g.seq + g.n_missing
        while a < b:
            m = a // self.n_per
            end = min(b, (m + 1) * self.n_per)
            self._lost[m] += end - a
            a = end

    def _emit(self) -> None:
        m = self._cur
        rms = np.sqrt(self._ss / self._n) if self._n else [float("nan")] * len(self.ch_names)
        lost = self._lost.pop(m, 0) / self.fs
        for ch, r in zip(self.ch_names, rms):
            self._rows.append((m * self.minute_s, ch, float(r), lost))
        self._ss[:] = 0
        self._n = 0

    def take(self) -> list:
        """Rows of completed minutes since the last call."""
        rows, self._rows = self._rows, []
        # minutes wholly inside a gap have no samples: still report what was lost
        done = [m for m in self._lost if self._cur is None or m < self._cur]
        for m in sorted(done):
            lost = self._lost.pop(m) / self.fs
            rows.extend((m * self.minute_s, ch, float("nan"), lost) for ch in self.ch_names)
        order = {ch: i for i, ch in enumerate(self.ch_names)}
        return sorted(rows, key=lambda r: (r[0], order[r[1]]))

    def close(self) -> list:
        if self._n:
            self._emit()
            self._cur = None
        return self.take()


@dataclass
class NightResult:
    night_id: int
    db: Path
    files: list
    status: str
    duration_s: float
    n_samples: int
    n_lost: int
    counts: Counter
    n_alerts: int
    wall_s: float
    n_reconnects: int = 0
    extra: dict = field(default_factory=dict)

    def summary(self) -> str:
        kinds = ", ".join(f"{self.counts.get(k, 0)} {k}" for k in ("cramp", "fasciculation", "voluntary",
                                                                 "artifact", "signal_loss"))
        lost = f", {self.n_lost / max(self.extra.get('fs', 1.0), 1e-9):.1f} s lost" if self.n_lost else ""
        h = self.duration_s / 3600
        raw = f" ({self.extra['raw_stopped'].split(' (')[0]})" if self.extra.get("raw_stopped") else ""
        return (f"night {self.night_id} {self.status}: {h:.2f} h recorded{lost}; {kinds}; "
                f"{self.n_alerts} alert(s); {len(self.files)} raw file(s){raw} and {self.db}")


def _rebase(chunk: Chunk, offset: int, extra_gap: Gap | None) -> Chunk:
    """A chunk of a reopened source moved ``offset`` samples on, with the reconnect gap."""
    if not offset and extra_gap is None:
        return chunk
    gaps = tuple(Gap(g.seq + offset, g.n_missing, g.fs, g.reason) for g in chunk.gaps)
    if extra_gap is not None:
        gaps = (extra_gap,) + gaps
    attrs = dict(chunk.attrs)
    attrs["gaps"] = gaps
    return chunk.replace(seq=chunk.seq + offset, attrs=attrs)


class NightRecorder:
    """Record a night from ``uri`` into ``out_dir``.

    Parameters
    ----------
    uri : str
        Any source URI (``cyton:...``, ``bridge:...``, ``file:...``, ``sim:night``...).
    out_dir : path
    duration_s : float, optional
        Stop after this much signal (stream seconds).
    speed : optional
        Passed to the source (``max``, ``realtime``, a factor).
    model, mode :
        The detector model and ``"sleep"``/``"awake"``/``"auto"`` (auto: the
        source's ``meta["mode"]`` if it has one, else sleep).
    alerts : argparse.Namespace, list of sinks or None
        Alert options (see :func:`emgpipe.alerts.add_alert_arguments`) or
        the sinks themselves; None for no alerts.
    raw_format : ``"auto"``, ``"edf"`` or ``"bdf"``; range_uv : physical range.
    rotate_s, flush_s : raw file rotation and flush periods (stream s).
    profile : dict, optional
        Calibration profile (the profile file's JSON, a
        :class:`~emgpipe.calibration.Profile` or ``{channel: {rest_uv, mvc_uv}}``);
        the detector gets the stream's channels of it
        (:func:`emgpipe.channels.profile_for_stream`, a warning if none match);
        recorded in ``nights``.
    profile_path : str, optional
        The profile's file, named in that warning.
    detectors : list, optional
        Detectors instead of the model's (tests).
    reconnect : bool
        Reopen a source that gave up.
    echo : callable, optional
        Called with a line per announced event (after it is committed).
    source_factory : callable
        ``factory(uri, **options) -> Source`` (default :func:`emgpipe.devices.open_source`).
    on_start : callable, optional
        Called with a one-line description once the source is open and the night begun.
    answers : list, optional
        The wearer's stored answers, for the detector (:func:`emgpipe.answers.load_answers`).
    answers_path : path or False, optional
        Where answers given during the night (the firmware_bridge button) are
        appended (default: ``answers.json`` in the profile folder). Each answer
        is also stored in the night database (``answers`` table).
    on_warning : callable, optional
        Called with one line when something the wearer must know happens but
        the night goes on (raw EMG stopped on a full disk).
    """

    def __init__(self, uri: str, out_dir, *, duration_s: float | None = None, speed=None, model=None,
                 mode: str = "auto", alerts=None, raw_format: str = "auto", range_uv: float | None = None,
                 rotate_s: float = 3600.0, flush_s: float = 2.0, profile: dict | None = None,
                 detectors=None, reconnect: bool = True, echo: Callable | None = None,
                 source_factory: Callable | None = None, reminder_s=None, on_start: Callable | None = None,
                 answers: list | None = None, answers_path=None, profile_path=None,
                 on_warning: Callable | None = None):
        if duration_s is not None and not duration_s > 0:
            raise UsageError(f"--duration {duration_s:g}: must be positive")
        if not rotate_s > 0:
            raise UsageError(f"--rotate-s {rotate_s:g}: must be positive")
        self.uri = uri
        self.out_dir = Path(out_dir)
        self.duration_s = duration_s
        self.speed = speed
        self.model = model
        self.mode = mode
        self.alerts_spec = alerts
        self.raw_format = raw_format
        self.range_uv = range_uv
        self.rotate_s = rotate_s
        self.flush_s = flush_s
        self.profile = profile
        self.profile_path = None if profile_path is None else str(profile_path)
        self.detectors = detectors
        self.reconnect = reconnect
        self.echo = echo
        self.reminder_s = reminder_s
        self.on_start = on_start
        self.answers = answers
        self.answers_path = answers_path
        self.answer_queue = None
        self.on_warning = on_warning
        #: Why raw EMG stopped before the night's end (None while it is written).
        self.raw_stopped: str | None = None
        if source_factory is None:
            from ..devices import open_source
            source_factory = open_source
        self.source_factory = source_factory
        self._stop = threading.Event()
        self.src = None
        self.counts = Counter()
        self.n_reconnects = 0
        self._alert_ids = {}

    # ------------------------------------------------------------------ control
    def stop(self) -> None:
        """Finish soon and cleanly (thread- and signal-safe)."""
        self._stop.set()
        src = self.src
        if src is not None:
            src.stop()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def progress_s(self) -> float:
        """Stream seconds recorded so far (thread-safe read, for progress displays)."""
        return self._end_s

    # ------------------------------------------------------------------ setup
    def _open_source(self):
        opts = {} if self.speed is None else {"speed": self.speed}
        src = self.source_factory(self.uri, **opts)
        src.open()
        if hasattr(src, "link_listeners"):
            src.link_listeners.append(self._on_link)
        if hasattr(src, "answer_listeners"):          # the firmware_bridge button
            src.answer_listeners.append(self.answer)
        return src

    def _pipeline(self):
        """The pipeline for the source (:func:`emgpipe.pipeline.build_pipeline`: its
        signal kind, its mode unless one was given, else sleep, and the profile's
        calibration of its channels)."""
        from ..pipeline import build_pipeline
        return build_pipeline(self.src, mode=self.mode, default_mode="sleep", model=self.model,
                              profile=self.profile, profile_path=self.profile_path,
                              answers=self.answers, detectors=self.detectors)

    def _alert_manager(self):
        from ..alerts import AlertManager, build_alert_manager
        spec = self.alerts_spec
        kw = {"on_alert": self._on_alert, "on_result": self._on_delivery}
        if spec is None:
            return AlertManager([], **kw)
        if isinstance(spec, (list, tuple)):
            if self.reminder_s is not None:
                kw["reminder_s"] = self.reminder_s
            return AlertManager(spec, **kw)
        return build_alert_manager(spec, bridge=self.src, **kw)

    # ------------------------------------------------------------------ callbacks
    def _on_event(self, e) -> None:
        self.store.add_event(e)                      # committed first: the contract
        if e.status == "final":
            self.counts[e.kind] += 1
        if self.echo is not None:
            self.echo(f"EVENT {e.status} {e.kind} {e.channel} start_s={e.start_s:.3f} "
                      f"end_s={e.end_s:.3f} alert_s={e.alert_s:.3f}")
        annotated = e.kind in ANNOTATED or (e.kind == "artifact" and (e.detail or "").startswith(ANNOTATED_ARTIFACTS))
        if e.status == "final" and annotated and self.writer is not None:
            if e.kind == "cramp":
                text = f"cramp {e.channel} (peak {e.peak_uv:.0f} uV)" if math.isfinite(e.peak_uv) \
                    else f"cramp {e.channel}"
            elif e.kind == "fasciculation":
                text = f"fasciculation {e.channel} ({e.n_potentials} potentials)"
            else:
                text = f"{e.kind} {e.channel}: {e.detail}" if e.detail else f"{e.kind} {e.channel}"
            if e.kind != "signal_loss" or "samples lost" not in e.detail:  # gaps annotate themselves
                self.writer.annotate(e.start_s, e.end_s, text)
        self.alerts.on_event(e)

    def _on_alert(self, alert, event) -> None:
        self._alert_ids[id(alert)] = self.store.add_alert(alert, event)
        if self.echo is not None:
            self.echo(f"ALERT {alert.kind} {alert.channel} alert_s={alert.alert_s:.3f}")

    def _on_delivery(self, sink, alert, status, error) -> None:
        self.store.add_delivery(self._alert_ids.get(id(alert)), sink, status, error)

    def answer(self, ev) -> None:
        """The wearer's answer to the latest cramp alert (any thread): ``"cramp"`` /
        ``"not_cramp"``, or a bridge button dict; applied between chunks."""
        q = self.answer_queue
        if q is None:
            log.warning("answer before the night started: ignored")
        elif isinstance(ev, dict):
            q.on_button(ev)
        else:
            q.put(ev, "api")

    def _on_answer(self, info: dict) -> None:
        e = info.get("event")
        if e is None:
            return
        eid = self.store.find_event_id("cramp", e.channel, e.start_s)
        if eid is not None:
            self.store.add_answer(eid, info["answer"], info["wall_time"], info["source"])
        if self.echo is not None:
            self.echo(f"ANSWER {info['answer']} {e.channel} start_s={e.start_s:.3f} source={info['source']}")

    def _on_link(self, ev: dict) -> None:
        fs = self.src.fs if self.src is not None and self.src.fs else None
        stream_s = ev["seq"] / fs + self._offset / fs if fs and "seq" in ev else None
        self.store.add_link_event(ev, stream_s)
        if ev.get("event") == "reconnect":
            self.n_reconnects += 1

    # ------------------------------------------------------------------ chunks
    def _chunks(self):
        """The source's chunks; reopens it if it gives up, counting the lost time."""
        pending = None
        while True:
            try:
                for c in self.src:
                    c = _rebase(c, self._offset, pending)
                    pending = None
                    self._next_seq = c.next_seq
                    yield c
                return
            except DeviceError as err:
                if not self.reconnect or self.stopping or self._next_seq == 0:
                    raise
                lost_at = time.monotonic()
                log.warning("%s; reopening the source", err)
                self.store.add_link_event({"event": "disconnect", "reason": str(err)},
                                          self._next_seq / self.fs)
                if not self._reopen():
                    return
                elapsed = time.monotonic() - lost_at
                n_missing = max(1, int(round(elapsed * self.fs)))
                self._offset = self._next_seq + n_missing
                pending = Gap(self._next_seq, n_missing, self.fs, f"reconnect after {elapsed:.1f} s")
                self.n_reconnects += 1
                self.store.add_link_event({"event": "reconnect", "reason": "source reopened",
                                           "n_missing": n_missing, "elapsed_s": elapsed},
                                          self._next_seq / self.fs)
                if self.duration_s is not None and self._offset / self.fs >= self.duration_s:
                    return

    def _reopen(self) -> bool:
        old, self.src = self.src, None
        try:
            old.close()
        except Exception:  # the device is gone already
            log.debug("closing the lost source failed", exc_info=True)
        delay, t0 = REOPEN_FIRST_S, time.monotonic()
        while not self.stopping:
            if self.duration_s is not None and (self._next_seq / self.fs
                                                + (time.monotonic() - t0)) >= self.duration_s:
                return False
            try:
                src = self._open_source()
            except DeviceError as err:
                log.info("reopen failed (%s); next try in %.0f s", err, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, REOPEN_MAX_S)
                continue
            if src.fs != self.fs or tuple(src.ch_names) != self.ch_names:
                src.close()
                raise DeviceError(f"{self.uri}: the device came back with other settings "
                                  f"({src.fs:g} Hz, {len(src.ch_names)} channels; was {self.fs:g} Hz, "
                                  f"{len(self.ch_names)})")
            self.src = src
            return True
        return False

    # ------------------------------------------------------------------ run
    def run(self) -> NightResult:
        t_wall = time.perf_counter()
        self.store = None
        self.writer = None
        self.alerts = None
        self._offset = 0
        self._next_seq = 0
        status, reason, error = "failed", "", None
        try:
            self.src = self._open_source()         # a wrong port fails before anything is written
            wall0 = time.time()
            self.alerts = self._alert_manager()    # so do bad alert options
            self.store = NightStore(self.out_dir)
            self.fs = float(self.src.fs)
            self.ch_names = tuple(self.src.ch_names)
            meta = dict(getattr(self.src, "meta", {}) or {})
            self.pipe = self._pipeline()
            mode = self.pipe.mode
            self.quality = QualityMeter(self.fs, self.ch_names)
            bdf, range_uv = choose_raw_format(meta, self.raw_format, self.range_uv)
            self.night_id = self.store.begin_night(
                source=self.uri, device=str(meta.get("device", "")), fs=self.fs, channels=self.ch_names,
                mode=mode, model=self.pipe.model.tag, calibration=self.profile, source_meta=meta,
                raw_format=f"{'BDF+' if bdf else 'EDF+'} ±{range_uv:g} uV",
                speed=getattr(self.src, "speed", None), started_time=wall0)
            self.store.reserve_space()             # room for the events if the raw files fill the disk
            stem = "night-" + time.strftime("%Y%m%d-%H%M%S", time.localtime(wall0)) + f"-{self.night_id}"
            self.writer = RotatingEdfWriter(
                self.out_dir, stem, self.fs, self.ch_names, wall0, rotate_s=self.rotate_s,
                flush_s=self.flush_s, on_file=self.store.file_changed, bdf=bdf, range_uv=range_uv,
                # paced sources flush by signal time; only max-speed replay is limited by wall time
                flush_wall_s=0.25 if getattr(self.src, "speed", 1.0) is None else 0.0,
                equipment=f"emgpipe {meta.get('device', '')}".strip())
            self.pipe.events.sink(self._on_event)
            self.pipe.filtered.sink(self.quality.add)
            from ..answers import AnswerQueue
            self.answer_queue = AnswerQueue(self.pipe, alerts=self.alerts, answers_path=self.answers_path,
                                            on_applied=self._on_answer)
            started = (f"night {self.night_id}: recording {self.uri} ({len(self.ch_names)} ch @ {self.fs:g} Hz, "
                       f"{mode}) into {self.out_dir} as {'BDF+' if bdf else 'EDF+'} and {self.store.path.name}")
            log.info("%s", started)
            if self.on_start is not None:
                self.on_start(started)
            status = self._loop()
            reason = {"complete": "end of signal" if self.duration_s is None or self._end_s < self.duration_s
                      else f"duration {self.duration_s:g} s reached", "stopped": "stopped by the user"}[status]
        except KeyboardInterrupt:
            status, reason = "stopped", "interrupted"
        except EmgpipeError as err:
            status, reason, error = "failed", str(err), err
        except BaseException as err:
            status, reason, error = "failed", f"{type(err).__name__}: {err}", err
        finally:
            status, reason, late = self._finish(status, reason)
        if error is None:
            error = late
        if error is not None:
            raise error
        files = [f["path"] for f in self.writer.files if Path(f["path"]).exists()] if self.writer else []
        return NightResult(self.night_id, self.store.path, files, status, self._end_s, self.pipe.n_samples,
                           self.pipe.n_lost, self.counts, len(self.alerts.alerts), time.perf_counter() - t_wall,
                           self.n_reconnects, {"fs": self.fs, "reason": reason,
                                               "raw_stopped": self.raw_stopped})

    _end_s = 0.0

    def _loop(self) -> str:
        last_progress = time.monotonic()
        for chunk in self._chunks():
            if self.duration_s is not None:
                left = int(round(self.duration_s * self.fs)) - chunk.seq
                if left <= 0:
                    return "complete"
                if left < chunk.n_samples:
                    chunk = chunk.replace(data=chunk.data[:left])
            for g in chunk.gaps:
                self.store.add_gap(g)
                self.quality.gap(g)
            self._write_raw(chunk)
            self.pipe.push(chunk)
            self._end_s = chunk.end_s
            self.alerts.tick(chunk.end_s)
            self.answer_queue.apply_pending()      # button answers, between chunks
            now = time.monotonic()
            if now - last_progress >= 1.0:
                last_progress = now
                self._progress()
            if self.stopping:
                return "stopped"
            if self.duration_s is not None and chunk.end_s >= self.duration_s:
                return "complete"
        return "stopped" if self.stopping else "complete"

    def _write_raw(self, chunk) -> None:
        try:
            self.writer.write(chunk.seq, chunk.data, chunk.gaps[-1].reason if chunk.gaps else "")
        except RawWriteError as err:
            self._raw_failed(err, chunk.end_s)

    def _raw_failed(self, err: RawWriteError, at_s: float) -> None:
        """Raw EMG cannot be written: say so once, log it, carry on with events and alerts."""
        kept = self.writer.recorded_s
        self.store.release_reserve()               # the database goes on in the space set aside
        self.raw_stopped = f"raw EMG stopped at {kept:.1f} s ({err})"
        self.store.add_link_event({"event": "raw_stopped", "reason": str(err)}, kept)
        line = (f"{err}; raw EMG recording stopped at {kept:.1f} s of signal; detection, alerts and "
                f"the events database {self.store.path} go on")
        log.info("night: %s", line)
        if self.on_warning is not None:
            self.on_warning(line)

    def _close_raw(self) -> None:
        try:
            self.writer.close()
        except RawWriteError as err:
            self._raw_failed(err, self._end_s)

    def _progress(self) -> None:
        self.store.add_quality(self.quality.take())
        self.store.progress(self._end_s, self.pipe.n_samples, self.pipe.n_lost)

    def _finish(self, status: str, reason: str):
        """Close everything that was opened. Returns (status, reason, first error while closing):
        every step is tried even after a failure, and the failure is logged."""
        steps = []
        if getattr(self, "pipe", None) is not None and self.writer is not None:
            steps.append(("finish the open events", self.pipe.close))
        if self.writer is not None:
            steps.append(("close the raw file", self._close_raw))
            steps.append(("record signal quality", lambda: self.store.add_quality(self.quality.close())))
            steps.append(("record progress", lambda: self.store.progress(
                self._end_s, self.pipe.n_samples, self.pipe.n_lost)))
        if self.alerts is not None:
            steps.append(("stop the alerts", self.alerts.close))
        if self.src is not None:
            steps.append(("close the source", self.src.close))
        if getattr(self, "pipe", None) is not None:
            steps.append(("tear the pipeline down", self.pipe.destroy))
        first = None
        for what, fn in steps:
            try:
                fn()
            except Exception as err:
                log.debug("night: could not %s: %s", what, err)   # raised or secondary
                first = first or (err if isinstance(err, EmgpipeError) else StorageError(
                    f"{self.out_dir}: could not {what}: {type(err).__name__}: {err}"))
                if status != "failed":
                    status, reason = "failed", str(err)
        if self.raw_stopped and status != "failed":
            reason = f"{reason}; {self.raw_stopped}"
        if self.store is not None:
            try:
                if self.store.night_id is not None:
                    self.store.end_night(status, reason)
            except StorageError as err:
                log.debug("night: %s", err)
                first = first or err
            self.store.close()
        return status, reason, first


def load_profile(path) -> dict:
    """A calibration profile (JSON) for the detector and the night's record."""
    p = Path(path)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"{p}: cannot read the calibration profile ({err.strerror or err})") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"{p}: not a JSON calibration profile (line {err.lineno}: {err.msg})") from None


def echo_stdout(line: str) -> None:
    print(line, flush=True)
    sys.stdout.flush()
