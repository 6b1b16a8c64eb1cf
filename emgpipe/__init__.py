"""emgpipe: streaming surface-EMG cramp detection.

Not a medical device: alerts prompt a stretch, they do not diagnose.

The public API, in the order you use it (README, "Using emgpipe from Python")::

    from emgpipe import open_source, build_pipeline, Session

    src = open_source("sim:walk_then_cramp?speed=max&seed=2")   # any source URI
    with src:                                                    # opened: fs, channels known
        pipeline = build_pipeline(src, mode="awake")             # from the source's metadata
        pipeline.events.sink(print)                              # add sinks
        Session(src, pipeline, events_out="walk.events.csv").run()

* :func:`open_source` (:mod:`emgpipe.devices`): a device, a recording or the
  simulator, by URI;
* :func:`build_pipeline` (:mod:`emgpipe.pipeline`): the one way to build the
  detection pipeline, from the source's metadata, the mode, the model, the
  calibration profile and the wearer's answers;
* :class:`Session` (:mod:`emgpipe.session`): runs an opened source through its
  pipeline with the events file, alerts, live view and answers, and tears it
  down at the end;
* :func:`read_recording` (:mod:`emgpipe.io`) and :func:`run_recording`
  (:mod:`emgpipe.pipeline`): a recorded file through the same pipeline at full speed.

They are imported on first use, so ``import emgpipe`` stays light.
"""
__version__ = "0.1.0"

import os as _os
import sys as _sys


def _runs_the_command() -> bool:
    """Whether this interpreter runs the ``emgpipe`` command (the console script,
    or ``python -m emgpipe``: while ``-m`` locates the package, ``sys.argv[0]``
    is ``"-m"``), not a program of the user's that imports the package."""
    a0 = _sys.argv[0] if _sys.argv else ""
    name = a0.replace("\\", "/").rsplit("/", 1)[-1].lower()      # (a Windows path too)
    return a0 == "-m" or name in ("emgpipe", "emgpipe.exe", "emgpipe-script.py")


if _runs_the_command():
    # One BLAS thread for the command (set before numpy loads OpenBLAS; a user's
    # own setting wins). Its matrix products are small; OpenBLAS's thread pool
    # spins at import, ~0.1 s of CPU on the second core that a two-process
    # replay or a Dask worker uses (issue 15; docs/benchmarks-speed.md).
    _os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from .types import Chunk, Event, Gap, EVENT_KINDS  # noqa: E402,F401

#: public name -> the module that defines it (imported on first use)
_API = {
    "open_source": "emgpipe.devices",
    "build_pipeline": "emgpipe.pipeline",
    "run_recording": "emgpipe.pipeline",
    "Session": "emgpipe.session",
    "read_recording": "emgpipe.io",
}

__all__ = ["Chunk", "Event", "Gap", "EVENT_KINDS", *_API]


def __getattr__(name):
    if name in _API:
        import importlib
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'emgpipe' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API))
