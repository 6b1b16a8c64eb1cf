"""The night database's answers table and the migration of version-1 databases."""
from __future__ import annotations

import sqlite3

from emgpipe.night.store import SCHEMA_VERSION, NightStore
from emgpipe.report.data import load_nights
from emgpipe.types import Event


def _v1_database(folder):
    """A night database as version 1 wrote it (no answers table)."""
    store = NightStore(folder)
    store.begin_night(source="sim:night", fs=250.0, channels=["calf_left"])
    eid = store.add_event(Event("cramp", "calf_left", 60.0, 90.0, 63.5))
    store.close()
    db = sqlite3.connect(folder / "emgpipe-night.sqlite")
    db.execute("DROP TABLE answers")
    db.execute("UPDATE schema_info SET version=1")
    db.commit()
    db.close()
    return eid


def test_v1_database_reads_and_migrates(tmp_path):
    eid = _v1_database(tmp_path)
    [night] = load_nights(tmp_path)                 # read-only: no answers yet, no change
    assert [e.label for e in night.cramps] == [""]
    db = sqlite3.connect(tmp_path / "emgpipe-night.sqlite")
    assert db.execute("SELECT name FROM sqlite_master WHERE name='answers'").fetchone() is None
    with NightStore(tmp_path) as store:             # opened for writing: migrated
        assert [tuple(r) for r in store.db.execute("SELECT version FROM schema_info")] == [(SCHEMA_VERSION,)]
        store.add_answer(eid, "not_cramp", answered_at=1000.0, source="button")
        store.add_answer(eid, "cramp", answered_at=2000.0, source="label")   # the latest counts
        nid = store.nights()[0]["id"]
        assert store.answers(nid)[eid]["answer"] == "cramp"
        assert [r["kind"] for r in store.events(nid)] == ["cramp"]        # events kept
    assert SCHEMA_VERSION == 2
    [night] = load_nights(tmp_path)
    assert night.cramps[0].label == "cramp"
