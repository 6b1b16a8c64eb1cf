"""Streaming EDF+ / BDF+ writer for the night log: readable by other tools at every flush.

Format (EDF spec, Kemp et al. 1992; EDF+ spec, Kemp & Olivan 2003; BDF =
BioSemi's 24-bit variant, version field ``\\xffBIOSEMI``): a header of 256
bytes plus 256 per signal, then fixed-size *data records* of ``record_s``
seconds, each holding every signal's samples and an annotation signal whose
first TAL (time-stamped annotation list) keeps the record's start time.

How a file survives a crash
---------------------------
* Nothing is on disk until the first flush; the first flush writes the
  header (with its record count) and the first records to ``<name>.part``
  and then renames it, so any file under its ``.edf``/``.bdf`` name is valid
  (a ``kill -9`` can cut a large write short; a ``.part`` left behind is not
  an EDF file and says so).
* Each later flush appends whole records, then patches the header's
  number-of-records field. A kill between the two leaves a file longer than
  its header says: pyedflib, edfio and emgpipe read it up to the declared
  count (checked in tests/night). The field is never ``-1``, which pyedflib
  refuses.
* Records are written with ``os.write`` (no user-space buffer to lose on
  ``kill -9``); ``os.fsync`` runs every ``fsync_s`` of wall time and on close
  (power loss).
* A write that fails (disk full, ``RLIMIT_FSIZE``, an I/O error) leaves the
  file with whole records only: it is cut back to its last complete record
  and the header's count says so (:class:`RawWriteError`); the writer then
  writes nothing more, and :class:`RotatingEdfWriter` stops (the night goes
  on without raw data, see :mod:`emgpipe.night.recorder`).

Samples that never arrived
--------------------------
Records have a fixed size, so a gap shorter than one record inside a file is
filled with 0 µV *and* annotated (``signal loss: N samples (reason)``); the
:class:`RotatingEdfWriter` starts a new file after longer gaps, so files stay
continuous (EDF+C, what every reader supports). The last record of a file
is padded the same way, annotated ``no data (padding to the record end)``.

Examples
--------
>>> import numpy as np, os, tempfile
>>> from emgpipe.io.edf import read
>>> path = os.path.join(tempfile.mkdtemp(), "a.edf")
>>> w = EdfPlusWriter(path, fs=250.0, ch_names=("calf_left",), start_wall=1.7e9)
>>> w.append(np.full((500, 1), 12.5)); w.annotate(0.5, 1.0, "cramp calf_left"); w.close()
>>> rec = read(path)
>>> rec.n_total, bool(abs(rec.segments[0][1][0, 0] - 12.5) < 0.31), rec.meta["annotations"][0]["text"]
(500, True, 'cramp calf_left')
"""
from __future__ import annotations

import logging
import math
import os
import re
import time
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import StorageError
from .private import open_private, private_dir

log = logging.getLogger(__name__)

#: Indirection for tests that simulate a full disk.
_raw_write = os.write


class RawWriteError(StorageError):
    """Raw EMG could not be written (disk full, file size limit, I/O error).

    The file keeps its ``n_records`` whole data records and is readable.
    """

    def __init__(self, message: str, path=None, n_records: int = 0, record_s: float = 1.0):
        super().__init__(message)
        self.path = path
        self.n_records = n_records
        self.record_s = record_s

#: 16-bit EDF over ±10 mV: 0.31 µV per step, finer than surface-EMG noise
#: (~1-5 µV RMS, De Luca 2010) while keeping strong EMG (< 5 mV) unclipped.
EDF_RANGE_UV = 10_000.0
#: 24-bit BDF default: the Cyton's full scale at gain 24 (±4.5 V / 24,
#: protocols.md §1.4), 0.022 µV per step.
BDF_RANGE_UV = 187_500.0
#: Annotation bytes per data record: room for the time-keeping TAL (~16 bytes)
#: and about four event TALs (~50-60 bytes each).
ANNOTATION_BYTES = 256
#: Longest channel label the header holds (EDF spec).
LABEL_CHARS = 16


