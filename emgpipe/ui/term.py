"""Plain ANSI terminal helpers (no curses, no third-party package).

Works on Linux/macOS terminals and on Windows 10+ consoles once virtual
terminal processing is switched on (:func:`enable_ansi`).
"""
from __future__ import annotations

import math
import os
import sys

#: SGR codes used by the live view.
BOLD, RED, GREEN, YELLOW, MAGENTA, CYAN, DIM, REVERSE = "1", "31", "32", "33", "35", "36", "2", "7"
#: Sparkline ramps: eighth blocks (U+2581..U+2588), or ASCII for legacy encodings.
RAMP_UNICODE = "▁▂▃▄▅▆▇█"
RAMP_ASCII = "_.-:=+*#"


def enable_ansi(stream=None) -> bool:
    """True when ``stream`` is a terminal that understands ANSI escapes.

    On Windows this switches on ``ENABLE_VIRTUAL_TERMINAL_PROCESSING`` for the
    console (Windows 10 1511+); if that fails, the caller should fall back to
    plain lines.
    """
    stream = stream or sys.stdout
    try:
        if not stream.isatty():
            return False
    except (AttributeError, ValueError):
        return False
    if os.name != "nt":
        return os.environ.get("TERM", "") != "dumb"
    try:
        import ctypes
        import msvcrt
        kernel32 = ctypes.windll.kernel32
        handle = msvcrt.get_osfhandle(stream.fileno())
        mode = ctypes.c_uint32()
        if not kernel32.GetConsoleMode(handle, ctypes.byref(mode)):
            return False
        return bool(kernel32.SetConsoleMode(handle, mode.value | 0x0004))  # VT processing
    except Exception:
        return False


def can_encode(stream, text: str) -> bool:
    """Whether ``stream``'s encoding can show ``text`` (else use ASCII fallbacks)."""
    enc = getattr(stream, "encoding", None) or "ascii"
    try:
        text.encode(enc)
        return True
    except (UnicodeEncodeError, LookupError):
        return False


def sgr(text: str, *codes: str, on: bool = True) -> str:
    """``text`` in the given SGR style (unchanged when ``on`` is False or no codes)."""
    if not on or not codes or not text:
        return text
    return f"\x1b[{';'.join(codes)}m{text}\x1b[0m"


def fit(segments, width: int, ansi: bool = True) -> str:
    """Join ``(text, codes)`` segments, cut to ``width`` visible characters."""
    out, left = [], max(0, width)
    for text, codes in segments:
        if left <= 0:
            break
        piece = text[:left]
        left -= len(piece)
        out.append(sgr(piece, *codes, on=ansi))
    return "".join(out)


def sparkline(times, values, t_end: float, span_s: float, width: int, lo: float = 1.0,
              hi: float = 1000.0, ramp: str = RAMP_UNICODE) -> str:
    """A log-scaled sparkline of ``values`` over ``[t_end - span_s, t_end]``.

    Each of the ``width`` columns shows the largest value whose time falls in
    it (the envelope peak, so a short burst is not averaged away); empty
    columns are blanks. ``lo``..``hi`` maps to the lowest..highest glyph on a
    log scale.

    >>> sparkline([0.5, 1.5, 2.5, 3.5], [1.0, 10.0, 100.0, 1000.0], 4.0, 4.0, 4, ramp="0123")
    '0123'
    >>> sparkline([3.9], [5.0], 4.0, 4.0, 4, ramp="0123")
    '   1'
    """
    width = max(1, int(width))
    cols = [-math.inf] * width
    t0 = t_end - span_s
    for t, v in zip(times, values):
        if not (t0 <= t <= t_end) or not v > 0:
            continue
        j = min(width - 1, int((t - t0) / span_s * width))
        cols[j] = max(cols[j], v)
    top = len(ramp) - 1
    span = math.log10(hi) - math.log10(lo)
    out = []
    for v in cols:
        if v == -math.inf:
            out.append(" ")
            continue
        frac = (math.log10(max(v, lo)) - math.log10(lo)) / span
        out.append(ramp[max(0, min(top, int(round(frac * top))))])
    return "".join(out)


class KeyReader:
    """Single key presses from a terminal, delivered to ``on_key(char)`` from a thread.

    POSIX: the terminal is put in cbreak mode (no line buffering, no echo; Ctrl-C
    still interrupts) and restored by :meth:`close`. Windows: ``msvcrt``'s
    console key functions. Does nothing when ``stream`` is not a terminal.
    """

    def __init__(self, on_key, stream=None, poll_s: float = 0.1):
        import threading
        self.on_key = on_key
        self.stream = stream if stream is not None else sys.stdin
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread = None
        self._saved = None

    @property
    def active(self) -> bool:
        return self._thread is not None

    def start(self) -> "KeyReader":
        import threading
        try:
            if not self.stream.isatty():
                return self
        except (AttributeError, ValueError):
            return self
        if os.name != "nt":
            try:
                import termios
                import tty
                fd = self.stream.fileno()
                self._saved = termios.tcgetattr(fd)
                tty.setcbreak(fd)
            except Exception:       # not a real terminal after all
                self._saved = None
                return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="live-keys", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        import logging
        try:
            if os.name == "nt":
                import msvcrt
                while not self._stop.wait(self.poll_s):
                    while msvcrt.kbhit():
                        self.on_key(msvcrt.getwch())
                return
            import select
            fd = self.stream.fileno()
            while not self._stop.is_set():
                ready, _, _ = select.select([fd], [], [], self.poll_s)
                if ready:
                    data = os.read(fd, 32)
                    if not data:
                        return
                    for ch in data.decode("utf-8", "replace"):
                        self.on_key(ch)
        except Exception:
            logging.getLogger(__name__).exception("keys: reading the keyboard failed; keys off")

    def close(self, timeout: float = 1.0) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout)
            self._thread = None
        if self._saved is not None:
            try:
                import termios
                termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self._saved)
            except Exception:
                pass
            self._saved = None
