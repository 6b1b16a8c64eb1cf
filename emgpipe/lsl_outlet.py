"""Publish emgpipe's output on Lab Streaming Layer, for LabRecorder and other LSL tools.

Two outlets (``pylsl``, extra ``lsl``):

* ``<name>-events``: a marker stream (type ``Markers``, one string channel,
  irregular rate). Each announced event (onset and final) is one sample, a
  JSON object with ``kind, channel, status, start_s, end_s, alert_s,
  confidence, peak_uv, n_potentials, detail, detector, source_id`` (times in
  stream seconds from the first sample, as in the events CSV), stamped with
  the LSL clock at the moment it was announced.
* ``<name>-envelope`` (optional): the RMS of each analysis window in µV, one
  float32 channel per EMG channel, at the window rate ``fs / hop`` (8 Hz with
  the default 0.125 s hop). Created at the first window (when the rate and
  channels are known); each batch is stamped with the LSL clock when pushed
  (liblsl back-dates the earlier windows of a batch by the nominal rate).

Pushing never blocks: liblsl queues the samples for its own sending thread.

Examples
--------
::

    out = LslOutlet("emgpipe", envelope=True)
    out.attach(pipeline)          # pipeline.events / .features sinks
    ...
    out.close()
"""
from __future__ import annotations

import json
import logging
import math

import numpy as np

from .types import Event

log = logging.getLogger(__name__)


def event_json(event: Event) -> str:
    """The JSON text of one event marker (NaN becomes null)."""
    def num(v):
        v = float(v)
        return None if math.isnan(v) else round(v, 6)
    return json.dumps({
        "kind": event.kind, "channel": event.channel, "status": event.status,
        "start_s": num(event.start_s), "end_s": num(event.end_s), "alert_s": num(event.alert_s),
        "confidence": num(event.confidence), "peak_uv": num(event.peak_uv),
        "n_potentials": int(event.n_potentials), "detail": event.detail,
        "detector": event.detector, "source_id": event.source_id,
    }, separators=(",", ":"))


class LslOutlet:
    """Event markers and (optionally) the RMS envelope as LSL streams.

    Parameters
    ----------
    name : str
        Stream name prefix (``<name>-events``, ``<name>-envelope``).
    envelope : bool
        Also publish the per-window RMS.
    source_id : str
        LSL source id prefix, so a restarted emgpipe is recognised by
        recording tools (liblsl reconnects inlets to the same source id).
    """

    def __init__(self, name: str = "emgpipe", envelope: bool = True, source_id: str = ""):
        from .devices.lsl.source import import_pylsl
        self._lsl = pylsl = import_pylsl()
        self.name = name
        self.envelope = envelope
        self.source_id = source_id or f"emgpipe-{name}"
        info = pylsl.StreamInfo(f"{name}-events", "Markers", 1, pylsl.IRREGULAR_RATE,
                                pylsl.cf_string, f"{self.source_id}-events")
        info.desc().append_child_value("manufacturer", "emgpipe")
        info.desc().append_child_value("format", "JSON object per event (see emgpipe.lsl_outlet)")
        self._events = pylsl.StreamOutlet(info)
        self._env = None
        self._env_layout = None
        self.n_events = 0
        self.n_windows = 0

    # ------------------------------------------------------------------ sinks

    def push_event(self, event: Event) -> None:
        """Publish one event (onset or final) as a JSON marker."""
        self._events.push_sample([event_json(event)])
        self.n_events += 1

    def _envelope_outlet(self, features):
        layout = (tuple(features.ch_names), float(features.fs), int(features.n_hop))
        if self._env is not None and layout == self._env_layout:
            return self._env
        if self._env is not None:
            log.warning("%s-envelope: channels or rate changed; the envelope stream is not "
                        "restarted", self.name)
            return None
        pylsl = self._lsl
        ch_names, fs, n_hop = layout
        info = pylsl.StreamInfo(f"{self.name}-envelope", "EMG", len(ch_names), fs / n_hop,
                                pylsl.cf_float32, f"{self.source_id}-envelope")
        chans = info.desc().append_child("channels")
        for ch in ch_names:
            c = chans.append_child("channel")
            c.append_child_value("label", ch)
            c.append_child_value("unit", "microvolts")
            c.append_child_value("type", "EMG envelope (window RMS)")
        info.desc().append_child_value("manufacturer", "emgpipe")
        info.desc().append_child_value("window_s", f"{features.n_len / fs:g}")
        self._env, self._env_layout = pylsl.StreamOutlet(info), layout
        return self._env

    def push_features(self, features) -> None:
        """Publish the ``rms`` of each window of a :class:`~emgpipe.dsp.features.Features`."""
        if not self.envelope or features.n_windows == 0 or "rms" not in features.values:
            return
        outlet = self._envelope_outlet(features)
        if outlet is None:
            return
        rms = np.ascontiguousarray(features.values["rms"], dtype=np.float32)
        outlet.push_chunk(rms)
        self.n_windows += len(rms)

    def attach(self, pipeline) -> "LslOutlet":
        """Connect to a :class:`~emgpipe.graph.Pipeline`'s events and features."""
        pipeline.events.sink(self.push_event)
        if self.envelope:
            pipeline.features.sink(self.push_features)
        return self

    def close(self) -> None:
        """Drop the outlets (inlets see the streams end)."""
        self._events = self._env = None
