"""One way to build a pipeline, and running a recording through it.

:func:`build_pipeline` is the only place a :class:`~emgpipe.graph.Pipeline`
is put together, for replay, live, night, calibrate, demo and bench alike:

* from the **source's metadata**: its signal kind (:func:`signal_of`: a
  MyoWare ENV envelope is not band-passed), its mode if it states one
  (:func:`mode_of`, a recording's sidecar or a device's ``meta``) and its
  channel names (which pick the calibration profile's channels);
* the **mode** (``"awake"``/``"sleep"``; ``"auto"`` or None: the source's,
  else ``default_mode``). The mode is the only way awake/sleep is expressed:
  a model file holds one set of parameters and the detector's rules depend on
  the mode;
* the **model** (name or path, :func:`emgpipe.models.load_model`);
* the wearer's **calibration profile** and stored **answers**.

Whoever builds a pipeline tears it down (:meth:`Pipeline.destroy`):
:func:`run_recording` does for the pipelines it builds.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Iterable

from .channels import profile_for_stream
from .graph import Pipeline, default_detectors, features_needed
from .io.base import Recording
from .models import load_model
from .devices.base import Pacer, max_speed_chunk_s
from .types import Event

log = logging.getLogger(__name__)

#: The detector modes (the mode decides which of the detector's rules apply).
MODES = ("awake", "sleep")


def signal_of(source) -> str:
    """``"envelope"`` for MyoWare ENV streams (``meta["signal"]`` or a recording's
    sidecar ``"signal": "envelope"``), else ``"emg"``. ``source``: anything with
    a ``meta`` dict (a source, a recording) or None."""
    meta = getattr(source, "meta", None) or {}
    sig = meta.get("signal") or (meta.get("sidecar") or {}).get("signal") or "emg"
    return "envelope" if str(sig).lower() in ("envelope", "env") else "emg"


def mode_of(source) -> str | None:
    """The mode a source or recording states (``meta["mode"]``, a sidecar's
    ``"mode"``), if it is ``"awake"`` or ``"sleep"``; else None."""
    meta = getattr(source, "meta", None) or {}
    mode = meta.get("mode")
    return mode if mode in MODES else None


def resolve_mode(mode: str | None, source=None, default: str = "awake") -> str:
    """``mode`` itself, or for ``"auto"``/None the source's (:func:`mode_of`), else ``default``."""
    if mode in (None, "auto"):
        return mode_of(source) or default
    if mode not in MODES:
        raise ValueError(f"mode must be 'awake', 'sleep' or 'auto', got {mode!r}")
    return mode


def build_pipeline(source=None, *, mode: str | None = "auto", default_mode: str = "awake",
                   model=None, profile=None, profile_path=None, answers: list | None = None,
                   detectors: Iterable | None = None, extra_detectors: Iterable = (),
                   signal: str | None = None) -> Pipeline:
    """The detection pipeline for ``source``.

    Parameters
    ----------
    source : Source, Recording or None
        An opened source or a recording: its ``meta`` gives the signal kind and
        maybe the mode, its ``ch_names`` the calibrated channels. None: an EMG
        stream of unknown channels (tests, benchmarks).
    mode : "awake", "sleep", "auto" or None
        ``"auto"``/None: the source's mode, else ``default_mode``.
    model : str, path or Model, optional
        The detector model (default: ``default``).
    profile : Profile, profile JSON or {channel: {rest_uv, mvc_uv}}, optional
        Calibration; the detector gets the source's channels of it (a one-line
        warning naming ``profile_path`` when none match).
    answers : list, optional
        The wearer's stored answers (:func:`emgpipe.answers.load_answers`).
    detectors : iterable, optional
        Detectors instead of the model's (tests).
    extra_detectors : iterable
        Detectors run after the model's (e.g. a marker detector in benchmarks).
    signal : "emg" or "envelope", optional
        Overrides the source's signal kind (only without a source to say it).

    Returns
    -------
    Pipeline
        Not yet connected to any sink; call :meth:`~Pipeline.destroy` when done.

    Examples
    --------
    >>> p = build_pipeline(mode="sleep")
    >>> p.mode, p.signal, p.model.name
    ('sleep', 'emg', 'default')
    >>> p.destroy()
    """
    m = load_model(model)
    mode = resolve_mode(mode, source, default_mode)
    signal = signal or signal_of(source)
    if detectors is None:
        if profile is not None:
            # the detector looks channels up in {channel: {rest_uv, mvc_uv}}, not in the file
            names = source.ch_names if source is not None else _profile_channels(profile)
            profile = profile_for_stream(profile, names, str(profile_path or "--profile"))
        detectors = default_detectors(m, mode, profile, signal, answers)
    return Pipeline(m, mode=mode, detectors=[*detectors, *extra_detectors], signal=signal)


def replay_features(model) -> tuple | None:
    """The window features :func:`build_pipeline` computes with ``model``'s detectors
    (:attr:`.graph.Pipeline.feature_names`): what they read and
    :data:`~emgpipe.graph.CONSUMER_FEATURES`."""
    return features_needed(default_detectors(model, None))


def _profile_channels(profile) -> list:
    """The channel names a profile (in any of its forms) calibrates."""
    if hasattr(profile, "detector_profile"):
        return list(profile.detector_profile())
    if isinstance(profile, dict) and isinstance(profile.get("channels"), dict):
        return list(profile["channels"])
    return list(profile or {})


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


