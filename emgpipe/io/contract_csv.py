"""The recording CSV of the outside contract (``CONTRACT.md``), reader and streaming writer.

Format
------
- Header row ``time_s,<channel>,<channel>,...``; one row per sample; values in
  microvolts; comma-separated.
- ``fs`` = 1 / median step of ``time_s``. Steps longer than 1.5 median steps are
  samples the recorder lost: they become :class:`~emgpipe.types.Gap` objects
  (``round(step * fs) - 1`` samples each), never hidden.
- Optional sidecar ``<stem>.json`` beside the file: ``{"fs": 1000, "mode":
  "sleep"|"awake", "channels": [...], ...}``. Its ``fs`` is used (exact) when it
  agrees with the ``time_s`` steps within 1 %, else the file is rejected; its
  ``channels`` must equal the header's; ``mode`` goes to ``meta["mode"]``; the
  whole sidecar is kept in ``meta["sidecar"]``.
- Truncation: a cut-short last line is dropped with a warning (see
  :mod:`emgpipe.io._text`); a short line elsewhere is an error.

Examples
--------
>>> parse_header("time_s,TA,GM")
('TA', 'GM')
"""
from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

import numpy as np

from ..errors import BadData, BadHeader, StorageError
from . import _text
from .base import Recording, Splitter, StreamedRecording
from ._text import (check_rows_finite, estimate_rows, first_line, iter_table, last_line, name_of,
                    open_text, reject_options)

log = logging.getLogger(__name__)

FORMAT = "contract_csv"
TIME_COL = "time_s"
#: A step of more than this many sample periods is a gap (CONTRACT.md / issue 2).
GAP_STEPS = 1.5
#: Sidecar fs and measured fs may differ by this fraction (time_s is rounded text).
FS_TOLERANCE = 0.01
MODES = ("sleep", "awake")


def _check_names(names, where) -> tuple:
    if not names:
        raise ValueError(f"{where} names no channel")
    for n in names:
        if not n:
            raise ValueError(f"{where} has an empty channel name")
        if n == TIME_COL:
            raise ValueError(f"{where} uses '{TIME_COL}' as a channel name")
        if any(c in n for c in ",\r\n"):
            raise ValueError(f"{where}: channel name {n!r} contains a comma or newline")
    dup = sorted({n for n in names if list(names).count(n) > 1})
    if dup:
        raise ValueError(f"{where} repeats channel name(s) {', '.join(dup)}")
    return tuple(names)


def parse_header(line: str, path=None) -> tuple:
    """Validate a contract CSV header and return the channel names.

    Parameters
    ----------
    line : str
        The first line of the file.
    path : path-like, optional
        Only for the error message.

    Returns
    -------
    tuple of str
        Channel names (``time_s`` excluded).

    Raises
    ------
    BadHeader
        Unless the line is ``time_s,<name>,...`` with unique non-empty names.

    Examples
    --------
    >>> parse_header("time_s, TA ,\\"GM\\"\\n")
    ('TA', 'GM')
    >>> parse_header("t,TA")
    Traceback (most recent call last):
    ...
    emgpipe.errors.BadHeader: <input>: line 1: header must start with 'time_s', found 't'
    """
    fields = [f.strip().strip('"').strip() for f in line.lstrip("\ufeff").rstrip("\r\n").split(",")]
    if fields[0] != TIME_COL:
        raise BadHeader(path, f"line 1: header must start with '{TIME_COL}', found {fields[0][:40]!r}")
    try:
        return _check_names(fields[1:], "line 1: header")
    except ValueError as exc:
        raise BadHeader(path, str(exc)) from None


def sidecar_path(path) -> Path:
    """``<stem>.json`` beside a recording."""
    return Path(path).with_suffix(".json")


