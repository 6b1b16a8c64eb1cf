"""OpenBCI GUI "OpenBCI-RAW-*.txt" recordings (file formats v5, v6 and the old Ganglion hub format).

Facts from ``docs/protocols.md`` §6.1 (GUI ``DataWriterODF.pde``)
and from the real files listed in ``datasets/README.md``:

- Header lines start with ``%``: ``%OpenBCI Raw EXG Data`` (v6) or
  ``%OpenBCI Raw EEG Data`` (v5 and older), ``%Number of channels = 8``,
  ``%Sample Rate = 250 Hz`` (old Ganglion files: ``200.0 Hz``),
  ``%Board = OpenBCI_GUI$BoardCytonSerial``.
- The first non-``%`` line is either the column names (v6: ``Sample Index,
  EXG Channel 0, ..., Timestamp, Marker Channel, Timestamp (Formatted)``), or a
  dummy all-zero row (v5 variant, no column names), or already data (old
  Ganglion hub files: ``index, 4 EXG, 3 accel, HH:MM:SS.mmm``).
- Values are separated by ``,`` (usually ``", "``) or by tabs; EXG values are
  already µV and are used as they are. Only the EXG channels are returned,
  named as in the file (``EXG Channel 0``...) or ``ch1``.. for the old
  format, which names none.
- Lost samples: the ``Sample Index`` counter (Cyton: wraps at 256; the old
  Ganglion files count 0..200, i.e. wrap at 201 — measured on the four
  MI-OpenBCI files) combined with the host clock (``Timestamp`` column, epoch
  ms when > 1e11 else s; or the ``HH:MM:SS.mmm`` column), see
  :mod:`emgpipe.io._gaps`. In ``OpenBCI-RAW-S03_S1R0.txt`` the counter goes
  60 -> 0 while the clock jumps 29.2 s: the board restarted after a BLE
  dropout, and the gap is sized by the clock (5840 samples).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import numpy as np

from ..devices.boards import CYTON, CYTON_DAISY, GANGLION
from ..errors import BadData, BadHeader
from . import _text
from .base import Recording, StreamedRecording
from ._gaps import CounterStream, is_counter
from ._text import (check_rows_finite, estimate_rows, first_line, iter_table, name_of, open_text,
                    reject_options)

log = logging.getLogger(__name__)

FORMAT = "openbci_txt"
MAGIC = ("%OpenBCI Raw EXG Data", "%OpenBCI Raw EEG Data")
#: Cyton sample counter is one byte (protocols.md §1.5).
CYTON_MODULO = CYTON.counter_modulo
#: EXG channels and boards by sample rate when the header does not say
#: (Cyton 250 Hz / 8 ch, Daisy 125 Hz / 16 ch, Ganglion 200 Hz / 4 ch; protocols.md §1.9).
BOARD_BY_FS = {b.fs: (b.gui_board, b.n_channels) for b in (CYTON, CYTON_DAISY, GANGLION)}
#: Epoch timestamps above this are milliseconds (protocols.md §6.1 reader rule).
MS_EPOCH = 1e11


@dataclass
class Header:
    """What the ``%`` lines and the first other line say."""

    title: str
    fs: float | None = None
    n_channels: int | None = None
    board: str | None = None
    columns: tuple | None = None      # column-name line (v6), else None
    first_row: str = "data"           # "names" | "dummy" | "data"
    n_header_lines: int = 0           # lines before the first data row
    delimiter: str = ","
    extra: dict = field(default_factory=dict)


_KV = re.compile(r"^%\s*([^=]+?)\s*=\s*(.*?)\s*$")


def parse_header(lines, path=None) -> Header:
    """Parse the header of an OpenBCI GUI text file.

    Parameters
    ----------
    lines : sequence of str
        The file's first lines: all ``%`` lines and at least the first line after them.

    Examples
    --------
    >>> h = parse_header(["%OpenBCI Raw EXG Data", "%Number of channels = 4",
    ...                   "%Sample Rate = 200 Hz", "%Board = OpenBCI_GUI$BoardGanglionNative",
    ...                   "Sample Index, EXG Channel 0, EXG Channel 1, Timestamp (Formatted)"])
    >>> h.fs, h.n_channels, h.board, h.first_row, h.columns[1]
    (200.0, 4, 'BoardGanglionNative', 'names', 'EXG Channel 0')
    """
    lines = [ln.lstrip("\ufeff").rstrip("\r\n") for ln in lines]
    if not lines or lines[0].strip() not in MAGIC:
        got = lines[0][:40] if lines else ""
        raise BadHeader(path, f"line 1: not an OpenBCI GUI recording (expected "
                              f"'%OpenBCI Raw EXG Data', found {got!r})")
    h = Header(title=lines[0].strip()[1:])
    i = 1
    while i < len(lines) and lines[i].startswith("%"):
        m = _KV.match(lines[i])
        if m:
            key, val = m.group(1).lower(), m.group(2)
            try:
                if key == "sample rate":
                    h.fs = float(val.split()[0])
                elif key == "number of channels":
                    h.n_channels = int(val)
                elif key == "board":
                    h.board = val.split("$")[-1]
                else:
                    h.extra[m.group(1)] = val
            except (ValueError, IndexError):
                raise BadHeader(path, f"line {i + 1}: cannot read {m.group(1)!r} ({val!r})") from None
        i += 1
    if i >= len(lines) or not lines[i].strip():
        raise BadData(path, "no samples (header only)")
    first = lines[i]
    h.delimiter = "\t" if "\t" in first else ","
    cells = [c.strip() for c in first.split(h.delimiter)]
    if any(re.search(r"[A-Za-z]", c) for c in cells[:-1]):
        h.columns = tuple(cells)
        h.first_row = "names"
        i += 1
    elif all(_is_zero(c) for c in cells):
        h.first_row = "dummy"
        i += 1
    h.n_header_lines = i
    if h.fs is None:
        raise BadHeader(path, "no '%Sample Rate = ... Hz' line in the header")
    if not 0 < h.fs <= 1e6:
        raise BadHeader(path, f"sample rate must be positive (and at most 1 MHz), got {h.fs:g}")
    return h


def _is_zero(cell: str) -> bool:
    try:
        return float(cell) == 0.0
    except ValueError:
        return False


@dataclass
class Layout:
    """Which columns hold what."""

    n_fields: int
    exg: list
    ch_names: tuple
    index: int | None
    timestamp: int | None      # numeric epoch column
    clock: int | None          # HH:MM:SS.mmm column
    board: str


def layout(h: Header, first_data: str, path=None) -> Layout:
    """Resolve the column layout from the header and the first data row (pure)."""
    cells = [c.strip() for c in first_data.rstrip("\r\n").split(h.delimiter)]
    n = len(cells)
    fs_board, fs_nch = BOARD_BY_FS.get(h.fs, (None, None))
    board = h.board or fs_board or "unknown"
    clock = n - 1 if ":" in cells[-1] else None
    if h.columns is not None:
        cols = list(h.columns)
        if len(cols) != n:
            raise BadHeader(path, f"line {h.n_header_lines}: {len(cols)} column names but the first "
                                  f"row has {n} fields")
        exg = [k for k, c in enumerate(cols) if re.match(r"(EXG|EEG|EMG) Channel \d+$", c)]
        if not exg:
            raise BadHeader(path, f"line {h.n_header_lines}: no 'EXG Channel N' column")
        names = tuple(cols[k] for k in exg)
        index = cols.index("Sample Index") if "Sample Index" in cols else None
        ts = cols.index("Timestamp") if "Timestamp" in cols else None
        clock = cols.index("Timestamp (Formatted)") if "Timestamp (Formatted)" in cols else clock
    else:
        nch = h.n_channels or fs_nch
        if nch is None:
            raise BadHeader(path, "header gives neither '%Number of channels' nor a known "
                                  "sample rate (125/200/250 Hz)")
        if n < nch + 1:
            raise BadHeader(path, f"line {h.n_header_lines + 1}: {n} fields, too few for "
                                  f"{nch} channels")
        exg = list(range(1, nch + 1))
        old = h.n_channels is None           # old Ganglion hub files name no channels
        names = tuple(f"ch{k}" for k in exg) if old else tuple(f"EXG Channel {k - 1}" for k in exg)
        index = 0
        # v5: index, EXG, accel, other..., timestamp, formatted time (protocols.md §6.1)
        ts = n - 2 if (clock is not None and not old and n - 2 > nch) else None
    return Layout(n_fields=n, exg=exg, ch_names=names, index=index, timestamp=ts,
                  clock=clock, board=board)


def hms_seconds(cell: str) -> float:
    """``[yyyy-MM-dd ]HH:mm:ss.SSS`` -> seconds of the day.

    >>> hms_seconds(" 11:02:46.251")
    39766.251
    """
    t = cell.strip().rsplit(" ", 1)[-1]
    h, m, s = t.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def _clock_seconds(table_col: np.ndarray, is_hms: bool) -> np.ndarray:
    t = np.asarray(table_col, dtype=np.float64)
    if is_hms:
        # seconds of the day wrap at midnight
        back = np.diff(t) < -43_200
        if back.any():
            t = t + 86_400.0 * np.concatenate(([0], np.cumsum(back)))
        return t
    if np.nanmedian(t) > MS_EPOCH:
        t = t / 1000.0
    return t


def _start(path, f):
    """Read the header of an open file: (Header, first data line, remaining lines)."""
    head = []
    while len(head) <= 200:
        line = first_line(path, f, "OpenBCI GUI text") if not head else _next_line(path, f)
        if not line:
            break
        head.append(line)
        if not line.startswith("%"):
            break
    else:
        raise BadHeader(path, "more than 200 '%' header lines")
    h = parse_header(head, path)
    if h.first_row != "data":
        first = _next_line(path, f)
        if not first.strip():
            raise BadData(path, "no samples (header only)")
    else:
        first = head[-1]
    return h, first, _chain([first], f)


def read(path, *, fs: float | None = None, channels=None, **opts) -> Recording:
    """Open an OpenBCI GUI text recording; samples stream from the file.

    The header and the first block of rows (the *prefix*, up to
    :data:`~emgpipe.io._text.STREAM_LINES` rows) are read here: the prefix
    decides whether the host clock is usable (and in ms or s) and gives the
    counter's statistics (see :class:`~emgpipe.io._gaps.CounterStream`).

    Parameters
    ----------
    path : path-like
    fs : float, optional
        Override the header's sample rate.
    channels : sequence of str or int, optional
        Keep only these EXG channels (names or 0-based positions).

    Returns
    -------
    StreamedRecording
        EXG channels in µV; ``meta``: ``format``, ``version`` (``v6``/``v5``/
        ``v5-old``), ``board``, ``header``, ``counter_modulo``, ``dropped_last_line``.
    """
    reject_options(path, "OpenBCI GUI text", opts)

    def table(f, block_lines=None):
        h, first, rest = _start(path, f)
        lay = layout(h, first, path)
        names = [f"column {k + 1}" for k in range(lay.n_fields)]
        for k, nm in zip(lay.exg, lay.ch_names):
            names[k] = nm
        if h.columns is not None:
            names = [c or f"column {k + 1}" for k, c in enumerate(h.columns)]
        conv = {lay.clock: _hms_or_nan} if lay.clock is not None else None
        return h, lay, names, iter_table(path, rest, h.n_header_lines + 1, names=names,
                                         delimiter=h.delimiter, converters=conv,
                                         block_lines=block_lines)

    with open_text(path) as f:
        h, lay, names, it = table(f, _text.PREFIX_LINES)
        prefix = next(it, None)
        it.close()
    if prefix is None or prefix.data.shape[0] == 0:
        raise BadData(path, "no samples (header only)")
    rate = float(fs) if fs is not None else h.fs
    exg = lay.exg
    ch = lay.ch_names
    if channels is not None:
        exg, ch = _select(path, exg, ch, channels)
    check_rows_finite(path, prefix, ch, cols=exg)
    clock_kind, ms = None, False
    if lay.timestamp is not None and np.all(prefix.data[:, lay.timestamp] > 1e8):
        clock_kind = "timestamp"
        ms = bool(np.nanmedian(prefix.data[:, lay.timestamp]) > MS_EPOCH)
    elif lay.clock is not None and np.isfinite(prefix.data[:, lay.clock]).all():
        clock_kind = "formatted"
    modulo = None
    if lay.index is not None:
        _check_counter(path, prefix, lay, names)
        modulo = CYTON_MODULO if "cyton" in lay.board.lower() else None
        counter_m = modulo or int(prefix.data[:, lay.index].max()) + 1
    version = "v6" if h.first_row == "names" else ("v5" if h.n_channels else "v5-old")
    meta = {"format": FORMAT, "version": version, "board": lay.board,
            "header": {"title": h.title, "fs": h.fs, "n_channels": h.n_channels, **h.extra},
            "counter_modulo": modulo if lay.index is None else counter_m,
            "dropped_last_line": prefix.dropped_last_line if prefix.last else None,
            "clock": "timestamp" if lay.timestamp is not None and clock_kind is not None
            else ("formatted" if clock_kind is not None else None)}
    prefix_idx = prefix.data[:, lay.index].astype(np.int64) if lay.index is not None else None
    del prefix

    def blocks():
        from .base import Block, Splitter
        with open_text(path) as f:
            _, _, _, it = table(f)
            gs = CounterStream(name_of(path), rate, prefix_idx, modulo=modulo,
                               use_clock=clock_kind is not None) if lay.index is not None else None
            seq, day, prev = 0, 0.0, None
            for blk in it:
                if blk.last:
                    meta["dropped_last_line"] = blk.dropped_last_line
                if not blk.data.shape[0]:
                    continue
                check_rows_finite(path, blk, ch, cols=exg)
                data = np.ascontiguousarray(blk.data[:, exg])
                if gs is None:
                    yield Block(seq, data)
                    seq += len(data)
                    continue
                _check_counter(path, blk, lay, names)
                clock = None
                if clock_kind == "timestamp":
                    clock = blk.data[:, lay.timestamp].astype(np.float64)
                    if not np.all(clock > 1e8):
                        clock = np.full(len(clock), np.nan)
                    elif ms:
                        clock = clock / 1000.0
                elif clock_kind == "formatted":
                    raw = blk.data[:, lay.clock].astype(np.float64)
                    # seconds of the day wrap at midnight
                    rr = raw if prev is None else np.concatenate(([prev], raw))
                    back = np.diff(rr) < -43_200
                    wraps = np.cumsum(back)
                    if prev is None:
                        wraps = np.concatenate(([0], wraps))
                    clock = raw + 86_400.0 * (day + wraps) if (day or wraps.any()) else raw
                    day += float(wraps[-1]) if len(wraps) else 0.0
                    prev = float(raw[-1])
                yield from gs.feed(data, blk.data[:, lay.index].astype(np.int64), clock)
            if gs is not None:
                yield from gs.finish()

    rows = estimate_rows(path, h.n_header_lines)
    return StreamedRecording(path=name_of(path), fs=rate, ch_names=ch, blocks=blocks, meta=meta,
                             duration_hint_s=None if rows is None else rows / rate)


def _check_counter(path, blk, lay, names):
    if not is_counter(blk.data[:, lay.index]):
        raise BadData(path, f"column '{names[lay.index]}' is not a sample counter")


def _hms_or_nan(cell: str) -> float:
    try:
        return hms_seconds(cell)
    except (ValueError, IndexError):
        if not cell.strip():
            raise ValueError("empty") from None
        return float(cell)   # a numeric value in that column (dummy-like rows)


def _next_line(path, f) -> str:
    try:
        return f.readline()
    except UnicodeDecodeError:
        raise BadData(path, "contains bytes that are not text") from None


def _chain(first, rest):
    yield from first
    yield from rest


def _select(path, exg, ch, channels):
    """Subset of EXG columns by name or position."""
    from ..errors import UsageError
    out_cols, out_names = [], []
    for c in ([channels] if isinstance(channels, (str, int)) else channels):
        if isinstance(c, int) and 0 <= c < len(ch):
            k = c
        elif c in ch:
            k = ch.index(c)
        else:
            raise UsageError(f"{name_of(path)}: no channel {c!r} (channels: {', '.join(ch)})")
        out_cols.append(exg[k])
        out_names.append(ch[k])
    return out_cols, tuple(out_names)
