"""``emgpipe report DIR``: the morning report of a night (or of a replayed recording's events).

Writes ``report-<date>-<night>.html`` (self-contained: plots inline) into DIR
and prints a short summary. DIR is an ``emgpipe night --out`` folder (its
SQLite log), or a folder of ``*.events.csv`` from ``emgpipe replay`` (one
report per events file, plus ``index.html`` linking them); a single database,
events file, or a recording with its events file beside it works too.

:func:`report_one` makes one report from a :class:`~emgpipe.report.data.ReportTarget`
and returns where it went: the unit of work for running many in parallel.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "report", help="morning report of a night: HTML with plots, and a short summary",
        description="Make the morning report of a night logged by 'emgpipe night' (the latest night in "
                    "DIR unless --night or --all), or of replayed events (*.events.csv; a folder of them "
                    "gives one report each and an index page): a self-contained HTML file with the "
                    "timeline, the EMG around each cramp, the night's figures beside published reference "
                    "ranges, fasciculations and leg movements per hour, signal quality and gaps, and the "
                    "table of cramps; plus a short summary on the terminal. Not a medical device.")
    p.add_argument("target", metavar="DIR", help="night folder, night database, events CSV(s), or a recording "
                                                 "with its events CSV beside it")
    p.add_argument("--night", type=int, default=None, metavar="ID", help="which night (see emgpipe nights)")
    p.add_argument("--all", action="store_true", help="one report per night in DIR")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="where to write the HTML (default: beside the data); created if missing")
    p.add_argument("--recordings", default=None, metavar="DIR",
                   help="where the replayed recordings are (for their length and the EMG around each cramp; "
                        "default: beside the events files and the folder above)")
    from .. import batch
    batch.add_arguments(p)     # --workers N / --scheduler URL / --cohort-out FILE.csv (emgpipe.batch)
    p.set_defaults(func=run)
    return p


def report_one(target, out_dir=None):
    """Make the report of one night or recording; returns ``(path, summary lines, index row)``."""
    from ..report.html import summary_lines, write_report
    from ..report.index import index_row
    night = target.load()
    path = write_report(night, out_dir)
    return path, summary_lines(night), index_row(night, path)


def run(args) -> int:
    from .. import batch
    if batch.wants_dask(args) or args.cohort_out:     # one task per report (commands/many.py)
        from .many import report_many
        return report_many(args)
    from ..report.data import find_targets
    from ..report.index import write_index

    targets = find_targets(args.target, night_id=args.night, every=args.all, recordings=args.recordings)
    done = []
    for target in targets:
        path, lines, row = report_one(target, args.out)
        for line in lines:
            print(line)
        print(f"report: {path}")
        done.append(row)
    if len(done) > 1:
        folder = Path(args.target)
        where = Path(args.out) if args.out else (folder if folder.is_dir() else folder.parent)
        print(f"index: {write_index(done, where, title=str(args.target))}")
    return 0
