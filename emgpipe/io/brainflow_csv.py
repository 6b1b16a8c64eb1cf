"""BrainFlow CSV recordings (the file streamer and ``DataFilter.write_file``).

Facts from ``docs/protocols.md`` §1.9 and §6.2 (BrainFlow
``file_streamer.cpp``, ``data_handler.cpp``, ``brainflow_boards.cpp``):

- One row per sample, all of the board's ``num_rows`` channels in board
  descriptor order, **tab**-separated (``,`` accepted when a line has no tab,
  as BrainFlow's playback board does), ``%lf`` numbers, **no header**.
- The column count identifies the board: 24 Cyton (250 Hz, EXG rows 1-8,
  timestamp 22), 32 Cyton+Daisy (125 Hz, EXG 1-16, timestamp 30), 15 Ganglion
  (200 Hz, EXG 1-4, timestamp 13). 32 columns are also the synthetic board
  (250 Hz) and 24/32 the WiFi shield variants (1000 Hz): when the count is
  ambiguous the timestamps' mean rate picks the board; ``board=`` forces it.
- EXG values are µV (BrainFlow scales them). Row 0 is the package counter
  (Cyton sample counter 0-255; Ganglion packet id, 2 samples per id), which
  with the timestamp column (host epoch seconds) gives the gaps, see
  :mod:`emgpipe.io._gaps`.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from ..devices.boards import CYTON, CYTON_DAISY, GANGLION
from ..errors import BadData, BadHeader, UsageError
from . import _text
from ._gaps import is_counter
from .base import Recording, StreamedRecording
from ._gaps import CounterStream
from ._text import (check_rows_finite, estimate_rows, first_line, iter_table, name_of, open_text,
                    reject_options)

log = logging.getLogger(__name__)

FORMAT = "brainflow_csv"


@dataclass(frozen=True)
class Board:
    """A BrainFlow board descriptor (``brainflow_boards.cpp``)."""

    name: str
    board_id: int
    fs: float
    num_rows: int
    exg: tuple
    timestamp: int
    package: int = 0
    modulo: int | None = None     # counter cycle; None = learn from the data


def _rng(a, b):
    return tuple(range(a, b + 1))


#: Boards with an EXG layout we read (BrainFlow board ids and rows, protocols.md §1.9).
BOARDS = {
    "cyton": Board("cyton", 0, CYTON.fs, 24, _rng(1, CYTON.n_channels), 22,
                   modulo=CYTON.counter_modulo),
    "cyton_daisy": Board("cyton_daisy", 2, CYTON_DAISY.fs, 32, _rng(1, CYTON_DAISY.n_channels), 30,
                         modulo=CYTON_DAISY.counter_modulo),
    "ganglion": Board("ganglion", 1, GANGLION.fs, 15, _rng(1, GANGLION.n_channels), 13),
    "ganglion_native": Board("ganglion_native", 46, GANGLION.fs, 15, _rng(1, GANGLION.n_channels), 13),
    "synthetic": Board("synthetic", -1, 250.0, 32, _rng(1, 16), 30),
    "cyton_wifi": Board("cyton_wifi", 5, 1000.0, 24, _rng(1, 8), 22),
    "cyton_daisy_wifi": Board("cyton_daisy_wifi", 6, 1000.0, 32, _rng(1, 16), 30),
    "ganglion_wifi": Board("ganglion_wifi", 4, 1600.0, 25, _rng(1, 4), 23),
}
#: Default board for a column count (first listed wins when timestamps cannot tell).
BY_COLUMNS = {24: ("cyton", "cyton_wifi"), 32: ("cyton_daisy", "synthetic", "cyton_daisy_wifi"),
              15: ("ganglion",), 25: ("ganglion_wifi",)}


def board_by_name(name) -> Board:
    """Look a board up by name or BrainFlow id (``"cyton"``, ``0``, ``"CYTON_DAISY_BOARD"``)."""
    key = str(name).strip().lower().removesuffix("_board")
    for b in BOARDS.values():
        if key in (b.name, str(b.board_id)):
            return b
    raise UsageError(f"board={name!r}: unknown BrainFlow board (known: {', '.join(BOARDS)})")


def parse_header(first_line: str, board=None, path=None) -> tuple[Board, str, tuple]:
    """Sniff a BrainFlow CSV from its first row (the format has no header).

    Returns
    -------
    board : Board
        From ``board`` if given, else the first candidate for the column count.
    delimiter : str
    candidates : tuple of str
        Boards with that column count (more than one = ambiguous).

    Examples
    --------
    >>> b, d, c = parse_header("\\t".join(["0.000000"] * 15))
    >>> b.name, b.fs, b.exg, repr(d)
    ('ganglion', 200.0, (1, 2, 3, 4), "'\\\\t'")
    """
    line = first_line.lstrip("\ufeff").rstrip("\r\n")
    delim = "\t" if "\t" in line else ","
    n = len(line.split(delim))
    if board is not None:
        b = board_by_name(board)
        if b.num_rows != n:
            raise BadHeader(path, f"line 1: {n} columns, but a BrainFlow {b.name} file has {b.num_rows}")
        return b, delim, (b.name,)
    if n not in BY_COLUMNS:
        known = ", ".join(f"{k} ({'/'.join(v)})" for k, v in BY_COLUMNS.items())
        raise BadHeader(path, f"line 1: {n} columns: not a BrainFlow board layout I know "
                              f"(columns: {known}); pass board=... to choose")
    cands = BY_COLUMNS[n]
    return BOARDS[cands[0]], delim, cands


def _pick_by_rate(cands, clock, n_rows) -> Board | None:
    """The candidate whose fs is nearest (in ratio) to the timestamps' mean rate."""
    if clock is None or n_rows < 3:
        return None
    span = float(clock[-1] - clock[0])
    if not span > 1.0:
        return None
    rate = (n_rows - 1) / span   # lost samples make it low by their share only
    best = min(cands, key=lambda c: abs(math.log(BOARDS[c].fs / rate)))
    return BOARDS[best]


