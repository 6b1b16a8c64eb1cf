"""``emgpipe replay INPUT... --events-out OUT``: recorded files through the live pipeline."""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

from ..errors import EmgpipeError, UsageError
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
    p.set_defaults(func=run)
    return p


class Progress:
    """A one-line progress bar on a terminal; silent otherwise."""

    def __init__(self, name: str, total_s: float, enabled: bool):
        self.name, self.total, self.enabled = name, max(total_s, 1e-9), enabled
        self._last = 0.0

    def __call__(self, done_s: float):
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and done_s < self.total:
            return
        self._last = now
        frac = min(1.0, done_s / self.total)
        bar = "#" * int(30 * frac)
        sys.stdout.write(f"\r{self.name[:30]:30s} [{bar:30s}] {100 * frac:5.1f}%")
        sys.stdout.flush()

    def done(self):
        if self.enabled:
            sys.stdout.write("\r" + " " * 72 + "\r")
            sys.stdout.flush()


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


def run(args) -> int:
    from ..io import find_recordings, read_recording
    from ..pipeline import make_pipeline, resolve_mode, run_recording, signal_of

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
    profile = None
    if args.profile:
        from ..calibration import Profile
        profile = Profile.load(args.profile).detector_profile()
    from ..answers import load_answers
    answers = load_answers(args.answers) if args.answers else []
    tty = sys.stdout.isatty() and not args.no_progress
    failures = 0
    for path, out in zip(files, outs):
        try:
            rec = read_recording(path, fmt=args.fmt)
            pipe = make_pipeline(args.model, resolve_mode(args.mode, rec), signal_of(rec), profile,
                                 answers)
            total = rec.duration_hint_s       # header or file-size estimate: no pass over the file
            progress = Progress(path.name, total, tty and total > 60)
            t0 = time.perf_counter()
            try:
                with EventsCsvWriter(out, model=pipe.model.tag) as writer:
                    pipe.events.sink(writer.write)      # rows written as events become final
                    result = run_recording(rec, speed=speed, pipeline=pipe, progress=progress)
            finally:
                pipe.destroy()                          # else streamz keeps every file's graph alive
            progress.done()
            print(summarise(path.name, rec, result, out, time.perf_counter() - t0))
        except EmgpipeError as err:
            failures += 1
            print(f"emgpipe: {err}", file=sys.stderr)
            if len(files) == 1:
                return err.exit_code
    return 3 if failures else 0
