"""The morning report: one self-contained HTML file (plots inline as PNG data URIs).

Sections: a summary; the night's figures beside published reference ranges in plain
words (:mod:`.reference`); the night's timeline (cramps by leg with duration and
intensity, fasciculations, leg movements, gaps and disconnects); fasciculations per
hour; leg movements per hour; signal quality (per-minute RMS and lost seconds); the
table of cramps; each cramp up close (the EMG from 30 s before to 30 s after, from the
raw files: :mod:`.rawemg`, :mod:`.zoom`); the recording's facts; the sources; and the
not-a-medical-device note. Plots use matplotlib's object API (no pyplot, no global
backend), so reports can be made from any thread.
"""
from __future__ import annotations

import base64
import html
import io
import math
import time
from collections import Counter
from pathlib import Path

import numpy as np

from .data import NightData

DISCLAIMER = ("emgpipe is not a medical device. This report shows what the software detected in the "
              "signal; it is not a diagnosis. Frequent or severe cramps, weakness or twitching that "
              "spreads are reasons to see a doctor.")

#: Colours (colour-blind safe, Okabe & Ito 2008).
COLORS = {"cramp": "#D55E00", "fasciculation": "#0072B2", "leg": "#009E73", "artifact": "#E69F00",
          "gap": "#999999", "disconnect": "#CC79A7"}


def fmt_duration(s: float) -> str:
    """``"45 s"``, ``"3 min 10 s"``, ``"1 h 05 min"``.

    >>> fmt_duration(45.2), fmt_duration(190), fmt_duration(3900)
    ('45 s', '3 min 10 s', '1 h 05 min')
    """
    s = int(round(s))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s" if s % 60 else f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def _png(fig) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(h: float = 3.0, rows: int = 1):
    from matplotlib.figure import Figure
    fig = Figure(figsize=(10, h))
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    return fig, axes


#: Tick steps of the time axis (s): the first giving at most 12 ticks is used.
TICK_STEPS_S = (10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800)


def _tick_label(night: NightData, t_s: float, seconds: bool) -> str:
    if not seconds:
        return night.clock(t_s)
    if night.started_time is not None:
        return time.strftime("%H:%M:%S", time.localtime(night.started_time + t_s))
    return f"+{int(t_s // 60)}:{int(t_s % 60):02d}"


def _hour_axis(ax, night: NightData) -> None:
    """Time axis in hours of recording: clock times (or time from the start) at a step that
    gives 3-12 ticks, with seconds when the recording is a few minutes long."""
    total = max(night.duration_s, 1.0)
    step = next((s for s in TICK_STEPS_S if total / s <= 12), TICK_STEPS_S[-1])
    seconds = step < 60
    first = (-night.started_time) % step if night.started_time is not None else 0.0   # on the clock's step
    ticks = np.arange(first, total + 1e-9, step)
    ax.set_xticks(ticks / 3600)
    ax.set_xticklabels([_tick_label(night, t, seconds) for t in ticks], fontsize=8)
    ax.set_xlim(0, total / 3600)
    if night.started_time is not None:
        ax.set_xlabel("time of night", fontsize=8)
    else:
        ax.set_xlabel("time from the start (" + ("min:s" if seconds else "h:mm") + ")", fontsize=8)


def _intensity(night: NightData, e) -> tuple[str, float | None]:
    """(text, fraction of MVC or None) for a cramp."""
    if e.peak_uv is None or not math.isfinite(e.peak_uv):
        return "-", None
    mvc = night.mvc_uv.get(e.channel)
    if mvc:
        frac = e.peak_uv / mvc
        return f"{e.peak_uv:.0f} µV ({100 * frac:.0f} % of max)", frac
    return f"{e.peak_uv:.0f} µV", None


