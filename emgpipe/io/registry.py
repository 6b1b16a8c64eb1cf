"""Choose the reader for a recording file, and find the recordings in a directory.

A reader is chosen by the file's first bytes (:func:`sniff`), checked against
its extension (:data:`EXTENSIONS`). When the content is a known format that
the extension does not fit (an EDF renamed ``.csv``), the error says what the
file looks like and how to read it instead of failing deep in a parser.

Formats (``fmt`` names, as ``replay --format`` takes them):

=============  ===============================================  =====================
fmt            what                                             module
=============  ===============================================  =====================
csv            contract recording CSV (+ sidecar JSON)          :mod:`.contract_csv`
openbci        OpenBCI GUI text, v5/v6/old Ganglion             :mod:`.openbci_txt`
brainflow      BrainFlow CSV (file streamer, write_file)        :mod:`.brainflow_csv`
edf            EDF, EDF+, BDF, BDF+                             :mod:`.edf`
wfdb           WFDB record (``.hea`` + signal files)            :mod:`.wfdb_io`
opensignals    OpenSignals / BITalino text (ADC counts -> µV)   :mod:`.opensignals`
=============  ===============================================  =====================
"""
from __future__ import annotations

import importlib
import logging
import os
import re
from pathlib import Path
from typing import Iterable

from ..errors import BadData, UnsupportedFormat, UsageError
from .base import Recording

log = logging.getLogger(__name__)

#: fmt -> (module, human name)
READERS: dict[str, tuple[str, str]] = {
    "csv": ("contract_csv", "contract recording CSV"),
    "openbci": ("openbci_txt", "OpenBCI GUI text"),
    "brainflow": ("brainflow_csv", "BrainFlow CSV"),
    "edf": ("edf", "EDF/BDF"),
    "wfdb": ("wfdb_io", "WFDB record"),
    "opensignals": ("opensignals", "OpenSignals/BITalino text"),
}
ALIASES = {"contract": "csv", "contract_csv": "csv", "openbci_txt": "openbci", "obci": "openbci",
           "brainflow_csv": "brainflow", "bdf": "edf", "edf+": "edf", "bdf+": "edf",
           "hea": "wfdb", "bitalino": "opensignals", "opensignals_txt": "opensignals"}

#: extension -> formats a file with it may hold (first = the one to try when the
#: content says nothing). The suggestion for a wrong one comes from here.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    ".csv": ("csv", "brainflow"),
    ".txt": ("openbci", "opensignals", "brainflow"),
    ".tsv": ("brainflow",),
    ".edf": ("edf",),
    ".bdf": ("edf",),
    ".rec": ("edf",),
    ".hea": ("wfdb",),
}
#: preferred extension per format (for "rename it to ...")
PREFERRED_EXT = {"csv": ".csv", "openbci": ".txt", "brainflow": ".csv", "edf": ".edf",
                 "wfdb": ".hea", "opensignals": ".txt"}
#: Files beside recordings that are not recordings (skipped in directories).
NOT_RECORDINGS = (".events.csv", ".labels.csv", ".cycles.csv")
_DOC_NAME = re.compile(r"^(license|licence|readme|copying|notice|authors|changelog)", re.I)

SNIFF_BYTES = 4096


def normalise_fmt(fmt: str) -> str:
    """Canonical format name; :class:`UsageError` for an unknown one."""
    key = str(fmt).strip().lower()
    key = ALIASES.get(key, key)
    if key not in READERS:
        raise UsageError(f"--format {fmt!r}: unknown format (known: {', '.join(READERS)})")
    return key


def sniff_bytes(head: bytes) -> str | None:
    """The format the first bytes of a file show, or None (pure).

    >>> sniff_bytes(b"time_s,TA\\n0.0,1.2\\n")
    'csv'
    >>> sniff_bytes(b"0       " + b" " * 176 + b"768     ")
    'edf'
    >>> sniff_bytes(b"%OpenBCI Raw EXG Data\\n")
    'openbci'
    """
    if head.startswith(b"\xffBIOSEMI"):
        return "edf"
    if head.startswith(b"0       ") and len(head) >= 192 and head[184:192].strip().isdigit():
        return "edf"
    if b"\x00" in head[:512]:
        return None
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = text.splitlines()
    first = lines[0].strip() if lines else ""
    if first.startswith("%OpenBCI Raw"):
        return "openbci"
    if first.startswith("# Simple Text Format") or first.startswith("# OpenSignals Text File Format"):
        return "opensignals"
    if re.match(r"time_s\s*,", first):
        return "csv"
    if _looks_brainflow(first):
        return "brainflow"
    if _looks_wfdb_header(lines):
        return "wfdb"
    return None


def _looks_brainflow(line: str) -> bool:
    from .brainflow_csv import BY_COLUMNS
    delim = "\t" if "\t" in line else ","
    cells = line.split(delim)
    if len(cells) not in BY_COLUMNS:
        return False
    try:
        [float(c) for c in cells]
    except ValueError:
        return False
    return True


