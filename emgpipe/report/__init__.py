"""Morning reports (:mod:`.html`), their index page (:mod:`.index`) and the list of past nights
with a trend (:mod:`.nights`).

Both read the night log (:mod:`emgpipe.night.store`); a report also works on a
replayed recording's events CSV (:func:`.data.night_from_events_csv`). The EMG around
each cramp comes from the raw files (:mod:`.rawemg`, drawn by :mod:`.zoom`); the night's
figures are set beside published reference ranges by :mod:`.reference`.
"""
from .data import (NightData, ReportTarget, find_targets, load_nights, night_from_events_csv,
                   night_from_store)
from .html import DISCLAIMER, render, summary_lines, write_report

__all__ = ["NightData", "ReportTarget", "find_targets", "load_nights", "night_from_events_csv",
           "night_from_store", "render", "summary_lines", "write_report", "DISCLAIMER"]
