"""The many-recordings paths of ``emgpipe bench`` and ``emgpipe report``: ``--workers N``,
``--scheduler tcp://HOST:PORT`` and ``--cohort-out FILE.csv``.

Thin callers of :func:`emgpipe.batch.run_batch` (one task per recording or
night); ``replay`` has its own in :mod:`.replay`. Without these options the
commands keep their in-process path. Not a command of its own.
"""
from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path

from .. import batch


def _write_cohort(args, items, rows: dict, name) -> None:
    from ..cohort import failed_row, write_cohort
    if getattr(args, "cohort_out", None):
        path = write_cohort(args.cohort_out, [rows.get(i) or failed_row(name(i), "not run") for i in items])
        print(f"cohort: {path}", file=sys.stderr if getattr(args, "json", False) else sys.stdout)


# ----------------------------------------------------------------------------- bench

def bench_many(paths, task, args) -> tuple[list, batch.BatchResult]:
    """Run ``task(path)`` (bench_one with the command's options) for every labelled
    recording, on the back end the arguments ask for; a recording that fails is listed
    at the end and left out of the metrics. Returns (results in path order, BatchResult)."""
    opts = batch.options_from_args(args)
    if not opts.dask:                          # --jobs: local processes, failures listed as with Dask
        opts = dataclasses.replace(opts, processes=args.jobs)
    # a cluster's workers may run elsewhere (another cwd): they get absolute paths, and the
    # results say the paths as the user gave them, as in process
    shown = {batch.absolute(p) if opts.dask else p: p for p in paths}
    rows: dict = {}

    def on_done(item, value, failure):
        from ..cohort import failed_row
        path = shown[item]
        if failure is None:
            value["path"] = str(path)
            if value.get("cohort"):
                value["cohort"]["path"] = str(path)
            rows[path] = value.get("cohort")
        else:
            failure.message = failure.message.replace(str(item), str(path))
            rows[path] = failed_row(path, failure.message)
            print(f"emgpipe: {failure.message}", file=sys.stderr, flush=True)

    res = batch.run_batch(list(shown), task, opts, on_done=on_done, name=lambda item: str(shown[item]))
    _write_cohort(args, paths, rows, str)
    batch.print_failures(res, len(paths))      # last: the failures are listed at the end
    return [v for _, v in res.results], res


# ----------------------------------------------------------------------------- report

@dataclass(frozen=True)
class ReportTask:
    """Make one report (a :class:`~emgpipe.report.data.ReportTarget`) where the task runs:
    the HTML file, its summary lines, its index row and its cohort row."""

    out: str | None = None

    def __call__(self, target) -> dict:
        from ..cohort import night_row
        from ..report.html import summary_lines, write_report
        from ..report.index import index_row
        night = target.load()
        path = write_report(night, self.out)
        return {"path": str(path), "lines": summary_lines(night), "index": index_row(night, path),
                "row": night_row(night)}


def report_many(args) -> int:
    """``emgpipe report`` with ``--workers``/``--scheduler``/``--cohort-out``: one task per
    night or replayed recording; same reports, summaries and index as in process."""
    from ..report.data import find_targets
    from ..report.index import write_index

    targets = find_targets(args.target, night_id=args.night, every=args.all,
                           recordings=getattr(args, "recordings", None))
    opts = batch.options_from_args(args)
    out = args.out
    if opts.dask:
        batch._import_distributed()
        # the workers may run in another directory or on another machine: absolute paths
        targets = [dataclasses.replace(t, path=batch.absolute(t.path),
                                       recordings=t.recordings and batch.absolute(t.recordings))
                   for t in targets]
        out = out and str(batch.absolute(out))
    rows: dict = {}
    index: dict = {}

    def name(t):
        return f"{t.path}#night{t.night_id}" if t.night_id is not None else str(t.path)

    def on_done(t, value, failure):
        from ..cohort import failed_row
        if failure is None:
            rows[t], index[t] = value["row"], value["index"]
            for line in value["lines"]:
                print(line)
            print(f"report: {value['path']}", flush=True)
        else:
            rows[t] = failed_row(name(t), failure.message)
            print(f"emgpipe: {failure.message}", file=sys.stderr, flush=True)

    res = batch.run_batch(targets, ReportTask(out), opts, on_done=on_done, name=name)
    done = [index[t] for t in targets if t in index]
    if len(done) > 1:
        folder = Path(args.target)
        where = Path(args.out) if args.out else (folder if folder.is_dir() else folder.parent)
        print(f"index: {write_index(done, where, title=str(args.target))}")
    _write_cohort(args, targets, rows, name)
    batch.print_failures(res, len(targets), what="report")
    if not res.failures:
        return 0
    return res.failures[0].exit_code if len(targets) == 1 else batch.EXIT_SOME_FAILED
