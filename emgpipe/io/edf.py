"""EDF, EDF+ and BDF(+) recordings, read with ``edfio``.

- The fixed-size header (256 bytes + 256 per signal; EDF spec, Kemp et al.
  1992; EDF+ spec, Kemp & Olivan 2003; BDF = BioSemi's 24-bit variant with
  version ``\\xffBIOSEMI``) is parsed here by :func:`parse_header` (pure, on
  bytes) to validate the file and to find the data records; ``edfio`` decodes
  the samples.
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
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..errors import BadData, BadHeader, UsageError
from .base import Recording
from ._gaps import split_missing
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
    return raw[a:b].decode("latin-1").strip()


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
            raise BadHeader(path, f"signal {k + 1} ('{get['label']}'): range or samples-per-record "
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


def read(path, *, channels=None, **opts) -> Recording:
    """Read an EDF/EDF+/BDF/BDF+ file.

    Parameters
    ----------
    path : path-like
    channels : sequence of str or int, optional
        Signals by label or position among the data signals.

    Returns
    -------
    Recording
        ``meta``: ``format``, ``flavour``, ``annotations``, ``units`` (as in
        the file), ``dropped_signals``, ``start``, ``dropped_bytes``.
    """
    import edfio

    reject_options(path, "EDF/BDF", opts)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise BadData(path, "file not found") from None
    except IsADirectoryError:
        raise BadData(path, "is a directory, not a recording file") from None
    except OSError as exc:
        raise BadData(path, f"cannot read ({exc.strerror or exc})") from None
    if not raw:
        raise BadData(path, "file is empty")
    h = parse_header(raw, path)
    body = len(raw) - h.header_bytes
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
        raw = (raw[:236] + str(n_use).ljust(8).encode() + raw[244:h.header_bytes + n_use * h.record_bytes])
        declared = n_use
    pick, dropped = _select(path, h, channels)
    try:
        rec = (edfio.read_bdf if h.bdf else edfio.read_edf)(raw)
    except Exception as exc:       # edfio raises ValueError/IndexError/... on malformed files
        raise BadData(path, f"cannot decode ({type(exc).__name__}: {exc})".replace("\n", " ")) from None
    # edfio lists the data signals in file order, annotation signals excluded
    data_order = [k for k, s in enumerate(h.signals) if not s.is_annotation]
    cols, units = [], []
    for k in pick:
        s = rec.signals[data_order.index(k)]
        factor = UNIT_TO_UV.get(h.signals[k].dimension.lower())
        if factor is None:
            raise BadHeader(path, f"signal '{h.signals[k].label}': unit '{h.signals[k].dimension}' "
                                  f"is not a voltage")
        cols.append(np.asarray(s.data, dtype=np.float64) * factor)
        units.append(h.signals[k].dimension)
    data = np.column_stack(cols)
    names = [h.signals[k].label for k in pick]
    check_samples_finite(path, data, names)   # digital samples cannot be NaN; guards odd scalings
    fs = h.signals[pick[0]].samples_per_record / h.record_s
    gaps = []
    if h.flavour.endswith("+D"):
        onsets = record_onsets(raw, h, declared)
        per = h.signals[pick[0]].samples_per_record
        missing = np.zeros(len(data), np.int64)
        late = np.rint((np.diff(onsets) - h.record_s) * fs).astype(np.int64)
        if (late < 0).any():
            r = int(np.flatnonzero(late < 0)[0]) + 2
            raise BadData(path, f"data record {r} starts before the previous one ends (EDF+D)")
        missing[per - 1::per][:len(late)] = late
        segments, gaps = split_missing(data, missing, fs, "EDF+D record gap")
    else:
        segments = [(0, data)]
    annotations = [{"onset_s": float(a.onset), "duration_s": None if a.duration is None
                    else float(a.duration), "text": a.text} for a in rec.annotations]
    meta = {"format": FORMAT, "flavour": h.flavour, "annotations": annotations, "units": units,
            "dropped_signals": dropped, "start": h.start, "dropped_bytes": dropped_bytes,
            "labels_all": [s.label for s in h.signals if not s.is_annotation]}
    return Recording(path=name_of(path), fs=fs, ch_names=unique_names(names), segments=segments,
                     gaps=gaps, meta=meta)

