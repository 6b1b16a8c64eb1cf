"""EDF, EDF+ and BDF(+) recordings, streamed data record by data record.

- The fixed-size header (256 bytes + 256 per signal; EDF spec, Kemp et al.
  1992; EDF+ spec, Kemp & Olivan 2003; BDF = BioSemi's 24-bit variant with
  version ``\\xffBIOSEMI``) is parsed here by :func:`parse_header` (pure, on
  bytes) to validate the file and to find the data records. Samples are
  decoded here, a block of whole data records (about 1 MB) at a time, with
  edfio's calibration formula (so values equal edfio's bit for bit); edfio's
  TAL parser reads the annotations. (edfio and pyedflib can read parts of a
  file, but edfio memory-maps EDF and reads whole BDF files, and its
  annotations touch every record: reading the records ourselves keeps the
  resident memory one block.)
- Signals: annotation signals are never data. Of the others, those whose
  physical dimension is a voltage (``uV``/``µV``/``mV``/``V``/``nV``) are
  read; if some labels say ``EMG``, only those. All read signals must share
  one sample rate: signals at the most common rate are kept and the others
  dropped with a warning (``meta["dropped_signals"]``); ``channels=[...]``
  chooses explicitly (and must name signals of one rate).
- Units are scaled to µV. EDF+ annotations go to ``meta["annotations"]``
  (``onset_s``, ``duration_s``, ``text``).
- EDF+D (discontinuous): each data record's start time comes from its
  time-keeping annotation; a record starting later than the previous one
  ends becomes a :class:`~emgpipe.types.Gap`.
- Truncation: a file cut inside its last data record (or with ``-1`` records,
  as a recorder leaves it while writing) is read up to its last whole record,
  with a warning and ``meta["dropped_bytes"]``.
"""
from __future__ import annotations

import logging
import os
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..errors import BadData, BadHeader, UsageError
from ..types import Gap
from .base import Recording, Splitter, StreamedRecording
from ._text import check_samples_finite, name_of, reject_options, unique_names

log = logging.getLogger(__name__)

FORMAT = "edf"
#: physical dimension (lower case) -> factor to µV
UNIT_TO_UV = {"uv": 1.0, "µv": 1.0, "μv": 1.0, "microvolt": 1.0, "microvolts": 1.0,
              "mv": 1e3, "millivolt": 1e3, "v": 1e6, "volt": 1e6, "nv": 1e-3}
ANNOTATION_LABELS = ("EDF Annotations", "BDF Annotations")


@dataclass
class Signal:
    label: str
    transducer: str
    dimension: str
    physical_min: float
    physical_max: float
    digital_min: int
    digital_max: int
    prefilter: str
    samples_per_record: int

    @property
    def is_annotation(self) -> bool:
        return self.label.strip() in ANNOTATION_LABELS


@dataclass
class Header:
    bdf: bool
    flavour: str               # "EDF", "EDF+C", "EDF+D", "BDF", "BDF+C", "BDF+D"
    header_bytes: int
    n_records: int             # -1 while a recorder is still writing
    record_s: float
    signals: list
    start: str                 # "dd.mm.yy hh.mm.ss"

    @property
    def sample_bytes(self) -> int:
        return 3 if self.bdf else 2

    @property
    def record_bytes(self) -> int:
        return self.sample_bytes * sum(s.samples_per_record for s in self.signals)


def _field(raw: bytes, a: int, b: int) -> str:
    """A header field as text; bytes outside printable text (the spec allows ASCII 32-126)
    become '?', so an error quoting a corrupt field stays one line."""
    return "".join(c if c.isprintable() else "?" for c in raw[a:b].decode("latin-1")).strip()


