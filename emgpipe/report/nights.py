"""Past nights at a glance: a table of counts and a trend plot over the weeks.

Reads every night database under a folder (``*.sqlite``, ``*.db``: one
``emgpipe night --out`` folder holding many nights, or one folder per night),
one row per night, and draws cramps per night with a 7-night rolling mean,
cramp minutes, and fasciculations and leg movements per hour.
"""
from __future__ import annotations

import html
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import StorageError, UsageError
from ..night.store import NightStore, find_databases
from .data import night_from_store
from .html import CSS, DISCLAIMER, _png, _table, fmt_duration

#: Rolling window of the trend line (nights): a week.
ROLL_NIGHTS = 7


@dataclass
class NightRow:
    db: Path
    night_id: int
    started_time: float
    hours: float
    status: str
    cramps: int
    cramp_s: float
    fasciculations: int
    leg_movements: int
    lost_s: float

    @property
    def date(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(self.started_time))

    def per_hour(self, n: int) -> float:
        return n / self.hours if self.hours > 0 else float("nan")


def collect_nights(folder) -> list[NightRow]:
    folder = Path(folder)
    if not folder.exists():
        raise UsageError(f"{folder}: no such file or directory")
    dbs = find_databases(folder)
    rows = []
    for db in dbs:
        try:
            store = NightStore(db, readonly=True)
        except StorageError:  # some other SQLite file in the tree
            continue
        with store:
            for r in store.nights():
                n = night_from_store(store, r)
                rows.append(NightRow(db, r["id"], r["started_time"], n.hours, n.status, len(n.cramps),
                                     sum(e.duration_s for e in n.cramps), len(n.of("fasciculation")),
                                     len(n.of(*n.leg_movement_kinds)), n.lost_s))
    if not rows:
        raise UsageError(f"{folder}: no nights found (no emgpipe night database below it)")
    return sorted(rows, key=lambda r: r.started_time)


def rolling_mean(x, n: int = ROLL_NIGHTS) -> np.ndarray:
    """Trailing mean over up to ``n`` nights (shorter at the start).

    >>> rolling_mean([1, 2, 3, 4], 2).tolist()
    [1.0, 1.5, 2.5, 3.5]
    """
    x = np.asarray(x, dtype=float)
    c = np.concatenate([[0.0], np.cumsum(x)])
    i = np.arange(1, len(x) + 1)
    lo = np.maximum(0, i - n)
    return (c[i] - c[lo]) / (i - lo)


