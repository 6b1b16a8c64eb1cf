"""The index page of a ``report DIR`` run that made several reports: one row and one link per
report, and a chart of cramps and fasciculations per recording.

Rows are plain dicts made by :func:`index_row` right after each report (small and
picklable, so reports can be made in other processes and the index here).
"""
from __future__ import annotations

import html
import os
import time
from pathlib import Path

import numpy as np

from ..errors import StorageError
from .html import CSS, DISCLAIMER, _png, fmt_duration

HEAD = ["report", "started", "length", "cramps", "cramp time", "answered not a cramp", "fasc/h", "LM/h",
        "lost", "status"]


def index_row(night, path) -> dict:
    h = max(night.hours, 1e-9)
    cr = night.cramps
    return {
        "path": str(path), "title": night.title, "started_time": night.started_time,
        "duration_s": night.duration_s, "length_known": not night.duration_note,
        "cramps": len(cr), "cramp_s": sum(e.duration_s for e in cr),
        "not_cramp": sum(1 for e in cr if e.label == "not_cramp"),
        "fasc_per_h": len(night.of("fasciculation")) / h,
        "lm_per_h": len(night.of(*night.leg_movement_kinds)) / h if night.mode != "awake" else None,
        "lost_s": night.lost_s, "status": night.status,
    }


def plot_index(rows: list[dict]) -> str:
    from matplotlib.figure import Figure
    fig = Figure(figsize=(10, 1.6 + 0.28 * len(rows)))
    ax, ax2 = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(rows))[::-1]
    names = [r["title"].replace("Recording ", "").replace(" (replayed)", "") for r in rows]
    ax.barh(y, [r["cramps"] for r in rows], color="#D55E00", alpha=0.8)
    ax.set_title("Cramps", fontsize=10, loc="left")
    ax.set_yticks(y)
    ax.set_yticklabels([n if len(n) <= 40 else n[:39] + "…" for n in names], fontsize=8)
    ax2.barh(y, [r["fasc_per_h"] for r in rows], color="#0072B2", alpha=0.8)
    ax2.set_title("Fasciculation episodes per hour", fontsize=10, loc="left")
    for a in (ax, ax2):
        a.tick_params(axis="x", labelsize=8)
        a.set_ylim(-0.6, len(rows) - 0.4)
    ax.xaxis.get_major_locator().set_params(integer=True)
    return _png(fig)


def write_index(rows: list[dict], folder, title: str = "") -> Path:
    """``index.html`` in ``folder`` (created if missing) linking every report (relative links)."""
    from ..night.private import private_dir
    e = html.escape
    folder = Path(folder)
    path = folder / "index.html"
    body = []
    for r in rows:
        href = os.path.relpath(r["path"], folder).replace(os.sep, "/")
        started = (time.strftime("%Y-%m-%d %H:%M", time.localtime(r["started_time"]))
                   if r["started_time"] is not None else "-")
        length = ("" if r["length_known"] else "at least ") + fmt_duration(r["duration_s"])
        cells = [started, length, r["cramps"], fmt_duration(r["cramp_s"]) if r["cramps"] else "-",
                 r["not_cramp"] or "-", f"{r['fasc_per_h']:.1f}",
                 "-" if r["lm_per_h"] is None else f"{r['lm_per_h']:.1f}",
                 fmt_duration(r["lost_s"]) if r["lost_s"] else "-", r["status"]]
        body.append(f"<tr><td><a href='{e(href)}'>{e(r['title'])}</a></td>"
                    + "".join(f"<td>{e(str(c))}</td>" for c in cells) + "</tr>")
    total = sum(r["cramps"] for r in rows)
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>emgpipe reports - {e(title)}</title><style>{CSS}</style></head><body>"
            f"<h1>Reports</h1><p class='muted'>{e(title)}</p><div class='summary'><p>{len(rows)} reports, "
            f"{total} cramp(s) in all. Open a report for its plots and the EMG around each cramp.</p></div>"
            f"<img src='{plot_index(rows)}' alt='cramps and fasciculations per report'>"
            f"<table><thead><tr>{''.join(f'<th>{e(h)}</th>' for h in HEAD)}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table><footer>{e(DISCLAIMER)}</footer></body></html>")
    try:
        private_dir(folder)
        path.write_text(page, encoding="utf-8")
    except OSError as err:
        raise StorageError(f"{path}: cannot write the index ({err.strerror or err})") from None
    return path
