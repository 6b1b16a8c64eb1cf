"""Run a recording or a source through the graph and collect its events."""
from __future__ import annotations

from dataclasses import dataclass, field

from .graph import Pipeline, default_detectors
from .io.base import Recording
from .models import available_models, load_model
from .devices.base import Pacer, max_speed_chunk_s
from .types import Event


@dataclass
class RunResult:
    events: list           # final events, sorted by start
    announced: list        # every event as announced (onset and final), in order
    duration_s: float
    n_samples: int
    n_lost: int
    mains_hz: int | None
    model: str
    extra: dict = field(default_factory=dict)


def make_pipeline(model=None, mode=None, signal: str = "emg", profile: dict | None = None,
                  answers: list | None = None) -> Pipeline:
    """The live/replay graph with the model's detectors. ``model`` defaults to
    the mode's model (``sleep`` or ``awake``) when one is installed; ``answers``
    are the wearer's stored answers (:func:`emgpipe.answers.load_answers`)."""
    if model is None and mode in ("sleep", "awake") and mode in available_models():
        model = mode
    m = load_model(model)
    return Pipeline(m, mode=mode, detectors=default_detectors(m, mode, profile, signal, answers),
                    signal=signal)


def signal_of(recording: Recording) -> str:
    """``"envelope"`` for MyoWare ENV recordings (sidecar ``"signal": "envelope"``), else ``"emg"``."""
    meta = recording.meta or {}
    sig = meta.get("signal") or (meta.get("sidecar") or {}).get("signal") or "emg"
    return "envelope" if str(sig).lower() in ("envelope", "env") else "emg"


def collect(pipeline: Pipeline):
    """Connect list sinks to a pipeline: (announced, final) lists."""
    announced, final = [], []

    def on_event(e: Event):
        announced.append(e)
        if e.status == "final":
            final.append(e)
    pipeline.events.sink(on_event)
    return announced, final


def resolve_mode(mode: str | None, recording: Recording | None = None) -> str | None:
    if mode in (None, "auto"):
        return recording.mode if recording is not None else None
    return mode


def run_recording(recording: Recording, mode: str | None = None, model=None,
                  chunk_s: float | None = None, stop_s: float | None = None, progress=None,
                  speed: float | None = None, pipeline: Pipeline | None = None,
                  profile: dict | None = None, answers: list | None = None,
                  before_push=None) -> RunResult:
    """Replay a recording causally; returns its events.

    ``speed`` None replays at max speed (large chunks), otherwise paced at
    ``speed`` x real time in 50 ms chunks. ``stop_s`` replays only the first
    part (the causality test). ``pipeline`` may be one the caller built and
    connected sinks to (e.g. an events file). ``before_push(pipeline, chunk)``
    runs before each chunk (e.g. a simulated wearer's answer, between chunks).
    """
    own = pipeline is None
    p = pipeline or make_pipeline(model, resolve_mode(mode, recording), signal_of(recording), profile,
                                  answers)
    announced, final = collect(p)
    if chunk_s is None:
        chunk_s = max_speed_chunk_s(recording.fs, len(recording.ch_names)) if speed is None else 0.05
    pacer = Pacer(speed)
    for chunk in recording.iter_chunks(chunk_s=chunk_s, stop_s=stop_s):
        pacer.wait_until(chunk.end_s)
        if before_push is not None:
            before_push(p, chunk)
        p.push(chunk)
        if progress is not None:
            progress(chunk.end_s)
    p.close()
    if own:                      # built here: torn down here (streamz keeps sinks alive otherwise)
        p.destroy()
    final.sort(key=lambda e: (e.start_s, e.channel, e.kind))
    return RunResult(final, announced, p.end_s, p.n_samples, p.n_lost, p.mains_hz, p.model.tag)
