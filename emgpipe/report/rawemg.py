"""The raw EMG around an event, read from the recording itself (only the part needed).

Two sources:

- a night folder: the EDF+/BDF+ files that ``emgpipe night`` wrote (the night
  database's ``files`` table says which stream seconds each file holds; files are
  continuous EDF+C, so a time maps to a data record and the reader *seeks* to it:
  a 60 s window of an 8-hour night reads 60 records, not the night);
- a replayed recording (any format :func:`emgpipe.io.read_recording` reads): an
  EDF/BDF (+C) file is read the same way, by seeking; other formats stream from
  the file with :meth:`~emgpipe.io.base.Recording.iter_chunks` from the first
  window's start to the last window's end in one pass (text formats cannot be
  entered in the middle), keeping only the samples inside a window.

Times are stream seconds (seconds from the recording's first sample, the events'
time base). Samples the device lost are NaN in the returned windows.
"""
from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import EmgpipeError

log = logging.getLogger(__name__)


@dataclass
class RawWindow:
    """Samples of every channel from stream time ``t0`` (µV, NaN where none)."""

    t0: float
    fs: float
    ch_names: tuple
    data: np.ndarray            # (n, n_channels)
    signal: str = "emg"         # "envelope": the device streams an envelope (MyoWare ENV)

    @property
    def t(self) -> np.ndarray:
        return self.t0 + np.arange(len(self.data)) / self.fs

    def channel(self, name: str) -> np.ndarray | None:
        return self.data[:, self.ch_names.index(name)] if name in self.ch_names else None


def _empty(a: float, b: float, fs: float, names) -> RawWindow:
    i0 = int(math.ceil(a * fs - 1e-9))
    n = max(0, int(math.floor(b * fs + 1e-9)) - i0)
    return RawWindow(i0 / fs, fs, tuple(names), np.full((n, len(names)), np.nan))


def _place(win: RawWindow, seq0_s: float, block: np.ndarray, cols) -> None:
    """Copy ``block`` (samples from stream time ``seq0_s``) into ``win`` where they overlap."""
    i = int(round((seq0_s - win.t0) * win.fs))
    lo, hi = max(0, i), min(len(win.data), i + len(block))
    if hi > lo:
        win.data[lo:hi, cols] = block[lo - i:hi - i]


# ----------------------------------------------------------------------------- EDF by seeking