def record_layout(fs: float, max_s: float = 10.0) -> tuple[float, int]:
    """(record duration s, samples per record): 1 s if ``fs`` is whole, else the
    shortest duration up to ``max_s`` holding a whole number of samples.

    >>> record_layout(250.0), record_layout(128.5)
    ((1.0, 250), (2.0, 257))
    """
    for d in (1, 2, 4, 5, 10, 0.5, 0.25, 0.2, 0.1):
        n = fs * d
        if d <= max_s and abs(n - round(n)) < 1e-9 and round(n) >= 1:
            return float(d), int(round(n))
    raise StorageError(f"EDF: sample rate {fs:g} Hz has no whole number of samples in any record "
                       f"duration up to {max_s:g} s")


def _num(v: float, width: int = 8) -> str:
    """A number in at most ``width`` characters (EDF header fields)."""
    if float(v).is_integer() and len(str(int(v))) <= width:
        return str(int(v))
    for nd in range(width, -1, -1):
        s = f"{v:.{nd}f}"
        if "." in s:                 # trailing zeros of the fraction only (205000000 stays whole)
            s = s.rstrip("0").rstrip(".")
        if len(s) <= width:
            return s
    raise StorageError(f"EDF: {v!r} does not fit a {width}-character header field")


def _ascii(s: str, width: int) -> bytes:
    """Printable ASCII, padded with spaces (EDF header rule)."""
    clean = re.sub(r"[^\x20-\x7e]", "_", s)[:width]
    return clean.ljust(width).encode("ascii")


def edf_labels(names) -> list[str]:
    """Channel names shortened to 16 characters, still unique.

    >>> edf_labels(["gastrocnemius_medial_right", "calf_left"])
    ['gastro_medial_R', 'calf_left']
    """
    out = []
    for name in names:
        label = name
        if len(label) > LABEL_CHARS:
            toks = re.split(r"[_\s]+", re.sub(r"(?i)\bleft\b", "L", re.sub(r"(?i)\bright\b", "R",
                                                                            name.replace("_", " "))))
            for keep in (6, 5, 4, 3, 2):
                label = "_".join(t[:keep] for t in toks if t)
                if len(label) <= LABEL_CHARS:
                    break
            label = label[:LABEL_CHARS]
        base, k = label, 2
        while label in out:
            suffix = f"~{k}"
            label = base[:LABEL_CHARS - len(suffix)] + suffix
            k += 1
        out.append(label)
    return out


def _tal_text(s: str) -> str:
    # TAL separators (0x14, 0x15, 0x00) may not appear in annotation text
    return re.sub(r"[\x00\x14\x15]", " ", s)


def _time(v: float, sign: bool = False) -> str:
    """Seconds to the microsecond, no trailing zeros (TAL onsets and durations)."""
    s = f"{v:.6f}".rstrip("0").rstrip(".")
    s = "0" if s in ("-0", "") else s
    return ("+" + s) if sign and not s.startswith("-") else s


def tal(onset: float, duration: float | None, texts) -> bytes:
    """One time-stamped annotation list (EDF+ §2.2.2).

    >>> tal(1.5, 2.0, ["cramp"])
    b'+1.5\\x152\\x14cramp\\x14\\x00'
    >>> tal(0.0, None, [""])
    b'+0\\x14\\x14\\x00'
    """
    head = _time(onset, sign=True)
    if duration is not None:
        head += "\x15" + _time(max(0.0, duration))
    return (head + "\x14" + "".join(_tal_text(t) + "\x14" for t in texts) + "\x00").encode("utf-8")


