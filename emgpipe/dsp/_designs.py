"""scipy's filter designs, kept on disk so that a replay need not import scipy.signal.

``import scipy.signal`` costs ~0.7 s of CPU and ~75 MB of resident memory
(it pulls in scipy.stats and parses docstrings at import; measured with
scipy 1.17 on the 2-core benchmark machine), more than
the whole detection of an hour of EMG. The pipeline needs only a handful of
designs per stream (the band-pass, the mains notches, their initial states and
the floor-gain constant), and the same ones every time.

Each function here is one scipy call, named after it, whose result is stored
under a key made of the call's arguments and scipy's version. The first
process that needs a design computes it with scipy and writes it to
``designs.json`` in the user's cache folder (``$EMGPIPE_CACHE_DIR``, else
``$XDG_CACHE_HOME/emgpipe``, ``~/.cache/emgpipe``; ``%LOCALAPPDATA%\\emgpipe``
on Windows); the next ones read it back without importing scipy.signal. The
numbers are written as ``repr`` of float64, which reads back to the same bits,
so a cached design is exactly scipy's (tests/dsp/test_designs.py). A cache
that cannot be read or written is ignored: everything is then computed, as
before. Like numba's ``cache=True`` for the kernels, the cost is paid once
per machine, not per command.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: Bump when the stored layout changes.
_FORMAT = 1
_memo: dict = {}
_disk: dict | None = None


def cache_dir() -> Path:
    env = os.environ.get("EMGPIPE_CACHE_DIR")
    if env:
        return Path(env)
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "emgpipe"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "emgpipe"


def _path() -> Path:
    return cache_dir() / "designs.json"


def _scipy_version() -> str:
    """The installed scipy's version, read from its ``version.py`` without
    importing it (~0.5 ms; ``import scipy`` alone is ~8-10 ms on a replay's
    critical path, issue 15); imported where that file is not found."""
    global _SCIPY_VERSION
    if _SCIPY_VERSION is None:
        try:
            spec = importlib.util.find_spec("scipy")
            text = (Path(spec.origin).parent / "version.py").read_text(encoding="utf-8")
            _SCIPY_VERSION = re.search(r"^version\s*=\s*['\"]([^'\"]+)['\"]", text, re.M).group(1)
        except (AttributeError, TypeError, OSError, ValueError):
            import scipy
            _SCIPY_VERSION = scipy.__version__
    return _SCIPY_VERSION


_SCIPY_VERSION: str | None = None


def _load() -> dict:
    global _disk
    if _disk is None:
        try:
            with open(_path(), encoding="utf-8") as f:
                d = json.load(f)
            _disk = d["designs"] if d.get("format") == _FORMAT else {}
        except (OSError, ValueError, KeyError, TypeError):
            _disk = {}
    return _disk


def _store(key: str, value: np.ndarray) -> None:
    disk = _load()
    disk[key] = {"shape": list(value.shape), "data": [repr(float(v)) for v in value.ravel()]}
    path = _path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:                                      # merge what other processes wrote meanwhile
            with open(path, encoding="utf-8") as f:
                other = json.load(f)
            if other.get("format") == _FORMAT:
                disk.update({k: v for k, v in other["designs"].items() if k not in disk})
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
        fd, tmp = tempfile.mkstemp(prefix=".designs-", suffix=".json", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"format": _FORMAT, "designs": disk}, f)
        os.replace(tmp, path)                     # atomic: readers see the old or the new file
    except OSError as exc:
        log.debug("filter design cache %s not written: %s", path, exc)


def _cached(key: str, compute) -> np.ndarray:
    key = f"{key}|scipy {_scipy_version()}"
    got = _memo.get(key)
    if got is None:
        entry = _load().get(key)
        if entry is not None:
            try:
                got = np.array([float(v) for v in entry["data"]], dtype=np.float64).reshape(entry["shape"])
            except (ValueError, KeyError, TypeError):
                got = None
        if got is None:
            got = np.asarray(compute(), dtype=np.float64)
            _store(key, got)
        _memo[key] = got
    return got.copy()


def _f(x) -> str:
    return repr(float(x))


def butter_sos(order: int, wn, btype: str, fs: float) -> np.ndarray:
    """``scipy.signal.butter(order, wn, btype, fs=fs, output="sos")``."""
    wn_key = ",".join(_f(w) for w in np.atleast_1d(wn))

    def compute():
        from scipy import signal
        return signal.butter(order, wn, btype, fs=fs, output="sos")
    return _cached(f"butter|{int(order)}|{wn_key}|{btype}|{_f(fs)}", compute)


def iirnotch_sos(w0: float, q: float, fs: float) -> np.ndarray:
    """``scipy.signal.tf2sos(*scipy.signal.iirnotch(w0, q, fs=fs))``."""
    def compute():
        from scipy import signal
        return signal.tf2sos(*signal.iirnotch(w0, q, fs=fs))
    return _cached(f"iirnotch|{_f(w0)}|{_f(q)}|{_f(fs)}", compute)


def sosfilt_zi(sos: np.ndarray) -> np.ndarray:
    """``scipy.signal.sosfilt_zi(sos)``."""
    sos = np.ascontiguousarray(sos, dtype=np.float64)
    if len(sos) == 0:
        return np.zeros((0, 2))

    def compute():
        from scipy import signal
        return signal.sosfilt_zi(sos)
    return _cached("sosfilt_zi|" + ",".join(_f(v) for v in sos.ravel()), compute)


def expected_max_normal(m: int) -> float:
    """E[max of ``m`` independent standard normals], by
    ``scipy.integrate.quad(m z pdf(z) cdf(z)^(m-1), -10, 10)``."""
    def compute():
        from scipy import integrate, stats
        return [integrate.quad(lambda z: m * z * stats.norm.pdf(z) * stats.norm.cdf(z) ** (m - 1),
                               -10, 10)[0]]
    return float(_cached(f"max_normal|quad(-10,10)|{int(m)}", compute)[0])