def parse_header(raw: bytes, path=None) -> Header:
    """Parse an EDF/BDF header from the file's first bytes (pure).

    Examples
    --------
    >>> hdr = (b"0".ljust(8) + b" " * 160 + b"01.01.24" + b"10.00.00" + b"512".ljust(8)
    ...        + b"EDF+C".ljust(44) + b"10".ljust(8) + b"1".ljust(8) + b"1".ljust(4)
    ...        + b"EMG TA".ljust(16) + b" " * 80 + b"uV".ljust(8) + b"-500".ljust(8)
    ...        + b"500".ljust(8) + b"-32768".ljust(8) + b"32767".ljust(8) + b" " * 80
    ...        + b"1000".ljust(8) + b" " * 32)
    >>> h = parse_header(hdr)
    >>> h.flavour, h.n_records, h.record_s, h.signals[0].label, h.signals[0].samples_per_record
    ('EDF+C', 10, 1.0, 'EMG TA', 1000)
    """
    if len(raw) < 256:
        raise BadHeader(path, f"only {len(raw)} bytes: shorter than an EDF header (256)")
    bdf = raw[:8] == b"\xffBIOSEMI"
    if not bdf and raw[:8] != b"0       ":
        raise BadHeader(path, f"byte 0: not an EDF/BDF file (version field {raw[:8]!r})")
    try:
        header_bytes = int(_field(raw, 184, 192))
        n_records = int(_field(raw, 236, 244))
        record_s = float(_field(raw, 244, 252))
        ns = int(_field(raw, 252, 256))
    except ValueError:
        raise BadHeader(path, "bytes 184-256: header sizes are not numbers") from None
    if ns < 1 or header_bytes != 256 * (ns + 1):
        raise BadHeader(path, f"header says {ns} signals and {header_bytes} header bytes "
                              f"(expected {256 * (ns + 1)})")
    if len(raw) < header_bytes:
        raise BadHeader(path, f"file ends inside the header ({len(raw)} of {header_bytes} bytes)")
    reserved = _field(raw, 192, 236)
    kind = "BDF" if bdf else "EDF"
    flavour = kind + ("+D" if reserved.endswith("+D") else "+C" if reserved.endswith("+C") else "")

    def col(off, width, k):
        a = 256 + off * ns + width * k
        return _field(raw, a, a + width)

    offs = {}
    pos = 0
    for name, width in (("label", 16), ("transducer", 80), ("dimension", 8), ("pmin", 8),
                        ("pmax", 8), ("dmin", 8), ("dmax", 8), ("prefilter", 80), ("spr", 8),
                        ("reserved", 32)):
        offs[name] = (pos, width)
        pos += width
    signals = []
    for k in range(ns):
        get = {name: col(o, w, k) for name, (o, w) in offs.items()}
        try:
            signals.append(Signal(get["label"], get["transducer"], get["dimension"],
                                  float(get["pmin"]), float(get["pmax"]), int(get["dmin"]),
                                  int(get["dmax"]), get["prefilter"], int(get["spr"])))
        except ValueError:
            label = "".join(c if c.isprintable() else "?" for c in get["label"])
            raise BadHeader(path, f"signal {k + 1} ('{label}'): range or samples-per-record "
                                  f"field is not a number") from None
    if not record_s > 0 and any(not s.is_annotation for s in signals):
        raise BadHeader(path, f"data record duration must be positive, got {record_s:g}")
    return Header(bdf, flavour, header_bytes, n_records, record_s, signals,
                  f"{_field(raw, 168, 176)} {_field(raw, 176, 184)}")


def record_onsets(raw: bytes, h: Header, n_records: int) -> np.ndarray:
    """Start time (s) of each data record from its EDF+ time-keeping TAL."""
    ann = next(k for k, s in enumerate(h.signals) if s.is_annotation)
    start = h.sample_bytes * sum(s.samples_per_record for s in h.signals[:ann])
    size = h.sample_bytes * h.signals[ann].samples_per_record
    out = np.empty(n_records)
    for r in range(n_records):
        a = h.header_bytes + r * h.record_bytes + start
        m = re.match(rb"([+-]\d+(?:\.\d+)?)\x14\x14", raw[a:a + size])
        if not m:
            raise BadData(None, f"data record {r + 1} has no time-keeping annotation")
        out[r] = float(m.group(1))
    return out


def _select(path, h: Header, channels):
    data_sig = [k for k, s in enumerate(h.signals) if not s.is_annotation]
    fs = {k: h.signals[k].samples_per_record / h.record_s for k in data_sig}
    labels = [h.signals[k].label for k in data_sig]
    if channels is not None:
        want = [channels] if isinstance(channels, (str, int)) else list(channels)
        pick = []
        for c in want:
            if isinstance(c, int) and 0 <= c < len(data_sig):
                pick.append(data_sig[c])
            elif c in labels:
                pick.append(data_sig[labels.index(c)])
            else:
                raise UsageError(f"{name_of(path)}: no signal {c!r} (signals: {', '.join(labels)})")
        rates = sorted({fs[k] for k in pick})
        if len(rates) > 1:
            raise BadHeader(path, "chosen signals have different sample rates: " + ", ".join(
                f"'{h.signals[k].label}' {fs[k]:g} Hz" for k in pick))
        return pick, []
    volt = [k for k in data_sig if h.signals[k].dimension.lower() in UNIT_TO_UV]
    if not volt:
        dims = ", ".join(f"'{h.signals[k].label}' [{h.signals[k].dimension}]" for k in data_sig)
        raise BadHeader(path, f"no signal in volts (uV/mV/V/nV): {dims}")
    emg = [k for k in volt if "EMG" in h.signals[k].label.upper()]
    cand = emg or volt
    rate, _ = Counter(fs[k] for k in cand).most_common(1)[0]
    keep = [k for k in cand if fs[k] == rate]
    dropped = [h.signals[k].label for k in cand if fs[k] != rate]
    if dropped:
        log.warning("%s: signals at other rates than %g Hz dropped: %s", name_of(path), rate,
                    ", ".join(dropped))
    return keep, dropped