class EdfPlusWriter:
    """One continuous EDF+C (or BDF+C) file, appended sample by sample.

    Parameters
    ----------
    path : path-like
        Created at the first flush (must not exist).
    fs : float
    ch_names : sequence of str
        Full names; labels are shortened to 16 characters (:func:`edf_labels`)
        and the full name is kept in the transducer field.
    start_wall : float
        Host clock (s since the epoch) of the first sample; the header holds
        its local date and time, the first record's TAL its fraction of a second.
    bdf : bool
        24-bit BDF+ instead of 16-bit EDF+.
    range_uv : float
        Physical range ±``range_uv`` µV; samples beyond it are clipped (counted
        in ``n_clipped`` and logged once).
    patient, equipment : str
        EDF+ patient and recording identification subfields.
    fsync_s : float
        Wall seconds between ``os.fsync`` calls.
    """

    def __init__(self, path, fs: float, ch_names, start_wall: float, *, bdf: bool = False,
                 range_uv: float | None = None, patient: str = "X X X X", equipment: str = "emgpipe",
                 annotation_bytes: int = ANNOTATION_BYTES, fsync_s: float = 30.0,
                 prefilter: str = ""):
        self.path = Path(path)
        self.fs = float(fs)
        self.ch_names = tuple(ch_names)
        self.bdf = bool(bdf)
        # the header holds 8 characters: encode with the value a reader will see
        self.range_uv = float(_num(float(range_uv or (BDF_RANGE_UV if bdf else EDF_RANGE_UV))))
        self.record_s, self.spr = record_layout(self.fs)
        self.sample_bytes = 3 if self.bdf else 2
        self.dmax = 2 ** (8 * self.sample_bytes - 1) - 1
        self.dmin = -self.dmax - 1
        self.ann_bytes = int(annotation_bytes)
        if self.ann_bytes % self.sample_bytes:
            self.ann_bytes += self.sample_bytes - self.ann_bytes % self.sample_bytes
        self.start_wall = float(start_wall)
        self._frac = self.start_wall - math.floor(self.start_wall)
        self.patient = patient
        self.equipment = equipment
        self.prefilter = prefilter
        self.fsync_s = float(fsync_s)
        n = len(self.ch_names)
        self._buf = np.zeros((self.spr, n))           # the record being filled
        self._pos = 0                                 # samples in it
        self._done: list[np.ndarray] = []             # complete records not yet written
        self._ann: deque = deque()                    # TAL bytes waiting for a record
        self._room: list = []                         # (file offset, free bytes) of written records' annotation space
        self.n_samples = 0                            # samples appended (filled ones included)
        self.n_records = 0                            # records on disk
        self.n_clipped = 0
        self.n_ann_dropped = 0
        self._fd = None
        self._last_sync = time.monotonic()
        self.closed = False
        self.failed = None                            # the write error, once one happened
        self._progress = 0                            # bytes of the current write() that made it

    # ------------------------------------------------------------------ header
    @property
    def record_bytes(self) -> int:
        return self.sample_bytes * self.spr * len(self.ch_names) + self.ann_bytes

    def header(self, n_records: int) -> bytes:
        """The full header for ``n_records`` records."""
        ns = len(self.ch_names) + 1
        start = datetime.fromtimestamp(math.floor(self.start_wall))
        months = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()
        equipment = re.sub(r"\s+", "_", self.equipment) or "X"
        rec_id = f"Startdate {start.day:02d}-{months[start.month - 1]}-{start.year} X X {equipment}"
        h = (
            (b"\xffBIOSEMI" if self.bdf else b"0".ljust(8))
            + _ascii(self.patient, 80) + _ascii(rec_id, 80)
            + start.strftime("%d.%m.%y").encode() + start.strftime("%H.%M.%S").encode()
            + _ascii(str(256 * (ns + 1)), 8)
            + _ascii(("BDF+C" if self.bdf else "EDF+C"), 44)
            + _ascii(str(n_records), 8) + _ascii(_num(self.record_s), 8) + _ascii(str(ns), 4)
        )
        labels = edf_labels(self.ch_names) + ["BDF Annotations" if self.bdf else "EDF Annotations"]
        data = [False] * (ns - 1) + [True]
        cols = [
            [_ascii(lab, 16) for lab in labels],
            [_ascii("" if ann else f"sEMG electrodes; channel {name}", 80)
             for name, ann in zip(list(self.ch_names) + [""], data)],
            [_ascii("" if ann else "uV", 8) for ann in data],
            [_ascii("-1" if ann else _num(-self.range_uv), 8) for ann in data],
            [_ascii("1" if ann else _num(self.range_uv), 8) for ann in data],
            [_ascii(str(self.dmin), 8) for _ in data],
            [_ascii(str(self.dmax), 8) for _ in data],
            [_ascii("" if ann else self.prefilter, 80) for ann in data],
            [_ascii(str(self.ann_bytes // self.sample_bytes if ann else self.spr), 8) for ann in data],
            [_ascii("", 32) for _ in data],
        ]
        out = h + b"".join(b"".join(c) for c in cols)
        assert len(out) == 256 * (ns + 1)
        return out

    # ------------------------------------------------------------------ samples
    @property
    def duration_s(self) -> float:
        """Seconds of signal appended so far."""
        return self.n_samples / self.fs

    def append(self, data: np.ndarray) -> None:
        """Append samples, shape (n, n_channels), in µV."""
        data = np.asarray(data, dtype=np.float64)
        if data.ndim != 2 or data.shape[1] != len(self.ch_names):
            raise ValueError(f"expected (n, {len(self.ch_names)}) samples, got {data.shape}")
        i = 0
        while i < len(data):
            take = min(self.spr - self._pos, len(data) - i)
            self._buf[self._pos:self._pos + take] = data[i:i + take]
            self._pos += take
            i += take
            if self._pos == self.spr:
                self._done.append(self._buf)
                self._buf = np.zeros_like(self._buf)
                self._pos = 0
        self.n_samples += len(data)

    def fill(self, n: int, reason: str) -> None:
        """``n`` samples that never arrived: 0 µV, annotated ``signal loss``."""
        if n <= 0:
            return
        t = self.duration_s
        self.annotate_file_time(t + self._frac, n / self.fs, f"signal loss: {n} samples ({reason})")
        self.append(np.zeros((n, len(self.ch_names))))

    # ------------------------------------------------------------------ annotations
    def annotate(self, start_s: float, duration_s: float | None, text: str) -> None:
        """Annotate ``text`` from ``start_s`` s after the file's first sample."""
        self.annotate_file_time(start_s + self._frac, duration_s, text)

    def annotate_file_time(self, onset: float, duration_s: float | None, text: str) -> None:
        item = tal(onset, duration_s, [text])
        room = self.ann_bytes - len(tal(0.0, None, [""])) - 12  # time-keeping TAL of a long file
        if len(item) > room:  # cut long texts to fit one record
            keep = max(1, len(text) - (len(item) - room) - 3)
            item = tal(onset, duration_s, [text[:keep] + "..."])
        self._ann.append(item)

    def _annotation_block(self, k: int) -> bytes:
        buf = bytearray(tal(self._frac + k * self.record_s, None, [""]))
        while self._ann and len(buf) + len(self._ann[0]) <= self.ann_bytes:
            buf += self._ann.popleft()
        # where this record's unused annotation bytes will be in the file
        offset = len(self.header(0)) + (k + 1) * self.record_bytes - self.ann_bytes + len(buf)
        self._room.append((offset, self.ann_bytes - len(buf)))
        return bytes(buf.ljust(self.ann_bytes, b"\x00"))

    def _place_leftovers(self) -> None:
        """Annotations that came after the last record: into free space of written records."""
        k = len(self._room) - 1
        while self._ann and k >= 0:
            offset, free = self._room[k]
            item = self._ann[0]
            if len(item) <= free:
                os.lseek(self._fd, offset, os.SEEK_SET)
                self._write(item)
                self._room[k] = (offset + len(item), free - len(item))
                self._ann.popleft()
            else:
                k -= 1

    # ------------------------------------------------------------------ disk
    def _encode(self, records: list[np.ndarray]) -> bytes:
        x = np.stack(records)                                     # (n_rec, spr, n_ch)
        scale = (self.dmax - self.dmin) / (2 * self.range_uv)
        d = np.rint((x + self.range_uv) * scale + self.dmin)
        clipped = int(((d < self.dmin) | (d > self.dmax)).sum())
        if clipped:
            if not self.n_clipped:
                log.warning("%s: samples beyond ±%g µV clipped (the file's physical range)",
                            self.path.name, self.range_uv)
            self.n_clipped += clipped
        # (n_rec, n_ch, spr): each record holds one signal after the other
        d = np.ascontiguousarray(np.clip(d, self.dmin, self.dmax).astype("<i4").transpose(0, 2, 1))
        if self.bdf:  # 24-bit little-endian: the low three bytes of each int32
            raw = d.view(np.uint8).reshape(len(records), -1, 4)[:, :, :3]
        else:
            raw = d.astype("<i2").view(np.uint8)
        raw = np.ascontiguousarray(raw).reshape(len(records), -1)
        out = bytearray()
        for k, row in enumerate(raw):
            out += row.tobytes()
            out += self._annotation_block(self.n_records + k)
        return bytes(out)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        self._progress = 0
        while view:
            n = _raw_write(self._fd, view)
            view = view[n:]
            self._progress += n

    @property
    def part_path(self) -> Path:
        """Where the first flush is written before it is renamed to :attr:`path`."""
        return self.path.with_name(self.path.name + ".part")

    def flush(self) -> None:
        """Write the complete records and patch the header's record count.

        Raises :class:`RawWriteError` when the disk refuses; the file is then
        cut back to its whole records and this writer writes nothing more.
        """
        if self.failed is not None:
            raise self.failed
        if not self._done:
            return
        records, self._done = self._done, []
        body = self._encode(records)
        first = self._fd is None
        try:
            if first:
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
                self._fd = open_private(self.part_path, flags)     # health data: 0600
                self._write(self.header(len(records)) + body)
                os.replace(self.part_path, self.path)              # complete, so it gets its name
            else:
                os.lseek(self._fd, 0, os.SEEK_END)
                self._write(body)
                os.lseek(self._fd, 236, os.SEEK_SET)
                self._write(_ascii(str(self.n_records + len(records)), 8))
            self.n_records += len(records)
            first = False                                          # the file is whole again
            if time.monotonic() - self._last_sync >= self.fsync_s:
                os.fsync(self._fd)
                self._last_sync = time.monotonic()
        except OSError as err:
            self._salvage(first, len(records))
            self.failed = RawWriteError(
                f"{self.path}: cannot write raw EMG ({err.strerror or err}); "
                f"{self.n_records} data record(s) already saved are intact",
                self.path, self.n_records, self.record_s)
            raise self.failed from None

    def _salvage(self, first: bool, n_new: int) -> None:
        """After a failed write: keep whole records only, with a header that counts them."""
        if self._fd is None:
            return
        head = len(self.header(0))
        try:
            if first:
                whole = max(0, (self._progress - head) // self.record_bytes) if self._progress > head else 0
                whole = min(whole, n_new)
                if whole:                       # part of the first write made it: keep those records
                    os.ftruncate(self._fd, head + whole * self.record_bytes)
                    os.lseek(self._fd, 236, os.SEEK_SET)
                    os.write(self._fd, _ascii(str(whole), 8))
                    os.replace(self.part_path, self.path)
                    self.n_records = whole
                else:                           # nothing usable: no file
                    os.unlink(self.part_path)
            else:                               # a torn record at the end: cut it off
                os.ftruncate(self._fd, head + self.n_records * self.record_bytes)
        except OSError as err:
            log.warning("%s: could not tidy the file after the failed write (%s); readers still stop "
                        "at its last whole record", self.path.name, err.strerror or err)

    def abandon(self) -> None:
        """Close without writing anything more (after a failed write). Safe twice."""
        self.closed = True
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.close(fd)
            except OSError:
                pass

    def close(self) -> None:
        """Pad the last record (annotated), write everything, sync, close. Safe twice."""
        if self.closed:
            return
        if self.failed is not None:
            self.abandon()
            return
        self.closed = True
        try:
            if self._pos:
                pad = self.spr - self._pos
                self.annotate_file_time(self.duration_s + self._frac, pad / self.fs,
                                        "no data (padding to the record end)")
                self.append(np.zeros((pad, len(self.ch_names))))
                self.n_samples -= pad
            self.flush()
            if self._ann and self._fd is not None:
                try:
                    self._place_leftovers()
                except OSError as err:
                    raise RawWriteError(f"{self.path}: cannot write annotations ({err.strerror or err}); "
                                        f"its {self.n_records} data record(s) are intact",
                                        self.path, self.n_records, self.record_s) from None
            if self._ann:
                self.n_ann_dropped += len(self._ann)
                log.warning("%s: %d annotation(s) did not fit in the file (they are in the database)",
                            self.path.name, len(self._ann))
            if self._fd is not None:
                os.fsync(self._fd)
        finally:
            if self._fd is not None:
                fd, self._fd = self._fd, None
                os.close(fd)


class RotatingEdfWriter:
    """The night's raw EMG as a series of EDF+C/BDF+C files.

    A new file starts every ``rotate_s`` of signal (at a record boundary),
    after a gap longer than one data record (a reconnect, a long dropout), and
    the files are named ``<stem>_<NNN>.edf`` (``.bdf``). Records are flushed
    every ``flush_s`` of stream time (at most every ``flush_wall_s`` of wall
    time when running faster than real time).

    Parameters
    ----------
    out_dir : path
    stem : str
    fs, ch_names : as the source
    wall0 : float
        Host clock (s since the epoch) of stream time 0; sample ``seq`` is at
        ``wall0 + seq / fs`` (the sample counter is the clock).
    on_file : callable, optional
        ``on_file(info: dict)`` when a file is opened, flushed or closed
        (``path``, ``start_s``, ``end_s``, ``n_records``, ``format``, ``closed``).
    writer_kw :
        Passed to :class:`EdfPlusWriter` (``bdf``, ``range_uv``, ``equipment``...).
    """

    def __init__(self, out_dir, stem: str, fs: float, ch_names, wall0: float, *, rotate_s: float = 3600.0,
                 flush_s: float = 2.0, flush_wall_s: float = 0.25, on_file: Callable | None = None,
                 **writer_kw):
        self.out_dir = Path(out_dir)
        self.stem = stem
        self.fs = float(fs)
        self.ch_names = tuple(ch_names)
        self.wall0 = float(wall0)
        self.rotate_s = float(rotate_s)
        self.flush_s = float(flush_s)
        self.flush_wall_s = float(flush_wall_s)
        self.on_file = on_file
        self.writer_kw = writer_kw
        self.bdf = bool(writer_kw.get("bdf", False))
        self.files: list[dict] = []
        self.current: EdfPlusWriter | None = None
        self._seq0 = 0            # seq of the current file's first sample
        self._next = None         # seq expected next
        self._flushed_at = 0.0
        self._flushed_wall = time.monotonic()
        #: The :class:`RawWriteError` that stopped raw writing (None while writing).
        self.stopped: RawWriteError | None = None
        if not self.rotate_s > 0:
            raise ValueError("rotate_s must be positive")
        self.max_fill = record_layout(self.fs)[1]

    @property
    def ext(self) -> str:
        return ".bdf" if self.bdf else ".edf"

    def _info(self, closed=False) -> dict:
        w = self.current
        n = w.n_records * w.spr if w.failed is not None else w.n_samples   # failed: what is on disk
        return {"path": str(w.path), "format": "BDF+C" if self.bdf else "EDF+C",
                "start_s": self._seq0 / self.fs, "end_s": (self._seq0 + n) / self.fs,
                "n_records": w.n_records, "closed": closed, "index": len(self.files)}

    def _open(self, seq: int) -> None:
        private_dir(self.out_dir)
        k = len(self.files) + 1
        path = self.out_dir / f"{self.stem}_{k:03d}{self.ext}"
        self.current = EdfPlusWriter(path, self.fs, self.ch_names, self.wall0 + seq / self.fs,
                                     **self.writer_kw)
        self._seq0 = seq
        self.files.append(self._info())
        self._tell(False)

    def _tell(self, closed: bool) -> None:
        self.files[-1] = self._info(closed)
        if self.on_file is not None:
            self.on_file(dict(self.files[-1]))

    def _close_current(self) -> None:
        if self.current is not None:
            self.current.close()
            self._tell(True)
            self.current = None

    def _stop(self, err: RawWriteError) -> RawWriteError:
        """Raw writing failed: keep the file's whole records, close it, write nothing more."""
        self.stopped = err
        if self.current is not None:
            self.current.abandon()
            try:
                self._tell(True)
            finally:
                self.current = None
        log.info("raw EMG: stopped (%s)", err)
        return err

    @property
    def recorded_s(self) -> float:
        """Stream time up to which raw EMG is on disk in whole records (all files)."""
        if not self.files:
            return 0.0
        last = self.files[-1]
        rec_s = record_layout(self.fs)[0]
        return last["start_s"] + last["n_records"] * rec_s

    def write(self, seq: int, data: np.ndarray, gap_reason: str = "dropped samples") -> None:
        """Append samples starting at stream index ``seq`` (a jump is a gap).

        Raises :class:`RawWriteError` once when the disk refuses; every later
        call does nothing (:attr:`stopped` holds the error)."""
        if len(data) == 0 or self.stopped is not None:
            return
        try:
            self._write_samples(seq, data, gap_reason)
        except RawWriteError as err:
            raise self._stop(err) from None

    def _write_samples(self, seq: int, data: np.ndarray, gap_reason: str) -> None:
        if self._next is not None and seq > self._next:
            missing = seq - self._next
            if missing <= self.max_fill and self.current is not None:
                self.current.fill(missing, gap_reason)
            else:
                log.info("raw EMG: gap of %.1f s at %.1f s; starting a new file", missing / self.fs,
                         self._next / self.fs)
                self._close_current()
        elif self._next is not None and seq < self._next:
            raise ValueError(f"samples go back in time (seq {seq} < {self._next})")
        i = 0
        while i < len(data):
            if self.current is None:
                self._open(seq + i)
            room = int(round(self.rotate_s * self.fs)) - self.current.n_samples
            if room <= 0:
                self._close_current()
                continue
            take = min(room, len(data) - i)
            self.current.append(data[i:i + take])
            i += take
        self._next = seq + len(data)
        behind = self._next / self.fs - self._flushed_at
        # every flush_s of signal; faster than real time, at most every flush_wall_s of wall
        # time (or every minute of signal), so max-speed replay is not slowed by tiny writes
        if behind >= self.flush_s and (time.monotonic() - self._flushed_wall >= self.flush_wall_s
                                       or behind >= 60.0):
            self.flush()

    def annotate(self, start_s: float, end_s: float | None, text: str) -> None:
        """Annotate stream times ``start_s``..``end_s`` in the current file (clipped to its start)."""
        if self.current is None or self.stopped is not None:
            return
        f0 = self._seq0 / self.fs
        if start_s < f0:
            text = f"{text} (began {start_s - f0:.1f} s before this file)"
        onset = max(start_s, f0) - f0
        dur = None if end_s is None else max(0.0, end_s - max(start_s, f0))
        self.current.annotate(onset, dur, text)

    def flush(self) -> None:
        if self.current is not None and self.stopped is None:
            before = self.current.n_records
            try:
                self.current.flush()
            except RawWriteError as err:
                raise self._stop(err) from None
            if self.current.n_records != before:
                self._tell(False)
        self._flushed_at = (self._next or 0) / self.fs
        self._flushed_wall = time.monotonic()

    def close(self) -> None:
        """Close the current file. Raises :class:`RawWriteError` if its last records cannot be
        written (the file keeps its whole records)."""
        if self.stopped is not None:
            return
        try:
            self._close_current()
        except RawWriteError as err:
            raise self._stop(err) from None
