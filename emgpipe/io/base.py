"""What every reader returns: a :class:`Recording`, and helpers shared by readers.

A recording is a list of contiguous *segments* (first sample index, samples):
samples that a device lost are not filled in, they are a jump in the sample
index between segments, reported as :class:`~emgpipe.types.Gap` objects.

Readers return a :class:`StreamedRecording`: its header facts (``fs``,
channels, ``meta``) are read when the file is opened, and its samples are
read from the file, block by block, each time :meth:`Recording.iter_chunks`
runs (memory flat in the recording's length, issue 15). ``segments`` and
``to_array()`` still give every sample at once (tests, plots, offline tools):
they are built from the same block stream.
"""
from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from typing import Callable, Iterator, NamedTuple

import numpy as np

from ..errors import BadData
from ..types import Chunk, Gap

log = logging.getLogger(__name__)

#: Largest plausible sample magnitude (µV): 1 V at the electrodes is far beyond
#: the input range of any sEMG amplifier (ADS1299 at gain 1: ±4.5 V *before*
#: the gain, ±187 mV at gain 24; MyoWare: a few mV). A larger value is corrupt
#: data or a wrong unit/scale, never muscle.
MAX_ABS_UV = 1e6
#: Reason of the gap that replaces such samples (-> ``signal_loss`` events).
REASON_ABSURD = "absurd values (beyond ±1 V or not finite: saturation or corrupt data)"
#: After this many rows of a pass, a recording whose values are mostly absurd is
#: rejected (a file in the wrong unit, e.g. scaled by 1e6) instead of being one gap.
ABSURD_DECIDE_ROWS = 2000
ABSURD_REJECT_FRACTION = 0.5


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

    @property
    def duration_hint_s(self) -> float:
        """Duration for a progress bar: exact here; cheap estimate on a :class:`StreamedRecording`."""
        return self.duration_s

    def learned(self) -> dict:
        """What a pass over the samples (:meth:`iter_chunks`) taught this recording, for
        :meth:`learn` on another copy of it (the two processes of a replay,
        :mod:`emgpipe.split`): its ``meta`` (e.g. a dropped last line)."""
        return {"meta": dict(self.meta)}

    def learn(self, facts: dict) -> None:
        """Take what another copy's pass learnt (:meth:`learned`)."""
        self.meta.update(facts["meta"])

    def iter_chunks(self, chunk_s: float = 1.0, source_id: str | None = None,
                    start_s: float = 0.0, stop_s: float | None = None) -> Iterator[Chunk]:
        """Yield the recording as chunks of about ``chunk_s`` seconds.

        The first chunk after a gap carries the gap in ``attrs["gaps"]``.
        ``start_s``/``stop_s`` select a part (stream times stay those of the file).
        Chunks start at each segment's first sample (or ``start_s``) and are
        ``chunk_s`` long except the last of each segment.
        """
        n, sid, first, last = self._chunk_plan(chunk_s, source_id, start_s, stop_s)
        if last is None:
            last = self.n_total
        gaps_by_end = {g.seq + g.n_missing: g for g in self.gaps}
        yield from _chunk_segments(((seq, data, gaps_by_end.get(seq)) for seq, data in self.segments),
                                   n, first, last, self, sid)

    def _chunk_plan(self, chunk_s, source_id, start_s, stop_s):
        n = max(1, int(round(chunk_s * self.fs)))
        sid = source_id if source_id is not None else f"file:{self.path}"
        first = int(math.ceil(start_s * self.fs - 1e-9))
        last = None if stop_s is None else int(math.floor(stop_s * self.fs + 1e-9))
        return n, sid, first, last


def _chunk_segments(segments, n, first, last, rec, sid):
    """Chunks of whole segments ``(seq, data, gap ending at seq or None)`` (in-memory path)."""
    for seq, data, gap in segments:
        lo, hi = max(seq, first), min(seq + len(data), last)
        if hi <= lo:
            continue
        pending = gap if lo == seq else None
        for a in range(lo, hi, n):
            b = min(a + n, hi)
            attrs = {}
            if pending is not None:
                attrs["gaps"] = (pending,)
                pending = None
            yield Chunk(data[a - seq:b - seq], fs=rec.fs, t0=a / rec.fs, seq=a,
                        ch_names=rec.ch_names, units=rec.units, source_id=sid, attrs=attrs)


class Block(NamedTuple):
    """A run of contiguous samples from a reader's block stream.

    ``gap`` is the :class:`Gap` that ends right before ``seq`` (None if none).
    A block whose ``seq`` is not the previous block's end starts a new segment.
    """

    seq: int
    data: np.ndarray
    gap: Gap | None = None


