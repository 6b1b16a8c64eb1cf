"""WFDB records (PhysioNet): a ``.hea`` header plus signal files, read with ``wfdb``.

- :func:`parse_header` reads the header text (pure): the record line
  ``name[/segments] n_sig fs[/counter][(base)] [n_samples [time [date]]]`` and
  one line per signal ``file format[xspf][:skew][+offset] gain[(baseline)][/units]
  [adcres [adczero [initval [checksum [blocksize [description]]]]]]`` (WFDB
  "header(5)" man page). It finds the signals' units and rates before the
  samples are decoded.
- Samples come from ``wfdb.rdrecord`` in physical units, a block at a time
  (``sampfrom``/``sampto``: wfdb seeks to the block in the signal file), so
  memory stays one block whatever the record's length; ``wfdb.rdheader``
  gives names, units, rate and length (exact duration) without the samples; ``uV``/``mV``/``V``/
  ``nV`` are scaled to µV (a signal without units is taken as mV, WFDB's
  default, with a warning).
- All signals must have one rate (``samples per frame`` 1); ``channels=``
  picks signals by name.
- Invalid samples (WFDB's "missing" marker, NaN in physical units): rows where
  every channel is invalid are lost samples (a Gap); a row with only some
  channels invalid is an error naming the sample and channel.
- Multi-segment records are not supported (clear error).
"""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import BadData, BadHeader, UnsupportedFormat, UsageError
from ..types import Gap
from .base import Recording, Splitter, StreamedRecording
from ._gaps import split_missing
from ._text import check_samples_finite, name_of, reject_options, unique_names

log = logging.getLogger(__name__)

FORMAT = "wfdb"
UNIT_TO_UV = {"uv": 1.0, "µv": 1.0, "mv": 1e3, "v": 1e6, "nv": 1e-3}
DEFAULT_FS = 250.0      # WFDB default sampling frequency when the header omits it (header(5))
#: Samples (over all signals) per ``wfdb.rdrecord(sampfrom=, sampto=)`` call when streaming.
BLOCK_SAMPLES = 1 << 19
REASON = "invalid samples (WFDB)"


@dataclass
class SignalSpec:
    file: str
    fmt: str
    samples_per_frame: int
    units: str
    description: str


@dataclass
class Header:
    record: str
    n_segments: int | None
    n_sig: int
    fs: float
    n_samples: int | None
    signals: list


_SIG_FMT = re.compile(r"^(\d+)(?:x(\d+))?(?::\d+)?(?:\+\d+)?$")
_GAIN = re.compile(r"^[-+\d.eE]+(?:\([-\d]+\))?(?:/(\S+))?$")


def parse_header(text: str, path=None) -> Header:
    """Parse a WFDB ``.hea`` header (pure).

    Examples
    --------
    >>> h = parse_header("r01 2 1000 5000\\nr01.dat 16 200(0)/uV 16 0 0 0 0 TA\\n"
    ...                  "r01.dat 16 1000/mV 16 0 0 0 0 GM\\n")
    >>> h.fs, h.n_samples, [(s.units, s.description) for s in h.signals]
    (1000.0, 5000, [('uV', 'TA'), ('mV', 'GM')])
    """
    try:
        return _parse_header(text, path)
    except (ValueError, IndexError, OverflowError) as exc:     # a field of the wrong kind
        raise BadHeader(path, f"malformed WFDB header ({exc})") from None


