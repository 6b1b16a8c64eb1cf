"""Many recordings at once: one task per recording, in process or on a Dask cluster.

``emgpipe replay``, ``bench`` and ``report`` hand :func:`run_batch` a list of
items (recording paths, nights) and a per-item callable; it returns what each
gave, and the items that failed with their one-line error. Two back ends:

- **serial** (no ``--workers``/``--scheduler``): the items one after the other
  in this process, exactly the commands' in-process path;
- **Dask** (``--workers N``: a :class:`dask.distributed.LocalCluster` of N worker
  processes on this machine, one thread each; ``--scheduler tcp://HOST:PORT``:
  an existing cluster started with ``dask scheduler`` / ``dask worker``): one
  task per item, submitted at once (the scheduler queues them), collected as
  they finish, with a progress bar over the items.

A failing item never stops the others: the callable runs inside
:func:`_guarded`, which turns an exception into a result carrying its one-line
message and the exit code the CLI would have used; a worker that dies (e.g. past
its memory limit) fails only the item it was running. Results travel back as
small dicts; recordings are read and events written by the workers themselves
(the paths must be visible to them: same machine, or a shared filesystem).

Resuming: a command that writes one output per item (``replay``'s events files)
writes a completion marker beside it once the output is complete
(:func:`write_marker`, atomic); :func:`completed` tells a rerun whether the
output is still valid for the same input (size and mtime of the recording and
its sidecar), the same options and the same model version, so the rerun skips it.

Dask is imported only here and only when a Dask back end is asked for, so
``emgpipe --help`` and the serial path never import it.

Examples
--------
>>> r = run_batch([1, 2, 0], _example_inverse)
>>> [v for _, v in r.results], [(f.item, f.message) for f in r.failures]
([1.0, 0.5], [(0, 'internal error: ZeroDivisionError: division by zero')])
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from .errors import EmgpipeError, UsageError

log = logging.getLogger(__name__)

#: Default memory limit of each local worker process. A replay streams its
#: recording (peak RSS ~250 MB, flat in length: issue 15 part 1); bench also
#: holds one recording's filtered signal for its label statistics (8 h of two
#: 1 kHz channels: ~0.5 GB). A worker past this is restarted by its nanny and
#: the recording it was running is reported as failed.
DEFAULT_WORKER_MEMORY = "2GiB"

#: Exit code when some of several recordings failed (replay's, since before Dask).
EXIT_SOME_FAILED = 3


# ----------------------------------------------------------------------------- progress

class Progress:
    """A one-line progress bar on a terminal; silent otherwise.

    ``Progress(name, total, enabled)(done)`` draws ``done`` of ``total``
    (seconds of a recording, or recordings with ``count=True``: ``12/20``).
    """

    def __init__(self, name: str, total_s: float, enabled: bool, count: bool = False,
                 stream=None):
        self.name, self.total, self.enabled = name, max(total_s, 1e-9), enabled
        self.count = count
        self.stream = stream or sys.stdout
        self._last = 0.0
        self._done = 0.0
        self._drawn = False

    def __call__(self, done_s: float):
        self._done = done_s
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and done_s < self.total:
            return
        self._last = now
        self._draw()

    def _draw(self):
        frac = min(1.0, self._done / self.total)
        bar = "#" * int(30 * frac)
        tail = f"{int(self._done)}/{int(self.total)}" if self.count else f"{100 * frac:5.1f}%"
        self.stream.write(f"\r{self.name[:30]:30s} [{bar:30s}] {tail}")
        self.stream.flush()
        self._drawn = True

    def clear(self):
        """Erase the bar (before printing a line); the next call draws it again."""
        if self.enabled and self._drawn:
            self.stream.write("\r" + " " * 80 + "\r")
            self.stream.flush()
            self._drawn = False

    def redraw(self):
        if self.enabled:
            self._draw()

    def done(self):
        self.clear()


# ----------------------------------------------------------------------------- CLI options

def add_arguments(p: argparse.ArgumentParser, cohort: bool = True) -> None:
    """``--workers``, ``--scheduler``, ``--worker-memory`` (and ``--cohort-out``) on a command."""
    g = p.add_argument_group("many recordings (Dask)")
    x = g.add_mutually_exclusive_group()
    x.add_argument("--workers", type=int, default=None, metavar="N",
                   help="run one task per recording on a local Dask cluster of N worker processes "
                        "(needs pip install 'emgpipe[dask]')")
    x.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="run one task per recording on an existing Dask cluster (dask scheduler / "
                        "dask worker); the recordings' paths must be readable by its workers")
    g.add_argument("--worker-memory", default=DEFAULT_WORKER_MEMORY, metavar="SIZE",
                   help=f"memory limit of each local worker, e.g. 1GiB, or auto "
                        f"(default {DEFAULT_WORKER_MEMORY}; with --workers)")
    if cohort:
        g.add_argument("--cohort-out", default=None, metavar="FILE.csv",
                       help="also write one row per recording (path, hours, mode, cramps, total cramp "
                            "time, fasciculation episodes and leg movements per hour, signal lost, "
                            "model version): the cohort table")


def options_from_args(args, progress: bool | None = None) -> "BatchOptions":
    """The :class:`BatchOptions` of a command's parsed arguments."""
    workers = getattr(args, "workers", None)
    if workers is not None and workers < 1:
        raise UsageError("--workers must be at least 1")
    sched = getattr(args, "scheduler", None)
    if sched is not None and "://" not in sched and ":" not in sched:
        raise UsageError(f"--scheduler {sched}: expected an address like tcp://HOST:8786")
    if progress is None:
        progress = sys.stdout.isatty() and not getattr(args, "no_progress", False)
    return BatchOptions(workers=workers, scheduler=sched,
                        memory_limit=getattr(args, "worker_memory", DEFAULT_WORKER_MEMORY),
                        progress=progress, debug=bool(getattr(args, "debug", False)))


