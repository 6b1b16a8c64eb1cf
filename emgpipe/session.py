"""A live session: an opened source, its pipeline and the sinks, run until the end.

:class:`Session` is the runtime of ``emgpipe live`` and ``emgpipe demo`` and
part of the public API (``from emgpipe import open_source, build_pipeline,
Session``)::

    src = open_source("sim:walk_then_cramp?speed=max&seed=2")
    with src:
        pipeline = build_pipeline(src, mode="awake")
        pipeline.events.sink(print)             # any sink
        Session(src, pipeline, events_out="walk.events.csv").run()

What runs where
---------------
The thread calling :meth:`Session.run` iterates the source and pushes each
chunk through the pipeline (synchronous, lossless: :mod:`emgpipe.graph`).
Sinks on the events stream, in order: the events CSV (final events, flushed
per row), the alerts, the LSL outlet (``lsl_out``), then the display. Nothing
that touches the terminal runs in that thread: the live view draws from its
own thread (keep-latest) and plain lines go through :class:`Console`'s writer
thread (bounded queue, drops counted), so a slow terminal never stalls
detection.

Output
------
With ``ui=True``: the live view (:class:`emgpipe.ui.LiveView`), which also
shows the alerts. Otherwise one line per announced event on stdout (onset
announcements and final events), the alerts as the terminal alert sink prints
them; the header, link status ("disconnected, reconnecting...") and the final
summary go to stderr.

Alerts: :mod:`emgpipe.alerts` (one alert per cramp, one reminder, each sink
on its own keep-latest thread); ``alert_args`` (the CLI's ``--alert``,
``--alerts-config``, ``--no-bell``...) choose the sinks (terminal by default;
haptic needs a ``bridge:`` source).

The wearer's answer: in the live view, key ``n`` = "not a cramp" and ``c`` =
"cramp" for the most recent cramp alert (still open, else the last one); a
firmware_bridge button does the same (short press / long press). Keys and
button only queue the answer (:class:`emgpipe.answers.AnswerQueue`); the
pipeline thread applies it between chunks: the pipeline ends or labels the
cramp, its alerts are silenced, the events file gets the ``label`` and the
answer is appended to ``answers.json`` (``answers_path``).

Stopping
--------
``duration_s`` stops after that many seconds of *signal* (sample time: a
source running faster than real time stops sooner in wall time, with the same
events); the last chunk is cut at exactly that time. Ctrl-C (or SIGTERM, when
run from the main thread) asks the source to stop; the pipeline then closes
open events at the last sample, so the events file is complete. A second
Ctrl-C aborts. A device that is lost for good (the sources reconnect by
themselves first) ends with the same clean close, then its error is raised.
The session closes and tears down (:meth:`~emgpipe.graph.Pipeline.destroy`)
the pipeline it runs, whether it built it or was given it.
"""
from __future__ import annotations

import gc
import logging
import math
import queue
import signal
import sys
import threading
from collections import Counter
from contextlib import contextmanager

log = logging.getLogger(__name__)

#: Lines the console writer may hold for a blocked terminal before dropping.
CONSOLE_QUEUE = 10000


# ---------------------------------------------------------------------- small parts

class Console:
    """Lines to stdout/stderr written by a thread, so a blocked terminal or pipe
    never stalls the pipeline; beyond :data:`CONSOLE_QUEUE` waiting lines new
    ones are dropped and counted (logged at the end)."""

    def __init__(self, maxsize: int = CONSOLE_QUEUE):
        self._q = queue.Queue(maxsize)
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="live-console", daemon=True)
        self._thread.start()

    def out(self, line: str) -> None:
        self._put((sys.stdout, line))

    def err(self, line: str) -> None:
        self._put((sys.stderr, line))

    def _put(self, item) -> None:
        try:
            self._q.put_nowait(item)
        except queue.Full:
            self.dropped += 1

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            stream, line = item
            try:
                stream.write(line + "\n")
                stream.flush()
            except (OSError, ValueError):  # closed pipe / stream: keep detecting
                pass

    def close(self, timeout: float = 2.0) -> None:
        try:
            self._q.put(None, timeout=timeout)
        except queue.Full:
            pass
        self._thread.join(timeout)
        if self.dropped:
            log.warning("console: %d line(s) dropped (the terminal did not keep up)", self.dropped)


