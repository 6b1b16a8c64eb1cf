"""LiveView: what it shows, and that a slow terminal never stalls the pipeline thread."""
from __future__ import annotations

import io
import threading
import time

import numpy as np

from emgpipe.dsp.features import WindowFeatures
from emgpipe.pipeline import build_pipeline
from emgpipe.types import Chunk, Event, Gap
from emgpipe.ui import LiveView
from emgpipe.ui.term import fit, sparkline

CH = ("calf_left", "calf_right")


def features(x, fs=1000.0, seq=0):
    return WindowFeatures()(Chunk(x, fs=fs, seq=seq, ch_names=CH))


def test_frame_shows_envelope_states_alert_events_and_losses():
    v = LiveView(CH, 1000.0, title="sim:x", device_note="the USB dongle caps the Cyton at 250 Hz",
                 ansi=False)
    x = np.random.default_rng(0).standard_normal((12000, 2)) * [3.0, 3.0]
    x[8000:, 0] *= 100.0                       # calf_left contracts for the last 4 s
    v.on_features(features(x))
    v.on_chunk(Chunk(np.zeros((5, 2)), fs=1000.0, seq=12010, ch_names=CH,
                     attrs={"gaps": (Gap(12000, 10, 1000.0),)}))
    onset = Event("cramp", "calf_left", 8.0, 8.5, 8.5, status="onset")
    v.on_event(onset)
    v.on_event(Event("signal_loss", "*", 12.0, 12.01, 12.01))
    v.alert("Calf cramp (left) - stretch now", at_s=8.5, channel="calf_left", bell=True)
    lines = v.frame(100)
    text = "\n".join(lines)
    assert "250 Hz" in lines[1]
    assert "lost 0.01 s (10 samples, 1 gap)" in text
    left = next(line for line in lines if line.startswith("calf_left"))
    right = next(line for line in lines if line.startswith("calf_right"))
    assert left.endswith("CRAMP!") and right.endswith("quiet")
    # the envelope: 2 s quiet then loud on the left (log scale), flat on the right
    spark_left = left.split()[2]
    assert spark_left[-1] > spark_left[0] and len(set(right.split()[2])) <= 2
    assert float(left.split()[1]) > 100 > 10 > float(right.split()[1])
    assert "ALERT 8.5 s  Calf cramp (left) - stretch now" in text and "(over)" not in text
    assert all(len(line) <= 100 for line in lines)
    v.on_event(Event("cramp", "calf_left", 8.0, 11.0, 8.5))          # the cramp ends
    text = "\n".join(v.frame(100))
    assert "(over)" in text and "CRAMP!" not in text


def test_ansi_drawing_in_alternate_screen_and_restored():
    out = io.StringIO()
    with LiveView(CH, 1000.0, out=out, refresh_hz=50) as v:
        v.on_event(Event("voluntary", "calf_right", 1.0, 1.0, 1.2, status="onset"))
        t_end = time.monotonic() + 2
        while v.frames == 0 and time.monotonic() < t_end:
            time.sleep(0.01)
    s = out.getvalue()
    assert s.startswith("\x1b[?1049h") and s.endswith("\x1b[?25h\x1b[?1049l")
    assert "active" in s and "\x1b[H" in s
    assert v.frames >= 1


class SlowTerminal(io.StringIO):
    """A terminal that takes 0.5 s per write (e.g. a stalled ssh session)."""

    def write(self, s):
        time.sleep(0.5)
        return super().write(s)


def test_slow_terminal_never_stalls_the_pipeline():
    out = SlowTerminal()
    p = build_pipeline(mode="awake")
    view = LiveView(CH, 1000.0, out=out, refresh_hz=50).attach(p)
    view.start()
    try:
        x = np.random.default_rng(1).standard_normal((20000, 2)) * 5.0
        worst = 0.0
        for a in range(0, len(x), 50):                     # 400 chunks of 50 ms
            t = time.perf_counter()
            p.push(Chunk(x[a:a + 50], fs=1000.0, seq=a, ch_names=CH))
            worst = max(worst, time.perf_counter() - t)
        p.close()
        t_end = time.monotonic() + 3
        while view.frames < 1 and time.monotonic() < t_end:
            time.sleep(0.01)
    finally:
        t = time.monotonic()
        view.close()
    # pushing 20 s of signal took far less than one slow write per chunk...
    assert worst < 0.25
    # ...and the renderer drew only the latest state, coalescing the rest
    assert 1 <= view.frames <= 10 and view.coalesced > 100
    assert time.monotonic() - t < 3.0


def test_sink_calls_are_cheap_while_the_renderer_holds_the_terminal():
    gate = threading.Event()

    class Blocked(io.StringIO):
        def write(self, s):
            gate.wait(5)
            return super().write(s)

    view = LiveView(CH, 1000.0, out=Blocked(), refresh_hz=100).start()
    try:
        view.on_event(Event("cramp", "calf_left", 1.0, 1.0, 1.0, status="onset"))
        time.sleep(0.05)                                    # renderer now stuck in write()
        t = time.perf_counter()
        for i in range(1000):
            view.on_event(Event("voluntary", "calf_right", i, i, i))
        assert time.perf_counter() - t < 0.5
    finally:
        gate.set()
        view.close()


def test_term_helpers():
    assert fit([("abc", ("1",)), ("def", ())], 4, ansi=False) == "abcd"
    assert fit([("abc", ("1",))], 2) == "\x1b[1mab\x1b[0m"
    s = sparkline([1.0, 9.0], [1000.0, 1.0], 10.0, 10.0, 10, ramp="01234567")
    assert s == " 7       0"