def _parse_header(text: str, path=None) -> Header:
    lines = [ln.strip() for ln in text.splitlines()]
    body = [(k + 1, ln) for k, ln in enumerate(lines) if ln and not ln.startswith("#")]
    if not body:
        raise BadHeader(path, "empty WFDB header")
    lineno, rec = body[0]
    tok = rec.split()
    if len(tok) < 2 or not tok[1].isdigit():
        raise BadHeader(path, f"line {lineno}: not a WFDB record line ({rec[:40]!r})")
    name, _, segs = tok[0].partition("/")
    n_sig = int(tok[1])
    fs = DEFAULT_FS
    if len(tok) > 2:
        m = re.match(r"^([\d.eE+-]+)", tok[2])
        if not m:
            raise BadHeader(path, f"line {lineno}: sampling frequency {tok[2]!r} is not a number")
        fs = float(m.group(1))
    n_samples = int(tok[3]) if len(tok) > 3 and tok[3].isdigit() else None
    signals = []
    if not segs:
        for lineno, ln in body[1:1 + n_sig]:
            t = ln.split()
            fm = _SIG_FMT.match(t[1]) if len(t) > 1 else None
            if fm is None:
                raise BadHeader(path, f"line {lineno}: bad signal format field in {ln[:50]!r}")
            units = "mV"     # header(5): units default to millivolts
            if len(t) > 2:
                g = _GAIN.match(t[2])
                if g is None:
                    raise BadHeader(path, f"line {lineno}: bad gain field {t[2]!r}")
                units = g.group(1) or units
            desc = " ".join(t[8:]) if len(t) > 8 else ""
            signals.append(SignalSpec(t[0], fm.group(1), int(fm.group(2) or 1), units, desc))
        if len(signals) != n_sig:
            raise BadHeader(path, f"record line says {n_sig} signals, found {len(signals)} signal lines")
    return Header(name, int(segs) if segs else None, n_sig, fs, n_samples, signals)


def _header_path(path) -> Path:
    p = Path(path)
    if p.suffix.lower() in (".hea", ".dat"):
        return p.with_suffix(".hea")
    return p.with_name(p.name + ".hea") if p.suffix == "" else p


