"""The live terminal view (``emgpipe live``, ``emgpipe demo``).

::

    emgpipe live  cyton:/dev/pts/5  8 ch @ 250 Hz  model default@0.1.0  mode awake
    OpenBCI Cyton: the USB dongle caps it at 250 Hz (125 Hz with Daisy)
    signal 73.4 s   lost 0.04 s (10 samples, 1 gap)   streaming
    channel          RMS µV  last 10 s (log, 1 µV .. 1 mV)           state
    calf_left         212.0  ▁▁▁▁▂▃▅▇██████████████▇▇                CRAMP!
    calf_right          3.1  ▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁                quiet
    ALERT 70.2 s  Calf cramp (left) - stretch now: stand facing a wall, ...
    recent events
      70.2 s  onset  cramp          calf_left    from 68.9 s
    n = not a cramp   c = cramp   Ctrl-C to stop

Keys (when an ``on_answer`` callback is given): ``n`` answers the most recent
cramp alert "not a cramp", ``c`` "cramp". The key thread only calls
``on_answer(answer, "key")``; the caller queues it for the pipeline thread
(see :class:`emgpipe.answers.AnswerQueue`) and shows the outcome with
:meth:`LiveView.answered`.

Threading and backpressure (DESIGN.md: "UI sinks keep only the latest; a
slow terminal must never stall detection"): the pipeline thread calls the
``on_*`` sinks, which only update a small state under a lock (O(channels)
work, no I/O). A renderer thread wakes at most ``refresh_hz`` times a second,
copies the state and draws it. Frames are never queued: if the terminal is
slow, the renderer simply draws the newest state next time, and the skipped
updates are counted in :attr:`LiveView.coalesced`.
"""
from __future__ import annotations

import logging
import math
import shutil
import sys
import textwrap
import threading
import time
from collections import deque
from contextlib import contextmanager

import numpy as np

from .term import (BOLD, CYAN, DIM, GREEN, MAGENTA, RAMP_ASCII, RAMP_UNICODE, RED, REVERSE,
                   YELLOW, can_encode, fit, sparkline)

log = logging.getLogger(__name__)

#: Channel state per open episode kind, highest priority first: label and style.
STATES = (
    ("cramp", "CRAMP!", (BOLD, RED)),
    ("signal_loss", "no signal", (MAGENTA,)),
    ("artifact", "artefact", (YELLOW,)),
    ("voluntary", "active", (GREEN,)),
    ("fasciculation", "twitching", (CYAN,)),
)
QUIET = ("quiet", (DIM,))
#: Lines the alert (with its stretch instructions) may take.
ALERT_LINES = 3
#: Keys of the wearer's answer to the most recent cramp alert.
ANSWER_KEYS = {"n": "not_cramp", "c": "cramp"}
#: Sparkline scale: 1 µV (below rest-level surface EMG, 1-5 µV RMS) to 1 mV
#: (strong contractions; physiology.md §4), log scale so both ends are legible.
SCALE_UV = (1.0, 1000.0)


