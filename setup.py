"""Package discovery and the ahead-of-time kernels (everything else is in pyproject.toml).

The detector parameter files live in the top-level ``models/`` folder, which
the brief asks for, but an installed (non-editable) emgpipe must find them
without the source tree. So ``models/`` is installed as the sub-package
``emgpipe._models``; :mod:`emgpipe.models` loads them with importlib.resources.

The numba kernels are also compiled ahead of time into the extension module
``emgpipe._aot`` (emgpipe/_aot_build.py; ~40 s at install, numba and a C
compiler needed): every command then starts without importing numba or
setting up its compiler (~0.6 s per process, issue 15). A build that fails
prints why and the install goes on: numba's JIT runs the kernels instead
(emgpipe/_compiled.py). ``EMGPIPE_AOT=0`` in the environment skips it (an
install for a quick check, such as tests/test_models.py's).
"""
import importlib.util
import os
import sys
from pathlib import Path

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent


class AotExtension(Extension):
    """emgpipe._aot, built by emgpipe/_aot_build.py rather than from C sources."""

    def __init__(self):
        super().__init__("emgpipe._aot", sources=[], optional=True)


class BuildExt(build_ext):
    def build_extension(self, ext):
        if not isinstance(ext, AotExtension):
            return super().build_extension(ext)
        if os.environ.get("EMGPIPE_AOT", "1") == "0":
            print("emgpipe: EMGPIPE_AOT=0: the kernels are not compiled ahead of time; "
                  "numba compiles them when first used", file=sys.stderr)
            return
        try:
            spec = importlib.util.spec_from_file_location("_emgpipe_aot_build",
                                                          HERE / "emgpipe" / "_aot_build.py")
            builder = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(builder)
            builder.build(Path(self.get_ext_fullpath(ext.name)))
        except Exception as exc:   # noqa: BLE001 - any failure leaves numba's JIT in charge
            print(f"emgpipe: the kernels were not compiled ahead of time ({type(exc).__name__}: {exc}); "
                  f"numba compiles them when first used instead", file=sys.stderr)


setup(
    packages=find_packages(include=["emgpipe", "emgpipe.*"]) + ["emgpipe._models"],
    package_dir={"emgpipe": "emgpipe", "emgpipe._models": "models"},
    ext_modules=[AotExtension()],
    cmdclass={"build_ext": BuildExt},
)
