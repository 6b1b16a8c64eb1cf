"""``emgpipe live --source URI``: live monitoring with the live view, alerts and the events file.

What runs where
---------------
The main thread iterates the source and pushes each chunk through the
pipeline (synchronous, lossless: :mod:`emgpipe.graph`). Sinks on the events
stream, in order: the events CSV (final events, flushed per row), the alerts,
the LSL outlet (``--lsl-out``), then the display. Nothing that touches the
terminal runs in the main thread: the live view draws from its own thread
(keep-latest) and plain lines go through :class:`Console`'s writer thread
(bounded queue, drops counted), so a slow terminal never stalls detection.

Output
------
With a terminal: the live view (:class:`emgpipe.ui.LiveView`), which also
shows the alerts. With ``--no-ui`` or when stdout is not a terminal: one line
per announced event on stdout (onset announcements and final events), the
alerts as the terminal alert sink prints them; the header, link status
("disconnected, reconnecting...") and the final summary go to stderr.

Alerts: :mod:`emgpipe.alerts` (one alert per cramp, one reminder, each sink
on its own keep-latest thread); ``--alert``, ``--alerts-config``,
``--no-bell``... choose the sinks (terminal by default; haptic needs a
``bridge:`` source).

The wearer's answer: in the live view, key ``n`` = "not a cramp" and ``c`` =
"cramp" for the most recent cramp alert (still open, else the last one); a
firmware_bridge button does the same (short press / long press). Keys and
button only queue the answer (:class:`emgpipe.answers.AnswerQueue`); the main
thread applies it between chunks: the pipeline ends or labels the cramp, its
alerts are silenced, the events file gets the ``label`` and the answer is
appended to ``answers.json`` (``--answers FILE``).

Stopping
--------
``--duration S`` stops after S seconds of *signal* (sample time: a source
running faster than real time stops sooner in wall time, with the same
events); the last chunk is cut at exactly S. Ctrl-C (or SIGTERM) asks the
source to stop; the pipeline then closes open events at the last sample, so
the events file is complete, and the exit code is 0. A second Ctrl-C aborts.
A device that is lost for good (the sources reconnect by themselves first)
ends with the same clean close, then its one-line error and exit code.
"""
from __future__ import annotations

import argparse
import gc
import logging
import math
import queue
import signal
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager

from ..errors import UsageError

log = logging.getLogger(__name__)

#: Lines the console writer may hold for a blocked terminal before dropping.
CONSOLE_QUEUE = 10000


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "live", help="live monitoring from a device, with the live view and stretch alerts",
        description="Monitor a live source (cyton:PORT, ganglion:NAME, bridge:PORT, bridge-ble:NAME, "
                    "lsl:STREAM, file:PATH, sim:SCENARIO) through the detection pipeline, with the "
                    "live view and stretch alerts. Ctrl-C stops cleanly. Not a medical device.")
    p.add_argument("--source", required=True, metavar="URI",
                   help="e.g. cyton:/dev/ttyUSB0, cyton:COM3, lsl:MyStream, sim:walk_then_cramp")
    p.add_argument("--duration", type=float, default=None, metavar="S",
                   help="stop after S seconds of signal (sample time)")
    p.add_argument("--events-out", default=None, metavar="FILE",
                   help="write the events CSV here as events become final")
    p.add_argument("--no-ui", action="store_true",
                   help="no live view: one line per event (also when stdout is not a terminal)")
    p.add_argument("--model", default=None, metavar="NAME_OR_PATH", help="detector model (default: default)")
    p.add_argument("--mode", choices=("awake", "sleep"), default=None,
                   help="detector mode (default: the source's, else awake)")
    p.add_argument("--speed", default=None,
                   help="file: and sim: sources: realtime (default), max or a factor; devices ignore it")
    p.add_argument("--profile", default=None, metavar="FILE",
                   help="calibration profile from emgpipe calibrate (its channel names must be the "
                        "source's: name them with ?names=...)")
    p.add_argument("--answers", default=None, metavar="FILE",
                   help="the wearer's answers to cramp alerts, read by the detector and appended to by "
                        "the n / c keys and the bridge button (default: answers.json in the "
                        "configuration folder, beside the calibration profile)")
    p.add_argument("--lsl-out", nargs="?", const="emgpipe", default=None, metavar="NAME",
                   help="also publish events (JSON markers) and the RMS envelope on LSL as "
                        "NAME-events / NAME-envelope (default name emgpipe; needs pylsl)")
    from ..alerts import add_alert_arguments
    add_alert_arguments(p)
    p.set_defaults(func=run)
    return p


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
    from ..alerts import build_alert_manager, stretch_prompt
    from ..alerts.sinks import TerminalSink
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

class LiveSession:
    """An opened source wired to the pipeline and its sinks.

    Parameters
    ----------
    source : Source
        Already opened (``fs`` and ``ch_names`` known).
    model, mode :
        For :func:`emgpipe.pipeline.make_pipeline` (mode defaults to the source's).
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

    def __init__(self, source, *, model=None, mode=None, events_out=None, ui=False,
                 lsl_out=None, duration_s=None, extra_detectors=(), alert_args=None,
                 on_alert=None, answers=None, answers_path=None, profile=None, profile_path=None):
        from ..answers import AnswerQueue
        from ..channels import profile_for_stream
        from ..io.events_csv import EventsCsvWriter
        from ..pipeline import make_pipeline, signal_of
        self.source = source
        self.duration_s = duration_s
        self.mode = mode or source.meta.get("mode") or "awake"
        # the source says what it streams (a MyoWare ENV envelope is not band-passed)
        self.signal = signal_of(source)
        calibration = profile_for_stream(profile, source.ch_names, str(profile_path or "--profile"))
        self.pipeline = pipe = make_pipeline(model, self.mode, self.signal, calibration, answers)
        self.answer_queue = None
        pipe.detectors.extend(extra_detectors)
        self.console = Console()
        self.view = None
        if ui:
            from ..ui import LiveView
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
                from ..lsl_outlet import LslOutlet
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
        from ..answers import answer_text
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


def run(args) -> int:
    from ..answers import load_answers
    from ..devices import open_source
    from ..ui import enable_ansi
    if args.duration is not None and not args.duration > 0:
        raise UsageError(f"--duration {args.duration:g}: must be positive")
    options = {"speed": args.speed} if args.speed is not None else {}
    profile = None
    if args.profile:
        from ..calibration import Profile
        profile = Profile.load(args.profile)     # a bad file fails before the device opens
    src = open_source(args.source, **options)
    src.open()  # a missing port, no device, permission denied: one line from the CLI
    try:
        ui = not args.no_ui and enable_ansi(sys.stdout)
        session = LiveSession(src, model=args.model, mode=args.mode, events_out=args.events_out,
                              ui=ui, lsl_out=args.lsl_out, duration_s=args.duration,
                              alert_args=args, answers=load_answers(args.answers),
                              answers_path=args.answers, profile=profile, profile_path=args.profile)
        t0 = time.monotonic()
        try:
            session.run()
        finally:
            print(session.summary() + f" [{time.monotonic() - t0:.1f} s wall]", file=sys.stderr)
    finally:
        src.close()
    return 0
