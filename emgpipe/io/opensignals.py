"""OpenSignals / BITalino text recordings (raw ADC counts, converted to µV).

Two header variants, both ``#`` lines before whitespace/tab-separated integer rows:

- "Simple Text Format" (the BioSPPy examples of datasets/README.md)::

      # Simple Text Format
      # Sampling Rate (Hz):= 1000.00
      # Resolution:= 12
      # Labels:= EMG

  one column per label, no sequence counter.
- OpenSignals (r)evolution "OpenSignals Text File Format"::

      # OpenSignals Text File Format. Version 1
      # {"<MAC>": {"sampling rate": 1000, "column": ["nSeq", "I1", "I2", "O1", "O2", "A1", ...],
      #            "label": ["A1", ...], "sensor": ["EMG", ...], "resolution": [4, 1, 1, 1, 1, 10, ...],
      #            "device": "bitalino_rev", ...}}
      # EndOfHeader

  ``nSeq`` is the device's sample counter (4 bits on BITalino: wraps at
  2**resolution), used to find lost samples.

Channels: those whose sensor (JSON) or label (simple) is ``EMG...``;
``channels=[...]`` picks others by label.

Scaling (ADC counts -> µV), PLUX EMG sensor datasheets, also used by PLUX's
biosignalsnotebooks ("EMG Sensor - Unit Conversion")::

    EMG(V) = (ADC / 2**n - 1/2) * VCC / G_EMG        n = channel resolution (bits)

- BITalino EMG sensor: VCC = 3.3 V, G_EMG = 1009 (range ±1.64 mV; the 2014
  BITalino forum post used 1000 for the first sensor revision: 0.9 % apart).
- biosignalsplux EMG sensor: VCC = 3 V, G_EMG = 1000 (range ±1.5 mV).

Files that name no device (the simple format) are taken as BITalino. The
formula and constants used go to ``meta["scaling"]``.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import BadData, BadHeader, UsageError
from . import _text
from .base import Recording, StreamedRecording
from ._gaps import MAX_COUNTER, CounterStream, is_counter
from ._text import (check_rows_finite, estimate_rows, first_line, iter_table, name_of, open_text,
                    reject_options, unique_names)

log = logging.getLogger(__name__)

FORMAT = "opensignals"
SIMPLE = "# Simple Text Format"
JSON_MAGIC = "# OpenSignals Text File Format"
#: (VCC volts, EMG sensor gain) by device family, PLUX EMG sensor datasheets (module doc).
EMG_TRANSFER = {"bitalino": (3.3, 1009.0), "biosignalsplux": (3.0, 1000.0)}


@dataclass
class Header:
    """What an OpenSignals header says (all columns of a row)."""

    variant: str                       # "simple" | "json"
    fs: float
    columns: tuple                     # one name per data column
    analog: tuple                      # column indices of analog channels
    labels: tuple                      # label per analog channel
    sensors: tuple                     # sensor per analog channel ("" if unknown)
    resolution: tuple                  # bits per analog channel
    seq_col: int | None = None
    seq_bits: int | None = None
    device: str = ""
    n_header_lines: int = 0
    extra: dict = field(default_factory=dict)


def _kv(line: str):
    m = re.match(r"#\s*([^:=]+?)\s*:?=\s*(.*)$", line)
    return (m.group(1).strip().lower(), m.group(2).strip()) if m else (None, None)


def parse_header(lines, path=None) -> Header:
    """Parse the ``#`` header lines of an OpenSignals text file (pure).

    Parameters
    ----------
    lines : sequence of str
        The header lines (at least; data lines after them are ignored).

    Examples
    --------
    >>> h = parse_header(["# Simple Text Format", "# Sampling Rate (Hz):= 1000.00",
    ...                   "# Resolution:= 12", "# Labels:= EMG"])
    >>> h.fs, h.labels, h.resolution, h.variant
    (1000.0, ('EMG',), (12,), 'simple')
    """
    lines = [ln.lstrip("\ufeff").rstrip("\r\n") for ln in lines]
    first = lines[0].strip() if lines else ""
    if first.startswith(SIMPLE):
        return _parse_simple(lines, path)
    if first.startswith(JSON_MAGIC):
        return _parse_json(lines, path)
    raise BadHeader(path, f"line 1: not an OpenSignals text file (expected '{SIMPLE}' or "
                          f"'{JSON_MAGIC}', found {first[:40]!r})")


def _parse_simple(lines, path) -> Header:
    fs, res, labels, n = None, None, None, 1
    while n < len(lines) and lines[n].startswith("#"):
        key, val = _kv(lines[n])
        try:
            if key and key.startswith("sampling rate"):
                fs = float(val)
            elif key == "resolution":
                res = tuple(int(float(v)) for v in val.split())
            elif key == "labels":
                labels = tuple(v for v in re.split(r"\t|\s{2,}|,", val) if v.strip()) or None
        except ValueError:
            raise BadHeader(path, f"line {n + 1}: cannot read {key!r} ({val!r})") from None
        n += 1
    if fs is None:
        raise BadHeader(path, "no '# Sampling Rate (Hz):= ...' line in the header")
    if res is None:
        raise BadHeader(path, "no '# Resolution:= ...' line in the header (needed to convert to µV)")
    if labels is None:
        raise BadHeader(path, "no '# Labels:= ...' line in the header")
    labels = tuple(x.strip() for x in labels)
    if len(res) == 1:
        res = res * len(labels)
    if len(res) != len(labels):
        raise BadHeader(path, f"{len(res)} resolutions for {len(labels)} labels")
    return _valid(path, Header("simple", fs, labels, tuple(range(len(labels))), labels,
                               tuple("" for _ in labels), res, n_header_lines=n))


def _valid(path, h):
    """Reject a header whose resolution or rate no device has (a corrupt value like 1e300
    would otherwise make 2**bits a number too large to compute: a hang found by the fuzzer)."""
    bits = list(h.resolution) + ([h.seq_bits] if h.seq_bits is not None else [])
    if any(not 1 <= b <= 32 for b in bits):
        raise BadHeader(path, f"resolution {bits} bits: expected 1 to 32 bits per channel")
    if not 0 < h.fs <= 1e6:
        raise BadHeader(path, f"sampling rate {h.fs:g} Hz: expected more than 0 and at most 1 MHz")
    return h


def _parse_json(lines, path) -> Header:
    n, info = 1, None
    while n < len(lines) and lines[n].startswith("#"):
        text = lines[n][1:].strip()
        if text == "EndOfHeader":
            n += 1
            break
        if text.startswith("{"):
            try:
                info = json.loads(text)
            except json.JSONDecodeError as exc:
                raise BadHeader(path, f"line {n + 1}: header JSON is not valid ({exc.msg}, "
                                      f"column {exc.colno})") from None
        n += 1
    if not isinstance(info, dict) or not info:
        raise BadHeader(path, "no '# {...}' JSON header line")
    if len(info) > 1:
        raise BadHeader(path, f"{len(info)} devices in one file; only single-device files are supported")
    mac, dev = next(iter(info.items()))
    try:
        fs = float(dev["sampling rate"])
        cols = tuple(str(c) for c in dev["column"])
        labels = tuple(str(c) for c in dev.get("label", ()))
        res_all = [int(r) for r in dev["resolution"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise BadHeader(path, f"header JSON lacks or garbles {exc} (need 'sampling rate', "
                              f"'column', 'resolution')") from None
    if len(res_all) != len(cols):
        raise BadHeader(path, f"header JSON: {len(res_all)} resolutions for {len(cols)} columns")
    analog = tuple(cols.index(lb) for lb in labels if lb in cols)
    if not labels or len(analog) != len(labels):
        # no usable labels: every column after nSeq and the digital I/O ones
        analog = tuple(k for k, c in enumerate(cols) if not re.fullmatch(r"nSeq|[IO]\d+|DI", c))
        labels = tuple(cols[k] for k in analog)
    sensors = tuple(str(s) for s in dev.get("sensor", ()))
    if len(sensors) != len(labels):
        sensors = tuple("" for _ in labels)
    seq = cols.index("nSeq") if "nSeq" in cols else None
    return _valid(path, Header("json", fs, cols, analog, labels, sensors, tuple(res_all[k] for k in analog),
                  seq_col=seq, seq_bits=res_all[seq] if seq is not None else None,
                  device=str(dev.get("device", "")), n_header_lines=n,
                  extra={"mac": mac, **{k: dev[k] for k in ("device name", "date", "time",
                                                            "firmware version") if k in dev}}))


def transfer(device: str) -> tuple[float, float, str]:
    """(VCC, G_EMG, family) for a device name (BITalino unless biosignalsplux)."""
    fam = "biosignalsplux" if "plux" in device.lower() and "bitalino" not in device.lower() else "bitalino"
    vcc, gain = EMG_TRANSFER[fam]
    return vcc, gain, fam


def adc_to_uv(adc: np.ndarray, bits, vcc: float, gain: float) -> np.ndarray:
    """``(ADC / 2**n - 1/2) * VCC / G_EMG`` in µV (``bits`` per column).

    >>> float(adc_to_uv(np.array([2048.0]), 12, 3.3, 1009.0)[0])
    0.0
    """
    full = 2.0 ** np.asarray(bits, dtype=np.float64)
    return (adc / full - 0.5) * (vcc / gain) * 1e6


def _pick(path, h: Header, channels):
    if channels is not None:
        want = [channels] if isinstance(channels, (str, int)) else list(channels)
        out = []
        for c in want:
            if isinstance(c, int) and 0 <= c < len(h.labels):
                out.append(c)
            elif c in h.labels:
                out.append(h.labels.index(c))
            else:
                raise UsageError(f"{name_of(path)}: no channel {c!r} (channels: {', '.join(h.labels)})")
        return out
    tags = [s or lb for s, lb in zip(h.sensors, h.labels)]
    emg = [k for k, t in enumerate(tags) if t.upper().startswith("EMG")]
    if emg:
        return emg
    if all(t.upper() in ("", "RAW") or re.fullmatch(r"A\d+", t) for t in tags):
        log.warning("%s: sensors not named; reading all %d analog channels as EMG",
                    name_of(path), len(tags))
        return list(range(len(tags)))
    raise BadHeader(path, f"no EMG channel (sensors: {', '.join(tags)}); pass channels=[...] "
                          f"to read others as EMG")


def read(path, *, channels=None, fs: float | None = None, **opts) -> Recording:
    """Open an OpenSignals text file; samples (ADC counts converted to µV) stream from it.

    The first block of rows (the *prefix*) is checked here and gives the
    ``nSeq`` counter's statistics (:class:`~emgpipe.io._gaps.CounterStream`).

    Parameters
    ----------
    path : path-like
    channels : sequence of str or int, optional
        Analog channels by label or position (default: the EMG ones).
    fs : float, optional
        Override the header's sample rate.

    Returns
    -------
    StreamedRecording
        ``meta``: ``format``, ``variant``, ``device``, ``scaling`` (formula,
        VCC, G_EMG, bits), ``header``.
    """
    reject_options(path, "OpenSignals text", opts)

    def table(f, block_lines=None):
        head = [first_line(path, f, "OpenSignals text")]
        while head[-1].startswith("#"):
            line = f.readline()
            if not line:
                break
            head.append(line)
        h = parse_header(head, path)
        data_lines = head[h.n_header_lines:]
        if not any(ln.strip() for ln in data_lines):
            nxt = f.readline()
            if not nxt.strip():
                raise BadData(path, "no samples (header only)")
            data_lines = [nxt]
        n_fields = len(data_lines[0].split())
        if n_fields != len(h.columns):
            raise BadHeader(path, f"line {h.n_header_lines + 1}: {n_fields} columns but the header "
                                  f"names {len(h.columns)} ({', '.join(h.columns)})")

        def rows():
            yield from data_lines
            yield from f

        return h, iter_table(path, rows(), h.n_header_lines + 1, names=list(h.columns),
                             delimiter=None, block_lines=block_lines)

    with open_text(path) as f:
        h, it = table(f, _text.PREFIX_LINES)
        prefix = next(it, None)
        it.close()
    if prefix is None or prefix.data.shape[0] == 0:
        raise BadData(path, "no samples (header only)")
    pick = _pick(path, h, channels)
    cols = [h.analog[k] for k in pick]
    names = unique_names([h.labels[k] for k in pick])
    bits = [h.resolution[k] for k in pick]
    top = 2 ** np.asarray(bits) - 1
    vcc, gain, fam = transfer(h.device)
    rate = float(fs) if fs is not None else h.fs

    def convert(blk):
        check_rows_finite(path, blk, names, cols=cols)
        adc = blk.data[:, cols]
        bad = (adc < 0) | (adc > top) | (adc != np.rint(adc))
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise BadData(path, f"line {blk.row_line(int(r))}: channel '{names[c]}' value {adc[r, c]:g} "
                                f"is not a {bits[c]}-bit ADC count (0..{top[c]}); already converted?")
        return adc_to_uv(adc, bits, vcc, gain)

    def check_counter(blk):
        if h.seq_col is None:
            return
        idx = blk.data[:, h.seq_col]
        if not is_counter(idx):
            bad = ~((idx >= 0) & (idx < MAX_COUNTER) & (idx == np.rint(idx)))
            r = int(np.argmax(bad)) if bad.any() else 0
            raise BadData(path, f"line {blk.row_line(r)}: sequence column '{h.columns[h.seq_col]}' "
                                f"value {float(idx[r]):g} is not a sample counter")

    convert(prefix)
    check_counter(prefix)
    modulo = 2 ** h.seq_bits if h.seq_bits else None
    prefix_idx = prefix.data[:, h.seq_col].astype(np.int64) if h.seq_col is not None else None
    meta = {"format": FORMAT, "variant": h.variant, "device": h.device or None,
            "scaling": {"formula": "uV = (ADC / 2**n - 1/2) * VCC / G_EMG * 1e6", "VCC_V": vcc,
                        "G_EMG": gain, "bits": bits, "sensor": f"{fam} EMG (PLUX datasheet)"},
            "header": {"labels": list(h.labels), "sensors": list(h.sensors), **h.extra},
            "dropped_last_line": prefix.dropped_last_line if prefix.last else None}
    del prefix

    def blocks():
        from .base import Block
        with open_text(path) as f:
            it = table(f)[1]
            gs = CounterStream(name_of(path), rate, prefix_idx, modulo=modulo) \
                if prefix_idx is not None else None
            seq = 0
            for blk in it:
                if blk.last:
                    meta["dropped_last_line"] = blk.dropped_last_line
                if not blk.data.shape[0]:
                    continue
                data = convert(blk)
                check_counter(blk)
                if gs is None:
                    yield Block(seq, data)
                    seq += len(data)
                else:
                    yield from gs.feed(data, blk.data[:, h.seq_col].astype(np.int64))
            if gs is not None:
                yield from gs.finish()

    n_rows = estimate_rows(path, h.n_header_lines)
    return StreamedRecording(path=name_of(path), fs=rate, ch_names=names, blocks=blocks, meta=meta,
                             duration_hint_s=None if n_rows is None else n_rows / rate)
