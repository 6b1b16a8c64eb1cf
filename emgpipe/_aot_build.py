"""Compile emgpipe's numba kernels ahead of time into the extension emgpipe._aot.

``setup.py`` calls :func:`build` when the package is installed (a build
that fails only prints why: numba's JIT then runs the kernels, as before);
after changing a kernel in an editable install, rebuild it with::

    python -m emgpipe._aot_build

Each kernel module lists its kernels and their argument types in
``AOT_KERNELS`` (emgpipe/_compiled.py reads the same table to check the
arguments at run time). The functions compiled are the numba functions of the
source tree, unchanged: the modules are loaded here from their files, under a
private package name and with numba's JIT, so this runs from ``setup.py``
before emgpipe is installed (it needs numpy and numba, the build
requirements in pyproject.toml, and a C compiler). Return types are what
numba infers for those arguments. The module also exports ``source_key()``,
the digest of the source it was built from, so a module older than the
kernels is never used.

The code is compiled for the processor family (numba.pycc's default), not
for the building machine's own processor, so a module built on one machine
runs on any other of its kind.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent
#: the private package name the source modules are loaded under
_PKG = "_emgpipe_kernel_source"
#: the kernel modules, relative to the package, and their names under it
MODULES = ("dsp._kernels", "io._fast")


def load_sources(root: Path = ROOT) -> dict:
    """The kernel modules of the source tree ``root`` with numba's JIT (never
    an emgpipe._aot), as {"compiled": the _compiled module, "dsp._kernels": ...,
    "cache_dir": the directory their numba cache goes to (the caller removes it)}."""
    for name in [n for n in sys.modules if n == _PKG or n.startswith(_PKG + ".")]:
        del sys.modules[name]
    pkg = types.ModuleType(_PKG)
    pkg.__path__ = [str(root)]
    sys.modules[_PKG] = pkg
    for sub in {m.split(".")[0] for m in MODULES}:      # their packages, without running __init__
        mod = types.ModuleType(f"{_PKG}.{sub}")
        mod.__path__ = [str(root / sub)]
        sys.modules[mod.__name__] = mod
    import numba.core.config
    before = os.environ.get("EMGPIPE_KERNELS"), numba.core.config.CACHE_DIR
    os.environ["EMGPIPE_KERNELS"] = "jit"
    # numba's on-disk cache is per source file: entries made under the private
    # package name would be loaded by emgpipe's own processes, which cannot
    # import that name. The functions here cache in a directory of their own.
    numba.core.config.CACHE_DIR = tempfile.mkdtemp(prefix="emgpipe-aot-numba-")
    try:
        out = {"cache_dir": numba.core.config.CACHE_DIR,
               "compiled": importlib.import_module(f"{_PKG}._compiled")}
        for name in MODULES:
            out[name] = importlib.import_module(f"{_PKG}.{name}")
    finally:
        numba.core.config.CACHE_DIR = before[1]
        if before[0] is None:
            del os.environ["EMGPIPE_KERNELS"]
        else:
            os.environ["EMGPIPE_KERNELS"] = before[0]
    return out


def build(output: Path | str | None = None, root: Path = ROOT, verbose: bool = False) -> Path:
    """Compile the kernels of ``root`` into the extension file ``output``
    (default: emgpipe._aot beside this file). Returns its path."""
    import numba
    from numba.pycc import CC

    t0 = time.monotonic()
    mods = load_sources(root)
    compiled = mods["compiled"]
    cc = CC("_aot", source_module=mods[MODULES[0]])
    if output is None:
        output = root / cc.output_file
    output = Path(output)
    cc.output_dir = str(output.parent)
    cc.output_file = output.name
    cc.verbose = verbose
    names = []
    for modname in MODULES:
        mod = mods[modname]
        for name, specs in mod.AOT_KERNELS.items():
            specs = [specs] if isinstance(specs, str) else list(specs)
            disp = getattr(mod, name)
            for export, spec in zip(compiled.export_names(name, specs), specs):
                argtypes = tuple(eval(f"({spec},)", vars(numba.types)))   # "f8[:,::1]" -> Array(float64, 2, 'C')
                disp.compile(argtypes)
                sig = disp.overloads[argtypes].signature
                cc.export(export, sig.return_type(*argtypes))(disp.py_func)
                names.append(export)
    key = compiled.source_key(root)
    ns: dict = {}
    exec(f"def source_key():\n    return {key}\n", ns)
    cc.export("source_key", numba.types.int64())(ns["source_key"])
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        cc.compile()
    finally:
        shutil.rmtree(mods["cache_dir"], ignore_errors=True)
    if verbose:
        print(f"emgpipe: {len(names)} kernels compiled ahead of time into {output} "
              f"in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    return output


def main(argv=None) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="python -m emgpipe._aot_build", description=__doc__.split("\n\n")[0])
    ap.add_argument("--output", help="extension file (default: emgpipe/_aot<suffix> beside this file)")
    args = ap.parse_args(argv)
    out = build(args.output, verbose=True)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