def wants_dask(args) -> bool:
    """True when the command was asked to run on a Dask cluster."""
    return getattr(args, "workers", None) is not None or getattr(args, "scheduler", None) is not None


# ----------------------------------------------------------------------------- engine

@dataclass
class BatchOptions:
    workers: int | None = None          # local cluster of N processes
    scheduler: str | None = None        # or an existing cluster
    memory_limit: str | None = DEFAULT_WORKER_MEMORY
    progress: bool = False              # bar over the items (Dask back end)
    debug: bool = False                 # serial: let exceptions through (tracebacks)
    label: str = "recordings"
    processes: int = 1                  # without Dask: this many local processes (emgpipe bench --jobs)

    @property
    def dask(self) -> bool:
        return self.workers is not None or self.scheduler is not None


@dataclass
class Failure:
    item: Any
    message: str                        # one line
    exit_code: int = 1
    detail: str = ""                    # traceback text of an unexpected exception


@dataclass
class BatchResult:
    results: list = field(default_factory=list)     # (item, value), in the items' order
    failures: list = field(default_factory=list)    # Failure, in the items' order
    wall_s: float = 0.0

    @property
    def exit_code(self) -> int:
        """0, the failure's own code when the only item failed, else :data:`EXIT_SOME_FAILED`."""
        if not self.failures:
            return 0
        if len(self.failures) == 1 and not self.results:
            return self.failures[0].exit_code
        return EXIT_SOME_FAILED


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _guarded(func: Callable, item) -> tuple:
    """Run ``func(item)``: ``("ok", value)`` or ``("error", message, exit_code, traceback)``.

    Runs where the task runs (this process or a Dask worker), so exceptions,
    whatever they hold, never have to be pickled back.
    """
    try:
        return ("ok", func(item))
    except EmgpipeError as err:
        return ("error", _one_line(err), err.exit_code, "")
    except MemoryError:
        return ("error", "out of memory", 1, traceback.format_exc())
    except Exception as err:  # a bug: isolated to this item, reported in one line
        return ("error", _one_line(f"internal error: {type(err).__name__}: {err}"), 70,
                traceback.format_exc())