#: Bytes of data records read at a time when streaming (whole records, at least one).
BLOCK_BYTES = 1 << 20


def _gain_offset(sig: Signal):
    """edfio's calibration: ``(digital + offset) * gain`` (None: uncalibrated)."""
    try:
        gain = (sig.physical_max - sig.physical_min) / (sig.digital_max - sig.digital_min)
        offset = sig.physical_max / gain - sig.digital_max
    except ZeroDivisionError:
        log.warning("signal '%s': digital or physical range is empty; samples not calibrated", sig.label)
        return None
    return gain, offset


#: Data records whose annotation bytes are read at a time (a few MB; flat in length)
ANNOTATION_BATCH = 65536
#: ... and at most this many bytes of the file mapped at once: a mapped page read counts in
#: the process's resident memory until it is unmapped, so mapping the whole file made the
#: peak grow with the night (an 8-h two-channel EDF+ night: 180 MB instead of 65 MB)
ANNOTATION_MAP_BYTES = 8 << 20


def _annotation_signals(h: Header) -> list[tuple[int, int]]:
    """(byte offset in a data record, size) of every annotation signal."""
    offs, pos = [], 0
    for s in h.signals:
        size = h.sample_bytes * s.samples_per_record
        if s.label.strip() == ("BDF Annotations" if h.bdf else "EDF Annotations"):
            offs.append((pos, size))
        pos += size
    return offs