class StreamedRecording(Recording):
    """A recording whose samples are read from its file as they are iterated.

    Parameters
    ----------
    path, fs, ch_names, units, meta
        As :class:`Recording` (known when the file is opened).
    blocks : callable
        ``blocks()`` opens the file and yields :class:`Block` objects in order,
        reading it incrementally (bounded memory); errors in the data are
        raised when the block holding them is read.
    n_total : int, optional
        Samples spanned, when the header says it exactly (EDF, WFDB).
    gaps : list of Gap, optional
        When known without reading the samples (EDF+D record onsets).
    duration_hint_s : float, optional
        Estimate for a progress bar when the duration is not known exactly.

    ``segments``, ``gaps``, ``n_total`` and the other whole-file facts are
    computed on first use from one pass over ``blocks()``: ``segments`` keeps
    the samples (whole-array access), the others keep only counts and gaps.
    A complete :meth:`iter_chunks` pass also records them.
    """

    def __init__(self, path, fs, ch_names, blocks: Callable[[], Iterator[Block]], units: str = "uV",
                 meta: dict | None = None, n_total: int | None = None, gaps: list | None = None,
                 duration_hint_s: float | None = None):
        self.path = path
        self.fs = float(fs)
        self.ch_names = tuple(ch_names)
        self.units = units
        self.meta = meta if meta is not None else {}
        self._raw_blocks = blocks
        self._absurd_warned = False
        self._segments = None
        self._gaps = None if gaps is None else list(gaps)
        self._n_total = n_total
        self._n_present = None
        self._hint = duration_hint_s
        if not (self.fs > 0 and math.isfinite(self.fs)):
            raise BadData(self.path, f"sample rate must be positive, got {fs!r}")

    def __repr__(self):
        return (f"StreamedRecording(path={self.path!r}, fs={self.fs:g}, ch_names={self.ch_names}, "
                f"format={self.meta.get('format')!r})")

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    # absurd values -----------------------------------------------------------
    def _blocks(self) -> Iterator[Block]:
        """The reader's blocks with absurd samples (non-finite, or beyond ±:data:`MAX_ABS_UV`)
        cut out: the rows holding them become a :class:`Gap` (reason :data:`REASON_ABSURD`),
        which the pipeline reports as ``signal_loss`` like a device's lost samples.

        One warning per recording names the file, the first bad channel, its time and
        value. A recording whose values are mostly absurd (a wrong unit or scale) is
        :class:`BadData` instead.
        """
        if self.units != "uV":
            yield from self._raw_blocks()
            return
        from . import _fast
        pend, pend_end = None, 0          # gap to attach to the next good piece; where it ends
        rows_seen, vals_seen, vals_bad = 0, 0, 0
        first = None                      # (time, channel, value) of the first bad value
        decided = False
        for blk in self._raw_blocks():
            data = blk.data
            if blk.gap is not None:
                if pend is not None and blk.seq > pend.seq:
                    pend = Gap(pend.seq, blk.seq - pend.seq, self.fs, f"{pend.reason}; {blk.gap.reason}")
                else:
                    pend = blk.gap
                pend_end = blk.seq
            elif pend is not None and blk.seq > pend_end:
                pend, pend_end = Gap(pend.seq, blk.seq - pend.seq, self.fs, pend.reason), blk.seq
            if len(data) == 0:
                continue
            rows_seen += len(data)
            vals_seen += data.size
            if _fast.all_within(data, MAX_ABS_UV):            # the usual case: one compiled pass
                if not decided and rows_seen >= ABSURD_DECIDE_ROWS:
                    decided = True
                    self._absurd_verdict(first, vals_bad, vals_seen, rows_seen)
                elif decided and first is not None:
                    self._absurd_warn(first)
                yield Block(blk.seq, data, pend)
                pend = None
                continue
            with np.errstate(invalid="ignore"):
                bad = ~(np.abs(data) <= MAX_ABS_UV)            # NaN compares False: bad
            rows = bad.any(axis=1)
            if rows.any():
                vals_bad += int(bad.sum())
                if first is None:
                    r, c = np.argwhere(bad)[0]
                    first = ((blk.seq + int(r)) / self.fs, self.ch_names[int(c)], float(data[r, c]))
            if not decided and rows_seen >= ABSURD_DECIDE_ROWS:
                decided = True
                self._absurd_verdict(first, vals_bad, vals_seen, rows_seen)
            elif decided and first is not None:
                self._absurd_warn(first)
            if not rows.any():
                yield Block(blk.seq, data, pend)
                pend = None
                continue
            edges = np.flatnonzero(np.diff(rows.astype(np.int8))) + 1
            for a, b in zip(np.concatenate(([0], edges)), np.concatenate((edges, [len(data)]))):
                a, b = int(a), int(b)
                s0 = blk.seq + a
                if not rows[a]:
                    yield Block(s0, data[a:b], pend)
                    pend = None
                elif pend is not None and pend_end == s0:
                    reason = pend.reason if REASON_ABSURD in pend.reason else \
                        f"{pend.reason}; {REASON_ABSURD}"
                    pend, pend_end = Gap(pend.seq, pend.n_missing + b - a, self.fs, reason), blk.seq + b
                else:
                    pend, pend_end = Gap(s0, b - a, self.fs, REASON_ABSURD), blk.seq + b
        if not decided:
            self._absurd_verdict(first, vals_bad, vals_seen, rows_seen)
        # a bad run at the very end has no sample after it to carry its gap: the
        # recording ends before it (the warning above names where).

    def _absurd_verdict(self, first, vals_bad, vals_seen, rows_seen):
        if first is None:
            return
        if vals_seen and vals_bad / vals_seen >= ABSURD_REJECT_FRACTION:
            t, ch, v = first
            raise BadData(self.path, f"{100 * vals_bad / vals_seen:.0f}% of the values in the first "
                                     f"{rows_seen / self.fs:.3g} s are beyond any amplifier's range "
                                     f"(±1 V) or not finite (channel '{ch}' at {t:.3f} s: {v:g} µV): "
                                     f"wrong unit or scale (a file scaled by 1e6?)")
        self._absurd_warn(first)

    def _absurd_warn(self, first):
        if self._absurd_warned:
            return
        self._absurd_warned = True
        t, ch, v = first
        what = "not a finite number" if not math.isfinite(v) else "beyond any amplifier's range (±1 V)"
        log.warning("%s: channel '%s' at %.3f s is %g µV, %s; such samples are left out and "
                    "reported as signal loss", self.path, ch, t, v, what)

    # whole-file facts -------------------------------------------------------
    def _scan(self, keep: bool) -> None:
        segments, gaps, n_present, end = [], [], 0, 0
        cur = None                                   # (seq, [arrays]) of the open segment
        for blk in self._blocks():
            if blk.gap is not None:
                gaps.append(blk.gap)
            if len(blk.data) == 0:
                continue
            if keep:
                if cur is not None and blk.seq == end:
                    cur[1].append(blk.data)
                else:
                    if cur is not None:
                        segments.append(cur)
                    cur = (blk.seq, [blk.data])
            n_present += len(blk.data)
            end = blk.seq + len(blk.data)
        if keep:
            if cur is not None:
                segments.append(cur)
            self._segments = [(int(s), parts[0] if len(parts) == 1 else np.concatenate(parts))
                              for s, parts in segments]
        self._done(gaps, n_present, end)

    def _done(self, gaps, n_present, end):
        self._gaps, self._n_present, self._n_total = list(gaps), n_present, end

    def learned(self) -> dict:
        """As :meth:`Recording.learned`, with the gaps and counts of a complete pass."""
        facts = super().learned()
        facts["absurd_warned"] = self._absurd_warned
        if self._gaps is not None and self._n_present is not None:
            facts["done"] = (self._gaps, self._n_present, self._n_total)
        return facts

    def learn(self, facts: dict) -> None:
        super().learn(facts)
        self._absurd_warned = self._absurd_warned or facts.get("absurd_warned", False)
        if "done" in facts:
            self._done(*facts["done"])

    @property
    def segments(self) -> list:
        """Every sample, as ``(seq, data)`` segments (reads the whole file into memory)."""
        if self._segments is None:
            self._scan(keep=True)
        return self._segments

    @segments.setter
    def segments(self, value):
        self._segments = value

    @property
    def gaps(self) -> list:
        if self._gaps is None:
            self._scan(keep=False)
        return self._gaps

    @gaps.setter
    def gaps(self, value):
        self._gaps = list(value)

    @property
    def n_total(self) -> int:
        if self._n_total is None:
            self._scan(keep=False)
        return self._n_total

    @property
    def n_present(self) -> int:
        if self._n_present is None:
            if self._segments is not None:
                return sum(len(d) for _, d in self._segments)
            self._scan(keep=False)
        return self._n_present

    @property
    def duration_hint_s(self) -> float:
        """Exact duration when known (header, or after a pass), else the reader's estimate."""
        if self._n_total is not None:
            return self._n_total / self.fs
        return self._hint if self._hint is not None else 0.0

    # streaming ---------------------------------------------------------------
    def iter_chunks(self, chunk_s: float = 1.0, source_id: str | None = None,
                    start_s: float = 0.0, stop_s: float | None = None) -> Iterator[Chunk]:
        """As :meth:`Recording.iter_chunks`, reading the file block by block
        (unless ``segments`` was already loaded). Same chunks either way."""
        if self._segments is not None:
            yield from super().iter_chunks(chunk_s, source_id, start_s, stop_s)
            return
        n, sid, first, last = self._chunk_plan(chunk_s, source_id, start_s, stop_s)
        gaps, n_present, end = [], 0, 0
        seg_seq = None                 # first sample of the open segment
        pending = None                 # gap for the open segment's first chunk
        buf, buf_a, seen = [], 0, 0    # samples [buf_a, seen) of the open segment, not yet yielded

        def chunks(final):
            nonlocal buf, buf_a, pending
            if seen <= buf_a:
                return
            data = buf[0] if len(buf) == 1 else np.concatenate(buf)
            base, a = buf_a, buf_a
            while a < seen and (final or a + n <= seen):
                b = min(a + n, seen)
                attrs = {}
                if pending is not None:
                    attrs["gaps"] = (pending,)
                    pending = None
                yield Chunk(data[a - base:b - base], fs=self.fs, t0=a / self.fs, seq=a,
                            ch_names=self.ch_names, units=self.units, source_id=sid, attrs=attrs)
                a = b
            buf, buf_a = ([data[a - base:seen - base]] if seen > a else []), a

        complete = True
        for blk in self._blocks():
            if blk.gap is not None:
                gaps.append(blk.gap)
            m = len(blk.data)
            if m == 0:
                continue
            if seg_seq is None or blk.seq != end:          # a new segment begins
                yield from chunks(True)
                seg_seq = blk.seq
                lo = max(seg_seq, first)
                pending = blk.gap if lo == seg_seq else None
                buf, buf_a, seen = [], lo, lo
            n_present += m
            end = blk.seq + m
            a = max(blk.seq, lo)
            b = end if last is None else min(end, last)
            if b > a:
                buf.append(blk.data[a - blk.seq:b - blk.seq])
                seen = b
                yield from chunks(False)
            if last is not None and end >= last:
                complete = False
                break
        yield from chunks(True)
        if complete:
            self._done(gaps, n_present, end)


