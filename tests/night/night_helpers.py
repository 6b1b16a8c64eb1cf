"""Night test helpers (import as tests.night.night_helpers)."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pyedflib

from emgpipe import sim


def sim_data(scenario="walk_then_cramp", seed=0, duration=None) -> np.ndarray:
    """The simulator's samples of a scenario without gaps, (n, ch) µV."""
    s = sim.make(scenario, seed=seed, duration=duration)
    return np.concatenate([b for _, b in s.segments(10.0)])


def read_edf(path) -> tuple[np.ndarray, list]:
    """Samples (n, ch) and annotations [(onset, duration, text)] through pyedflib."""
    r = pyedflib.EdfReader(str(path))
    try:
        x = np.column_stack([r.readSignal(i) for i in range(r.signals_in_file)])
        on, du, tx = r.readAnnotations()
        return x, list(zip(on.tolist(), du.tolist(), tx.tolist()))
    finally:
        r.close()


def query(db: Path, sql: str, args=()) -> list[dict]:
    """Rows from a night database through a separate connection (as another tool would)."""
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(sql, args)]
    finally:
        con.close()