def _annotation_rows(f, h: Header, n_records: int, offs):
    """(first record, rows): the bytes of every annotation signal, one (span,) uint8 row
    per data record, up to :data:`ANNOTATION_BATCH` records (:data:`ANNOTATION_MAP_BYTES`)
    at a time, each batch read through a memory map of its own, unmapped before the next
    (rather than a seek and a read per record: ~0.1 s of an 8-h night's start, issue 15;
    one map of the whole file kept every page it read resident)."""
    a0 = offs[0][0]
    span = offs[-1][0] + offs[-1][1] - a0
    batch = max(1, min(ANNOTATION_BATCH, ANNOTATION_MAP_BYTES // max(1, h.record_bytes)))
    for r0 in range(0, n_records, batch):
        k = min(batch, n_records - r0)
        mm = np.memmap(f, dtype=np.uint8, mode="r", offset=h.header_bytes + r0 * h.record_bytes,
                       shape=(k, h.record_bytes))
        try:
            rows = np.array(mm[:, a0:a0 + span])
        finally:
            del mm
        yield r0, rows


_DIGIT = np.zeros(256, bool)
_DIGIT[np.frombuffer(b"0123456789", np.uint8)] = True


def _time_keeping_only(rows: np.ndarray) -> np.ndarray:
    """Per row of annotation bytes: True where it is exactly one time-keeping TAL and
    padding, what ``[+-]\\d+(?:\\.\\d+)?\\x14\\x14\\x00+`` matches whole (most records of
    an EDF+ file); the others are parsed one by one."""
    n, w = rows.shape
    if w < 5 or n == 0:
        return np.zeros(n, bool)
    zero = rows == 0
    z = np.argmax(zero, axis=1)                        # the first NUL (0 if none)
    i = np.arange(n)
    # a NUL there, at least "+0\x14\x14" before it, and nothing but NULs after it (every
    # byte before the first NUL is not one, so the row's NULs then number w - z)
    ok = zero[i, z] & (z >= 4) & (np.count_nonzero(zero, axis=1) == w - z)
    ok &= np.isin(rows[:, 0], (ord("+"), ord("-")))
    zc = np.maximum(z, 2)
    ok &= (rows[i, zc - 1] == 0x14) & (rows[i, zc - 2] == 0x14)
    k = int(z[ok].max()) if ok.any() else 0            # the number: digits and at most one inner "."
    head = rows[:, :k]
    col = np.arange(k)
    body = (col >= 1) & (col < (z - 2)[:, None])
    dot = head == ord(".")
    ok &= ~(body & ~_DIGIT[head] & ~dot).any(axis=1)
    n_dot = (body & dot).sum(axis=1)
    ok &= n_dot <= 1
    last = np.maximum(z - 3, 1)
    ok &= (n_dot == 0) | ((rows[:, 1] != ord(".")) & (rows[i, last] != ord(".")))
    return ok


def _scan_annotations(path, f, h: Header, n_records: int):
    """EDF+ annotations (as edfio gives them) and each record's onset (EDF+D), from one
    pass over the annotation bytes only."""
    anns, onsets, sub = [], [], None
    tk = re.compile(rb"([+-]\d+(?:\.\d+)?)\x14\x14")
    tk_only = re.compile(rb"[+-]\d+(?:\.\d+)?\x14\x14\x00+")
    offs = _annotation_signals(h)
    if not offs or n_records <= 0:
        return [], np.asarray(onsets)
    rel = [(o - offs[0][0], size) for o, size in offs]     # within a row of _annotation_rows
    plus_d = h.flavour.endswith("+D")
    for r0, rows in _annotation_rows(f, h, n_records, offs):
        skip = np.zeros(len(rows), bool)
        if not plus_d and len(rel) == 1:              # most records: the time-keeping TAL alone
            skip = _time_keeping_only(rows[:, :rel[0][1]])
        for j in range(len(rows)):
            if skip[j] and sub is not None:
                continue
            r = r0 + j
            row = rows[j].tobytes()
            parts = [row[o:o + size] for o, size in rel]
            if plus_d:
                m = tk.match(parts[0])
                if not m:
                    raise BadData(path, f"data record {r + 1} has no time-keeping annotation")
                onsets.append(float(m.group(1)))
            for i, raw in enumerate(parts):
                if i == 0 and tk_only.fullmatch(raw):
                    if sub is None:           # the first record's onset, as edfio reads it: float(onset)
                        sub = float(tk.match(raw).group(1))
                    continue      # the time-keeping TAL alone (most records): nothing for edfio to parse
                # edfio only for records with annotations (its import: ~12 ms, issue 15)
                from edfio.edf_annotations import _EdfAnnotationsDataRecord
                try:
                    if sub is None:
                        first = raw[: raw.find(b"\x00") + 1]
                        sub = _EdfAnnotationsDataRecord.from_bytes(first).tals[0].onset
                    got = _EdfAnnotationsDataRecord.from_bytes(raw).annotations
                except (ValueError, IndexError, UnicodeDecodeError) as exc:
                    raise BadData(path, f"data record {r + 1}: cannot decode its annotations "
                                        f"({type(exc).__name__}: {exc})".replace("\n", " ")) from None
                anns.extend(got[1:] if i == 0 else got)
    sub = sub or 0
    if anns:
        from edfio.edf_annotations import EdfAnnotation
        anns = sorted(EdfAnnotation(round(a.onset - sub, 12), a.duration, a.text) for a in anns)
    return ([{"onset_s": float(a.onset), "duration_s": None if a.duration is None else float(a.duration),
              "text": a.text} for a in anns], np.asarray(onsets))


def _decode(buf: bytes, h: Header, k: int) -> np.ndarray:
    """``k`` data records -> digital samples (k, samples per record over all signals)."""
    if h.bdf:
        b = np.frombuffer(buf, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        d = b[:, 0] + (b[:, 1] << 8) + (b[:, 2] << 16)
        d[d >= (1 << 23)] -= 1 << 24
    else:
        d = np.frombuffer(buf, dtype="<i2")
    return d.reshape(k, -1)


def read(path, *, channels=None, **opts) -> Recording:
    """Open an EDF/EDF+/BDF/BDF+ file; samples stream from it, a block of data records at a time.

    The header gives the channels and, with the file size, the exact number of
    samples; EDF+ annotations and (EDF+D) each record's onset come from one
    pass over the annotation bytes of each record (seek + read, a few bytes
    per record). Samples are decoded and calibrated as edfio does
    (``(digital + offset) * gain``, then scaled to µV), bit for bit.

    Parameters
    ----------
    path : path-like
    channels : sequence of str or int, optional
        Signals by label or position among the data signals.

    Returns
    -------
    StreamedRecording
        ``meta``: ``format``, ``flavour``, ``annotations``, ``units`` (as in
        the file), ``dropped_signals``, ``start``, ``dropped_bytes``.
    """
    reject_options(path, "EDF/BDF", opts)
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise BadData(path, "file not found") from None
    except IsADirectoryError:
        raise BadData(path, "is a directory, not a recording file") from None
    except OSError as exc:
        raise BadData(path, f"cannot read ({exc.strerror or exc})") from None
    with f:
        try:
            size = os.fstat(f.fileno()).st_size
            head = f.read(256)
            if not head:
                raise BadData(path, "file is empty")
            if len(head) == 256:
                try:
                    ns = int(_field(head, 252, 256))
                except ValueError:
                    ns = 0
                head += f.read(max(0, 256 * ns))
            h = parse_header(head, path)
            body = size - h.header_bytes
            n_full = body // h.record_bytes if h.record_bytes else 0
            declared = h.n_records if h.n_records >= 0 else n_full
            if n_full == 0 or declared == 0:
                raise BadData(path, "no samples (header only)")
            dropped_bytes = 0
            if n_full < declared or h.n_records < 0 or body > n_full * h.record_bytes:
                n_use = min(n_full, declared)
                dropped_bytes = body - n_use * h.record_bytes
                if n_use < declared or dropped_bytes:
                    log.warning("%s: header says %s data records, file holds %d whole ones (%d bytes "
                                "left over); reading %d", name_of(path), h.n_records, n_full,
                                body - n_full * h.record_bytes, n_use)
                declared = n_use
            pick, dropped = _select(path, h, channels)
            annotations, onsets = _scan_annotations(path, f, h, declared)
        except OSError as exc:
            raise BadData(path, f"cannot read ({exc.strerror or exc})") from None
    units, scale = [], []
    for k in pick:
        factor = UNIT_TO_UV.get(h.signals[k].dimension.lower())
        if factor is None:
            raise BadHeader(path, f"signal '{h.signals[k].label}': unit '{h.signals[k].dimension}' "
                                  f"is not a voltage")
        units.append(h.signals[k].dimension)
        scale.append((_gain_offset(h.signals[k]), factor))
    names = [h.signals[k].label for k in pick]
    ch = unique_names(names)
    fs = h.signals[pick[0]].samples_per_record / h.record_s
    per = h.signals[pick[0]].samples_per_record
    starts = np.cumsum([0] + [s.samples_per_record for s in h.signals])
    late = np.zeros(max(0, declared - 1), np.int64)
    if h.flavour.endswith("+D"):
        late = np.rint((np.diff(onsets) - h.record_s) * fs).astype(np.int64)
        if (late < 0).any():
            r = int(np.flatnonzero(late < 0)[0]) + 2
            raise BadData(path, f"data record {r} starts before the previous one ends (EDF+D)")
    gaps, seq = [], per
    for r, n_late in enumerate(late):
        if n_late > 0:
            gaps.append(Gap(seq=int(seq), n_missing=int(n_late), fs=fs, reason="EDF+D record gap"))
        seq += int(n_late) + per
    n_total = declared * per + int(late.sum())
    meta = {"format": FORMAT, "flavour": h.flavour, "annotations": annotations, "units": units,
            "dropped_signals": dropped, "start": h.start, "dropped_bytes": dropped_bytes,
            "labels_all": [s.label for s in h.signals if not s.is_annotation]}
    k_block = max(1, BLOCK_BYTES // max(1, h.record_bytes))

    # (digital + offset) * gain * unit factor per picked signal, in one compiled pass (_fast)
    cal = ([int(starts[kk]) for kk in pick], per, [0.0 if go is None else go[1] for go, _ in scale],
           [1.0 if go is None else go[0] for go, _ in scale], [factor for _, factor in scale],
           [go is not None for go, _ in scale])

    def blocks():
        from . import _fast
        sp = Splitter(fs)
        try:
            with open(path, "rb") as fh:
                fh.seek(h.header_bytes)
                for r0 in range(0, declared, k_block):
                    k = min(k_block, declared - r0)
                    buf = fh.read(k * h.record_bytes)
                    if len(buf) < k * h.record_bytes:
                        raise BadData(path, f"file shrank while reading (data record {r0 + 1})")
                    data = _fast.calibrate(_decode(buf, h, k), *cal)
                    if not _fast.all_within(data, np.finfo(np.float64).max):
                        check_samples_finite(path, data, ch, where=lambda i, a=r0 * per: f"sample {a + i + 1}")
                    before = np.zeros(len(data), np.int64)
                    if h.flavour.endswith("+D"):
                        for j in range(max(1, r0), r0 + k):
                            before[(j - r0) * per] = late[j - 1]
                    yield from sp.feed(data, before, "EDF+D record gap")
        except OSError as exc:
            raise BadData(path, f"cannot read ({exc.strerror or exc})") from None

    return StreamedRecording(path=name_of(path), fs=fs, ch_names=ch, blocks=blocks, meta=meta,
                             n_total=n_total, gaps=gaps)