def plot_timeline(night: NightData) -> str:
    chans = list(night.channels) or ["*"]
    fig, (ax,) = _figure(0.9 + 0.55 * len(chans))
    row = {ch: i for i, ch in enumerate(chans)}
    for a, b, _ in night.gaps:
        ax.axvspan(a / 3600, max(b, a + 1) / 3600, color=COLORS["gap"], alpha=0.35, lw=0)
    for d in night.disconnects:
        if d.get("event") == "disconnect" and d.get("stream_s") is not None:
            ax.axvline(d["stream_s"] / 3600, color=COLORS["disconnect"], lw=1, ls="--")
    peaks = [e.peak_uv for e in night.cramps if e.peak_uv]
    top = max(peaks) if peaks else 1.0
    for e in night.events:
        y = row.get(e.channel)
        if y is None:
            continue
        x0, w = e.start_s / 3600, max(e.duration_s, 1.0) / 3600
        if e.kind == "cramp":
            alpha = 0.45 + 0.55 * ((e.peak_uv or 0) / top)
            ax.broken_barh([(x0, max(w, night.hours / 400))], (y - 0.38, 0.76), color=COLORS["cramp"],
                           alpha=min(alpha, 1.0), hatch="//" if e.status != "final" else None)
            ax.annotate(fmt_duration(e.duration_s), (x0, y + 0.42), fontsize=7, color=COLORS["cramp"])
        elif e.kind == "fasciculation":
            ax.vlines(x0, y - 0.35, y - 0.05, color=COLORS["fasciculation"], lw=0.8)
        elif e.kind in night.leg_movement_kinds:
            ax.broken_barh([(x0, w)], (y + 0.05, 0.3), color=COLORS["leg"], alpha=0.6)
        elif e.kind == "artifact":
            ax.broken_barh([(x0, w)], (y - 0.05, 0.1), color=COLORS["artifact"], alpha=0.8)
    ax.set_yticks(range(len(chans)))
    ax.set_yticklabels(chans, fontsize=8)
    ax.set_ylim(-0.7, len(chans) - 0.2)
    _hour_axis(ax, night)
    from matplotlib.patches import Patch
    ax.legend(handles=[Patch(color=COLORS["cramp"], label="cramp"),
                       Patch(color=COLORS["fasciculation"], label="fasciculations"),
                       Patch(color=COLORS["leg"], label="leg movement" if night.mode != "awake" else "activity"),
                       Patch(color=COLORS["artifact"], label="artefact"),
                       Patch(color=COLORS["gap"], alpha=0.35, label="no signal")],
              fontsize=7, ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.35), frameon=False)
    ax.set_title("The night at a glance", fontsize=10, loc="left")
    return _png(fig)


