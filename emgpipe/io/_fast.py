"""Compiled passes over a block of samples for the streaming readers.

Reading an 8-hour two-channel 1 kHz EDF took ~1.1 s of CPU in numpy
expressions (a temporary array per operation: slice, add the offset, times the
gain, times the unit factor, stack the columns, test finiteness, test the
absurd-value limit), as much as the band-pass and the notches together. Here
each is one pass, compiled with numba (cached on disk like the dsp kernels),
doing the same float64 operations in the same order, so the samples are
bit for bit those of the numpy expressions, which remain as the fallback
(tests/io/test_fast.py compares them).
"""
from __future__ import annotations

import numpy as np

# numba: None where the kernels come built ahead of time (aot) or numba is missing;
# COMPILED: False only where the numpy fallbacks run (emgpipe/_compiled.py)
from .._compiled import COMPILED, aot, bind, numba


def calibrate_numpy(dig: np.ndarray, cols, per: int, offsets, gains, factors, calibrated) -> np.ndarray:
    """(k records, samples per record over all signals) digital values -> (k * per, len(cols))
    float64: column ``j`` is the signal whose ``per`` samples start at ``cols[j]`` in a
    record, ``(d + offsets[j]) * gains[j] * factors[j]`` (``d * factors[j]`` where
    ``calibrated[j]`` is False), as emgpipe.io.edf has always computed them."""
    out = []
    for j, c0 in enumerate(cols):
        d = dig[:, c0:c0 + per].reshape(-1)
        x = d.astype(np.float64) if not calibrated[j] else (d + offsets[j]) * gains[j]
        out.append(np.asarray(x, dtype=np.float64) * factors[j])
    return np.column_stack(out) if out else np.empty((dig.shape[0] * per, 0))


if numba is not None:
    @numba.njit(cache=True, nogil=True)
    def _calibrate_jit(dig, cols, per, offsets, gains, factors, calibrated):  # pragma: no cover
        k = dig.shape[0]
        n_ch = cols.shape[0]
        out = np.empty((k * per, n_ch))
        for j in range(n_ch):
            c0, off, gain, fac = cols[j], offsets[j], gains[j], factors[j]
            for r in range(k):
                row = r * per
                if calibrated[j]:
                    for i in range(per):
                        out[row + i, j] = ((dig[r, c0 + i] + off) * gain) * fac
                else:
                    for i in range(per):
                        out[row + i, j] = np.float64(dig[r, c0 + i]) * fac
        return out

    @numba.njit(cache=True, nogil=True)
    def _all_within_jit(data, limit):  # pragma: no cover - compiled
        flat = data.reshape(-1)
        ok = True
        for a in range(0, flat.shape[0], 4096):          # no data-dependent branch inside a
            good = 0                                     # stretch: the compiler vectorises it
            b = min(a + 4096, flat.shape[0])
            for i in range(a, b):
                good += abs(flat[i]) <= limit            # NaN compares False
            if good != b - a:
                ok = False
                break
        return ok


def calibrate(dig: np.ndarray, cols, per: int, offsets, gains, factors, calibrated) -> np.ndarray:
    """See :func:`calibrate_numpy`; ``per`` samples per record of each picked signal."""
    cols = np.asarray(cols, dtype=np.int64)
    offsets = np.asarray(offsets, dtype=np.float64)
    gains = np.asarray(gains, dtype=np.float64)
    factors = np.asarray(factors, dtype=np.float64)
    calibrated = np.asarray(calibrated, dtype=np.bool_)
    if not COMPILED:
        return calibrate_numpy(dig, cols, int(per), offsets, gains, factors, calibrated)
    return _calibrate_jit(np.ascontiguousarray(dig), cols, int(per), offsets, gains, factors, calibrated)


def all_within(data: np.ndarray, limit: float) -> bool:
    """True if every value of the (n, channels) ``data`` has ``|x| <= limit`` (NaN: False)."""
    if not COMPILED or data.ndim != 2 or data.dtype != np.float64 or not data.flags.c_contiguous:
        with np.errstate(invalid="ignore"):
            return bool(np.all(np.abs(data) <= limit))
    return bool(_all_within_jit(data, float(limit)))


#: The kernels for emgpipe._aot (see emgpipe/dsp/_kernels.py): the EDF reader's
#: 16-bit and the BDF reader's 24-bit (as int32) digital values.
AOT_KERNELS = {
    "_calibrate_jit": tuple(f"{d}[:,::1], i8[::1], i8, f8[::1], f8[::1], f8[::1], b1[::1]" for d in ("i2", "i4")),
    "_all_within_jit": "f8[:,::1], f8",
}
if aot is not None:
    bind(globals(), AOT_KERNELS)