class Splitter:
    """Turn rows with a per-row count of samples lost *before* each row into :class:`Block` s.

    The streaming form of :func:`segments_from_missing`: state (the next
    sample index) carries over from one :meth:`feed` to the next, so a gap
    found between two file blocks is reported as if the file were one block.

    Examples
    --------
    >>> sp = Splitter(1000.0)
    >>> out = list(sp.feed(np.zeros((3, 1)), np.array([0, 0, 2]), "x")) + list(
    ...     sp.feed(np.zeros((2, 1)), np.array([1, 0]), "x"))
    >>> [(b.seq, len(b.data), b.gap and (b.gap.seq, b.gap.n_missing)) for b in out]
    [(0, 2, None), (4, 1, (2, 2)), (6, 2, (5, 1))]
    """

    def __init__(self, fs: float, seq: int = 0, pending: Gap | None = None):
        self.fs = fs
        self.seq = int(seq)
        self.pending = pending
        self.gaps = []
        if pending is not None:
            self.gaps.append(pending)

    def feed(self, data: np.ndarray, before: np.ndarray, reason) -> Iterator[Block]:
        """``before[i]`` samples were lost right before row ``i``; ``reason`` is a
        string or ``reason(i)`` for the gap before row ``i``."""
        before = np.asarray(before)
        start = 0
        for b in np.flatnonzero(before > 0):
            b = int(b)
            if b > start:
                yield self._piece(data[start:b])
            why = reason(b) if callable(reason) else reason
            g = Gap(seq=self.seq, n_missing=int(before[b]), fs=self.fs, reason=why)
            self.gaps.append(g)
            self.seq += g.n_missing
            self.pending = g
            start = b
        if start < len(data):
            yield self._piece(data[start:])

    def _piece(self, data):
        blk = Block(self.seq, data, self.pending)
        self.pending = None
        self.seq += len(data)
        return blk


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
