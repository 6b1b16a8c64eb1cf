"""``import emgpipe.graph`` loads streamz without its optional Dask part (dask.distributed
took ~0.3 s of every start); Dask still imports afterwards for ``--workers``."""
from __future__ import annotations

import importlib.util
import os
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


def test_a_replay_of_an_edf_plus_file_without_annotations_imports_neither_scipy_nor_edfio(tmp_path):
    """Issue 15: the filter designs come from their cache with scipy's version read from
    its version.py, and edfio parses only records that carry annotations (each import is
    ~8-12 ms on a replay's critical path)."""
    import edfio
    import numpy as np
    p = tmp_path / "night.edf"
    x = np.random.default_rng(1).normal(0, 5, 4 * 250 * 60)
    edfio.Edf([edfio.EdfSignal(x, 250, label=f"EMG {k}", physical_dimension="uV",
                               physical_range=(-500, 500)) for k in range(2)]).write(p)
    env = {**os.environ, "EMGPIPE_CACHE_DIR": str(tmp_path / "cache")}
    code = ("import sys; from emgpipe.io import read_recording; from emgpipe.pipeline import run_recording; "
            f"res = run_recording(read_recording({str(p)!r})); "
            "print(res.duration_s, [m for m in ('scipy', 'edfio') if m in sys.modules])")

    def run() -> str:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env=env).stdout.strip()

    run()                                        # the first run designs the filters (scipy.signal)
    assert run() == "240.0 []"