def read_sidecar(path) -> dict | None:
    """The validated sidecar of ``path``, or None when there is none."""
    sp = sidecar_path(path)
    if not sp.is_file():
        return None
    try:
        with open(sp, encoding="utf-8-sig") as f:
            side = json.load(f)
    except json.JSONDecodeError as exc:
        raise BadHeader(sp, f"not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadHeader(sp, f"cannot read sidecar ({exc})") from None
    if not isinstance(side, dict):
        raise BadHeader(sp, "sidecar must be a JSON object")
    if "fs" in side:
        fs = side["fs"]
        if isinstance(fs, bool) or not isinstance(fs, (int, float)) or not (fs > 0 and math.isfinite(fs)):
            raise BadHeader(sp, f"'fs' must be a positive number, got {fs!r}")
    if "channels" in side:
        ch = side["channels"]
        if not isinstance(ch, list) or not all(isinstance(c, str) for c in ch):
            raise BadHeader(sp, "'channels' must be a list of strings")
    if "mode" in side and side["mode"] not in MODES:
        raise BadHeader(sp, f"'mode' must be one of {', '.join(MODES)}, got {side['mode']!r}")
    return side


#: A time_s step of more samples than this is a corrupt value, not lost samples.
MAX_JUMP_STEPS = 2.0 ** 40


def _fs_from_times(path, t: np.ndarray, table) -> tuple[float, np.ndarray]:
    """Estimate fs from ``time_s``; return (fs, steps)."""
    d = np.diff(t)
    bad = np.flatnonzero(d <= 0)
    if bad.size:
        i = int(bad[0]) + 1
        raise BadData(path, f"line {table.row_line(i)}: {TIME_COL} does not increase "
                            f"({float(t[i])!r} after {float(t[i - 1])!r})")
    step = float(np.median(d))
    # Refine with the whole span (time_s is rounded text, the span is exact to
    # its last digit): fs = samples spanned / seconds spanned.
    with np.errstate(all="ignore"):
        ratio = np.rint(d / step)
        span = float(t[-1] - t[0])
    if not (np.isfinite(ratio).all() and ratio.max(initial=0) < MAX_JUMP_STEPS and math.isfinite(span)):
        raise BadData(path, f"{TIME_COL} values are absurd (from {float(t[0])!r} to {float(t[-1])!r} "
                            f"in {len(t)} rows)")
    n_span = int(np.sum(np.maximum(1, ratio)))
    fs = n_span / span
    if abs(fs - round(fs)) <= 1e-5 * fs:  # e.g. 999.99998 -> 1000 (rounding of %.6f times)
        fs = float(round(fs))
    return fs, d


def read(path, *, fs: float | None = None, **opts) -> Recording:
    """Open a contract recording CSV (+ its sidecar); samples stream from the file.

    The header, the sidecar and the first block of rows (the *prefix*, up to
    :data:`~emgpipe.io._text.STREAM_LINES` rows) are read and checked here;
    the sample rate, when neither ``fs`` nor the sidecar gives it, is
    estimated from the prefix's ``time_s`` (exactly the whole-file estimate
    for files that fit in the prefix; for longer ones the estimate of their
    first rows, snapped to a whole number of Hz as before). Later rows are
    read block by block when the recording is iterated; ``time_s`` jumps
    become gaps across block boundaries too.

    Parameters
    ----------
    path : path-like
    fs : float, optional
        Force the sample rate (otherwise sidecar, else ``time_s``).

    Returns
    -------
    StreamedRecording
        ``meta``: ``format``, ``mode`` (from the sidecar), ``sidecar``,
        ``time_offset_s`` (first ``time_s``), ``dropped_last_line`` (known
        once the last block has been read).
    """
    reject_options(path, "contract CSV", opts)
    name = name_of(path)
    side = read_sidecar(path)
    with open_text(path) as f:
        header = first_line(path, f, "contract CSV")
        ch = parse_header(header, path)
        names = (TIME_COL,) + ch
        it = iter_table(path, f, 2, names=names, delimiter=",", block_lines=_text.PREFIX_LINES)
        prefix = next(it, None)
        it.close()
    if side is not None and "channels" in side and tuple(side["channels"]) != ch:
        raise BadHeader(path, f"sidecar {sidecar_path(path).name} lists channels "
                              f"{list(side['channels'])} but the header has {list(ch)}")
    n = 0 if prefix is None else prefix.data.shape[0]
    if n == 0:
        raise BadData(path, "no samples (header only)")
    check_rows_finite(path, prefix, names)
    t = prefix.data[:, 0]
    side_fs = float(side["fs"]) if side and "fs" in side else None
    est = _fs_from_times(path, t, prefix)[0] if n >= 2 else None
    if fs is not None:
        rate = float(fs)
    elif side_fs is not None:
        d = np.diff(t)
        d = d[d > 0]
        k = d * side_fs
        # steps that are all whole numbers of the sidecar's sample period agree with it,
        # lost samples included (a short file whose only step is a gap; found by tests/fuzz)
        if est is not None and abs(est - side_fs) > FS_TOLERANCE * side_fs and not (
                k.size and np.all(np.abs(k - np.rint(k)) <= FS_TOLERANCE) and k.min() >= 0.5):
            raise BadHeader(path, f"{TIME_COL} steps give fs = {est:.6g} Hz but sidecar "
                                  f"{sidecar_path(path).name} says {side_fs:g} Hz")
        rate = side_fs
    elif est is not None:
        rate = est
    else:
        raise BadData(path, "only one sample and no sidecar fs: cannot tell the sample rate")
    t0 = float(t[0])
    meta = {"format": FORMAT, "time_offset_s": t0,
            "dropped_last_line": prefix.dropped_last_line if prefix.last else None}
    if side is not None:
        meta["sidecar"] = side
        if "mode" in side:
            meta["mode"] = side["mode"]

    def blocks():
        sp = Splitter(rate)
        prev = None
        with open_text(path) as f:
            first_line(path, f, "contract CSV")
            for blk in iter_table(path, f, 2, names=names, delimiter=","):
                if blk.last:
                    meta["dropped_last_line"] = blk.dropped_last_line
                if not blk.data.shape[0]:
                    continue
                check_rows_finite(path, blk, names)
                tb = blk.data[:, 0]
                tt = tb if prev is None else np.concatenate(([prev], tb))
                d = np.diff(tt)
                bad = np.flatnonzero(d <= 0)
                if bad.size:
                    k = int(bad[0]) + 1
                    raise BadData(path, f"line {blk.row_line(k - (prev is not None))}: {TIME_COL} does "
                                        f"not increase ({float(tt[k])!r} after {float(tt[k - 1])!r})")
                with np.errstate(all="ignore"):
                    dr = d * rate
                if not (np.isfinite(dr).all() and dr.max(initial=0) < MAX_JUMP_STEPS):
                    k = int(np.argmax(~(np.isfinite(dr) & (dr < MAX_JUMP_STEPS)))) + 1
                    raise BadData(path, f"line {blk.row_line(k - (prev is not None))}: {TIME_COL} jumps "
                                        f"to {float(tt[k])!r} (absurd)")
                steps = np.rint(dr).astype(np.int64)
                missing = np.where(d * rate > GAP_STEPS, steps - 1, 0)
                before = missing if prev is not None else np.concatenate(([0], missing))
                yield from sp.feed(np.ascontiguousarray(blk.data[:, 1:]), before, f"{TIME_COL} jump")
                prev = float(tb[-1])
        if sp.gaps:
            log.info("%s: %d gap(s), %d samples missing", name, len(sp.gaps),
                     sum(g.n_missing for g in sp.gaps))

    hint = None
    if prefix.last:
        hint = (float(t[-1]) - t0) * rate + 1
    else:
        tail = last_line(path)
        try:
            hint = (float(tail.split(",")[0]) - t0) * rate + 1
        except (AttributeError, ValueError):
            rows = estimate_rows(path, 1)
            hint = rows
    return StreamedRecording(path=name, fs=rate, ch_names=ch, blocks=blocks, meta=meta,
                             duration_hint_s=None if hint is None else hint / rate)


class CsvWriter:
    """Stream samples to a contract recording CSV and its sidecar JSON.

    The sidecar ``<stem>.json`` (``{"fs", "channels", **sidecar}``) is written
    when the writer opens, so a file cut short by a crash is still readable.
    Blocks are formatted in C-speed batches (about 1.3 M rows/s for 2
    channels), memory-flat whatever the total length.

    Parameters
    ----------
    path : path-like
        The ``.csv`` to write (replaced if it exists).
    fs : float
        Sample rate (Hz).
    ch_names : sequence of str
    sidecar : dict, optional
        Extra sidecar keys (e.g. ``{"mode": "sleep", "scenario": ...}``).
    time_fmt, value_fmt : str
        ``%.6f`` keeps ``time_s`` exact at 4 kHz (step 0.00025 s) and to 1 µs
        at any rate; ``%.3f`` µV is far below any EMG noise floor.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "rec.csv")
    >>> with CsvWriter(p, 1000, ["TA"], {"mode": "awake"}) as w:
    ...     w.write(np.array([[1.0], [2.5]]))
    >>> open(p).read()
    'time_s,TA\\n0.000000,1.000\\n0.001000,2.500\\n'
    >>> read(p).meta["mode"]
    'awake'
    """

    #: rows formatted per batch (keeps the format string and text ~1 MB)
    BATCH = 20_000

    def __init__(self, path, fs: float, ch_names, sidecar: dict | None = None, *,
                 time_fmt: str = "%.6f", value_fmt: str = "%.3f"):
        fs = float(fs)
        if not (fs > 0 and math.isfinite(fs)):
            raise ValueError(f"fs must be a positive number, got {fs!r}")
        try:
            self.ch_names = _check_names([str(c) for c in ch_names], "ch_names")
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        side = {"fs": fs if fs != int(fs) else int(fs), "channels": list(self.ch_names)}
        for k, v in (sidecar or {}).items():
            if k in side and v != side[k]:
                raise ValueError(f"sidecar {k}={v!r} contradicts the writer's {side[k]!r}")
            side[k] = v
        self.path = os.fspath(path)
        self.fs = fs
        self.sidecar = side
        self.next_seq = 0
        self.n_written = 0
        self._f = None
        self._row = time_fmt + ("," + value_fmt) * len(self.ch_names) + "\n"
        try:
            with open(sidecar_path(self.path), "w", encoding="utf-8") as f:
                json.dump(side, f, indent=1)
                f.write("\n")
            self._f = open(self.path, "w", encoding="utf-8", newline="\n")
            self._f.write(",".join((TIME_COL,) + self.ch_names) + "\n")
        except OSError as exc:
            raise StorageError(f"{self.path}: cannot write ({exc.strerror or exc})") from None

    def write(self, block, seq: int | None = None) -> None:
        """Append samples.

        Parameters
        ----------
        block : array (n, n_channels)
            µV, finite.
        seq : int, optional
            Index of the block's first sample; a value past :attr:`next_seq`
            leaves a ``time_s`` jump (lost samples, read back as a Gap).
        """
        if self._f is None:
            raise ValueError(f"{self.path}: writer is closed")
        x = np.asarray(block, dtype=np.float64)
        if x.ndim == 1 and len(self.ch_names) == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != len(self.ch_names):
            raise ValueError(f"block shape {x.shape} does not match {len(self.ch_names)} channel(s)")
        if not np.isfinite(x).all():
            raise ValueError(f"{self.path}: block contains NaN or inf")
        if seq is not None:
            if seq < self.next_seq:
                raise ValueError(f"seq {seq} goes back (next sample is {self.next_seq})")
            self.next_seq = int(seq)
        n = x.shape[0]
        try:
            for a in range(0, n, self.BATCH):
                b = min(n, a + self.BATCH)
                t = (self.next_seq + np.arange(a, b)) / self.fs
                rows = np.empty((b - a, x.shape[1] + 1))
                rows[:, 0] = t
                rows[:, 1:] = x[a:b]
                self._f.write((self._row * (b - a)) % tuple(rows.ravel()))
        except OSError as exc:
            raise StorageError(f"{self.path}: write failed ({exc.strerror or exc})") from None
        self.next_seq += n
        self.n_written += n

    def flush(self) -> None:
        if self._f is not None:
            self._f.flush()

    def close(self) -> None:
        """Finish the file. Safe to call twice."""
        if self._f is not None:
            try:
                self._f.close()
            except OSError as exc:
                raise StorageError(f"{self.path}: close failed ({exc.strerror or exc})") from None
            finally:
                self._f = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        f = getattr(self, "_f", None)
        if f is not None:
            f.close()