def read(path, *, channels=None, **opts) -> Recording:
    """Read a WFDB record given its ``.hea`` (or ``.dat``, or name without extension).

    Parameters
    ----------
    channels : sequence of str or int, optional
        Signals by name (``sig_name``) or position.

    Returns
    -------
    StreamedRecording
        ``meta``: ``format``, ``record``, ``units`` (as in the header), ``comments``.
    """
    import wfdb

    reject_options(path, "WFDB", opts)
    hea = _header_path(path)
    if not hea.is_file():
        raise BadData(path, "file not found" if not Path(path).exists() else
                      f"WFDB header {hea.name} not found beside it")
    try:
        text = hea.read_text(encoding="latin-1")
    except OSError as exc:
        raise BadData(hea, f"cannot read ({exc.strerror or exc})") from None
    if not text.strip():
        raise BadData(hea, "file is empty")
    h = parse_header(text, hea)
    if h.n_segments is not None:
        raise UnsupportedFormat(hea, f"multi-segment WFDB record ({h.n_segments} segments) is "
                                     f"not supported")
    if h.n_sig == 0 or h.n_samples == 0:
        raise BadData(hea, "no samples (header only)")
    if any(s.samples_per_frame != 1 for s in h.signals):
        raise BadHeader(hea, "signals have different sample rates (samples per frame "
                             f"{[s.samples_per_frame for s in h.signals]}); not supported")
    for s in {s.file for s in h.signals}:
        if s != "~" and not (hea.parent / s).is_file():
            raise BadData(hea, f"signal file {s} not found beside the header")
    try:
        info = wfdb.rdheader(str(hea.with_suffix("")))
    except Exception as exc:       # wfdb raises ValueError/IndexError/... on bad files
        raise BadData(hea, f"cannot decode ({type(exc).__name__}: {exc})".replace("\n", " ")) from None
    names = list(info.sig_name or [f"ch{k + 1}" for k in range(info.n_sig)])
    if len(names) != info.n_sig or (info.units and len(info.units) != info.n_sig) or \
            not (info.fs and math.isfinite(float(info.fs)) and float(info.fs) > 0):
        raise BadHeader(hea, f"inconsistent header ({info.n_sig} signals, {len(names)} names, "
                             f"sampling frequency {info.fs!r})")
    pick = list(range(info.n_sig))
    if channels is not None:
        want = [channels] if isinstance(channels, (str, int)) else list(channels)
        pick = []
        for c in want:
            if isinstance(c, int) and 0 <= c < len(names):
                pick.append(c)
            elif c in names:
                pick.append(names.index(c))
            else:
                raise UsageError(f"{name_of(hea)}: no signal {c!r} (signals: {', '.join(names)})")
    units = [info.units[k] if info.units and info.units[k] else "mV" for k in pick]
    factors = []
    for k, u in zip(pick, units):
        f = UNIT_TO_UV.get(u.strip().lower())
        if f is None:
            raise BadHeader(hea, f"signal '{names[k]}': unit '{u}' is not a voltage")
        factors.append(f)
    ch = unique_names([names[k] for k in pick])
    fs = float(info.fs)
    n_samples = info.sig_len
    if n_samples is None:          # header without a length: from the signal file's size
        n_samples = _length_from_size(hea, h)
    if not n_samples:
        raise BadData(hea, "no samples (header only)")
    meta = {"format": FORMAT, "record": h.record, "units": units,
            "comments": list(info.comments or [])}
    step = max(1, BLOCK_SAMPLES // max(1, info.n_sig))
    record = str(hea.with_suffix(""))

    def blocks():
        sp = None
        lead = 0                   # all-invalid rows before the first valid one
        run = 0                    # all-invalid rows since the last valid row
        for a in range(0, n_samples, step):
            b = min(n_samples, a + step)
            try:
                rec = wfdb.rdrecord(record, sampfrom=a, sampto=b, physical=True)
            except Exception as exc:
                raise BadData(hea, f"cannot decode samples {a + 1}-{b} ({type(exc).__name__}: "
                                   f"{exc})".replace("\n", " ")) from None
            data = np.column_stack([np.asarray(rec.p_signal[:, k], dtype=np.float64) * f
                                    for k, f in zip(pick, factors)])
            invalid = ~np.isfinite(data)
            all_bad = invalid.all(axis=1)
            if (invalid.any(axis=1) & ~all_bad).any():
                check_samples_finite(hea, np.where(all_bad[:, None], 0.0, data), ch,
                                     where=lambda r, a=a: f"sample {a + r + 1}")
            keep = np.flatnonzero(~all_bad)
            if sp is None:
                if not keep.size:
                    lead += len(data)
                    continue
                lead += int(keep[0])
                sp = Splitter(fs, seq=lead, pending=Gap(0, lead, fs, REASON) if lead else None)
                before = np.append(0, np.diff(keep) - 1)
            else:
                before = np.diff(np.concatenate(([-1 - run], keep))) - 1
            if keep.size:
                run = len(data) - 1 - int(keep[-1])
                yield from sp.feed(data[keep], before, REASON)
            else:
                run += len(data)
        if sp is None:
            raise BadData(hea, "every sample is marked invalid")

    rec = StreamedRecording(path=name_of(hea), fs=fs, ch_names=ch, blocks=blocks, meta=meta,
                            duration_hint_s=n_samples / fs)
    if n_samples <= step:
        rec.segments                # one block: read (and check) it now, as before streaming
    return rec


def _length_from_size(hea: Path, h: Header) -> int | None:
    """Samples in a record whose header omits them, from the signal file's size (fmt 16/80/24/32)."""
    width = {"16": 2, "80": 1, "24": 3, "32": 4, "8": 1, "61": 2, "160": 2}
    files = {}
    for s in h.signals:
        files.setdefault(s.file, []).append(s.fmt)
    lens = []
    for fn, fmts in files.items():
        if fn == "~" or any(f not in width for f in fmts):
            return None
        lens.append((hea.parent / fn).stat().st_size // sum(width[f] for f in fmts))
    return min(lens) if lens else None


def _drop_invalid_rows(data, bad, fs):
    """Segments of valid rows; runs of all-invalid rows become gaps."""
    if not bad.any():
        return [(0, data)], []
    if bad.all():
        raise BadData(None, "every sample is marked invalid")
    keep = np.flatnonzero(~bad)
    # samples lost after each kept row = distance to the next kept row - 1
    missing = np.append(np.diff(keep) - 1, 0)
    lead = int(keep[0])
    segments, gaps = split_missing(data[keep], missing, fs, "invalid samples (WFDB)")
    if lead:                       # invalid rows at the very start: shift everything
        from dataclasses import replace
        from ..types import Gap
        segments = [(s + lead, d) for s, d in segments]
        gaps = [Gap(0, lead, fs, "invalid samples (WFDB)")] + [replace(g, seq=g.seq + lead) for g in gaps]
    return segments, gaps
