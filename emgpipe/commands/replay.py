"""``emgpipe replay INPUT... --events-out OUT``: recorded files through the live pipeline."""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .. import batch
from ..errors import UsageError
from ..io.events_csv import EventsCsvWriter
from ..devices.base import parse_speed


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "replay", help="run recorded files through the pipeline and write their events",
        description="Run recordings (contract CSV, OpenBCI GUI text, BrainFlow CSV, EDF/EDF+/BDF, WFDB, "
                    "OpenSignals text) causally through the same pipeline as live data. With one input, "
                    "--events-out may be a file; with several inputs or a directory it is a directory "
                    "receiving <stem>.events.csv per input.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="recording files or directories")
    p.add_argument("--events-out", required=True, metavar="OUT", help="events CSV file, or directory")
    p.add_argument("--mode", choices=("awake", "sleep", "auto"), default="auto",
                   help="detector mode (auto: from the recording's sidecar, else awake)")
    p.add_argument("--model", default=None, metavar="NAME_OR_PATH", help="detector model (default: default)")
    p.add_argument("--profile", default=None, metavar="PATH",
                   help="calibration profile from emgpipe calibrate (channel names must match)")
    p.add_argument("--answers", default=None, metavar="FILE",
                   help="the wearer's answers to past cramp alerts, for replaying the wearer's own "
                        "recordings (e.g. answers.json in the configuration folder, beside the profile; "
                        "default: none, a replay of anyone's recording is not personalised)")
    p.add_argument("--speed", default="max", help="max (default), realtime, or a factor like 10")
    p.add_argument("--format", dest="fmt", default=None, help="force a reader (csv, openbci, brainflow, "
                                                             "edf, wfdb, opensignals)")
    p.add_argument("--no-progress", action="store_true", help="never draw the progress bar")
    p.add_argument("--processes", choices=("1", "2", "auto"), default="auto",
                   help="processes per recording at max speed: with 2, a second process reads the file, "
                        "runs the quality checks and the filters (and at 250 Hz the window features) "
                        "while this one runs the detectors (the same events, sooner on two cores: the "
                        "8-h two-channel night 5.3 -> 3.4 s); auto (default): 2 on a machine of two "
                        "cores or more for a recording long enough to pay (from ~42 min of two 1 kHz channels; ~1.4 h where numba's "
                        "JIT runs the kernels), 1 with --speed, --workers or "
                        "--scheduler. The environment variable EMGPIPE_REPLAY_PROCESSES=1|2 sets it "
                        "when this option is not given")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=None,
                   help="skip recordings whose events file is complete for the same input, options and "
                        "model version (a marker <events>.done.json is written beside each events file); "
                        "default: on with --workers/--scheduler, off otherwise")
    batch.add_arguments(p)
    p.set_defaults(func=run)
    return p


# The progress bar lives with the batch engine (it also draws the bar over recordings).
from ..batch import Progress  # noqa: E402


def _outputs(inputs: list[Path], out: Path, many: bool) -> list[Path]:
    if not many:
        if out.is_dir():
            return [out / f"{_stem(inputs[0])}.events.csv"]
        return [out]
    if out.exists() and not out.is_dir():
        raise UsageError(f"--events-out {out}: with several inputs this must be a directory")
    paths = [out / f"{_stem(p)}.events.csv" for p in inputs]
    dupes = [name for name, n in Counter(p.name for p in paths).items() if n > 1]
    if dupes:
        raise UsageError(f"--events-out {out}: several inputs share the name {dupes[0]}")
    return paths


def _stem(p: Path) -> str:
    return p.name.rsplit(".", 1)[0] if "." in p.name else p.name