class LiveView:
    """A terminal dashboard fed from a :class:`~emgpipe.graph.Pipeline`.

    Parameters
    ----------
    ch_names : sequence of str
    fs : float
    title : str
        Source and model line, e.g. ``"cyton:/dev/ttyUSB0  model default@0.1.0"``.
    device_note : str
        A device fact to keep in view (e.g. the Cyton's 250 Hz dongle limit).
    out : text stream
        Where to draw (default ``sys.stdout``).
    history_s : float
        Span of the envelope sparkline.
    refresh_hz : float
        Highest redraw rate.
    max_events : int
        Announcements kept in the "recent events" list.
    ansi : bool
        Draw with ANSI escapes (alternate screen, colours). False: :meth:`frame`
        still works (tests, logs) but :meth:`start` draws nothing.

    Examples
    --------
    >>> from emgpipe.types import Event
    >>> v = LiveView(("calf_left", "calf_right"), 1000.0, title="sim:walk_then_cramp", ansi=False)
    >>> v.on_event(Event("cramp", "calf_left", 3.0, 3.5, 3.5, status="onset"))
    >>> [line.split()[-1] for line in v.frame(80) if line.startswith("calf")]
    ['CRAMP!', 'quiet']
    """

    def __init__(self, ch_names, fs: float, *, title: str = "", device_note: str = "", out=None,
                 history_s: float = 10.0, refresh_hz: float = 10.0, max_events: int = 8,
                 ansi: bool = True, on_answer=None, keys_in=None):
        self.ch_names = tuple(ch_names)
        self.fs = float(fs)
        self.title = title
        self.device_note = device_note
        self.out = out or sys.stdout
        self.history_s = float(history_s)
        self.refresh_hz = float(refresh_hz)
        self.ansi = bool(ansi)
        unicode_ok = can_encode(self.out, RAMP_UNICODE + "µ")
        self.ramp = RAMP_UNICODE if unicode_ok else RAMP_ASCII
        self.uv = "µV" if unicode_ok else "uV"
        self._lock = threading.Lock()
        self._env = deque()                 # (end_s array, rms array (n, ch)) batches
        self._open = {}                     # (kind, channel) -> onset Event
        self._recent = deque(maxlen=max_events)
        self._notes = deque(maxlen=3)
        self._alert = None                  # (text, at_s, channel)
        self._bell = False
        self._status = ("starting", ())
        self._end_s = 0.0
        self._n_lost = 0
        self._n_gaps = 0
        self._version = 0                   # bumped by every update
        self._drawn = -1
        self.coalesced = 0                  # updates never drawn on their own
        self.frames = 0
        self._stop = threading.Event()
        self._thread = None
        self.on_answer = on_answer          # on_answer(answer, source): n / c keys
        self.keys_in = keys_in              # where keys come from (default sys.stdin)
        self._keys = None
        self._answer = None                 # (text, style) of the last answer

    # ------------------------------------------------------------------ sinks (pipeline thread)

    def _touch(self) -> None:
        self._version += 1

    def on_chunk(self, chunk) -> None:
        """Stream time and lost samples (gaps announced on the chunk)."""
        with self._lock:
            self._end_s = max(self._end_s, chunk.end_s)
            for g in chunk.gaps:
                self._n_lost += g.n_missing
                self._n_gaps += 1
            self._touch()

    def on_features(self, features) -> None:
        """Per-channel window RMS for the envelope."""
        rms = features.values.get("rms") if features.n_windows else None
        if rms is None:
            return
        with self._lock:
            ends = features.end_s
            self._env.append((ends, np.asarray(rms)))
            while self._env and self._env[0][0][-1] < ends[-1] - self.history_s:
                self._env.popleft()
            self._touch()

    def on_event(self, event) -> None:
        """An announced event (onset or final): channel states and the recent list."""
        with self._lock:
            key = (event.kind, event.channel)
            if event.status == "final":
                self._open.pop(key, None)
            else:
                self._open[key] = event
            self._recent.append(event)
            self._touch()

    def alert(self, text: str, at_s: float | None = None, channel: str | None = None,
              bell: bool = False) -> None:
        """Show ``text`` on the alert line until the next alert.

        ``at_s``: stream time of the alert; ``channel``: the alert is shown as
        over once no cramp runs there; ``bell``: ring the terminal bell with
        the next frame.
        """
        with self._lock:
            self._alert = (text, at_s, channel)
            self._bell = self._bell or bell
            self._touch()

    def handle_key(self, key: str) -> str | None:
        """A key press (any thread): ``n`` / ``c`` hand the answer to ``on_answer``.
        Returns the answer, or None for other keys."""
        answer = ANSWER_KEYS.get(key.lower()) if key else None
        if answer is None or self.on_answer is None:
            return None
        with self._lock:
            self._answer = (f"answer: {'not a cramp' if answer == 'not_cramp' else 'cramp'}...", (YELLOW,))
            self._touch()
        self.on_answer(answer, "key")
        return answer

    def answered(self, text: str, ok: bool = True) -> None:
        """Show what an answer did (e.g. ``"not a cramp: calf_left, alert at 70.2 s"``)."""
        with self._lock:
            self._answer = (text, (BOLD, GREEN) if ok else (YELLOW,))
            self._touch()

    def set_status(self, text: str, warn: bool = False) -> None:
        """Source status, e.g. ``"streaming"`` or ``"disconnected, reconnecting..."``."""
        with self._lock:
            self._status = (text, (BOLD, YELLOW) if warn else (GREEN,))
            self._touch()

    def note(self, text: str) -> None:
        """A passing message (log warnings while the view owns the screen)."""
        with self._lock:
            self._notes.append(text)
            self._touch()

    def attach(self, pipeline) -> "LiveView":
        """Connect the sinks to a pipeline's ``chunks``, ``features`` and ``events``."""
        pipeline.chunks.sink(self.on_chunk)
        pipeline.features.sink(self.on_features)
        pipeline.events.sink(self.on_event)
        return self

    # ------------------------------------------------------------------ rendering

    def _state_of(self, ch: str, open_eps: dict):
        kinds = {k for (k, c) in open_eps if c in (ch, "*")}
        for kind, label, style in STATES:
            if kind in kinds:
                return label, style
        return QUIET

    def frame(self, width: int = 100) -> list[str]:
        """The current screen as lines (ANSI styles only when ``ansi``)."""
        with self._lock:
            env = list(self._env)
            open_eps = dict(self._open)
            recent = list(self._recent)
            notes = list(self._notes)
            alert, status, answer = self._alert, self._status, self._answer
            end_s, n_lost, n_gaps = self._end_s, self._n_lost, self._n_gaps
        a = self.ansi
        lines = [fit([("emgpipe live  ", (BOLD,)), (self.title, ())], width, a)]
        if self.device_note:
            lines.append(fit([(self.device_note, (DIM,))], width, a))
        lost = (f"lost {n_lost / self.fs:.2f} s ({n_lost} samples, {n_gaps} gap"
                f"{'' if n_gaps == 1 else 's'})")
        lines.append(fit([(f"signal {end_s:8.1f} s   ", ()),
                          (lost, (BOLD, MAGENTA) if n_lost else ()), ("   ", ()), status],
                         width, a))
        name_w = max(8, min(20, max(len(c) for c in self.ch_names) + 1)) if self.ch_names else 8
        spark_w = max(10, width - name_w - 10 - 12)
        lo, hi = SCALE_UV
        lines.append(fit([(f"{'channel':<{name_w}} {('RMS ' + self.uv):>8}  "
                           f"{f'last {self.history_s:g} s (log, 1 {self.uv} .. 1 mV)':<{spark_w}}  "
                           "state", (DIM,))], width, a))
        times = np.concatenate([e[0] for e in env]) if env else np.zeros(0)
        values = np.concatenate([e[1] for e in env]) if env else np.zeros((0, len(self.ch_names)))
        t_end = times[-1] if len(times) else end_s
        for i, ch in enumerate(self.ch_names):
            col = values[:, i] if values.shape[1] > i else np.zeros(0)
            now = f"{col[-1]:8.1f}" if len(col) and math.isfinite(col[-1]) else f"{'-':>8}"
            line = sparkline(times, col, t_end, self.history_s, spark_w, lo, hi, self.ramp)
            label, style = self._state_of(ch, open_eps)
            lines.append(fit([(f"{ch[:name_w]:<{name_w}} {now}  ", ()), (line, (CYAN,)),
                              ("  ", ()), (label, style)], width, a))
        if alert is not None:
            text, at_s, channel = alert
            over = channel is not None and ("cramp", channel) not in open_eps
            when = f"ALERT {at_s:.1f} s  " if at_s is not None else "ALERT  "
            style = (BOLD, RED) if not over else (DIM,)
            wrapped = textwrap.wrap(text + ("  (over)" if over else ""),
                                    max(20, width - len(when))) or [""]
            for i, part in enumerate(wrapped[:ALERT_LINES]):
                head = (when, (BOLD, REVERSE, RED) if not over else (DIM,)) if i == 0 else (
                    " " * len(when), ())
                lines.append(fit([head, (part, style)], width, a))
        else:
            lines.append(fit([("no alert", (DIM,))], width, a))
        if answer is not None:
            lines.append(fit([("ANSWER  ", (BOLD,)), answer], width, a))
        lines.append(fit([("recent events", (DIM,))], width, a))
        for e in reversed(recent):
            lines.append(fit([(f"  {e.alert_s:8.1f} s  {e.status:<5}  {e.kind:<13} {e.channel:<{name_w}} "
                               f"{e.start_s:.1f}-{e.end_s:.1f} s  {e.detail}",
                               (RED,) if e.kind == "cramp" else ())], width, a))
        for n in notes:
            lines.append(fit([(n, (YELLOW,))], width, a))
        keys = "n = not a cramp   c = cramp   " if self.on_answer is not None else ""
        lines.append(fit([(keys + "Ctrl-C to stop", (DIM,))], width, a))
        return lines

    def draw(self) -> bool:
        """Draw the newest state if it changed; True when a frame was written."""
        version = self._version
        if version == self._drawn:
            return False
        self.coalesced += version - max(self._drawn, 0) - 1  # updates merged into this frame
        self._drawn = version
        size = shutil.get_terminal_size((100, 30))
        lines = self.frame(size.columns - 1)[:max(5, size.lines - 1)]
        bell, self._bell = self._bell, False
        self.out.write(("\a" if bell else "") + "\x1b[H" + "\x1b[K\n".join(lines) + "\x1b[K\x1b[J")
        self.out.flush()
        self.frames += 1
        return True

    # ------------------------------------------------------------------ lifecycle

    def _run(self) -> None:
        # Every terminal write happens in this thread, the alternate-screen
        # switches too: a stuck terminal holds up only the view.
        period = 1.0 / self.refresh_hz
        try:
            self.out.write("\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J")
            self.out.flush()
            while not self._stop.wait(period):
                self.draw()
        except Exception:  # a broken terminal must not take the pipeline down
            log.exception("live view: drawing failed; view stopped")
        finally:
            try:
                self.out.write("\x1b[?25h\x1b[?1049l")
                self.out.flush()
            except Exception:
                pass

    def start(self) -> "LiveView":
        """Take over the terminal (alternate screen) and draw from a thread."""
        if self.ansi and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="live-view", daemon=True)
            self._thread.start()
            if self.on_answer is not None and self._keys is None:
                from .term import KeyReader
                self._keys = KeyReader(self.handle_key, self.keys_in).start()
        return self

    def close(self, timeout: float = 2.0) -> None:
        """Stop drawing and give the terminal back (the normal screen returns).

        Waits up to ``timeout`` for the renderer; a renderer stuck in a
        terminal write restores the screen itself once the write returns.
        """
        if self._keys is not None:
            self._keys.close()
            self._keys = None
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=timeout)
            if self._thread.is_alive():
                log.warning("live view: the terminal is not accepting output; not waiting for it")
            self._thread = None
        if self.coalesced:
            log.debug("live view: %d updates drawn only as part of a later frame", self.coalesced)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
        return False

    @contextmanager
    def capture_logs(self):
        """Route log records to :meth:`note` while the view owns the screen."""
        if self._thread is None:
            yield
            return
        root = logging.getLogger()
        saved = root.handlers[:]
        view = self

        class _ToView(logging.Handler):
            def emit(self, record):
                view.note(f"{record.levelname.lower()}: {record.getMessage()}")

        handler = _ToView(level=logging.WARNING)
        root.handlers = [handler]
        try:
            yield
        finally:
            root.handlers = saved
