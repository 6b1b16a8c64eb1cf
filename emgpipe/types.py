"""The two message types of the pipeline: :class:`Chunk` (signal) and :class:`Event`.

Times
-----
A live source's clock is its sample counter. ``Chunk.seq`` is the index of the
chunk's first sample since the stream began, *counting samples that were lost*
(a dropped BLE packet makes ``seq`` jump). Stream time in seconds is therefore
``seq / fs`` and is what every event, alert and log uses. ``Chunk.t0`` is the
host's monotonic clock (or the file's timestamp) for the first sample, kept for
latency measurement and display only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

#: Event kinds the pipeline emits (more may be added; these are the contract's).
EVENT_KINDS = ("cramp", "fasciculation", "voluntary", "artifact", "signal_loss")


def _freeze(mapping: Mapping | None) -> Mapping:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, eq=False)
class Chunk:
    """A block of multichannel signal.

    Parameters
    ----------
    data : ndarray, shape (n_samples, n_channels)
        Samples, float64, in ``units``. ``n_samples`` may be 0.
    fs : float
        Sample rate in Hz (> 0).
    t0 : float
        Host monotonic time (s) of the first sample (display/latency only).
    seq : int
        Index of the first sample since the stream began (counts lost samples).
    ch_names : tuple of str
        One name per column of ``data``.
    units : str
        ``"uV"`` for EMG.
    source_id : str
        Which source produced it (port, file, scenario).
    attrs : mapping
        Extra facts; ``attrs["gaps"]`` is a tuple of :class:`Gap` that end
        right before this chunk's first sample.

    Examples
    --------
    >>> import numpy as np
    >>> c = Chunk(np.zeros((4, 2)), fs=1000.0, seq=10, ch_names=("a", "b"))
    >>> c.n_samples, c.n_channels, c.start_s, c.end_s
    (4, 2, 0.01, 0.014)
    """

    data: np.ndarray
    fs: float
    t0: float = 0.0
    seq: int = 0
    ch_names: tuple = ()
    units: str = "uV"
    source_id: str = ""
    attrs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        data = np.asarray(self.data, dtype=np.float64)
        if data.ndim == 1:
            data = data[:, None]
        if data.ndim != 2:
            raise ValueError(f"Chunk data must be 2-D (samples, channels), got shape {data.shape}")
        object.__setattr__(self, "data", data)
        fs = float(self.fs)
        if not math.isfinite(fs) or fs <= 0:
            raise ValueError(f"Chunk fs must be a positive finite number, got {self.fs!r}")
        object.__setattr__(self, "fs", fs)
        names = tuple(str(n) for n in self.ch_names) if self.ch_names else tuple(
            f"ch{i + 1}" for i in range(data.shape[1]))
        if len(names) != data.shape[1]:
            raise ValueError(
                f"Chunk has {data.shape[1]} channel(s) but {len(names)} channel name(s): {names}")
        if len(set(names)) != len(names):
            raise ValueError(f"Chunk channel names must be unique: {names}")
        object.__setattr__(self, "ch_names", names)
        if int(self.seq) != self.seq or self.seq < 0:
            raise ValueError(f"Chunk seq must be a non-negative integer, got {self.seq!r}")
        object.__setattr__(self, "seq", int(self.seq))
        object.__setattr__(self, "attrs", _freeze(self.attrs))

    @property
    def n_samples(self) -> int:
        return self.data.shape[0]

    @property
    def n_channels(self) -> int:
        return self.data.shape[1]

    @property
    def start_s(self) -> float:
        """Stream time of the first sample (``seq / fs``)."""
        return self.seq / self.fs

    @property
    def end_s(self) -> float:
        """Stream time just after the last sample."""
        return (self.seq + self.n_samples) / self.fs

    @property
    def next_seq(self) -> int:
        return self.seq + self.n_samples

    @property
    def gaps(self) -> tuple:
        return tuple(self.attrs.get("gaps", ()))

    def times(self) -> np.ndarray:
        """Stream times of the samples."""
        return (self.seq + np.arange(self.n_samples)) / self.fs

    def replace(self, **changes) -> "Chunk":
        """A copy with some fields changed (``attrs`` kept unless given)."""
        if changes.keys() == {"data"}:
            data = changes["data"]
            if (isinstance(data, np.ndarray) and data.dtype == np.float64 and data.ndim == 2
                    and data.shape[1] == self.data.shape[1]):
                # hot path for filters: same layout, already validated
                new = object.__new__(Chunk)
                new.__dict__.update(self.__dict__)
                object.__setattr__(new, "data", data)
                return new
        return replace(self, **changes)

    def layout(self) -> tuple:
        """What a stateful step must reset on when it changes."""
        return (self.fs, self.ch_names, self.source_id)

    def __repr__(self):
        return (f"Chunk(n={self.n_samples}, ch={list(self.ch_names)}, fs={self.fs:g}, "
                f"seq={self.seq}, source={self.source_id!r})")


@dataclass(frozen=True)
class Gap:
    """Samples a source lost (dropped packets, CRC errors, unplug).

    ``seq`` is the index of the first missing sample, ``n_missing`` how many.
    """

    seq: int
    n_missing: int
    fs: float
    reason: str = "dropped samples"

    @property
    def start_s(self) -> float:
        return self.seq / self.fs

    @property
    def end_s(self) -> float:
        return (self.seq + self.n_missing) / self.fs


@dataclass(frozen=True)
class Event:
    """Something the pipeline announces: a cramp, fasciculations, a gap...

    Parameters
    ----------
    kind : str
        One of :data:`EVENT_KINDS` (others allowed).
    channel : str
        Channel name (``"*"`` for all channels).
    start_s, end_s : float
        Stream times of onset and end (s from the first sample).
    alert_s : float
        Stream time at which the pipeline announced the event; it depends on
        no sample after ``alert_s``.
    confidence : float
        0..1.
    peak_uv : float
        Peak amplitude (RMS envelope) in µV, NaN when not meaningful.
    n_potentials : int
        For fasciculation episodes, the number of potentials.
    detail : str
        Short free text (e.g. ``"lead-off"``, ``"dropped 12 samples"``).
    features : mapping
        The feature values that decided it.
    detector : str
        Model name and version, e.g. ``"default@1"``.
    status : str
        ``"final"``; detectors may announce ``"onset"`` first and then the
        ``"final"`` event with its end.
    label : str
        The wearer's answer to the event: ``"cramp"``, ``"not_cramp"`` or
        ``""`` (not answered).
    """

    kind: str
    channel: str
    start_s: float
    end_s: float
    alert_s: float
    confidence: float = 1.0
    peak_uv: float = float("nan")
    n_potentials: int = 0
    detail: str = ""
    features: Mapping[str, Any] = field(default_factory=dict)
    detector: str = ""
    source_id: str = ""
    status: str = "final"
    label: str = ""

    def __post_init__(self):
        if not self.kind:
            raise ValueError("Event kind must not be empty")
        for name in ("start_s", "end_s", "alert_s"):
            v = float(getattr(self, name))
            if math.isnan(v):
                raise ValueError(f"Event {name} must be a number")
            object.__setattr__(self, name, v)
        if self.end_s < self.start_s:
            raise ValueError(f"Event end_s {self.end_s} is before start_s {self.start_s}")
        if not 0.0 <= float(self.confidence) <= 1.0:
            raise ValueError(f"Event confidence must be in [0, 1], got {self.confidence}")
        object.__setattr__(self, "features", _freeze(self.features))

    def __reduce__(self):
        # its features pickle as a dict (a mappingproxy does not pickle): events cross
        # processes in a two-process replay (emgpipe.split)
        return (Event, tuple(dict(v) if f.name == "features" else v
                             for f, v in ((f, getattr(self, f.name)) for f in fields(self))))

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s
