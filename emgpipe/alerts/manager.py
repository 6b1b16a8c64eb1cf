"""Turn the pipeline's cramp events into alerts and hand them to the sinks without waiting.

Policy (per cramp, i.e. per muscle and leg, see :func:`~emgpipe.alerts.prompts.limb_key`):

* one alert when the cramp is announced (an ``"onset"`` event, or a
  ``"final"`` one that was never announced);
* one reminder if it still runs ``reminder_s`` after its start (stream time,
  checked on every event and on :meth:`AlertManager.tick`);
* never a repeat for the same cramp: a second onset while it runs, or one
  within ``refractory_s`` after it ended (a detector splitting one cramp in
  two), says nothing;
* once the wearer answers the alert (:meth:`AlertManager.silence`), no
  reminder, and its alerts still waiting for a busy sink are dropped.

Only ``kind == "cramp"`` events alert. Backpressure (DESIGN.md): each sink
has its own worker thread fed through keep-latest slots, one per cramp (limb,
:func:`~emgpipe.alerts.prompts.limb_key`). A sink that is still busy when a
newer alert for the same cramp comes (its reminder) gets only the newer one;
the older undelivered one is dropped and the drop is logged. Alerts for two
cramps (both calves at once) both go out, oldest first. So a slow, failing or
hanging sink never delays detection or the other sinks, and what waits for it
is bounded by the number of limbs.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from ..types import Event
from .prompts import Alert, limb_key, make_alert

log = logging.getLogger(__name__)

#: Default reminder delay: the stretch the prompt asks for is held 30 s
#: (prompts.HOLD_S); a cramp still running after that gets one reminder.
REMINDER_S = 30.0
#: Onsets this soon after the same cramp ended are taken as the same cramp
#: (a detector's end/restart flicker), not as a new one.
REFRACTORY_S = 10.0


class SinkWorker:
    """One sink on its own daemon thread, fed through keep-latest slots, one per cramp.

    Parameters
    ----------
    sink : Sink
    on_result : callable, optional
        ``on_result(sink_name, alert, status, error)`` with status
        ``"sent"``, ``"failed"``, ``"dropped"``, ``"cancelled"`` (the wearer
        answered first) or ``"abandoned"`` (still in delivery or waiting when
        :meth:`close` gave up on a hanging sink; nothing is reported for it
        afterwards); called on the worker thread (``"dropped"``,
        ``"cancelled"`` and ``"abandoned"``: on the caller's).
    """

    def __init__(self, sink, on_result: Callable | None = None):
        self.sink = sink
        self.name = getattr(sink, "name", type(sink).__name__)
        self.on_result = on_result
        self._cond = threading.Condition()
        self._slots: dict[str, Alert] = {}      # limb key -> its newest undelivered alert
        self._busy = False
        self._current = None                     # the alert in delivery
        self._stop = False
        self._abandoned = False
        self.n_sent = self.n_failed = self.n_dropped = self.n_abandoned = 0
        self._thread = threading.Thread(target=self._loop, name=f"alert-sink {self.name}", daemon=True)
        self._thread.start()

    def put(self, alert: Alert) -> None:
        """Hand over an alert; never blocks. Replaces (and logs) an undelivered
        older one for the same cramp; another cramp's alert waits its turn."""
        key = limb_key(alert.channel)
        with self._cond:
            old = self._slots.pop(key, None)
            self._slots[key] = alert              # (re)inserted last: oldest first out
            self._cond.notify()
        if old is not None:
            self.n_dropped += 1
            log.warning("alerts: %s sink is still busy; dropped the older alert (%s at %.1f s) "
                        "for the newer one of the same cramp", self.name, old.headline, old.alert_s)
            self._report(old, "dropped", "sink busy; a newer alert replaced it")

    def cancel(self, key: str) -> Alert | None:
        """Drop the undelivered alert of cramp ``key`` (limb key), if one waits; an
        alert already in delivery goes on. Reported as ``"cancelled"``."""
        with self._cond:
            old = self._slots.pop(key, None)
            self._cond.notify_all()
        if old is not None:
            log.info("alerts: %s: %s at %.1f s cancelled (the wearer answered)", self.name,
                     old.headline, old.alert_s)
            self._report(old, "cancelled", "the wearer answered the alert")
        return old

    def _report(self, alert, status, error=None):
        if self.on_result is not None:
            try:
                self.on_result(self.name, alert, status, error)
            except Exception:  # the log must not break delivery
                log.exception("alerts: result callback failed")

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._slots and not self._stop:
                    self._cond.wait()
                if not self._slots:
                    return
                alert = self._slots.pop(next(iter(self._slots)))
                self._busy = True
                self._current = alert
            try:
                ok, error = bool(self.sink.send(alert)), None
            except Exception as err:  # a broken sink must not kill the worker
                ok, error = False, f"{type(err).__name__}: {err}"
                log.warning("alerts: %s sink failed: %s", self.name, error)
            with self._cond:
                if self._abandoned:  # close() reported it, and the log it went to may be closed
                    return
                self._current = None  # this thread reports it, close() will not
            if ok:
                self.n_sent += 1
            else:
                self.n_failed += 1
            self._report(alert, "sent" if ok else "failed", error)
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def idle(self) -> bool:
        with self._cond:
            return not self._slots and not self._busy

    def wait_idle(self, timeout: float) -> bool:
        """Block up to ``timeout`` s until nothing is pending or in delivery."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while (self._slots or self._busy) and time.monotonic() < deadline:
                self._cond.wait(max(0.0, deadline - time.monotonic()))
            return not self._slots and not self._busy

    def close(self, timeout: float) -> bool:
        """Let a pending alert go out (up to ``timeout`` s), then stop. True if it finished."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        done = self.wait_idle(timeout)
        if done:
            self._thread.join(max(0.0, deadline - time.monotonic()))
        else:
            with self._cond:
                self._abandoned = True
                left = ([self._current] if self._current is not None else []) + list(self._slots.values())
                self._slots.clear()
            log.warning("alerts: %s sink still busy at exit; abandoned", self.name)
            for alert in left:       # say what never went out (the night log records it)
                self.n_abandoned += 1
                self._report(alert, "abandoned", f"sink still busy after {round(timeout, 2):g} s at exit")
        try:
            self.sink.close()
        except Exception:
            log.exception("alerts: closing the %s sink failed", self.name)
        return done


@dataclass
class _Cramp:
    channel: str                 # the channel that announced it
    start_s: float
    channels: set = field(default_factory=set)   # channels of this limb still cramping
    reminded: bool = False
    end_s: float | None = None


class AlertManager:
    """Alerts for cramp events, delivered to sinks on their own threads.

    Parameters
    ----------
    sinks : iterable of Sink
        Objects with ``name`` and ``send(alert) -> bool`` (see :mod:`.sinks`).
    reminder_s : float or None
        One reminder if the cramp still runs this long after its start
        (stream seconds); None for no reminder.
    refractory_s : float
        An onset this soon after the same cramp ended is the same cramp.
    on_alert : callable, optional
        ``on_alert(alert, event)``, called synchronously for every alert
        made (the night log records them); keep it fast.
    on_result : callable, optional
        ``on_result(sink_name, alert, status, error)`` per delivery, from the
        sink threads (see :class:`SinkWorker`).

    Feed it every event (``on_event``) and, per chunk, the stream time
    (``tick``) so that reminders come even when no event arrives; ``close``
    at the end.

    Examples
    --------
    >>> from emgpipe.alerts.sinks import CallbackSink
    >>> from emgpipe.types import Event
    >>> got = []
    >>> m = AlertManager([CallbackSink(got.append)], reminder_s=30)
    >>> onset = Event("cramp", "calf_left", 100.0, 101.5, 101.5, status="onset")
    >>> [a.kind for a in m.on_event(onset)]
    ['onset']
    >>> m.flush()  # wait for the sinks (only tests and the end of a run need this)
    True
    >>> m.on_event(onset), [a.kind for a in m.tick(131.0)], m.tick(200.0)
    ([], ['reminder'], [])
    >>> m.on_event(Event("cramp", "calf_left", 100.0, 140.0, 101.5))
    []
    >>> m.close()
    >>> [a.headline for a in got]
    ['Calf cramp (left) - stretch now', 'Calf cramp (left) still going after 31 s - keep stretching']
    """

    def __init__(self, sinks: Iterable = (), reminder_s: float | None = REMINDER_S,
                 refractory_s: float = REFRACTORY_S, on_alert: Callable | None = None,
                 on_result: Callable | None = None):
        self.reminder_s = None if reminder_s is None else float(reminder_s)
        self.refractory_s = float(refractory_s)
        self.on_alert = on_alert
        self.workers = [SinkWorker(s, on_result) for s in sinks]
        self.alerts: list[Alert] = []
        self._open: dict[str, _Cramp] = {}
        self._ended: dict[str, float] = {}
        self._now = 0.0
        self._closed = False

    @property
    def sinks(self) -> list:
        return [w.sink for w in self.workers]

    # ------------------------------------------------------------------ input
    def on_event(self, event) -> list[Alert]:
        """Feed one pipeline event; returns the alerts it caused (an onset, maybe a reminder)."""
        # a final event is announced once its end has passed: stream time is at least end_s
        out = self.tick(max(event.alert_s, event.end_s) if event.status == "final" else event.alert_s)
        if event.kind != "cramp":
            return out
        key, ch = limb_key(event.channel), event.channel
        cramp, prev = self._open.get(key), self._ended.get(key)
        recent = prev is not None and event.start_s - prev.end_s <= self.refractory_s
        if event.status == "final":
            if cramp is not None:
                cramp.channels.discard(ch)
                if not cramp.channels:  # the whole limb is quiet again
                    cramp.end_s = event.end_s
                    self._ended[key] = self._open.pop(key)
            elif recent:
                prev.end_s = max(prev.end_s, event.end_s)
            else:  # announced only once it was over: still tell, once
                self._ended[key] = _Cramp(ch, event.start_s, set(), True, event.end_s)
                out.append(self._fire(make_alert(event, "onset"), event))
            return out
        if cramp is not None:
            cramp.channels.add(ch)
            log.debug("alerts: %s onset at %.1f s is part of the running cramp", ch, event.start_s)
        elif recent:  # the same cramp again after a short pause: no repeat
            log.debug("alerts: %s onset at %.1f s continues the cramp that ended at %.1f s", ch,
                      event.start_s, prev.end_s)
            prev.channels, prev.end_s = {ch}, None
            self._open[key] = self._ended.pop(key)
        else:
            self._open[key] = _Cramp(ch, event.start_s, {ch})
            out.append(self._fire(make_alert(event, "onset"), event))
            out.extend(self.tick(event.alert_s))
        return out

    def silence(self, channel: str) -> int:
        """The wearer answered the alert of ``channel``'s cramp: no reminder for it,
        and its alerts that no sink has taken yet are dropped. Returns how many
        undelivered alerts were dropped. Call it from the pipeline thread."""
        key = limb_key(channel)
        for cramp in (self._open.get(key), self._ended.get(key)):
            if cramp is not None:
                cramp.reminded = True
        return sum(w.cancel(key) is not None for w in self.workers)

    def tick(self, stream_s: float) -> list[Alert]:
        """Advance stream time; fires due reminders."""
        self._now = max(self._now, float(stream_s))
        out = []
        if self.reminder_s is None:
            return out
        for cramp in self._open.values():
            if not cramp.reminded and self._now - cramp.start_s >= self.reminder_s:
                cramp.reminded = True
                ev = Event("cramp", cramp.channel, cramp.start_s, self._now, self._now, status="onset")
                out.append(self._fire(make_alert(ev, "reminder", at_s=self._now), ev))
        return out

    def _fire(self, alert: Alert, event) -> Alert:
        self.alerts.append(alert)
        log.info("alerts: %s at %.1f s", alert.headline, alert.alert_s)
        if self.on_alert is not None:
            self.on_alert(alert, event)
        for w in self.workers:
            w.put(alert)
        return alert

    # ------------------------------------------------------------------ end
    def idle(self) -> bool:
        """True when every sink has delivered everything handed to it."""
        return all(w.idle() for w in self.workers)

    def flush(self, timeout: float = 3.0) -> bool:
        """Wait up to ``timeout`` s for the sinks to deliver what they hold; True if they did."""
        deadline = time.monotonic() + timeout
        return all(w.wait_idle(max(0.0, deadline - time.monotonic())) for w in self.workers)

    def close(self, timeout: float = 3.0) -> None:
        """Give pending alerts up to ``timeout`` s in total, then stop the sink threads.

        A sink still hanging after that is abandoned (its thread is a daemon).
        """
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + timeout
        for w in self.workers:
            w.close(max(0.0, deadline - time.monotonic()))

    def stats(self) -> dict:
        """Per sink: sent, failed, dropped, abandoned."""
        return {w.name: {"sent": w.n_sent, "failed": w.n_failed, "dropped": w.n_dropped,
                         "abandoned": w.n_abandoned} for w in self.workers}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