class ViewAlertSink:
    """The alert sink that shows alerts in the live view (it replaces the terminal
    sink while the view owns the screen; the bell rings with the next frame)."""

    name = "terminal"

    def __init__(self, view, bell: bool = True):
        self.view, self.bell = view, bell

    def send(self, alert) -> bool:
        body = alert.message.split(": ", 1)[-1]
        text = alert.headline if alert.kind == "reminder" else f"{alert.headline}: {body}"
        self.view.alert(text, at_s=alert.alert_s, channel=alert.channel, bell=self.bell)
        return True

    def close(self) -> None:
        pass


def make_alert_manager(alert_args, source, view=None, on_alert=None):
    """The :class:`~emgpipe.alerts.AlertManager` asked for by the ``--alert...`` options.

    The bridge sources can buzz (haptic sink). With the live view on screen
    the terminal sink draws into the view instead of printing over it. The
    prompts of every channel are made once here: the first call parses the
    channel name with regular expressions (tens of ms), which must not happen
    in the pipeline thread at the moment of a cramp.
    """
    from .alerts import build_alert_manager, stretch_prompt
    from .alerts.sinks import TerminalSink
    for ch in source.ch_names:
        stretch_prompt(ch)
    bridge = source if hasattr(source, "send_buzz") else None
    manager = build_alert_manager(alert_args, bridge=bridge, on_alert=on_alert)
    if view is not None:
        for w in manager.workers:  # no alert was handed over yet: swapping the sink is safe
            if isinstance(w.sink, TerminalSink):
                w.sink = ViewAlertSink(view, bell=w.sink.bell)
    return manager


def event_line(e) -> str:
    """One line per announced event (``--no-ui``)."""
    peak = "" if math.isnan(e.peak_uv) else f"  peak {e.peak_uv:.0f} uV"
    detail = f"  {e.detail}" if e.detail else ""
    return (f"{e.alert_s:9.2f} s  {e.status:<5}  {e.kind:<13} {e.channel:<16} "
            f"{e.start_s:.2f}-{e.end_s:.2f} s{peak}{detail}")


def device_note(src) -> str:
    """The device fact worth keeping in view (the Cyton's 250 Hz dongle limit)."""
    meta = getattr(src, "meta", {}) or {}
    limit = meta.get("rate_limit")
    if limit:
        return (f"{limit}: EMG above {src.fs / 2:g} Hz is cut; envelopes work, spectral features "
                f"are limited")
    if 0 < src.fs < 500:  # below 2 x 250 Hz: the sEMG band (20-450 Hz) is not fully kept
        return f"{src.fs:g} Hz: EMG above {src.fs / 2:g} Hz is cut; spectral features are limited"
    return ""