def summarise(name: str, rec, result, out: Path, wall_s: float) -> str:
    counts = Counter(e.kind for e in result.events)
    kinds = ", ".join(f"{counts.get(k, 0)} {k}" for k in ("cramp", "fasciculation", "voluntary",
                                                             "artifact", "signal_loss"))
    lost = f", {result.n_lost / rec.fs:.1f} s lost in {len(rec.gaps)} gap(s)" if result.n_lost else ""
    mains = f", mains {result.mains_hz} Hz" if result.mains_hz else ", no mains hum stands out"
    speed = result.duration_s / wall_s if wall_s > 0 else float("inf")
    return (f"{name}: {result.duration_s:.1f} s, {len(rec.ch_names)} ch @ {rec.fs:g} Hz{mains}{lost}: "
            f"{kinds} -> {out} [{speed:,.0f}x real time]")


class _numpy_warnings:
    """Keep numpy RuntimeWarnings (overflow, invalid value) from reaching the user as
    tracebacks-like lines: they are counted, and replay prints one line per file.
    The readers already cut absurd values out (emgpipe.io.base.MAX_ABS_UV), so this
    is a last guard, not the way bad values are handled."""

    def __init__(self, name):
        self.name = name
        self.found = []

    def __enter__(self):
        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.simplefilter("ignore")
        warnings.filterwarnings("always", category=RuntimeWarning)
        self._old = warnings.showwarning
        warnings.showwarning = self._show
        return self.found

    def _show(self, message, category, *args, **kw):
        if not self.found:
            self.found.extend([0, str(message)])
        self.found[0] += 1

    def __exit__(self, *exc):
        warnings.showwarning = self._old
        self._cm.__exit__(*exc)
        return False


@dataclass(frozen=True)
class ReplayTask:
    """Replay one recording into its events file: the per-recording task of
    :func:`emgpipe.batch.run_batch` (picklable, so it runs on Dask workers too).

    Called with ``(input path, events path[, shown input, shown events path])``
    (on a cluster the paths are absolute, the shown ones as the user gave them);
    returns ``{"line": summary line, "row": cohort row, "model": tag, "mode":
    mode}``. With ``marker_key`` it writes the completion marker once the events
    file is complete.
    """

    mode: str = "auto"
    model: str | None = None
    fmt: str | None = None
    speed: float | None = None
    profile: dict | None = None
    answers: list | None = None
    progress: bool = False            # per-file bar (in process, on a terminal)
    marker_key: str | None = None     # write a completion marker (resumable runs)
    processes: int | None = None      # 1 or 2 per recording; None: automatic (emgpipe.split.wanted)

    def __call__(self, job) -> dict:
        from .. import split
        from ..cohort import cohort_row
        from ..io import read_recording
        from ..models import load_model
        from ..pipeline import signal_of

        path, out = Path(job[0]), Path(job[1])
        shown_path, shown_out = (job[2], job[3]) if len(job) > 2 else (path, out)
        batch.remove_marker(out)          # the events file is rewritten: no longer complete
        t0 = time.perf_counter()
        rec = read_recording(path, fmt=self.fmt)
        front = None
        if split.wanted(self.processes, rec, self.speed):
            # the other process reads and filters while this one builds its part of the graph
            front = split.start(rec, load_model(self.model), self.model, signal_of(rec), self.fmt)
        try:
            result, mode = self._run(rec, out, front)
        finally:
            if front is not None:
                front.stop()
        line = summarise(path.name, rec, result, shown_out, time.perf_counter() - t0)
        row = cohort_row(shown_path, result.duration_s, mode or "awake", result.events, result.model)
        if self.marker_key is not None:
            batch.write_marker(out, path, self.marker_key, result.model,
                               extra={"mode": mode, "row": row, "line": line})
        return {"line": line, "row": row, "model": result.model, "mode": mode}

    def _run(self, rec, out: Path, front=None):
        """Replay ``rec`` into the events file ``out``, in this process or with ``front``
        (:mod:`emgpipe.split`) running the front of the graph; ``(result, mode)``."""
        from ..pipeline import build_pipeline, run_recording
        pipe = build_pipeline(rec, mode=self.mode, model=self.model, profile=self.profile,
                              answers=self.answers)
        total = rec.duration_hint_s       # header or file-size estimate: no pass over the file
        progress = Progress(Path(rec.path).name, total, self.progress and total > 60)
        try:
            with EventsCsvWriter(out, model=pipe.model.tag) as writer:
                pipe.events.sink(writer.write)      # rows written as events become final
                if front is not None:
                    result = front.run(pipe, progress=progress)
                else:
                    result = run_recording(rec, speed=self.speed, pipeline=pipe, progress=progress)
        finally:
            pipe.destroy()                          # else streamz keeps every file's graph alive
        progress.done()
        return result, pipe.mode


