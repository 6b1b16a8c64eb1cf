"""Which compiled kernels run: built ahead of time, numba's JIT, or none.

The hot loops (:mod:`emgpipe.dsp._kernels`, :mod:`emgpipe.io._fast`) are
numba functions. Run through numba's JIT, every process pays numba's import
(~0.3 s) and, at the first kernel, the set-up of numba's compiler, even when
the kernel loads from the on-disk cache (~0.35 s): most of a one-hour
replay's time (issue 15). So ``pip install`` also compiles them ahead of time
with ``numba.pycc`` into the extension module ``emgpipe._aot``
(:mod:`emgpipe._aot_build`, called from ``setup.py``), which needs neither
numba nor LLVM to run. Where it could not be built (no C compiler) or is
older than the kernels' source (an editable install whose kernels changed;
``python -m emgpipe._aot_build`` rebuilds it), numba's JIT runs them, as
before, and where numba is missing the numpy fallbacks do.

``EMGPIPE_KERNELS=jit`` in the environment skips the ahead-of-time module
(the tests compare the two).

A ``numba.pycc`` function checks neither the dtype nor the layout of the
arrays it is given: an int64 array passed for a float64 one is read as
float64. So every kernel is bound through :func:`bind`, which checks each
array's dtype, dimensions and C-contiguity against the kernel's declared
arguments and raises ``TypeError`` otherwise (the wrappers in the kernel
modules already pass exactly those).
"""
from __future__ import annotations

import hashlib
import operator
import os
import re
from pathlib import Path

import numpy as np

#: the files (relative to the package) whose kernels emgpipe._aot holds
SOURCES = ("dsp/_kernels.py", "io/_fast.py")
_HERE = Path(__file__).resolve().parent


def source_key(root: Path | str | None = None) -> int:
    """A 56-bit digest of the kernels' source (:data:`SOURCES` under ``root``,
    default this package): emgpipe._aot holds the one it was built from."""
    h = hashlib.sha256()
    for rel in SOURCES:
        h.update(Path(root or _HERE, rel).read_bytes())
    return int.from_bytes(h.digest()[:7], "little")


def _load_aot():
    if os.environ.get("EMGPIPE_KERNELS", "").strip().lower() == "jit":
        return None
    try:
        from . import _aot
    except ImportError:
        return None
    try:
        return _aot if _aot.source_key() == source_key() else None
    except (AttributeError, OSError):
        return None


#: the ahead-of-time module, or None (then numba's JIT, or numpy, runs the kernels)
aot = _load_aot()
if aot is None:
    from ._numba import numba    # None without numba (the numpy fallbacks run)
else:
    numba = None                 # not imported: the kernels come built ahead of time
#: True where compiled kernels run (ahead of time or numba's JIT), False where numpy does
COMPILED = aot is not None or numba is not None


def backend() -> str:
    """What runs the kernels in this process: "ahead of time", "numba JIT" or "numpy"."""
    return "ahead of time" if aot is not None else "numba JIT" if numba is not None else "numpy"


def parse(spec: str) -> list[tuple]:
    """``"f8[:,::1], i8, f8"`` -> [("array", float64, 2), ("int",), ("float",)].
    Arrays are C-contiguous (``::1`` last), scalars ``i8``, ``f8`` or ``b1``."""
    out = []
    toks = [t.strip() for t in re.split(r",(?![^\[]*\])", spec) if t.strip()]   # not the commas inside [...]
    for tok in toks:
        if "[" in tok:
            base, dims = tok[:-1].split("[", 1)
            if not dims.endswith("::1"):
                raise ValueError(f"kernel argument {tok!r}: only C-contiguous arrays (::1) are declared")
            out.append(("array", np.dtype(base), dims.count(",") + 1))
        elif tok == "i8":
            out.append(("int",))
        elif tok == "f8":
            out.append(("float",))
        elif tok == "b1":
            out.append(("bool",))
        else:
            raise ValueError(f"kernel argument {tok!r}: not an array, i8, f8 or b1")
    return out


def _fits(arg, kind) -> bool:
    if kind[0] != "array":
        return True
    return (isinstance(arg, np.ndarray) and arg.dtype == kind[1] and arg.ndim == kind[2]
            and arg.flags.c_contiguous and arg.flags.aligned)


_SCALAR = {"int": operator.index, "float": float, "bool": bool}


def _checked(name: str, forms: list[tuple]):
    """One callable over the compiled forms ``[(function, parsed spec), ...]``:
    the first whose declared arrays the arguments fit runs."""
    def kernel(*args):
        for fn, kinds in forms:
            if len(args) == len(kinds) and all(_fits(a, k) for a, k in zip(args, kinds)):
                return fn(*[a if k[0] == "array" else _SCALAR[k[0]](a) for a, k in zip(args, kinds)])
        got = ", ".join(f"{a.dtype}[{a.ndim}d{'' if a.flags.c_contiguous else ', strided'}]"
                        if isinstance(a, np.ndarray) else type(a).__name__ for a in args)
        raise TypeError(f"compiled kernel {name}: no form takes ({got})")
    kernel.__name__ = name
    kernel.__qualname__ = name
    return kernel


def export_names(name: str, specs) -> list[str]:
    """The names in emgpipe._aot of kernel ``name``'s forms (one per spec)."""
    specs = [specs] if isinstance(specs, str) else list(specs)
    return [name] if len(specs) == 1 else [f"{name}__{i}" for i in range(len(specs))]


def bind(namespace: dict, kernels: dict) -> None:
    """Replace in ``namespace`` every kernel of ``kernels`` (name -> argument
    spec, or a tuple of specs for several dtypes) by its form in emgpipe._aot,
    behind the argument check."""
    for name, specs in kernels.items():
        specs = [specs] if isinstance(specs, str) else list(specs)
        forms = [(getattr(aot, n), parse(s)) for n, s in zip(export_names(name, specs), specs)]
        namespace[name] = _checked(name, forms)