def collect(pipeline: Pipeline):
    """Connect list sinks to a pipeline: (announced, final) lists."""
    announced, final = [], []

    def on_event(e: Event):
        announced.append(e)
        if e.status == "final":
            final.append(e)
    pipeline.events.sink(on_event)
    return announced, final


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
    p = pipeline or build_pipeline(recording, mode=mode, model=model, profile=profile, answers=answers)
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
    return finish_result(p, announced, final, p.mains_hz)


def finish_result(p: Pipeline, announced: list, final: list, mains_hz) -> RunResult:
    """The :class:`RunResult` of a closed pipeline whose events :func:`collect` gathered."""
    final.sort(key=lambda e: (e.start_s, e.channel, e.kind))
    return RunResult(final, announced, p.end_s, p.n_samples, p.n_lost, mains_hz, p.model.tag)


#: Stream shapes that between them run every compiled kernel in each form a
#: stream calls it: the band-pass runs one channel alone, channels in pairs
#: (an odd last one alone) or four and more side by side, so 1, 2 and 4
#: channels; 1 kHz, 250 Hz and the Ganglion's 200 Hz (the other shapes a
#: device sends, 3 or 8 channels, an envelope, 2 kHz, compile nothing new:
#: tests/test_prepare_kernels.py).
KERNEL_SHAPES = ((1000.0, 1, "emg"), (250.0, 4, "emg"), (200.0, 2, "emg"))


def warm_back(pipe: Pipeline, fs: float, n_ch: int, seconds: float = 2.0) -> None:
    """Load (or compile) the kernels of ``pipe``'s back half, the window features and
    the detectors, on a throwaway copy of its units: ``pipe`` itself is untouched.
    The parent of a two-process replay (:mod:`emgpipe.split`) does it while it
    waits for the first chunk."""
    from .types import Chunk
    x = _kernel_signal(fs, n_ch, seconds)
    chunk = Chunk(x, fs=fs, ch_names=tuple(f"ch{k + 1}" for k in range(n_ch)), source_id="kernels")
    twin = Pipeline(pipe.model, mode=pipe.mode, signal=pipe.signal,
                    detectors=default_detectors(pipe.model, pipe.mode, None, pipe.signal))
    try:
        twin._detect(twin.window_features(chunk))
    finally:
        twin.destroy()


def _kernel_signal(fs: float, n_ch: int, seconds: float):
    """A few seconds of signal that takes every branch of the compiled kernels:
    noise, a contraction burst, isolated spikes (potentials) and an electrode
    pop (a step that decays)."""
    import numpy as np
    rng = np.random.default_rng(0)
    n = int(round(seconds * fs))
    x = rng.normal(0.0, 5.0, (n, n_ch))
    t = np.arange(n) / fs
    burst = (t > seconds * 0.5) & (t < seconds * 0.8)
    x[burst] += rng.normal(0.0, 80.0, (int(burst.sum()), n_ch))
    for k in range(5):                                  # isolated potentials
        i = int((0.15 + 0.05 * k) * n)
        x[i:i + 3] += 150.0
    i = int(0.35 * n)                                    # a pop: a step of 200 µV that decays
    x[i:, 0] += 200.0 * np.exp(-np.arange(n - i) / (0.2 * fs))
    return x


def kernel_backend() -> str:
    """What runs the compiled kernels in this process: "ahead of time" (emgpipe._aot,
    built at install), "numba JIT" or "numpy" (emgpipe/_compiled.py)."""
    from ._compiled import backend
    return backend()


def prepare_kernels(seconds: float = 3.5, chunk_s: float = 0.1) -> float:
    """Compile, or load from numba's on-disk cache, every kernel a stream uses.

    The kernels are compiled the first time they run after an install (seconds)
    and loaded from the cache afterwards (a fraction of a second). A live or
    night session calls this before it opens the device: otherwise the first
    chunks would compile them while the device's samples queue up, and the
    first cramp alert of the first session after an install would come late
    (seconds; the answer button pressed meanwhile would find no alert).
    Runs a few seconds of synthetic signal through a pipeline of each of
    :data:`KERNEL_SHAPES`, in chunks as a device sends them. Returns the
    seconds it took.
    """
    import time

    from .types import Chunk
    t0 = time.monotonic()
    for fs, n_ch, signal in KERNEL_SHAPES:
        x = _kernel_signal(fs, n_ch, seconds)
        names = tuple(f"ch{k + 1}" for k in range(n_ch))
        p = build_pipeline(None, mode="awake", signal=signal)
        try:
            step = max(1, int(round(chunk_s * fs)))
            for i in range(0, len(x), step):
                p.push(Chunk(x[i:i + step], fs=fs, seq=i, ch_names=names, source_id="kernels"))
            p.close()
        finally:
            p.destroy()
    return time.monotonic() - t0


def prepare_kernels_before(command: str, note=None) -> float:
    """:func:`prepare_kernels` before ``command`` opens its device; a slow one (the
    first session after an install compiles) says so in one line to ``note``
    (default: stderr). Returns the seconds it took."""
    took = prepare_kernels()
    if took >= 1.0:
        import sys
        line = (f"{command}: compiled the signal kernels in {took:.1f} s (once after an install; "
                f"later sessions load them)")
        if note is None:
            print(line, file=sys.stderr, flush=True)
        else:
            note(line)
    return took