def _looks_wfdb_header(lines) -> bool:
    body = [ln for ln in lines if ln.strip() and not ln.startswith("#")]
    if not body:
        return False
    tok = body[0].split()
    # "record[/segments] n_sig [fs[/counter][(base)] [n_samples ...]]"
    return (len(tok) >= 2 and re.fullmatch(r"[\w\-]+(/\d+)?", tok[0]) is not None
            and tok[1].isdigit() and (len(tok) < 3 or re.match(r"[\d.]+", tok[2]) is not None))


def sniff(path) -> str | None:
    """The format a file's content shows, or None."""
    try:
        with open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
    except OSError:
        return None
    return sniff_bytes(head)


def guess_format(path) -> str:
    """The reader for ``path`` by content and extension; errors suggest a fix.

    Raises
    ------
    UnsupportedFormat
        Content of one known format under another format's extension, or
        neither content nor extension known.
    """
    p = Path(path)
    ext = p.suffix.lower()
    if ext == ".dat" and p.with_suffix(".hea").is_file():
        return "wfdb"                       # a WFDB signal file: read through its header
    by_content = sniff(p)
    allowed = EXTENSIONS.get(ext)
    if allowed is None:
        if by_content is not None:
            return by_content
        if ext == ".json":
            raise UnsupportedFormat(p, "is a sidecar JSON, not a recording (give the .csv beside it)")
        raise UnsupportedFormat(p, f"not a recording format emgpipe knows (extensions: "
                                   f"{', '.join(sorted(EXTENSIONS))}; formats: {', '.join(READERS)})")
    if by_content is None or by_content in allowed:
        return by_content or allowed[0]
    what = READERS[by_content][1]
    raise UnsupportedFormat(p, f"looks like {_article(what)} {what} file (renamed?); rename it to "
                               f"{p.stem}{PREFERRED_EXT[by_content]} or read it with "
                               f"--format {by_content}")


def _article(word: str) -> str:
    return "an" if word[:1].upper() in "AEIOU" or word.startswith(("EDF", "OpenBCI", "OpenSignals")) \
        else "a"


def reader_for(fmt: str):
    """The ``read`` function of a format's module (imported on first use)."""
    mod = importlib.import_module(f"{__package__}.{READERS[normalise_fmt(fmt)][0]}")
    return mod.read


def read_recording(path, fmt: str | None = None, **opts) -> Recording:
    """Read any supported recording.

    Parameters
    ----------
    path : path-like
        The file (for WFDB: the ``.hea``, its ``.dat``, or the record path
        without extension).
    fmt : str, optional
        Force a reader (see module table); default: by content and extension.
    **opts
        Reader options (e.g. ``board="cyton"`` for BrainFlow, ``fs=...``).

    Returns
    -------
    Recording

    Raises
    ------
    RecordingError
        One line starting with the file name: missing file, unknown or
        renamed format, bad header, bad data.
    """
    p = Path(path)
    if not p.exists():
        if p.suffix == "" and p.with_suffix(".hea").is_file():
            p = p.with_suffix(".hea")       # WFDB record name
        else:
            raise BadData(path, "file not found")
    if p.is_dir():
        raise BadData(path, "is a directory (give a recording file, or use find_recordings)")
    if fmt is not None:
        key = normalise_fmt(fmt)
    else:
        key = guess_format(p)
    if key == "wfdb" and p.suffix.lower() == ".dat":
        p = p.with_suffix(".hea")
    log.debug("%s: reading as %s", p, key)
    return reader_for(key)(p, **opts)


def _is_candidate(p: Path) -> bool:
    """Whether a file found in a directory is a recording."""
    name = p.name.lower()
    if name.startswith(".") or name.endswith(NOT_RECORDINGS) or _DOC_NAME.match(name):
        return False
    ext = p.suffix.lower()
    if ext not in EXTENSIONS:
        return False                         # .json sidecars, .dat beside .hea, images...
    if ext in (".edf", ".bdf", ".rec", ".hea"):
        return True
    fmt = sniff(p)                           # .csv/.txt/.tsv: only if the content is one
    if fmt is None:
        log.info("%s: skipped (not a recording format emgpipe knows)", p)
    return fmt is not None


def find_recordings(inputs) -> list[Path]:
    """Recording files named by ``inputs`` (files, or directories to list).

    Files are taken as given. A directory contributes its recordings (not
    recursive), sorted by name, skipping ``*.events.csv``, ``*.labels.csv``,
    ``*.cycles.csv``, sidecar ``.json``, LICENSE/README-like files, WFDB
    ``.dat`` files (their ``.hea`` is listed) and text files whose content is
    no recording format.

    Raises
    ------
    BadData
        An input does not exist.
    UnsupportedFormat
        A directory holds no recording.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    out, seen = [], set()
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(c for c in p.iterdir() if c.is_file() and _is_candidate(c))
            if not found:
                raise UnsupportedFormat(p, f"no recordings found in this directory (looked for "
                                           f"{', '.join(sorted(EXTENSIONS))} files)")
        elif p.exists() or (p.suffix == "" and p.with_suffix(".hea").is_file()):
            found = [p]
        else:
            raise BadData(p, "no such file or directory")
        for f in found:
            key = os.path.normcase(os.path.abspath(f))
            if key not in seen:
                seen.add(key)
                out.append(f)
    return out


def known_formats() -> Iterable[str]:
    return tuple(READERS)
