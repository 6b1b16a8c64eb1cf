"""``import emgpipe.graph`` loads streamz without its optional Dask part (dask.distributed
took ~0.3 s of every start); Dask still imports afterwards for ``--workers``."""
from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_importing_the_graph_does_not_import_dask_distributed():
    out = _run("import emgpipe.graph, sys; "
               "print([m for m in ('distributed', 'dask', 'streamz.dask') if m in sys.modules])")
    assert out == "[]"


def test_dask_and_streamz_dask_still_import_after_the_graph():
    if importlib.util.find_spec("distributed") is None:
        pytest.skip("dask.distributed is not installed (extra 'dask')")
    out = _run("import emgpipe.graph, sys; from dask.distributed import LocalCluster; "
               "from streamz.dask import DaskStream; "
               "print(sys.modules['distributed'] is not None, DaskStream.__name__)")
    assert out == "True DaskStream"
