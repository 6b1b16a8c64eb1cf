"""The import graph runs one way (issue 14 part 8).

    devices/io -> dsp -> detect -> graph/pipeline -> sinks/report/session -> CLI

Every module of the package is parsed (``ast``, so imports inside functions,
the lazy ones, count too) and every ``emgpipe`` import it makes must go to its
own layer or a lower one. A new top-level module or package must be given a
layer in :data:`LAYERS` (the test says so). Benchmarks, which sit above the
CLI, must not import private (``_name``) helpers of the package.
"""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "emgpipe"

#: top-level module or package of emgpipe -> layer (an import may go down or
#: sideways, never up)
LAYERS = {
    # 0: the shared vocabulary (messages, errors, channel names, event-level scoring)
    "types": 0, "errors": 0, "channels": 0, "metrics": 0, "_numba": 0, "_compiled": 0,
    "_aot_build": 0,
    # 1: where samples come from: devices, recording files, the simulator (which
    #    writes recordings and feeds the sim: source)
    "devices": 1, "io": 1, "sim": 1,
    # 2: signal processing
    "dsp": 2,
    # 3: detection
    "detect": 3,
    # 4: the graph: model files (validated against the dsp/detect settings they
    #    set), the streamz wiring, the one pipeline builder
    "models": 4, "graph": 4, "pipeline": 4,
    # 5: sinks, reports and the runtimes that drive a pipeline
    "alerts": 5, "ui": 5, "lsl_outlet": 5, "answers": 5, "calibration": 5, "night": 5,
    "report": 5, "cohort": 5, "session": 5, "batch": 5, "split": 5,
    # 6: the command line
    "cli": 6, "commands": 6, "__main__": 6,
}
LAYER_NAMES = ("base", "devices/io", "dsp", "detect", "graph", "sinks/report", "CLI")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path):
    """(line, imported emgpipe module or name) for every import in ``path``."""
    return _imports_in(path.read_text(encoding="utf-8"), _module_name(path), path.name == "__init__.py")


def _imports_in(text: str, name: str, is_package: bool):
    package = name if is_package else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for a in node.names:
                # "from . import x" / "from .. import batch": x may be a module
                yield node.lineno, f"{target}.{a.name}" if a.name != "*" else target


def _layer_of(dotted: str):
    """Layer of an ``emgpipe.X...`` name; None for the package root (``__version__``)."""
    parts = dotted.split(".")
    if parts[0] != "emgpipe":
        return None
    if len(parts) == 1 or parts[1] not in LAYERS:
        if len(parts) > 1 and ((PKG / parts[1]).is_dir() or (PKG / f"{parts[1]}.py").is_file()):
            raise AssertionError(f"emgpipe.{parts[1]} has no layer: add it to LAYERS")
        return None                  # a name of the package root (__version__, Chunk...)
    return LAYERS[parts[1]]


def _modules():
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_module_has_a_layer():
    tops = {p.relative_to(PKG).parts[0].removesuffix(".py") for p in _modules()} - {"__init__"}
    missing = sorted(tops - set(LAYERS))
    assert not missing, f"modules without a layer in LAYERS: {missing}"


def test_imports_never_go_up_a_layer():
    bad = []
    for path in _modules():
        name = _module_name(path)
        if name == "emgpipe":
            continue                 # the package root is the public API: it names every layer
        own = LAYERS[name.split(".")[1]]
        for line, target in _imports(path):
            layer = _layer_of(target)
            if layer is not None and layer > own:
                bad.append(f"{path.relative_to(ROOT)}:{line} ({LAYER_NAMES[own]}) imports {target} "
                           f"({LAYER_NAMES[layer]})")
    assert not bad, "imports up the layering:\n" + "\n".join(bad)


def test_the_checker_sees_lazy_and_relative_imports():
    src = "import numpy\ndef f():\n    from ..commands.live import run\n    from .. import session, __version__\n"
    got = [(t, _layer_of(t)) for _, t in _imports_in(src, "emgpipe.dsp.probe", False)]
    assert got == [("numpy", None), ("emgpipe.commands.live.run", 6), ("emgpipe.session", 5),
                   ("emgpipe.__version__", None)]


def test_benchmarks_import_no_private_helpers():
    bad = []
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("emgpipe"):
                for a in node.names:
                    if a.name.startswith("_"):
                        bad.append(f"{path.name}:{node.lineno} imports {node.module}.{a.name}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("package", ["devices", "io", "dsp", "detect", "alerts", "night", "report"])
def test_lower_packages_import_without_the_cli(package):
    """Importing a package below the CLI loads no CLI module (checked in a fresh interpreter)."""
    import subprocess
    import sys
    code = (f"import sys, emgpipe.{package}; "
            "bad = [m for m in sys.modules if m.startswith(('emgpipe.commands', 'emgpipe.cli'))]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_public_api_names_resolve():
    emgpipe = importlib.import_module("emgpipe")
    for name in ("open_source", "build_pipeline", "Session", "read_recording", "run_recording"):
        assert callable(getattr(emgpipe, name)), name