def model_tag(model: str | None, mode: str | None = None) -> str:
    """The tag of the model a replay would use (the mode is not a model: it does not change it)."""
    from ..models import load_model
    return load_model(model).tag


def _processes(args, opts) -> int | None:
    """Processes per recording (``--processes``): None for automatic; always 1 when the
    recordings run on Dask workers (one recording per worker process already)."""
    if opts.dask:
        return 1
    return None if args.processes == "auto" else int(args.processes)


def run(args) -> int:
    from .. import __version__
    from ..cohort import failed_row, write_cohort
    from ..io import find_recordings

    inputs = [Path(p) for p in args.inputs]
    for p in inputs:
        if not p.exists():
            raise UsageError(f"{p}: no such file or directory")
    files = find_recordings(inputs)
    if not files:
        raise UsageError(f"{', '.join(map(str, inputs))}: no recordings found")
    many = len(files) > 1 or any(p.is_dir() for p in inputs)
    outs = _outputs(files, Path(args.events_out), many)
    if many:
        Path(args.events_out).mkdir(parents=True, exist_ok=True)
    speed = parse_speed(args.speed)
    opts = batch.options_from_args(args)
    if opts.dask:
        batch._import_distributed()        # one line now if Dask is missing, before any work
    profile = None
    if args.profile:
        from ..calibration import Profile
        profile = Profile.load(args.profile).detector_profile()
    from ..answers import load_answers
    answers = load_answers(args.answers) if args.answers else []
    resume = opts.dask if args.resume is None else args.resume
    key = None
    if resume:
        # what changes the events: the detector's options and inputs besides the recording
        key = batch.options_digest({"emgpipe": __version__, "mode": args.mode, "model": args.model,
                                    "fmt": args.fmt, "profile": profile, "answers": answers})
    task = ReplayTask(mode=args.mode, model=args.model, fmt=args.fmt, speed=speed, profile=profile,
                      answers=answers, progress=sys.stdout.isatty() and not args.no_progress and not opts.dask,
                      marker_key=key, processes=_processes(args, opts))
    rows: dict = {}
    todo = []
    for path, out in zip(files, outs):
        done = key and batch.completed(
            out, path, key, lambda m: model_tag(args.model, (m.get("extra") or {}).get("mode")))
        if done:
            rows[path] = (done.get("extra") or {}).get("row")
            print(f"{path.name}: events complete in {out} (same input, options and model "
                  f"{done.get('model')}): skipped")
        else:
            # a cluster's workers may run elsewhere (another cwd): they get absolute paths
            todo.append((batch.absolute(path), batch.absolute(out), str(path), str(out)) if opts.dask
                        else (path, out))

    def on_done(job, value, failure):
        if failure is None:
            rows[Path(job[2] if len(job) > 2 else job[0])] = value["row"]
            print(value["line"], flush=True)
        else:
            shown = job[2] if len(job) > 2 else job[0]
            if len(job) > 2:        # say the path as the user gave it, as in process
                failure.message = failure.message.replace(str(job[0]), shown)
            rows[Path(shown)] = failed_row(shown, failure.message)
            print(f"emgpipe: {failure.message}", file=sys.stderr, flush=True)

    result = batch.run_batch(todo, task, opts, on_done=on_done, name=lambda job: str(job[2] if len(job) > 2 else job[0]))
    if args.cohort_out:
        path = write_cohort(args.cohort_out, [rows.get(p) or failed_row(p, "not run") for p in files])
        print(f"cohort: {path}")
    batch.print_failures(result, len(files))      # last: the failures are listed at the end
    if not result.failures:
        return 0
    return result.failures[0].exit_code if len(files) == 1 else batch.EXIT_SOME_FAILED
