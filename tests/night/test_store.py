"""The SQLite night log: WAL, one commit per event, onset rows completed by the final, full disk."""
import os
import sqlite3

import pytest

from emgpipe.alerts.prompts import make_alert
from emgpipe.errors import StorageError
from emgpipe.night.store import NightStore, find_databases
from emgpipe.types import Event, Gap
from tests.night.night_helpers import query


def test_events_are_committed_as_announced(tmp_path):
    store = NightStore(tmp_path)
    nid = store.begin_night(source="sim:night", device="raw", fs=1000.0, channels=["calf_left"],
                            mode="sleep", model="default@0.1.0", calibration={"mvc_rms_uv": {"calf_left": 400}},
                            source_meta={"gains": (24, 24), "nan": float("nan"), "obj": object()})
    assert query(store.path, "PRAGMA journal_mode")[0]["journal_mode"] == "wal"
    onset = Event("cramp", "calf_left", 60.0, 61.5, 61.5, status="onset", peak_uv=float("nan"),
                  features={"rms": 12.5})
    eid = store.add_event(onset)
    # visible to another connection at once: committed, not buffered
    rows = query(store.path, "SELECT * FROM events")
    assert [(r["kind"], r["status"], r["start_s"], r["end_s"], r["alert_s"]) for r in rows] == [
        ("cramp", "onset", 60.0, 61.5, 61.5)]
    assert rows[0]["peak_uv"] is None and rows[0]["final_time"] is None
    aid = store.add_alert(make_alert(onset), onset)
    store.add_delivery(aid, "terminal", "sent")
    assert store.add_event(Event("cramp", "calf_left", 60.0, 150.0, 61.5, peak_uv=300.0)) == eid
    rows = query(store.path, "SELECT * FROM events")
    assert len(rows) == 1 and rows[0]["status"] == "final" and rows[0]["end_s"] == 150.0
    assert rows[0]["peak_uv"] == 300.0 and rows[0]["final_time"] >= rows[0]["announced_time"]
    assert query(store.path, "SELECT event_id FROM alerts")[0]["event_id"] == eid
    assert query(store.path, "SELECT sink, status FROM alert_deliveries") == [{"sink": "terminal", "status": "sent"}]
    store.add_gap(Gap(5000, 250, 1000.0, "dropped packets"))
    store.add_link_event({"event": "disconnect", "reason": "read failed", "time": 1.7e9}, 5.0)
    store.add_quality([(0.0, "calf_left", 8.5, 0.25), (60.0, "calf_left", float("nan"), 60.0)])
    store.progress(120.0, 120000, 250)
    store.end_night("complete", "end of signal")
    night = store.nights()[0]
    assert night["id"] == nid and night["status"] == "complete" and night["last_s"] == 120.0
    assert night["calibration"] == {"mvc_rms_uv": {"calf_left": 400}}
    assert night["source_meta"]["gains"] == [24, 24] and night["source_meta"]["nan"] is None
    assert store.table("gaps", nid)[0]["end_s"] == 5.25
    assert [q["rms_uv"] for q in store.table("quality", nid)] == [8.5, None]
    store.close()
    assert find_databases(tmp_path) == [store.path]


def test_full_database_is_one_clear_error_and_keeps_what_was_committed(tmp_path):
    store = NightStore(tmp_path)
    store.begin_night(source="x")
    store.add_event(Event("fasciculation", "calf_left", 1.0, 1.2, 1.5))
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")     # the disk is full now
    with pytest.raises(StorageError) as err:
        for i in range(2000):
            store.add_event(Event("fasciculation", "calf_left", 2.0 + i, 2.2 + i, 2.5 + i,
                                  detail="x" * 200))
    msg = str(err.value)
    assert msg.startswith(str(store.path)) and "disk full" in msg and "\n" not in msg
    store.close()
    rows = query(store.path, "SELECT start_s FROM events ORDER BY id")
    assert rows[0]["start_s"] == 1.0 and len(rows) >= 1


def test_reading_other_files_fails_clearly(tmp_path):
    with pytest.raises(StorageError, match="no such night database"):
        NightStore(tmp_path / "none.sqlite", readonly=True)
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (x)")
    con.close()
    with pytest.raises(StorageError, match="not an emgpipe night database"):
        NightStore(other, readonly=True)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StorageError, match="junk.sqlite: cannot open"):
        NightStore(junk, readonly=True)


def test_space_is_set_aside_for_the_events_and_freed(tmp_path):
    """The writer reserves room beside the database (freed when the raw files fill the disk,
    and at a clean close); another store opened on the folder (emgpipe label) leaves it alone."""
    import stat
    from emgpipe.night.store import RESERVE_BYTES
    store = NightStore(tmp_path)
    store.begin_night(source="x")
    assert store.reserve_space()
    assert store.reserve_path.stat().st_size == RESERVE_BYTES
    if os.name == "posix":
        assert stat.S_IMODE(store.reserve_path.stat().st_mode) == 0o600
    other = NightStore(tmp_path)
    other.close()
    assert store.reserve_path.exists()
    assert store.release_reserve() and not store.reserve_path.exists()
    assert not store.release_reserve()
    assert store.reserve_space()
    store.close()
    assert not store.reserve_path.exists()
    assert query(store.path, "PRAGMA wal_autocheckpoint") is not None
