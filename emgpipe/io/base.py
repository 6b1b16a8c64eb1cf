"""What every reader returns: a :class:`Recording`, and helpers shared by readers.

A recording is a list of contiguous *segments* (first sample index, samples):
samples that a device lost are not filled in, they are a jump in the sample
index between segments, reported as :class:`~emgpipe.types.Gap` objects.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from ..errors import BadData
from ..types import Chunk, Gap


@dataclass
class Recording:
    """A recording read from a file.

    Parameters
    ----------
    path : str
        The file it came from.
    fs : float
        Sample rate (Hz).
    ch_names : tuple of str
        EMG channel names, one per column.
    segments : list of (int, ndarray)
        ``(seq, data)`` pairs; ``data`` is (n, n_channels) float64 in ``units``;
        ``seq`` is the index of the segment's first sample from the start of the
        recording (counting lost samples). Sorted, non-overlapping.
    units : str
        ``"uV"`` after scaling.
    gaps : list of Gap
        Samples lost between segments.
    meta : dict
        Format-specific facts (``format``, ``board``, ``mode``, scaling notes).
    """

    path: str
    fs: float
    ch_names: tuple
    segments: list
    units: str = "uV"
    gaps: list = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.ch_names = tuple(self.ch_names)
        if not (self.fs > 0 and math.isfinite(self.fs)):
            raise BadData(self.path, f"sample rate must be positive, got {self.fs!r}")
        for seq, data in self.segments:
            if data.ndim != 2 or data.shape[1] != len(self.ch_names):
                raise BadData(self.path, f"segment at sample {seq} has shape {data.shape}, "
                                         f"expected (n, {len(self.ch_names)})")

    @property
    def mode(self) -> str | None:
        """``"sleep"``/``"awake"`` when the file or its sidecar says so."""
        return self.meta.get("mode")

    @property
    def n_present(self) -> int:
        """Samples actually in the file."""
        return sum(len(d) for _, d in self.segments)

    @property
    def n_total(self) -> int:
        """Samples spanned, lost ones included."""
        if not self.segments:
            return 0
        seq, data = self.segments[-1]
        return seq + len(data)

    @property
    def duration_s(self) -> float:
        return self.n_total / self.fs

    @property
    def n_missing(self) -> int:
        return sum(g.n_missing for g in self.gaps)

    @property
    def stem(self) -> str:
        base = os.path.basename(self.path)
        for ext in (".events.csv", ".labels.csv"):
            if base.endswith(ext):
                return base[: -len(ext)]
        return os.path.splitext(base)[0]

    def to_array(self, fill=np.nan) -> np.ndarray:
        """All samples as one array, lost samples set to ``fill`` (tests, plots)."""
        out = np.full((self.n_total, len(self.ch_names)), fill, dtype=np.float64)
        for seq, data in self.segments:
            out[seq:seq + len(data)] = data
        return out

    def iter_chunks(self, chunk_s: float = 1.0, source_id: str | None = None,
                    start_s: float = 0.0, stop_s: float | None = None) -> Iterator[Chunk]:
        """Yield the recording as chunks of about ``chunk_s`` seconds.

        The first chunk after a gap carries the gap in ``attrs["gaps"]``.
        ``start_s``/``stop_s`` select a part (stream times stay those of the file).
        """
        n = max(1, int(round(chunk_s * self.fs)))
        sid = source_id if source_id is not None else f"file:{self.path}"
        first = int(math.ceil(start_s * self.fs - 1e-9))
        last = self.n_total if stop_s is None else min(self.n_total, int(math.floor(stop_s * self.fs + 1e-9)))
        gaps_by_end = {g.seq + g.n_missing: g for g in self.gaps}
        for seq, data in self.segments:
            lo, hi = max(seq, first), min(seq + len(data), last)
            if hi <= lo:
                continue
            pending = gaps_by_end.get(seq) if lo == seq else None
            for a in range(lo, hi, n):
                b = min(a + n, hi)
                attrs = {}
                if pending is not None:
                    attrs["gaps"] = (pending,)
                    pending = None
                yield Chunk(data[a - seq:b - seq], fs=self.fs, t0=a / self.fs, seq=a,
                            ch_names=self.ch_names, units=self.units, source_id=sid, attrs=attrs)


def segments_from_index(path, data: np.ndarray, index: np.ndarray, fs: float,
                        modulo: int | None = None, reason: str = "dropped samples"):
    """Split samples into segments where a device sample counter jumps.

    Parameters
    ----------
    data : (n, c) array
    index : (n,) array of the device's sample counter for each row.
    modulo : int, optional
        The counter wraps at this value (e.g. 256 for Cyton, 200 for Ganglion
        OpenBCI GUI files); the jump is then taken modulo it, so a loss of a
        whole counter cycle or more cannot be seen from the counter alone
        (``emgpipe.io._gaps`` sizes such gaps with the host clock).

    Returns
    -------
    segments, gaps : list of (seq, data), list of Gap
    """
    index = np.asarray(index)
    n = len(index)
    if n == 0:
        return [], []
    step = np.diff(index.astype(np.int64))
    if modulo:
        step = np.mod(step, modulo)
    # step 1 = contiguous; step k > 1 = k-1 samples lost; step 0 (repeat) is a
    # duplicated row, kept but not counted as a gap.
    missing = np.where(step > 1, step - 1, 0)
    return _split(data, missing, fs, reason)


def _split(data, missing, fs, reason):
    breaks = np.flatnonzero(missing > 0)
    segments, gaps = [], []
    seq, start = 0, 0
    for b in breaks:
        end = int(b) + 1
        segments.append((seq, data[start:end]))
        seq += end - start
        g = Gap(seq=seq, n_missing=int(missing[b]), fs=fs, reason=reason)
        gaps.append(g)
        seq += g.n_missing
        start = end
    segments.append((seq, data[start:]))
    return segments, gaps


def segments_from_missing(data: np.ndarray, missing: np.ndarray, fs: float,
                          reason: str = "dropped samples"):
    """Segments from a per-row count of samples lost *after* that row."""
    return _split(data, np.asarray(missing, dtype=np.int64), fs, reason)


def check_finite(path, data: np.ndarray, ch_names, first_line: int = 1):
    """Raise :class:`BadData` naming the first NaN/inf value's line and column."""
    bad = ~np.isfinite(data)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise BadData(path, f"line {first_line + int(r)}: channel '{ch_names[c]}' is "
                            f"{float(data[r, c])} (not a finite number)")
