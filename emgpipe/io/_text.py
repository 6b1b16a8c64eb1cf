"""Fast, strict parsing of delimited numeric text tables (shared by the text readers).

Rows are parsed in blocks of lines with :func:`numpy.loadtxt` (its C parser reads
about a million rows a second). Only when a block fails does a slow pass run
over that block to name the exact line and column, so a malformed cell costs
nothing on good files.

Truncation rule (all text readers): a recorder killed mid-write leaves a final
line cut short. The **last** non-blank line of a file is dropped with a warning
when it has fewer fields than the header (or ends in an empty field); the
drop is reported in ``meta["dropped_last_line"]``. A short line anywhere else
is an error. A last line cut inside a number with all its fields present
cannot be recognised and is kept.
"""
from __future__ import annotations

import logging
import os
from itertools import islice
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from ..errors import BadData, BadHeader, RecordingError, UsageError

log = logging.getLogger(__name__)

#: Lines per :func:`numpy.loadtxt` call: large enough to amortise the call,
#: small enough that the list of line strings stays a few MB (memory-flat).
BLOCK_LINES = 100_000


def open_text(path):
    """Open a text recording (UTF-8, BOM tolerated, universal newlines)."""
    try:
        return open(path, "r", encoding="utf-8-sig", errors="strict", newline=None)
    except FileNotFoundError:
        raise BadData(path, "file not found") from None
    except IsADirectoryError:
        raise BadData(path, "is a directory, not a recording file") from None
    except OSError as exc:
        raise BadData(path, f"cannot open ({exc.strerror or exc})") from None


def first_line(path, f, what: str) -> str:
    """The first line of an open text recording; errors for binary or empty files."""
    try:
        line = f.readline()
    except UnicodeDecodeError:
        raise BadHeader(path, f"not a text file ({what} expected)") from None
    if not line.strip():
        raise BadData(path, "file is empty" if not line else "line 1: empty line where the header belongs")
    return line


def name_of(path) -> str:
    return os.fspath(path)


class Table:
    """Result of :func:`read_table`.

    Attributes
    ----------
    data : ndarray (n, n_fields) float64
    first_line : int
        1-based line number of the first data row.
    dropped_last_line : int or None
        Line number of a truncated last line that was dropped.
    row_lines : callable
        ``row_lines(i)`` -> line number of data row ``i``.
    """

    def __init__(self, data, first_line, dropped_last_line, blank_lines):
        self.data = data
        self.first_line = first_line
        self.dropped_last_line = dropped_last_line
        self._blank = np.asarray(sorted(blank_lines), dtype=np.int64)

    def row_line(self, i: int) -> int:
        """Line number of data row ``i`` (blank lines skipped in between)."""
        line = self.first_line + int(i)
        # each blank line at or before the candidate pushes it one further
        for b in self._blank:
            if b <= line:
                line += 1
            else:
                break
        return line


def _split(line: str, delimiter: str | None) -> list[str]:
    return line.split(delimiter) if delimiter is not None else line.split()


def _diagnose(path, lines: Sequence[str], first_line: int, delimiter,
              names: Sequence[str], converters: dict) -> None:
    """Slow pass over a block that numpy rejected: raise naming line and column."""
    for k, line in enumerate(lines):
        if not line.strip():
            continue
        fields = _split(line.rstrip("\r\n"), delimiter)
        lineno = first_line + k
        if len(fields) != len(names):
            raise BadData(path, f"line {lineno}: expected {len(names)} fields, found {len(fields)}")
        for col, name in enumerate(names):
            cell = fields[col].strip()
            conv = converters.get(col, float)
            try:
                conv(cell)
            except (ValueError, TypeError):
                raise BadData(path, f"line {lineno}: column '{name}' is not a number ({cell!r})") \
                    from None
    raise BadData(path, f"lines {first_line}-{first_line + len(lines) - 1}: cannot parse the rows")


def _is_truncated(line: str, delimiter, n_fields: int) -> bool:
    fields = _split(line.rstrip("\r\n"), delimiter)
    return len(fields) < n_fields or (len(fields) == n_fields and not fields[-1].strip())


#: Lines per block when a reader streams a file (:func:`iter_table`): a block of
#: 50 000 rows is a few MB of line strings plus its array, whatever the file's length.
STREAM_LINES = 50_000
#: Rows a reader reads when it opens a file (the *prefix*) to check it and to learn
#: what needs more than one row: the rate from ``time_s``, a packet counter's cycle
#: and usual step, whether the host clock column is usable.
PREFIX_LINES = 50_000


class TableBlock(Table):
    """One block of rows from :func:`iter_table` (``data``, ``row_line(i)``, ``last``)."""

    def __init__(self, data, first_line, dropped_last_line, blank_lines, last):
        super().__init__(data, first_line, dropped_last_line, blank_lines)
        self.last = last


