"""``emgpipe nights DIR``: past nights with their counts, and a trend plot over the weeks."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "nights", help="list past nights with their counts and draw the trend",
        description="List every night logged under DIR (all emgpipe night databases below it) with its "
                    "cramps, fasciculations and leg movements per hour and lost signal, and write "
                    "nights.html with a trend plot (cramps per night and a 7-night mean) so you can see "
                    "whether cramps get rarer over the weeks. Not a medical device.")
    p.add_argument("folder", metavar="DIR", help="folder holding night databases")
    p.add_argument("--out", default=None, metavar="DIR", help="where to write nights.html (default: DIR)")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from ..report.nights import collect_nights, text_table, trend_summary, write_nights

    rows = collect_nights(args.folder)
    folder = Path(args.folder)
    out = Path(args.out) if args.out else (folder if folder.is_dir() else folder.parent)
    path = write_nights(rows, out)
    print(text_table(rows))
    print(trend_summary(rows))
    print(f"trend: {path}")
    return 0