class EdfWindows:
    """An EDF/BDF (+C) file opened for reading time windows by seeking to their data records.

    ``start_s`` is the stream time of the file's first sample. EDF+D files (records
    not back to back) are refused with ``ValueError`` (read them by streaming).
    """

    def __init__(self, path, start_s: float = 0.0):
        from ..io.edf import _gain_offset, _select, parse_header, UNIT_TO_UV
        self.path = Path(path)
        self.start_s = float(start_s)
        with open(self.path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(256)
            ns = int(head[252:256].decode("latin-1").strip() or 0)
            head += f.read(256 * ns)
        h = parse_header(head, self.path)
        if h.flavour.endswith("+D"):
            raise ValueError(f"{self.path}: EDF+D (discontinuous)")
        full = (size - h.header_bytes) // h.record_bytes if h.record_bytes else 0
        self.n_records = full if h.n_records < 0 else min(full, h.n_records)
        self.h = h
        self.pick, _ = _select(self.path, h, None)
        self.labels = tuple(h.signals[k].label for k in self.pick)
        self.spr = h.signals[self.pick[0]].samples_per_record
        self.fs = self.spr / h.record_s
        self.cal = [(_gain_offset(h.signals[k]), UNIT_TO_UV[h.signals[k].dimension.lower()]) for k in self.pick]
        self.starts = np.cumsum([0] + [s.samples_per_record for s in h.signals])

    @property
    def end_s(self) -> float:
        return self.start_s + self.n_records * self.h.record_s

    def read(self, a: float, b: float) -> tuple[float, np.ndarray]:
        """Samples of stream times [a, b) held by this file: (stream time of the first, data)."""
        from ..io.edf import _decode
        h = self.h
        r0 = max(0, int(math.floor((a - self.start_s) / h.record_s)))
        r1 = min(self.n_records, int(math.ceil((b - self.start_s) / h.record_s)))
        if r1 <= r0:
            return a, np.zeros((0, len(self.pick)))
        with open(self.path, "rb") as f:
            f.seek(h.header_bytes + r0 * h.record_bytes)
            buf = f.read((r1 - r0) * h.record_bytes)
        k = len(buf) // h.record_bytes
        dig = _decode(buf[:k * h.record_bytes], h, k)
        cols = []
        for kk, (go, factor) in zip(self.pick, self.cal):
            d = dig[:, self.starts[kk]:self.starts[kk + 1]].reshape(-1).astype(np.float64)
            cols.append((d if go is None else (d + go[1]) * go[0]) * factor)
        return self.start_s + r0 * h.record_s, np.column_stack(cols)


def _edf_window(files, a: float, b: float, names, fs: float | None) -> RawWindow | None:
    """Window [a, b) from EDF files ``[(EdfWindows, column map)]``."""
    if not files:
        return None
    fs = fs or files[0][0].fs
    win = _empty(a, b, fs, names)
    hit = False
    for ew, cols in files:
        if ew.end_s <= a or ew.start_s >= b or abs(ew.fs - fs) > 1e-6 * fs:
            continue
        t, block = ew.read(a, b)
        src = [i for i, c in enumerate(cols) if c is not None]
        if src and len(block):
            _place(win, t, block[:, src], [cols[i] for i in src])
            hit = True
    return win if hit else None


def night_windows(night, windows) -> list[RawWindow | None]:
    """Windows ``[(a, b), ...]`` of a night's raw EDF+/BDF+ files (None where no file holds it)."""
    from ..night.edfplus import edf_labels
    if not night.files or night.db is None:
        return [None] * len(windows)
    names = tuple(night.channels)
    labels = edf_labels(names)
    opened = []
    for f in sorted(night.files, key=lambda f: f.get("start_s") or 0.0):
        path = Path(night.db).parent / f["path"]
        try:
            ew = EdfWindows(path, f.get("start_s") or 0.0)
        except (OSError, ValueError, EmgpipeError) as err:
            log.warning("%s: cannot read raw EMG for the report (%s)", path, err)
            continue
        cols = [names.index(n) if n in names else labels.index(n) if n in labels else None for n in ew.labels]
        if all(c is None for c in cols) and len(ew.labels) == len(names):
            cols = list(range(len(names)))             # labels changed: same order as the night's channels
        opened.append((ew, cols))
    return [_edf_window(opened, a, b, names, night.fs) for a, b in windows]


# ----------------------------------------------------------------------------- any recording

def recording_windows(path, windows, signal: str = "emg") -> list[RawWindow | None]:
    """Windows ``[(a, b), ...]`` of a replayed recording (None where it has no sample)."""
    from ..io import read_recording
    path = Path(path)
    if not windows:
        return []
    try:
        if path.suffix.lower() in (".edf", ".bdf", ".rec"):
            try:
                ew = EdfWindows(path)
            except ValueError:
                ew = None                               # EDF+D: stream it below
            if ew is not None:
                cols = list(range(len(ew.labels)))
                got = [_edf_window([(ew, cols)], a, b, ew.labels, ew.fs) for a, b in windows]
                return [_as(w, signal) for w in got]
        rec = read_recording(path)
        wins = [_empty(a, b, rec.fs, rec.ch_names) for a, b in windows]
        lo = min(a for a, _ in windows)
        hi = max(b for _, b in windows)
        for chunk in rec.iter_chunks(chunk_s=5.0, start_s=max(0.0, lo), stop_s=hi):
            t = chunk.seq / chunk.fs
            for w in wins:
                if t < w.t0 + len(w.data) / w.fs and t + chunk.n_samples / chunk.fs > w.t0:
                    _place(w, t, chunk.data, slice(None))
    except (OSError, EmgpipeError) as err:
        log.warning("%s: cannot read raw EMG for the report (%s)", path, err)
        return [None] * len(windows)
    return [_as(w, signal) for w in wins]


def _as(w: RawWindow | None, signal: str) -> RawWindow | None:
    if w is None or not np.isfinite(w.data).any():
        return None
    w.signal = signal
    return w


def recording_duration(path) -> float | None:
    """Length (s) of a recording from its header when it says so (EDF, WFDB), else from
    one pass over the file without keeping its samples. None when it cannot be read."""
    from ..io import read_recording
    try:
        if Path(path).suffix.lower() in (".edf", ".bdf", ".rec"):
            try:
                ew = EdfWindows(path)
                return ew.n_records * ew.h.record_s
            except ValueError:
                pass
        rec = read_recording(path)
        return rec.n_total / rec.fs
    except (OSError, EmgpipeError) as err:
        log.warning("%s: cannot read the recording's length (%s)", path, err)
        return None


def windows_of(night, windows) -> list[RawWindow | None]:
    """Windows of the night's raw files, or of its replayed recording; None where there is none."""
    if not windows:
        return []
    if night.db is not None:
        got = night_windows(night, windows)
        for w in got:
            if w is not None:
                w.signal = night.signal
        return got
    if night.recording is not None:
        return recording_windows(night.recording, windows, night.signal)
    return [None] * len(windows)
