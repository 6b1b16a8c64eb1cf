"""Morning reports (:mod:`.html`) and the list of past nights with a trend (:mod:`.nights`).

Both read the night log (:mod:`emgpipe.night.store`); a report also works on a
replayed recording's events CSV (:func:`.data.night_from_events_csv`).
"""
from .data import NightData, load_nights, night_from_events_csv, night_from_store
from .html import DISCLAIMER, render, summary_lines, write_report

__all__ = ["NightData", "load_nights", "night_from_events_csv", "night_from_store", "render",
           "summary_lines", "write_report", "DISCLAIMER"]
