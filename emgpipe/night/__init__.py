"""Overnight logging: raw EMG as rotating EDF+/BDF+ files and a SQLite night log.

* :mod:`.edfplus` - streaming EDF+/BDF+ writer, readable at every flush, rotated.
* :mod:`.store` - the SQLite database (WAL): nights, events, alerts, gaps,
  disconnects, files, per-minute signal quality.
* :mod:`.recorder` - :class:`NightRecorder`, the loop behind ``emgpipe night``.
"""
from .edfplus import EdfPlusWriter, RotatingEdfWriter
from .recorder import NightRecorder, NightResult, choose_raw_format
from .store import DB_NAME, NightStore, find_databases

__all__ = ["EdfPlusWriter", "RotatingEdfWriter", "NightRecorder", "NightResult", "choose_raw_format",
           "NightStore", "DB_NAME", "find_databases"]
