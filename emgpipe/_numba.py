"""numba for the compiled kernels, without the imports of its optional probes.

The first compiled kernel a process runs (even one loaded from the on-disk
cache) makes numba load its implementations, and two of them probe for
optional support by importing a whole library:

* ``numba.np.arraymath`` imports ``scipy.linalg.cython_blas``, so all of
  ``scipy.linalg`` (~0.15 s and ~17 MB per replay, issue 15), for the jitted
  ``np.convolve``/``np.correlate``, which no kernel here uses;
* ``numba.core.typing.cffi_utils`` imports ``cffi`` and with it ``pycparser``
  (~0.07 s), to call cffi functions from jitted code, which no kernel does.

So each of these numba modules is imported here, once, with the library made
unimportable (``sys.modules[name] = None``) and importable again afterwards
(as :mod:`emgpipe.graph` does for streamz's Dask part): numba then uses its
own loop for those two numpy functions, and no cffi, in this process. Nothing
changes where the library is loaded already. ``numba`` is None when it is not
installed (the numpy fallbacks run).
"""
from __future__ import annotations

import importlib
import sys

#: numba module -> the library its import probes for
_PROBES = {"numba.np.arraymath": "scipy.linalg", "numba.core.typing.cffi_utils": "cffi"}


def _import_without(module: str, blocked: str) -> None:
    if module in sys.modules or blocked in sys.modules:
        return
    sys.modules[blocked] = None
    try:
        importlib.import_module(module)
    finally:
        if blocked in sys.modules and sys.modules[blocked] is None:
            del sys.modules[blocked]


def _import_numba():
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency
        return None
    for module, blocked in _PROBES.items():
        _import_without(module, blocked)
    return numba


numba = _import_numba()