def night_labels(rows: list[NightRow], max_labels: int = 16) -> tuple[list[int], list[str]]:
    """Tick positions (night index) and labels for the trend: the date, with the start time
    when several nights begin on the same day (so no date repeats without a reason), thinned
    to at most ``max_labels``.

    >>> import time
    >>> t = time.mktime((2025, 2, 1, 23, 0, 0, 0, 0, -1))
    >>> rows = [NightRow(None, i, t + dt, 7, "", 0, 0, 0, 0, 0) for i, dt in enumerate((0, 43200, 86400))]
    >>> night_labels(rows)[1]
    ['01 Feb', '02 Feb 11:00', '02 Feb 23:00']
    """
    days = [time.strftime("%d %b", time.localtime(r.started_time)) for r in rows]
    count = {d: days.count(d) for d in days}
    labels = [d + (time.strftime(" %H:%M", time.localtime(r.started_time)) if count[d] > 1 else "")
              for d, r in zip(days, rows)]
    step = max(1, -(-len(rows) // max_labels))
    idx = list(range(0, len(rows), step))
    return idx, [labels[i] for i in idx]


def plot_trend(rows: list[NightRow]) -> str:
    """Cramps per night (bars, 7-night mean), cramp minutes, fasciculations and leg movements
    per hour. One slot per night in order (not a calendar axis): two nights on one day are two
    bars, labelled with their start times."""
    from matplotlib.figure import Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    fig = Figure(figsize=(10, 5.2))
    FigureCanvasAgg(fig)
    ax, ax2 = fig.subplots(2, 1, sharex=True)
    x = np.arange(len(rows))
    cr = np.array([r.cramps for r in rows], float)
    ax.bar(x, cr, width=0.6, color="#D55E00", alpha=0.6, label="cramps per night")
    ax.plot(x, rolling_mean(cr), color="#D55E00", lw=2, label=f"{ROLL_NIGHTS}-night mean")
    minutes = np.array([r.cramp_s / 60 for r in rows])
    axm = ax.twinx()
    axm.plot(x, minutes, "o", color="#555", ms=4, label="cramp minutes")
    axm.set_ylabel("cramp minutes", fontsize=8)
    axm.tick_params(labelsize=8)
    ax.set_ylabel("cramps per night", fontsize=8)
    ax.tick_params(labelsize=8)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=7, loc="upper left", frameon=False)
    axm.legend(fontsize=7, loc="upper right", frameon=False)
    ax.set_title("Are cramps getting rarer?", fontsize=10, loc="left")
    fas = np.array([r.per_hour(r.fasciculations) for r in rows])
    lm = np.array([r.per_hour(r.leg_movements) for r in rows])
    ax2.plot(x, fas, "-o", ms=3, color="#0072B2", label="fasciculations per hour")
    ax2.plot(x, lm, "-o", ms=3, color="#009E73", label="leg movements per hour")
    ax2.set_ylabel("per hour", fontsize=8)
    ax2.legend(fontsize=7, frameon=False)
    idx, labels = night_labels(rows)
    ax2.set_xticks(idx)
    ax2.set_xticklabels(labels, fontsize=8, rotation=30, ha="right")
    ax2.tick_params(axis="y", labelsize=8)
    ax2.set_xlim(-0.6, len(rows) - 0.4)
    ax2.set_xlabel("night (start date; with the time when a day has several)", fontsize=8)
    return _png(fig)


def table_rows(rows: list[NightRow]) -> list[list]:
    """Table cells per night; with several databases the night is ``<folder>/<id>``."""
    many = len({r.db for r in rows}) > 1
    return [[f"{r.db.parent.name}/{r.night_id}" if many else r.night_id, r.date, f"{r.hours:.1f} h", r.cramps, fmt_duration(r.cramp_s) if r.cramps else "-",
             f"{r.per_hour(r.fasciculations):.1f}", f"{r.per_hour(r.leg_movements):.1f}",
             fmt_duration(r.lost_s) if r.lost_s else "-", r.status] for r in rows]


HEAD = ["night", "started", "length", "cramps", "cramp time", "fasc/h", "LM/h", "lost", "status"]


def text_table(rows: list[NightRow]) -> str:
    data = [HEAD] + [[str(c) for c in r] for r in table_rows(rows)]
    widths = [max(len(r[i]) for r in data) for i in range(len(HEAD))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in data)


def trend_summary(rows: list[NightRow]) -> str:
    """One line: cramps per night, recent week against the weeks before."""
    cr = [r.cramps for r in rows]
    if len(cr) < 2 * ROLL_NIGHTS:
        return (f"{len(rows)} night(s), {sum(cr)} cramp(s) in all "
                f"({np.mean(cr):.1f} per night); a trend needs {2 * ROLL_NIGHTS} nights.")
    recent, before = np.mean(cr[-ROLL_NIGHTS:]), np.mean(cr[:-ROLL_NIGHTS])
    word = "fewer" if recent < before else "more" if recent > before else "as many"
    return (f"{len(rows)} nights: {recent:.1f} cramps per night over the last {ROLL_NIGHTS} nights, "
            f"{before:.1f} before ({word}).")


def write_nights(rows: list[NightRow], out_dir: Path) -> Path:
    e = html.escape
    from ..night.private import private_dir
    path = Path(out_dir) / "nights.html"
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>emgpipe nights</title>"
            f"<style>{CSS}</style></head><body><h1>Nights</h1><div class='summary'><p>"
            f"{e(trend_summary(rows))}</p></div><img src='{plot_trend(rows)}' alt='trend over nights'>"
            f"{_table(HEAD, table_rows(rows))}<footer>{e(DISCLAIMER)}</footer></body></html>")
    try:
        private_dir(out_dir)
        path.write_text(page, encoding="utf-8")
    except OSError as err:
        raise StorageError(f"{path}: cannot write ({err.strerror or err})") from None
    return path