@contextmanager
def stop_on_signals(stop):
    """Call ``stop()`` on the first Ctrl-C, SIGTERM or SIGHUP (terminal closed); a
    second Ctrl-C aborts. A signal the process was told to ignore (``nohup``, a
    background job's SIGINT) stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    hits = []

    def handler(signum, frame):
        hits.append(signum)
        if len(hits) > 1 and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop()

    sigs = [getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)]
    old = {s: signal.signal(s, handler) for s in sigs if signal.getsignal(s) is not signal.SIG_IGN}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


# ---------------------------------------------------------------------- the session

class Session:
    """An opened source wired to its pipeline and sinks.

    Parameters
    ----------
    source : Source
        Already opened (``fs`` and ``ch_names`` known).
    pipeline : Pipeline, optional
        Built by the caller (:func:`emgpipe.pipeline.build_pipeline`), maybe
        with sinks of its own. None: built here from ``source``, ``mode``,
        ``model``, ``profile``, ``answers`` and ``extra_detectors`` (which
        must not be given with a pipeline). The session tears it down at the end.
    model, mode :
        For :func:`emgpipe.pipeline.build_pipeline` (mode: the source's, else awake).
    events_out : path, optional
        Events CSV written as events become final.
    ui : bool
        Use the live view (else plain lines).
    lsl_out : str, optional
        Publish events and envelope on LSL under this name.
    duration_s : float, optional
        Stop after this much signal.
    extra_detectors : sequence
        Detectors run after the model's (``update(features)``/``close(end_s)``),
        e.g. a marker detector in benchmarks/latency.py.
    alert_args : argparse.Namespace, optional
        The ``--alert...`` options (:func:`emgpipe.alerts.add_alert_arguments`);
        None: alerts go to the terminal.
    on_alert : callable, optional
        ``on_alert(alert, event)``, called in the pipeline thread when an
        alert is made (keep it fast).
    answers : list, optional
        The wearer's stored answers, for the detector.
    answers_path : path, optional
        Where new answers are appended (default: the profile folder's
        ``answers.json``).
    profile : Profile or dict, optional
        Calibration profile; the detector gets the source's channels of it
        (:func:`emgpipe.channels.profile_for_stream`: a one-line warning naming
        ``profile_path`` when none match).

    Attributes
    ----------
    pipeline, alerts, view (or None), console, writer (or None)
    answer_queue : AnswerQueue
        :meth:`answer` (any thread) queues an answer; applied between chunks.
    stop_reason : str
        ``"duration"``, ``"interrupted"``, ``"source ended"`` or the error.
    """

    def __init__(self, source, pipeline=None, *, model=None, mode=None, events_out=None, ui=False,
                 lsl_out=None, duration_s=None, extra_detectors=(), alert_args=None,
                 on_alert=None, answers=None, answers_path=None, profile=None, profile_path=None):
        from .answers import AnswerQueue
        from .io.events_csv import EventsCsvWriter
        from .pipeline import build_pipeline
        self.source = source
        self.duration_s = duration_s
        if pipeline is None:
            pipeline = build_pipeline(source, mode=mode, model=model, profile=profile,
                                      profile_path=profile_path, answers=answers,
                                      extra_detectors=extra_detectors)
        elif (model, mode, profile, answers) != (None, None, None, None) or tuple(extra_detectors):
            raise ValueError("Session: model, mode, profile, answers and extra_detectors are for "
                             "the pipeline it builds; pass them to build_pipeline instead")
        self.pipeline = pipe = pipeline
        self.mode = pipe.mode
        self.signal = pipe.signal
        self.answer_queue = None
        self.console = Console()
        self.view = None
        if ui:
            from .ui import LiveView
            self.view = LiveView(source.ch_names, source.fs, device_note=device_note(source),
                                 title=(f"{source.uri}  {len(source.ch_names)} ch @ {source.fs:g} Hz  "
                                        f"model {pipe.model.tag}  mode {self.mode}"),
                                 on_answer=self.answer)
        self.writer = None
        self.lsl = None
        self.announced = Counter()
        self.final = Counter()
        self.stop_reason = ""
        self._stop = threading.Event()
        try:
            if events_out:
                self.writer = EventsCsvWriter(events_out, model=pipe.model.tag)
                pipe.events.sink(self.writer.write)          # lossless, flushed per row
            pipe.events.sink(self._count)
            if self.view is not None:
                self.view.attach(pipe)
            else:
                pipe.events.sink(lambda e: self.console.out(event_line(e)))
            self.alerts = make_alert_manager(alert_args, source, self.view, on_alert)
            pipe.events.sink(self.alerts.on_event)
            self.answer_queue = AnswerQueue(pipe, alerts=self.alerts, writer=self.writer,
                                            answers_path=answers_path, on_applied=self._on_answer)
            buttons = getattr(source, "answer_listeners", None)
            if buttons is not None:                           # the firmware_bridge button
                buttons.append(self.answer_queue.on_button)
            if lsl_out:
                from .lsl_outlet import LslOutlet
                self.lsl = LslOutlet(lsl_out, envelope=True).attach(pipe)
            listeners = getattr(source, "link_listeners", None)
            if listeners is not None:
                listeners.append(self.on_link)
        except BaseException:
            self._release()
            raise

    # --- sinks and listeners
    def _count(self, e) -> None:
        self.announced[e.kind] += 1
        if e.status == "final":
            self.final[e.kind] += 1

    def answer(self, answer: str, source: str = "") -> None:
        """The wearer's answer to the latest cramp alert (any thread): queued, applied
        by the pipeline thread between chunks."""
        if self.answer_queue is not None:
            self.answer_queue.put(answer, source)

    def _on_answer(self, info: dict) -> None:
        from .answers import answer_text
        text = answer_text(info)
        if self.view is not None:
            self.view.answered(text, ok=info.get("event") is not None)
        else:
            self.console.err(f"answer: {text}")

    def on_link(self, ev: dict) -> None:
        """A source's link listener: show disconnects and reconnects."""
        kind = ev.get("event")
        if kind == "disconnect":
            text, warn = f"disconnected ({ev.get('reason', '')}), reconnecting...", True
        elif kind == "reconnect":
            text, warn = (f"reconnected after {ev.get('elapsed_s', 0):.1f} s "
                          f"({ev.get('n_missing', 0)} samples lost)"), False
        elif kind == "gave_up":
            text, warn = f"gave up reconnecting ({ev.get('reason', '')})", True
        else:
            return
        if self.view is not None:
            self.view.set_status(text, warn=warn)
        else:
            self.console.err(f"{ev.get('source', self.source.uri)}: {text}")

    # --- driving
    def stop(self) -> None:
        """Ask the session to end soon (signal handlers, other threads)."""
        self._stop.set()
        self.source.stop()

    def header(self) -> str:
        s = self.source
        note = device_note(s)
        return (f"live: {s.uri}: {len(s.ch_names)} ch ({', '.join(s.ch_names)}) @ {s.fs:g} Hz"
                f"{'; ' + note if note else ''}; model {self.pipeline.model.tag}, mode {self.mode}; "
                f"{self.events_note()}Ctrl-C to stop")

    def events_note(self) -> str:
        """Where the events file goes (exports say where they go), for the header."""
        if self.writer is None:
            return ""
        return f"events file {self.writer.path.resolve()}; "

    def _loop(self) -> str:
        pipe = self.pipeline
        for chunk in self.source:
            if self.duration_s is not None:
                limit = int(math.ceil(self.duration_s * chunk.fs - 1e-9))
                if chunk.next_seq >= limit:
                    pipe.push(chunk.replace(data=chunk.data[:max(0, limit - chunk.seq)]))
                    return "duration"
            pipe.push(chunk)
            self.alerts.tick(chunk.end_s)      # reminders follow stream time
            self.answer_queue.apply_pending()  # keys / button answers, between chunks
            if self._stop.is_set():
                return "interrupted"
        return "interrupted" if self._stop.is_set() else "source ended"

    def run(self) -> str:
        """Stream until the duration, Ctrl-C or the source's end; returns the reason.

        The pipeline is closed (open events finished at the last sample) in
        every case, also when the source fails for good (its error is re-raised).
        """
        if self.view is None:
            self.console.err(self.header())
        else:
            if self.writer is not None:   # the view takes the screen: say it before
                print(f"live: events file {self.writer.path.resolve()}", file=sys.stderr, flush=True)
            self.view.set_status("streaming")
            self.view.start()
        try:
            with stop_on_signals(self.stop), frozen_heap():
                ctx = self.view.capture_logs() if self.view is not None else _nothing()
                with ctx:
                    self.stop_reason = self._loop()
        except KeyboardInterrupt:
            self.stop_reason = "aborted"
            raise
        except Exception as err:
            self.stop_reason = f"error: {err}"
            raise
        finally:
            self._finish()
        return self.stop_reason

    def _finish(self) -> None:
        try:
            self.pipeline.close()
        finally:
            self._release()
            self.pipeline.destroy()            # the session's graph and sinks can be collected

    def _release(self) -> None:
        alerts = getattr(self, "alerts", None)
        if alerts is not None:
            alerts.close()                     # pending deliveries get up to 3 s
        if self.view is not None:
            self.view.close()
        if self.writer is not None:
            self.writer.close()
        if self.lsl is not None:
            self.lsl.close()
        self.console.close()

    def summary(self) -> str:
        p = self.pipeline
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.final.items())) or "no events"
        lost = f"; {p.n_lost / max(self.source.fs, 1e-9):.2f} s lost ({p.n_lost} samples)" if p.n_lost else ""
        out = f"; events written to {self.writer.path.resolve()}" if self.writer is not None else ""
        why = {"duration": "duration reached", "interrupted": "stopped by user",
               "source ended": "source ended"}.get(self.stop_reason, self.stop_reason)
        n_answers = len(self.answer_queue.applied) if self.answer_queue is not None else 0
        answered = f", {n_answers} answered" if n_answers else ""
        return (f"live: {why} after {p.end_s:.1f} s of signal: {kinds}; "
                f"{len(self.alerts.alerts)} alert(s){answered}{lost}{out}")


@contextmanager
def _nothing():
    yield


@contextmanager
def frozen_heap():
    """Keep the objects that exist at start out of the garbage collector's scans.

    A full collection walks every object of numpy, scipy and the rest loaded
    at start; in benchmarks/latency.py that stalled one chunk by ~70 ms.
    ``gc.freeze()`` (Python 3.7+) moves them to a permanent generation for the
    session; what the session allocates is collected as usual.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