def run_batch(items: Iterable, func: Callable, options: BatchOptions | None = None,
              on_done: Callable | None = None, name: Callable | None = None) -> BatchResult:
    """Run ``func(item)`` for every item; one task per item.

    Parameters
    ----------
    items : iterable
        Recording paths (or any picklable items).
    func : callable
        ``func(item) -> value``, picklable by reference for the Dask back end
        (a module-level function, or :func:`functools.partial` of one).
    options : BatchOptions, optional
        Back end and progress; default serial.
    on_done : callable, optional
        ``on_done(item, value, failure)`` in this process as each item finishes
        (value None on failure, failure None on success), e.g. to print its line.
    name : callable, optional
        ``name(item) -> str``: a failure's message starts with it (added when the
        error does not already name the item, e.g. an internal error).

    Returns
    -------
    BatchResult
        Values and failures in the order of ``items`` (whatever the finishing order).
    """
    items = list(items)
    options = options or BatchOptions()
    t0 = time.perf_counter()
    if name is not None:
        func_done = on_done

        def on_done(item, value, failure):
            if failure is not None:
                n = name(item)
                if n not in failure.message and Path(n).name not in failure.message:
                    failure.message = f"{n}: {failure.message}"
            if func_done:
                func_done(item, value, failure)
    if options.dask:
        outcomes = _run_dask(items, func, options, on_done)
    elif options.processes > 1 and len(items) > 1 and not options.debug:
        outcomes = _run_pool(items, func, options, on_done)
    else:
        outcomes = _run_serial(items, func, options, on_done)
    res = BatchResult(wall_s=time.perf_counter() - t0)
    for i, item in enumerate(items):
        kind, payload = outcomes[i]
        (res.results if kind == "ok" else res.failures).append((item, payload) if kind == "ok" else payload)
    return res


def _finish(i, item, out, outcomes, on_done):
    if out[0] == "ok":
        outcomes[i] = ("ok", out[1])
        if on_done:
            on_done(item, out[1], None)
    else:
        fail = Failure(item, out[1], out[2], out[3] if len(out) > 3 else "")
        if fail.detail:
            log.debug("%s failed:\n%s", item, fail.detail)
        outcomes[i] = ("error", fail)
        if on_done:
            on_done(item, None, fail)


def _run_serial(items, func, options, on_done) -> dict:
    outcomes: dict = {}
    for i, item in enumerate(items):
        if options.debug:          # --debug: a bug shows its traceback, as before batches
            try:
                out = ("ok", func(item))
            except EmgpipeError as err:
                out = ("error", _one_line(err), err.exit_code, "")
        else:
            out = _guarded(func, item)
        _finish(i, item, out, outcomes, on_done)
    return outcomes


def _run_pool(items, func, options, on_done) -> dict:
    """Each item in one of ``options.processes`` local processes; a task comes back
    as :func:`_guarded`'s tuple, so no exception has to be pickled."""
    from concurrent.futures import ProcessPoolExecutor
    outcomes: dict = {}
    with ProcessPoolExecutor(max_workers=min(options.processes, len(items))) as ex:
        futs = [ex.submit(_guarded, func, item) for item in items]
        for i, (item, fut) in enumerate(zip(items, futs)):
            try:
                out = fut.result()
            except Exception as err:   # the worker process itself ended (killed, out of memory, a crash)
                out = ("error", _one_line(f"internal error: a worker process ended ({type(err).__name__}: {err})"),
                       70, "")
            _finish(i, item, out, outcomes, on_done)
    return outcomes


def dask_available() -> bool:
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def _import_distributed():
    try:
        import dask  # noqa: F401
        import distributed
    except ImportError:
        raise UsageError("--workers/--scheduler need Dask: pip install 'emgpipe[dask]'") from None
    return distributed


def open_client(options: BatchOptions):
    """A connected :class:`distributed.Client` and what to close after it (a local cluster or None)."""
    distributed = _import_distributed()
    import dask
    # distributed sets its loggers to INFO; they would reach the CLI's handler on every run
    for name in ("distributed", "distributed.client", "distributed.scheduler", "distributed.nanny",
                 "distributed.worker", "distributed.core", "distributed.http.proxy"):
        logging.getLogger(name).setLevel(logging.DEBUG if options.debug else logging.ERROR)
    if options.scheduler:
        try:
            client = distributed.Client(options.scheduler, timeout="10s")
        except (OSError, TimeoutError) as err:
            raise UsageError(f"--scheduler {options.scheduler}: cannot connect ({_one_line(err)})") from None
        except ValueError as err:
            raise UsageError(f"--scheduler {options.scheduler}: {_one_line(err)}") from None
        return client, None
    mem = options.memory_limit
    if isinstance(mem, str) and mem.strip().lower() in ("", "0", "none"):
        mem = None
    # A recording that kills its worker (memory) is retried once on a fresh one, then failed.
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        try:
            cluster = distributed.LocalCluster(
                n_workers=options.workers, threads_per_worker=1, processes=True, memory_limit=mem,
                dashboard_address=":0", silence_logs=logging.ERROR)
        except ValueError as err:        # e.g. a bad --worker-memory
            raise UsageError(f"--worker-memory {options.memory_limit}: {_one_line(err)}") from None
    return distributed.Client(cluster), cluster