def iter_table(path, f: Iterable[str], first_line: int, *, names: Sequence[str],
               delimiter: str | None = ",",
               converters: dict[int, Callable[[str], float]] | None = None,
               block_lines: int | None = None) -> Iterator[TableBlock]:
    """Parse the rest of an open text file as a numeric table, block by block.

    Same rules and messages as :func:`read_table` (which is this, concatenated):
    every row must have exactly ``len(names)`` fields; blank lines are skipped;
    a cut-short *last* line is dropped with a warning (the block that holds it
    has ``dropped_last_line`` set and ``last`` True). Memory: one block of line
    strings plus one line of look-ahead.

    Yields
    ------
    TableBlock
        ``data`` (rows, n_fields) float64; ``row_line(i)`` is the file line of row ``i``.
    """
    converters = dict(converters or {})
    n_fields = len(names)
    block_lines = block_lines or STREAM_LINES
    lineno = first_line
    it = _text_lines(path, f)
    block = list(islice(it, block_lines))
    while block:
        ahead = list(islice(it, 1))
        dropped, blanks = None, []
        last = not ahead
        if last:
            # last block: drop trailing blank lines, then a truncated last line
            n_read = len(block)
            while block and not block[-1].strip():
                block.pop()
            if block and _is_truncated(block[-1], delimiter, n_fields):
                dropped = lineno + len(block) - 1
                log.warning("%s: line %d: last line is cut short (%r); dropped it",
                            name_of(path), dropped, block[-1].rstrip("\r\n")[:60])
                block.pop()
        if block:
            try:
                arr = np.loadtxt(block, delimiter=delimiter, ndmin=2, dtype=np.float64,
                                 comments=None, converters=converters or None, encoding=None)
            except (ValueError, IndexError, TypeError):
                arr = None
            if arr is None or (arr.shape[0] and arr.shape[1] != n_fields):
                _diagnose(path, block, lineno, delimiter, names, converters)
            if arr.shape[0] != len(block):  # numpy skipped blank lines: remember them
                blanks = [lineno + k for k, ln in enumerate(block) if not ln.strip()]
        else:
            arr = np.empty((0, n_fields))
        if arr.shape[0] or last:
            yield TableBlock(arr, lineno, dropped, blanks, last)
        lineno += len(block) if not last else n_read
        if last:
            return
        block = ahead + list(islice(it, block_lines - 1))


def read_table(path, f: Iterable[str], first_line: int, *, names: Sequence[str],
               delimiter: str | None = ",",
               converters: dict[int, Callable[[str], float]] | None = None,
               block_lines: int = BLOCK_LINES) -> Table:
    """Parse the rest of an open text file as a numeric table (all rows at once).

    Every row must have exactly ``len(names)`` fields (numpy enforces that rows
    agree; the first row of each block is checked against ``names``).

    Parameters
    ----------
    path : path-like
        For messages.
    f : iterator of str
        Remaining lines (header already consumed).
    first_line : int
        1-based line number of the first line ``f`` yields.
    names : sequence of str
        One name per field (messages).
    delimiter : str or None
        ``None`` = any whitespace.
    converters : dict
        Column -> str->float function for non-numeric columns (e.g. clock time).

    Returns
    -------
    Table
        ``data`` has one column per field.
    """
    parts, blanks, dropped = [], [], None
    for blk in iter_table(path, f, first_line, names=names, delimiter=delimiter,
                          converters=converters, block_lines=block_lines):
        parts.append(blk.data)
        blanks.extend(blk._blank.tolist())
        dropped = blk.dropped_last_line if blk.last else dropped
    data = np.concatenate(parts) if parts else np.empty((0, len(names)))
    return Table(data, first_line, dropped, blanks)


def _text_lines(path, f):
    try:
        yield from f
    except UnicodeDecodeError:
        raise BadData(path, "contains bytes that are not text") from None


def check_rows_finite(path, table: Table, names: Sequence[str], cols: Sequence[int] | None = None):
    """Raise :class:`BadData` naming the line and channel of the first NaN/inf."""
    check_samples_finite(path, table.data if cols is None else table.data[:, cols], names,
                         where=lambda r: f"line {table.row_line(r)}")


def check_samples_finite(path, data: np.ndarray, names: Sequence[str],
                         where: Callable[[int], str] = lambda r: f"sample {r + 1}"):
    """Raise :class:`BadData` naming the row (``where(row)``) and channel of the first NaN/inf."""
    bad = ~np.isfinite(data)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise BadData(path, f"{where(int(r))}: channel '{names[c]}' is "
                            f"{float(data[r, c])!r} (not a finite number)")


def unique_names(names) -> tuple:
    """Names made unique by suffixing repeats: ``EMG, EMG`` -> ``EMG, EMG_2``."""
    out = []
    for n in names:
        k, cand = 2, n
        while cand in out:
            cand, k = f"{n}_{k}", k + 1
        out.append(cand)
    return tuple(out)


def reject_options(path, fmt: str, opts: dict) -> None:
    """A reader got options it does not know: one-line error naming them."""
    if opts:
        raise UsageError(f"{name_of(path)}: option(s) {', '.join(sorted(opts))} do not apply "
                         f"to {fmt} files")


def wrap_oserror(path, exc: OSError) -> RecordingError:
    return BadData(path, f"cannot read ({exc.strerror or exc})")


def last_line(path, nbytes: int = 65536) -> str | None:
    """The file's last non-blank line (read from its end: a cheap duration estimate)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - nbytes))
            tail = f.read()
    except OSError:
        return None
    lines = [ln for ln in tail.decode("utf-8", errors="replace").splitlines() if ln.strip()]
    return lines[-1] if lines else None


def estimate_rows(path, header_lines: int, sample_bytes: int = 1 << 18) -> int | None:
    """Data rows in a text file, estimated from its size and the length of its
    first rows (no pass over the file: for a progress bar)."""
    try:
        with open(path, "rb") as f:
            for _ in range(header_lines):
                f.readline()
            start = f.tell()
            head = f.read(sample_bytes)
            size = os.fstat(f.fileno()).st_size
    except OSError:
        return None
    rows = head.count(b"\n")
    if rows == 0:
        return 1 if head.strip() else 0
    if len(head) < sample_bytes:
        return rows + (0 if head.endswith(b"\n") else 1)
    return int(round((size - start) * rows / len(head)))
