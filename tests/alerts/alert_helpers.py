"""Alert test helpers (import as tests.alerts.alert_helpers): cramp events, a blocking sink."""
from __future__ import annotations

import threading

from emgpipe.alerts.sinks import Sink
from emgpipe.types import Event


def cramp(channel="calf_left", start=100.0, status="onset", end=None, alert=None, kind="cramp"):
    """A cramp event as the detector announces it (onset: end = alert = start + 1.5 s)."""
    alert = start + 1.5 if alert is None else alert
    end = (alert if status == "onset" else start + 40.0) if end is None else end
    return Event(kind, channel, start, end, alert, status=status, confidence=0.9, peak_uv=120.0)


class BlockingSink(Sink):
    """A sink whose send() hangs until released (a notifier that never answers)."""

    name = "blocking"

    def __init__(self):
        self.release = threading.Event()
        self.entered = threading.Event()   # a send() has started
        self.returned = threading.Event()  # a send() has come back (released or after 30 s)
        self.got = []

    def send(self, alert):
        self.got.append(alert)
        self.entered.set()
        self.release.wait(30)
        self.returned.set()
        return True


class ScriptedDetector:
    """A stand-in detector for the pipeline: announces scripted events causally.

    ``script`` holds ``(kind, channel, start_s, end_s)``, optionally with a
    fifth item, the event's ``detail``. A cramp is announced
    (``"onset"``) ``delay_s`` after its start and ended (``"final"``) once the
    stream passes its end; other kinds come as one ``"final"`` event after their
    end. Times are taken from the windows the pipeline hands over, so the
    events follow sample time like a real detector's.
    """

    def __init__(self, script, delay_s=1.0, detector="scripted@1"):
        self.script = sorted(script, key=lambda s: s[2])
        self.delay_s = delay_s
        self.detector = detector
        self._onset = {}
        self._done = set()

    def _event(self, i, status, now):
        kind, ch, start, end = self.script[i][:4]
        detail = self.script[i][4] if len(self.script[i]) > 4 else ""
        alert = self._onset.get(i, now)
        return Event(kind, ch, start, max(start, min(end, now)) if status == "onset" else end, alert,
                     status=status, confidence=0.9, peak_uv=150.0, detector=self.detector,
                     n_potentials=3 if kind == "fasciculation" else 0, detail=detail)

    def update(self, features):
        out = []
        for now in features.end_s:      # window by window, as a causal detector acts
            out.extend(self._at(float(now)))
        return out

    def _at(self, now):
        out = []
        for i, (kind, ch, start, end, *_) in enumerate(self.script):
            if i in self._done:
                continue
            if kind == "cramp" and i not in self._onset and now >= start + self.delay_s:
                self._onset[i] = now
                out.append(self._event(i, "onset", now))
            if now >= end and (kind != "cramp" or i in self._onset):
                self._done.add(i)
                out.append(self._event(i, "final", now))
        return out

    def close(self, end_s):
        out = []
        for i, (kind, ch, start, end, *rest) in enumerate(self.script):
            if i in self._onset and i not in self._done:
                self._done.add(i)
                self.script[i] = (kind, ch, start, min(end, end_s), *rest)
                out.append(self._event(i, "final", end_s))
        return out
