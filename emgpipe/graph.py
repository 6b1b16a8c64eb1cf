"""The one streamz graph, used by replay, live monitoring and the night log.

::

    chunks ──▶ quality ─────────────────────────────────┐
       └────▶ band-pass + mains notch ──▶ window features ──▶ detectors ──▶ events
                     │                         │                            │
                  filtered                  features               sinks (CSV, alerts,
                (live view)              (live view)                night log, UI)

All streamz wiring lives here; processing units never import streamz.

Backpressure policy per edge (DESIGN.md):

* source → filters → features → detectors: synchronous and lossless; the
  source's own queue is bounded, so a slow pipeline slows acquisition down
  rather than dropping samples (a live source reports its own overruns as
  gaps).
* events → events CSV / night log: synchronous, lossless, flushed per event.
* events/features → alerts and UI: sinks must not block; they hand over to
  their own thread keeping only the latest (see ``emgpipe.alerts``), and log
  every drop.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import replace
from typing import Callable, Iterable

from .detect.quality import QualityDetector, QualitySettings
from .dsp.features import FeatureSettings, WindowFeatures, WindowFeatureSettings
from .dsp.filters import BandPass, BandPassSettings, Cascade, MainsNotch, MainsNotchSettings
from .dsp.windows import WindowSettings
from .models import Model, load_model
from .types import Chunk, Event

#: What ``import streamz`` would load for its optional Dask integration.
_OPTIONAL_STREAMZ = ("distributed", "streamz.dask")


def _import_streamz():
    """``streamz`` without ``dask.distributed``.

    ``import streamz`` imports ``distributed`` (``streamz.core`` looks for a
    default Dask client, ``streamz/__init__`` imports ``streamz.dask``): about
    0.3 s and a few hundred modules at every ``emgpipe`` start, for an
    optional part this graph never uses. Both imports are guarded by
    ``except ImportError``, so while streamz loads, ``distributed`` and
    ``streamz.dask`` (which imports ``dask`` first) are made unimportable
    (``sys.modules[name] = None``), and importable again afterwards: the batch
    runner (``--workers``, :mod:`emgpipe.batch`) imports Dask as usual.
    The one effect on streamz: its streams never run on a Dask client's event
    loop (this graph is synchronous, so they never run on one anyway).
    """
    blocked = [m for m in _OPTIONAL_STREAMZ if m not in sys.modules]
    if "streamz" in sys.modules or len(blocked) < len(_OPTIONAL_STREAMZ):
        import streamz   # already loaded, or Dask is: nothing to save
        return streamz
    for name in blocked:
        sys.modules[name] = None
    try:
        import streamz
    finally:
        for name in blocked:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
    return streamz


Stream = _import_streamz().Stream

log = logging.getLogger(__name__)


def filters_from_model(model: Model) -> Cascade:
    f = model.section("filters")
    bp = BandPassSettings(low_hz=f.get("bandpass_low_hz", 20.0), high_hz=f.get("bandpass_high_hz", 450.0),
                          order=int(f.get("bandpass_order", 2)))
    mains = f.get("mains_hz", "auto")
    notch = MainsNotchSettings(mains_hz=mains if mains == "auto" else int(mains),
                               bandwidth_hz=f.get("notch_bandwidth_hz", 2.0),
                               decide_s=f.get("mains_decide_s", 2.0),
                               min_prominence=f.get("mains_min_prominence", 10.0))
    return Cascade(BandPass(bp), MainsNotch(notch))


def features_from_model(model: Model, names=None) -> WindowFeatures:
    """The window-feature stage of ``model``; ``names``: only these of the model's
    features (None: all of them)."""
    w = model.section("windows")
    fs = FeatureSettings(**{k: (tuple(v) if k == "names" else v)
                            for k, v in model.section("features").items()})
    if names is not None:
        fs = replace(fs, names=tuple(n for n in fs.names if n in set(names)))
    settings = WindowFeatureSettings(WindowSettings(w.get("length_s", 0.25), w.get("hop_s", 0.125)), fs)
    return WindowFeatures(settings)


#: The window features every pipeline computes whatever its detectors read: the
#: level its other consumers show or send (the live view, calibration, the LSL outlet).
CONSUMER_FEATURES = ("rms",)


def features_needed(detectors) -> tuple | None:
    """The window features ``detectors`` read (their ``features`` attribute) and
    :data:`CONSUMER_FEATURES`; None (all) when a detector does not say, or without
    detectors (a pipeline run for its features)."""
    if not detectors:
        return None
    needed = set(CONSUMER_FEATURES)
    for d in detectors:
        names = getattr(d, "features", None)
        if names is None:
            return None
        needed.update(names)
    return tuple(sorted(needed))


def front_units(model: Model, signal: str = "emg", features=None):
    """The units of the graph's front for ``signal`` (``"emg"`` or ``"envelope"``):
    ``(filters, quality, window_features)``, fresh (their own state), the window
    features limited to ``features`` (None: all the model's). The graph
    builds its own with it, and so does the other process of a two-process
    replay (:mod:`emgpipe.split`)."""
    if signal == "envelope":
        # MyoWare ENV (already rectified and smoothed): band-pass and notch would
        # destroy it; its level is the envelope itself.
        filters = Cascade()
        quality = QualitySettings.from_model(model)
        # a resting envelope sits on one ADC step for seconds: not a lead-off
        # (and has no sharp edges: an electrode pop is smoothed like the EMG)
        quality = QualitySettings(**{**quality.__dict__, "flat_uv": 0.0, "pop_min_uv": float("inf")})
    elif signal == "emg":
        filters = filters_from_model(model)
        quality = QualitySettings.from_model(model)
    else:
        raise ValueError(f"signal must be 'emg' or 'envelope', got {signal!r}")
    return filters, QualityDetector(quality, detector=model.tag), features_from_model(model, features)


class Pipeline:
    """Build the graph for one stream.

    Parameters
    ----------
    model : str, path or Model
    mode : "awake", "sleep" or None
    detectors : iterable of objects with ``update(features, chunk) -> list[Event]``
        and ``close(end_s) -> list[Event]`` (the cramp/fasciculation detector).

    Use :meth:`push` for each chunk and :meth:`close` at the end; connect
    sinks to :attr:`events` (``Event``), :attr:`filtered` (``Chunk``) and
    :attr:`features` (``Features``) with ``.sink(fn)``. Whoever builds a
    pipeline calls :meth:`destroy` when done with it (streamz keeps every sink
    alive in a module-level set until it is destroyed).
    """

    def __init__(self, model=None, mode: str | None = None, detectors: Iterable = (),
                 signal: str = "emg", features="needed"):
        self.model = model if isinstance(model, Model) else load_model(model)
        self.mode = mode
        self.signal = signal
        self.detectors = list(detectors)
        #: the window features computed (None: all the model's): by default what the
        #: detectors read and :data:`CONSUMER_FEATURES`; ``features="all"`` for every one
        self.feature_names = (features_needed(self.detectors) if features == "needed"
                              else None if features == "all" else tuple(features))
        self.filters, self.quality, self.window_features = front_units(self.model, signal,
                                                                       self.feature_names)
        self.end_s = 0.0
        self.n_samples = 0
        self.n_lost = 0

        self.chunks = Stream(stream_name="chunks")
        quality_events = self.chunks.map(self._quality).flatten()
        self.filtered = self.chunks.map(self.filters)
        self.features = self.filtered.map(self.window_features)
        detector_events = self.features.filter(lambda f: f.n_windows > 0).map(self._detect).flatten()
        self.closing = Stream(stream_name="closing")
        self.events = quality_events.union(detector_events, self.closing.flatten())

    # --- nodes (thin adaptors around processing units) ---
    def _quality(self, chunk: Chunk) -> list[Event]:
        self._tally(chunk.end_s, chunk.n_samples, chunk.gaps)
        events = self.quality(chunk)
        self._note_pops(self.quality.pops)
        self._note_interference(events)
        return events

    def _tally(self, end_s: float, n_samples: int, gaps) -> None:
        self.end_s = max(self.end_s, end_s)
        self.n_samples += n_samples
        self.n_lost += sum(g.n_missing for g in gaps)

    def _note_pops(self, pops) -> None:
        if pops:   # electrode pops are not fasciculations (before this chunk's features)
            for d in self.detectors:
                if hasattr(d, "note_pops"):
                    d.note_pops(pops)

    def _note_interference(self, events) -> None:
        """Mains-interference episodes among the quality stage's events (onsets
        and ends), for the detectors that ask (before this chunk's features):
        while one goes on, the channel's level is the hum's harmonics, not the
        muscle's."""
        hum = self.quality.interference_notes(events)
        if hum:
            for d in self.detectors:
                if hasattr(d, "note_interference"):
                    d.note_interference(hum)


    def _detect(self, features) -> list[Event]:
        out = []
        for d in self.detectors:
            out.extend(d.update(features))
        return out

    # --- driving ---
    def push(self, chunk: Chunk) -> None:
        self.chunks.emit(chunk)

    def push_back(self, span: tuple, quality_events: list, pops: list, filtered: Chunk | None = None,
                  features=None) -> None:
        """:meth:`push` of a chunk whose front (quality checks, filters, maybe the
        window features) ran in another process (:mod:`emgpipe.split`): the same
        events come out, in the same order.

        ``span``: the chunk's ``(end_s, n_samples, gaps)``; ``quality_events``
        and ``pops``: what the quality stage gave for it (``quality(chunk)``,
        ``quality.pops``); then ``filtered``, the filtered chunk, or
        ``features``, its window features (neither: the chunk's filters failed).
        """
        self._tally(*span)
        if quality_events:
            self.closing.emit(quality_events)     # flattened into the events, as the quality node's
        self._note_pops(pops)
        self._note_interference(quality_events)
        if filtered is not None:
            self.filtered.emit(filtered)
        elif features is not None:
            self.features.emit(features)

    def answer(self, channel: str, answer: str, t_s: float | None = None) -> list[Event]:
        """The wearer's answer (``"cramp"`` or ``"not_cramp"``) to ``channel``'s cramp alert.

        Calls ``answer(channel, answer, t_s)`` on every detector that has it
        (``t_s`` defaults to the stream's current end, :attr:`end_s`), emits the
        events they return on :attr:`events` (e.g. the cramp's final event,
        labelled ``not_cramp``) and returns them. Call it from the thread that
        pushes the chunks, between chunks.
        """
        t = self.end_s if t_s is None else float(t_s)
        out: list[Event] = []
        for d in self.detectors:
            fn = getattr(d, "answer", None)
            if callable(fn):
                out.extend(fn(channel, answer, t) or ())
        if out:
            self.closing.emit(out)
        return out

    def close(self, quality_closing: list | None = None) -> None:
        """End of stream: finish open events at the last sample. ``quality_closing``:
        the quality stage's closing events when it ran in another process
        (:meth:`push_back`)."""
        closing = self.quality.close(self.end_s) if quality_closing is None else list(quality_closing)
        for d in self.detectors:
            closing.extend(d.close(self.end_s))
        self.closing.emit(closing)

    def destroy(self) -> None:
        """Tear the graph down: every node and sink downstream of :attr:`chunks`
        and :attr:`closing` (the callers' sinks too) is disconnected, and the
        sinks leave streamz's ``_global_sinks`` set, so the pipeline, its
        detectors and whatever its sinks hold can be garbage-collected.

        Call it after :meth:`close`. Safe to call twice; counters
        (:attr:`end_s`, :attr:`n_samples`, ...) stay readable, nothing more can
        be pushed through.
        """
        from streamz.sinks import Sink, _global_sinks
        nodes, seen, todo = [], set(), [self.chunks, self.closing]
        while todo:
            node = todo.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            nodes.append(node)
            todo.extend(node.downstreams)
        for node in nodes:                       # every edge is some node's upstream edge
            Stream.destroy(node)
            if isinstance(node, Sink):           # (Sink.destroy would remove it only once)
                _global_sinks.discard(node)

    @property
    def mains_hz(self):
        return mains_of(self.filters)

    def run(self, chunks: Iterable[Chunk], stop: Callable[[], bool] | None = None) -> None:
        for chunk in chunks:
            self.push(chunk)
            if stop is not None and stop():
                break
        self.close()


def mains_of(filters: Cascade):
    """The mains frequency the notch of a graph's filters found (None: none, or no notch)."""
    if len(filters.steps) < 2:
        return None
    return filters.steps[1].mains_hz


def default_detectors(model: Model, mode: str | None, profile: dict | None = None,
                      signal: str = "emg", answers: list | None = None) -> list:
    """The cramp / fasciculation / voluntary detector configured by ``model``;
    ``answers``: the wearer's stored answers (:func:`emgpipe.answers.load_answers`)."""
    from .detect.cramp import CrampDetector, CrampSettings
    settings = CrampSettings.from_model(model)   # one set of parameters; the mode picks the rules
    if signal == "envelope":   # single potentials are invisible in an envelope
        settings = CrampSettings(**{**settings.__dict__, "fasc_kurtosis": float("inf"),
                                      "smooth_kurtosis": float("inf")})
    return [CrampDetector(settings, mode=mode, profile=profile, detector=model.tag, answers=answers)]
