"""Running the compiled kernels imports neither scipy.linalg nor cffi (numba's
probes for BLAS and cffi took ~0.2 s and ~17 MB of every replay,
emgpipe/_numba.py); both still import afterwards, and the kernels give the same
values. It runs with numba's JIT (``EMGPIPE_KERNELS=jit``): the kernels built
ahead of time import no numba at all (tests/test_aot.py)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

CODE = """
import sys
import numpy as np
from emgpipe.io import _fast
from emgpipe.dsp import _kernels as K
if K.numba is None:
    print("no numba"); raise SystemExit
dig = np.arange(40, dtype=np.int16).reshape(2, 20)
x = _fast.calibrate(dig, [0, 10], 10, [0.0, 0.0], [1.0, 1.0], [1.0, 1.0], [True, True])
sos = np.array([[0.2, 0.4, 0.2, 1.0, -0.5, 0.25]])
y, _ = K.sosfilt(sos, x, np.zeros((1, 2, 2)))
print("scipy.linalg" in sys.modules or "cffi" in sys.modules, end=" ")
import scipy.linalg, scipy.linalg.cython_blas
try:
    import cffi
except ImportError:   # not installed: nothing to check
    pass
print(scipy.linalg.__name__, float(y.sum()))
"""


def test_kernels_run_without_importing_scipy_linalg_or_cffi():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True,
                         env={**os.environ, "EMGPIPE_KERNELS": "jit"}).stdout.strip()
    if out == "no numba":
        pytest.skip("numba is not installed")
    seen, name, total = out.split()
    assert seen == "False" and name == "scipy.linalg"
    import numpy as np
    from scipy import signal
    x = np.arange(40, dtype=float).reshape(2, 20)[:, :10].reshape(-1, 1)
    x = np.hstack([x, np.arange(40, dtype=float).reshape(2, 20)[:, 10:].reshape(-1, 1)])
    ref, _ = signal.sosfilt(np.array([[0.2, 0.4, 0.2, 1.0, -0.5, 0.25]]), x, axis=0, zi=np.zeros((1, 2, 2)))
    assert float(total) == pytest.approx(float(ref.sum()), rel=1e-12)