def per_hour(night: NightData, kinds, weight=None) -> tuple[np.ndarray, dict]:
    """Counts per clock hour of the recording, per channel: (hour starts, {channel: counts})."""
    n = max(1, int(math.ceil(night.duration_s / 3600 - 1e-9)))
    starts = np.arange(n)
    out = {}
    for e in night.of(*kinds):
        h = min(n - 1, int(e.start_s // 3600))
        out.setdefault(e.channel, np.zeros(n))[h] += weight(e) if weight else 1
    return starts, out


def hours_recorded(night: NightData) -> np.ndarray:
    """Hours of signal in each hour bin (the last one may be partial; gaps removed)."""
    n = max(1, int(math.ceil(night.duration_s / 3600 - 1e-9)))
    edges = np.arange(n + 1) * 3600.0
    have = np.clip(night.duration_s - edges[:-1], 0, 3600)
    for a, b, _ in night.gaps:
        have -= np.clip(np.minimum(b, edges[1:]) - np.maximum(a, edges[:-1]), 0, None)
    return np.maximum(have, 0) / 3600


def plot_per_hour(night: NightData, kinds, title: str, ylabel: str, weight=None) -> str:
    starts, counts = per_hour(night, kinds, weight)
    have = hours_recorded(night)
    fig, (ax,) = _figure(2.6)
    bottom = np.zeros(len(starts))
    for ch in sorted(counts):
        rate = np.divide(counts[ch], have, out=np.zeros_like(have), where=have > 0.05)
        ax.bar(starts + 0.5, rate, width=0.85, bottom=bottom, label=ch)
        bottom += rate
    ax.set_xlim(0, max(night.hours, len(starts)))
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_xticks(starts)
    ax.set_xticklabels([night.clock(h * 3600) for h in starts], fontsize=8)
    if counts:
        ax.legend(fontsize=7, frameon=False)
    else:
        ax.text(0.5, 0.5, "none detected", transform=ax.transAxes, ha="center", va="center", color="#666")
    ax.set_title(title, fontsize=10, loc="left")
    return _png(fig)


def _readable_log_axis(ax) -> None:
    """Plain-number labels at 1-2-5 steps on a log axis (matplotlib's default labels
    the minor ticks of a narrow range with crowded ``3x10^0`` texts), and a range of
    at least a factor 4 so two labelled ticks always show."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    lo, hi = ax.get_ylim()
    if lo > 0 and hi > 0 and hi / lo < 4:
        mid = math.sqrt(lo * hi)
        ax.set_ylim(mid / 2, mid * 2)
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_locator(LogLocator(base=10, subs=tuple(range(1, 10))))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.tick_params(axis="y", labelsize=8)


def plot_quality(night: NightData) -> str:
    fig, (ax, ax2) = _figure(3.6, rows=2)
    q = night.quality
    if q:
        for ch in night.channels:
            pts = [(s, r) for s, c, r, _ in q if c == ch and r is not None and r > 0]
            if pts:
                t, r = np.array(pts).T
                ax.plot((t + 30) / 3600, r, lw=1, label=ch)
        ax.set_yscale("log")
        _readable_log_axis(ax)
        ax.set_ylabel("EMG RMS per minute (µV)", fontsize=8)
        ax.legend(fontsize=7, frameon=False)
        lost = {}
        for s, c, _, lo in q:
            lost[s] = max(lost.get(s, 0.0), lo or 0.0)
        if lost:
            t = np.array(sorted(lost))
            ax2.bar((t + 30) / 3600, [lost[k] for k in t], width=1 / 60, color=COLORS["gap"])
    else:
        ax.text(0.5, 0.5, "no per-minute signal measures (replayed events only)", transform=ax.transAxes,
                ha="center", va="center", color="#666", fontsize=8)
        for a, b, _ in night.gaps:
            ax2.bar((a + b) / 2 / 3600, b - a, width=max((b - a) / 3600, 1 / 60), color=COLORS["gap"])
    for e in night.of("signal_loss", "artifact"):
        ax.axvspan(e.start_s / 3600, max(e.end_s, e.start_s + 1) / 3600,
                   color=COLORS["gap" if e.kind == "signal_loss" else "artifact"], alpha=0.25, lw=0)
    for d in night.disconnects:
        if d.get("event") == "disconnect" and d.get("stream_s") is not None:
            ax2.axvline(d["stream_s"] / 3600, color=COLORS["disconnect"], lw=1, ls="--")
    ax2.set_ylabel("seconds lost", fontsize=8)
    lo, hi = ax2.get_ylim()
    ax2.set_ylim(0, max(1.0, hi))
    ax2.tick_params(axis="y", labelsize=8)
    _hour_axis(ax2, night)
    ax.set_title("Signal quality: electrode contact (RMS) and lost signal", fontsize=10, loc="left")
    return _png(fig)


# ----------------------------------------------------------------------------- text

def summary_lines(night: NightData) -> list[str]:
    """The short text summary (terminal and the report's top)."""
    cr = night.cramps
    kinds = Counter(e.kind for e in night.events)
    h = max(night.hours, 1e-9)
    lm = sum(kinds[k] for k in night.leg_movement_kinds)
    start = (time.strftime("%Y-%m-%d %H:%M", time.localtime(night.started_time))
             if night.started_time is not None else "")
    head = f"{night.title}: {'at least ' if night.duration_note else ''}{fmt_duration(night.duration_s)} recorded"
    head += f" from {start}" if start else ""
    head += f" ({night.status})"
    lines = [head]
    if cr:
        parts = [f"{e.muscle} {e.leg} at {night.clock(e.start_s)} for {fmt_duration(e.duration_s)}"
                 + ("" if e.status == "final" else " (still going when the recording stopped)")
                 + {"not_cramp": " (answered: not a cramp)", "cramp": " (answered: cramp)"}.get(e.label, "")
                 for e in cr]
        lines.append(f"{len(cr)} cramp(s), {fmt_duration(sum(e.duration_s for e in cr))} in all: " + "; ".join(parts))
        n_not = sum(1 for e in cr if e.label == "not_cramp")
        n_yes = sum(1 for e in cr if e.label == "cramp")
        if n_not or n_yes:
            lines.append(f"The wearer answered {n_yes} as a cramp and {n_not} as not a cramp.")
    else:
        lines.append("No cramp detected.")
    fas = kinds["fasciculation"]
    lines.append(f"{fas} fasciculation episode(s) ({fas / h:.1f}/h), "
                 f"{lm} {'leg movement(s)' if night.mode != 'awake' else 'activity bout(s)'} ({lm / h:.1f}/h), "
                 f"{kinds['artifact']} artefact(s).")
    ndisc = sum(1 for d in night.disconnects if d.get("event") == "disconnect")
    q = f"Signal lost {fmt_duration(night.lost_s)} in {len(night.gaps)} gap(s)" if night.gaps else "No signal lost"
    lines.append(q + (f", {ndisc} disconnect(s)." if ndisc else "."))
    return lines


def _table(head, rows) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    thead = f"<thead><tr>{th}</tr></thead>" if any(head) else ""
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table>{thead}<tbody>{body}</tbody></table>"


def cramp_rows(night: NightData) -> list[list]:
    rows = []
    alerts = {}
    for a in night.alerts:
        alerts.setdefault((a["channel"], round(a["start_s"] or -1, 3)), []).append(a)
    for i, e in enumerate(night.cramps, 1):
        text, _ = _intensity(night, e)
        al = alerts.get((e.channel, round(e.start_s, 3)), [])
        first = min((a["alert_s"] for a in al), default=e.alert_s)
        rows.append([i, night.clock(e.start_s), e.leg, e.muscle, e.channel, fmt_duration(e.duration_s), text,
                     "-" if e.confidence is None else f"{e.confidence:.2f}",
                     f"{first - e.start_s:.1f} s after onset", "yes" if e.status == "final" else
                     "no: recording stopped", e.answer_text])
    return rows


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1100px;margin:2em auto;
     padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
h3{font-size:1em;margin:1.2em 0 .2em}
.summary{background:#f6f6f6;border-left:4px solid #D55E00;padding:.6em 1em}
.summary p{margin:.3em 0} img{max-width:100%;height:auto;display:block;margin:.5em 0}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0} td,th{border:1px solid #ccc;padding:.25em .6em;
     text-align:left;vertical-align:top} th{background:#eee} footer{margin-top:2em;font-size:.85em;color:#555;
     border-top:1px solid #ddd;padding-top:.6em} .muted{color:#666} ol.refs li{margin:.3em 0;font-size:.9em}
"""


def _refs_cell(keys, numbers: dict) -> str:
    return ", ".join(f"<a href='#ref-{k}'>[{numbers[k]}]</a>" for k in keys)


def reference_html(night: NightData) -> tuple[str, list[str]]:
    """The "compared with published figures" table and the source keys it cites, in order."""
    from .reference import compare, cited
    rows = compare(night)
    keys = cited(rows)
    numbers = {k: i for i, k in enumerate(keys, 1)}
    e = html.escape
    head = "".join(f"<th>{h}</th>" for h in ("measure", "this recording" if night.started_time is None
                                               else "this night", "what studies found", "in plain words",
                                               "sources"))
    body = "".join(f"<tr><td>{e(r.what)}</td><td>{e(r.value)}</td><td>{e(r.published)}</td>"
                   f"<td>{e(r.verdict)}</td><td>{_refs_cell(r.sources, numbers)}</td></tr>" for r in rows)
    note = ("<p class='muted'>The studies measured other people with other equipment and rules (short "
            "recordings of resting muscles; sleep laboratories count per hour asleep). emgpipe counts with "
            "its own detector over the whole recording, so read these as a rough guide, not a diagnosis.</p>")
    return f"<table class='reference'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}", keys


def references_html(keys) -> str:
    from .reference import SOURCES
    e = html.escape
    items = "".join(f"<li id='ref-{k}'>{e(SOURCES[k].citation)}. <span class='muted'>What it reports: "
                    f"{e(SOURCES[k].used_for)}.</span></li>" for k in keys)
    return f"<ol class='refs'>{items}</ol>"


def cramp_plots(night: NightData) -> list[tuple[int, object, str | None]]:
    """(number, cramp, PNG data URI or None) for every cramp: the EMG from 30 s before to
    30 s after, read from the night's raw files or the replayed recording."""
    from .rawemg import windows_of
    from .zoom import plot_cramp, window_for
    cramps = night.cramps
    end = night.duration_s if night.duration_s > 0 and not night.duration_note else float("inf")
    raws = windows_of(night, [(a, min(b, max(end, a + 1.0))) for a, b in map(window_for, cramps)])
    return [(i, c, plot_cramp(night, c, i, raw)) for i, (c, raw) in enumerate(zip(cramps, raws), 1)]


def render(night: NightData) -> str:
    """The report's HTML (self-contained: CSS inline, plots as data URIs, no script)."""
    e = html.escape
    lines = summary_lines(night)
    lm_title = ("Leg movements per hour (sleep)" if night.mode != "awake" else "Activity bouts per hour")
    figs = [
        ("timeline", "Timeline", plot_timeline(night)),
        ("fasciculations", "Fasciculations per hour",
         plot_per_hour(night, ("fasciculation",), "Fasciculation episodes per hour of recording", "per hour")),
        ("leg-movements", lm_title, plot_per_hour(night, night.leg_movement_kinds, lm_title, "per hour")),
        ("quality", "Signal quality and gaps", plot_quality(night)),
    ]
    ref_table, ref_keys = reference_html(night)
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
             f"<meta name='viewport' content='width=device-width, initial-scale=1'>",
             f"<title>{e(night.title)} - emgpipe report</title><style>{CSS}</style></head><body>",
             f"<h1>{e(night.title)}</h1><p class='muted'>{e(night.source)}</p>",
             "<div class='summary'>" + "".join(f"<p>{e(x)}</p>" for x in lines) + "</div>"]
    if night.duration_note:
        parts.append(f"<p class='muted'>Length: {e(night.duration_note)}.</p>")
    parts.append("<h2 id='reference'>Compared with published figures</h2>" + ref_table)
    for key, title, uri in figs:
        parts.append(f"<h2 id='{key}'>{e(title)}</h2><img src='{uri}' alt='{e(title)}'>")
    parts.append("<h2 id='cramps'>Cramps</h2>")
    rows = cramp_rows(night)
    if rows:
        parts.append(_table(["#", "time", "leg", "muscle", "channel", "duration", "intensity (peak RMS)",
                             "confidence", "stretch prompt", "ended", "wearer's answer"], rows))
        parts.append("<h2 id='cramp-plots'>Each cramp up close</h2><p class='muted'>The EMG from 30 s before "
                     "each cramp to 30 s after it: the cramp's channel filtered (grey) with its envelope, "
                     "every channel's envelope below (a cramp stays in one muscle), the stretch prompt and "
                     "your answer marked.</p>")
        for i, c, uri in cramp_plots(night):
            head = f"<h3 id='cramp-{i}'>Cramp {i}: {e(c.muscle)} {e(c.leg)} at {e(night.clock(c.start_s))}</h3>"
            if uri:
                parts.append(head + f"<img src='{uri}' alt='EMG around cramp {i}'>")
            else:
                parts.append(head + "<p class='muted'>No raw EMG for this time (the raw file or recording "
                                    "was not found or does not cover it).</p>")
    else:
        parts.append("<p>No cramp detected.</p>")
    facts = [("source", night.source), ("device", night.device or "-"),
             ("sample rate", f"{night.fs:g} Hz" if night.fs else "-"), ("channels", ", ".join(night.channels)),
             ("mode", night.mode or "-"), ("detector model", night.model or "-"), ("status", night.status),
             ("calibration", "profile recorded" if night.calibration else "none")]
    if night.recording is not None:
        facts.append(("recording", str(night.recording)))
    if night.files:
        facts.append(("raw files", ", ".join(f"{f['path']} ({f['n_records']} records)" for f in night.files)))
    parts.append("<h2 id='recording'>Recording</h2>" + _table(["", ""], facts))
    parts.append("<h2 id='references'>Sources</h2>" + references_html(ref_keys))
    parts.append(f"<footer>{e(DISCLAIMER)} Made by emgpipe on "
                 f"{e(time.strftime('%Y-%m-%d %H:%M'))}.</footer></body></html>")
    return "\n".join(parts)


def write_report(night: NightData, out_dir: Path | None = None) -> Path:
    """Write ``<name>.html`` into ``out_dir`` (default: the night's folder; created with its
    parents, 0700 on POSIX when created: the report is health data); returns its path."""
    from ..errors import StorageError
    from ..night.private import private_dir
    out_dir = Path(out_dir or night.out_dir or ".")
    path = out_dir / f"{night.name}.html"
    try:
        private_dir(out_dir)
        path.write_text(render(night), encoding="utf-8")
    except OSError as err:
        raise StorageError(f"{path}: cannot write the report ({err.strerror or err})") from None
    return path
