"""numba for the compiled kernels, without the scipy.linalg import its BLAS probe makes.

The first compiled kernel a process runs (even one loaded from the on-disk
cache) makes numba load its implementations, among them
``numba.np.arraymath``, whose import probes for BLAS with ``import
scipy.linalg.cython_blas``: all of ``scipy.linalg`` (~0.15 s and ~17 MB per
replay, issue 15) for the jitted ``np.convolve``/``np.correlate``, which no
kernel here uses. So ``numba.np.arraymath`` is imported here, once, with
``scipy.linalg`` made unimportable (``sys.modules[name] = None``) and
importable again afterwards; numba then uses its own loop for those two
functions in this process. Nothing changes if ``scipy.linalg`` is already
loaded. ``numba`` is None when it is not installed (the numpy fallbacks run).
"""
from __future__ import annotations

import sys


def _import_numba():
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency
        return None
    if "scipy.linalg" in sys.modules or "numba.np.arraymath" in sys.modules:
        return numba
    sys.modules["scipy.linalg"] = None
    try:
        import numba.np.arraymath  # noqa: F401  (its BLAS probe finds no scipy.linalg)
    finally:
        if "scipy.linalg" in sys.modules and sys.modules["scipy.linalg"] is None:
            del sys.modules["scipy.linalg"]
    return numba


numba = _import_numba()
