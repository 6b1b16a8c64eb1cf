"""``emgpipe report DIR``: the morning report of a night (or of a replayed recording's events).

Writes ``report-<date>-<night>.html`` (self-contained: plots inline) into DIR
and prints a short summary. DIR is an ``emgpipe night --out`` folder (its
SQLite log), or a folder of ``*.events.csv`` from ``emgpipe replay`` (one
report per events file); a single database or events file works too.
"""
from __future__ import annotations

import argparse


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "report", help="morning report of a night: HTML with plots, and a short summary",
        description="Make the morning report of a night logged by 'emgpipe night' (the latest night in "
                    "DIR unless --night or --all), or of replayed events (*.events.csv): a self-contained "
                    "HTML file with the timeline, fasciculations and leg movements per hour, signal "
                    "quality and gaps, and the table of cramps; plus a short summary on the terminal. "
                    "Not a medical device.")
    p.add_argument("target", metavar="DIR", help="night folder, night database, or events CSV(s)")
    p.add_argument("--night", type=int, default=None, metavar="ID", help="which night (see emgpipe nights)")
    p.add_argument("--all", action="store_true", help="one report per night in DIR")
    p.add_argument("--out", default=None, metavar="DIR", help="where to write the HTML (default: beside the data)")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from ..report.data import load_nights
    from ..report.html import summary_lines, write_report

    nights = load_nights(args.target, night_id=args.night, every=args.all)
    for night in nights:
        path = write_report(night, args.out)
        for line in summary_lines(night):
            print(line)
        print(f"report: {path}")
    return 0