def _run_dask(items, func, options, on_done) -> dict:
    distributed = _import_distributed()
    outcomes: dict = {}
    bar = Progress(options.label, len(items), options.progress and len(items) > 0, count=True)

    def done(i, item, out):
        bar.clear()
        _finish(i, item, out, outcomes, on_done)
        bar(len(outcomes))

    client, cluster = open_client(options)
    try:
        bar(0)
        futures = {}
        for i, item in enumerate(items):
            fut = client.submit(_guarded, func, item, key=f"emgpipe-item-{i}-{_token(item)}", pure=False)
            futures[fut] = i
        for fut in distributed.as_completed(list(futures)):
            i = futures[fut]
            try:
                out = fut.result()
            except distributed.KilledWorker:
                out = ("error", "its worker died while running it (over its memory limit "
                                f"{options.memory_limit}? see --worker-memory)", 1, "")
            except distributed.CancelledError:
                out = ("error", "cancelled (the cluster lost it)", 1, "")
            except Exception as err:     # the task could not even start (e.g. unpicklable item)
                out = ("error", _one_line(f"internal error: {type(err).__name__}: {err}"), 70, "")
            fut.release()
            done(i, items[i], out)
    finally:
        bar.done()
        client.close()
        if cluster is not None:
            cluster.close()
    return outcomes


def absolute(path) -> Path:
    """``path`` made absolute (not resolved): what a task sends to workers that may run in
    another directory or on another machine sharing the filesystem."""
    return Path(os.path.abspath(path))


def _token(item) -> str:
    return hashlib.sha1(repr(item).encode("utf-8", "replace")).hexdigest()[:10]


def print_failures(result: BatchResult, n_items: int, stream=None, what: str = "recording") -> None:
    """List the failed items at the end, one line each (only when there were several items)."""
    stream = stream or sys.stderr
    if not result.failures or n_items <= 1:
        return
    print(f"emgpipe: {len(result.failures)} of {n_items} {what}(s) failed:", file=stream)
    for f in result.failures:
        print(f"  {f.message}", file=stream)


def _example_inverse(x):
    return 1 / x


# ----------------------------------------------------------------------------- resuming

MARKER_SUFFIX = ".done.json"


def marker_path(output) -> Path:
    """The completion marker of an output file: ``<output>.done.json`` beside it."""
    output = Path(output)
    return output.with_name(output.name + MARKER_SUFFIX)


def _stat(path: Path) -> dict | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def input_fingerprint(path) -> dict:
    """What identifies an input recording: its size and mtime, and those of the files read
    with it (the contract CSV's ``<stem>.json`` sidecar, a WFDB record's ``.dat``)."""
    p = Path(path)
    out = {"path": str(p.resolve()), "file": _stat(p)}
    for side in (p.with_suffix(".json"), p.with_suffix(".dat")):
        if side != p and side.exists():
            out[side.suffix] = _stat(side)
    return out


def options_digest(options: dict) -> str:
    """A stable digest of the options that change an output (mode, model, profile, answers...)."""
    text = json.dumps(options, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def write_marker(output, input_path, options_key: str, model: str, extra: dict | None = None) -> Path:
    """Say atomically that ``output`` is complete for this input, options and model version.

    Call it after ``output`` is closed; ``extra`` (e.g. the cohort row) is kept
    in the marker so a rerun that skips the recording still has it.
    """
    output = Path(output)
    data = {"input": input_fingerprint(input_path), "options": options_key, "model": model,
            "output": _stat(output), "extra": extra or {}}
    target = marker_path(output)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=MARKER_SUFFIX, dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, default=str)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return target


def remove_marker(output) -> None:
    """Forget that ``output`` was complete (before rewriting it)."""
    try:
        marker_path(output).unlink()
    except FileNotFoundError:
        pass


def completed(output, input_path, options_key: str, model_of: Callable[[dict], str]) -> dict | None:
    """The marker's data if ``output`` is complete for the same input, options and model
    version, else None. ``model_of(marker)`` gives the model tag a run would use now
    (e.g. from the mode the marker recorded), so a new model version reruns it."""
    output = Path(output)
    try:
        data = json.loads(marker_path(output).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    if data.get("options") != options_key or data.get("input") != input_fingerprint(input_path):
        return None
    if data.get("output") is None or data.get("output") != _stat(output):
        return None                       # output missing, cut or rewritten since
    try:
        if data.get("model") != model_of(data):
            return None
    except EmgpipeError:
        return None
    return data