def read(path, *, board=None, fs: float | None = None, **opts) -> Recording:
    """Open a BrainFlow CSV file; samples stream from the file.

    The first block of rows (the *prefix*, up to
    :data:`~emgpipe.io._text.STREAM_LINES` rows) decides whether the
    timestamp column is a usable clock, picks the board when the column
    count is ambiguous (the prefix's mean timestamp rate) and gives the
    counter's statistics (:class:`~emgpipe.io._gaps.CounterStream`).

    Parameters
    ----------
    path : path-like
    board : str or int, optional
        BrainFlow board name or id; default from the column count.
    fs : float, optional
        Override the board's sample rate.

    Returns
    -------
    StreamedRecording
        EXG channels ``EXG Channel 0``.. in µV; ``meta``: ``format``, ``board``,
        ``board_id``, ``board_from`` (``option``/``columns``/``columns+timestamps``).
    """
    reject_options(path, "BrainFlow CSV", opts)

    def table(f, block_lines=None):
        first = first_line(path, f, "BrainFlow CSV")
        b, delim, cands = parse_header(first, board, path)
        names = [f"row {k}" for k in range(b.num_rows)]
        for k, e in enumerate(b.exg):
            names[e] = f"EXG Channel {k}"
        names[b.package], names[b.timestamp] = "package_num", "timestamp"

        def lines():
            yield first
            yield from f

        return b, cands, names, iter_table(path, lines(), 1, names=names, delimiter=delim,
                                                  block_lines=block_lines)

    with open_text(path) as f:
        b, cands, names, it = table(f, _text.PREFIX_LINES)
        prefix = next(it, None)
        it.close()
    if prefix is None or prefix.data.shape[0] == 0:
        raise BadData(path, "no samples (only a truncated line)")
    clock = prefix.data[:, b.timestamp]
    clock = clock if np.isfinite(clock).all() and np.all(clock > 1e8) else None
    idx = prefix.data[:, b.package]
    have_counter = is_counter(idx)
    board_from = "option" if board is not None else "columns"
    if board is None and len(cands) > 1:
        pick = _pick_by_rate(cands, clock, len(idx))
        if pick is not None:
            b, board_from = pick, "columns+timestamps"
        else:
            log.warning("%s: %d columns fit %s; assuming %s (pass board=... to choose)",
                        name_of(path), b.num_rows, "/".join(cands), b.name)
    ch = tuple(f"EXG Channel {k}" for k in range(len(b.exg)))
    cols = list(b.exg)
    check_rows_finite(path, prefix, ch, cols=cols)
    rate = float(fs) if fs is not None else b.fs
    use_clock = clock is not None
    meta = {"format": FORMAT, "board": b.name, "board_id": b.board_id, "board_from": board_from,
            "dropped_last_line": prefix.dropped_last_line if prefix.last else None,
            "time_offset_epoch_s": float(clock[0]) if clock is not None else None}
    prefix_idx = idx.astype(np.int64) if have_counter else None
    del prefix, clock, idx
    if not have_counter:
        log.warning("%s: package_num column is not a counter; gaps cannot be detected", name_of(path))

    def blocks():
        from .base import Block
        with open_text(path) as f:
            it = table(f)[3]
            gs = CounterStream(name_of(path), rate, prefix_idx, modulo=b.modulo,
                               use_clock=use_clock) if have_counter else None
            seq = 0
            for blk in it:
                if blk.last:
                    meta["dropped_last_line"] = blk.dropped_last_line
                if not blk.data.shape[0]:
                    continue
                check_rows_finite(path, blk, ch, cols=cols)
                data = np.ascontiguousarray(blk.data[:, cols])
                if gs is None:
                    yield Block(seq, data)
                    seq += len(data)
                    continue
                idx = blk.data[:, b.package]
                if not is_counter(idx):
                    raise BadData(path, f"line {blk.first_line}-{blk.row_line(len(idx) - 1)}: "
                                        f"package_num column stops being a counter")
                clk = blk.data[:, b.timestamp] if use_clock else None
                if clk is not None and not np.all(clk > 1e8):
                    clk = np.full(len(clk), np.nan)
                yield from gs.feed(data, idx.astype(np.int64), clk)
            if gs is not None:
                yield from gs.finish()

    rows = estimate_rows(path, 0)
    return StreamedRecording(path=name_of(path), fs=rate, ch_names=ch, blocks=blocks, meta=meta,
                             duration_hint_s=None if rows is None else rows / rate)
