"""The events CSV's label column: written, read back, set afterwards, old files without it."""
from __future__ import annotations

import pytest

from emgpipe.io.events_csv import COLUMNS, EventsCsvWriter, read_events, set_label
from emgpipe.types import Event


def test_label_column_round_trip(tmp_path):
    path = tmp_path / "x.events.csv"
    with EventsCsvWriter(path, model="m@1") as w:
        w.write(Event("cramp", "calf_left", 10.0, 70.0, 13.5, label="not_cramp"))
        w.write(Event("cramp", "calf_right", 80.0, 90.0, 83.5, label="cramp"))
        w.write(Event("voluntary", "calf_left", 1.0, 5.0, 5.0))
    assert COLUMNS[-1] == "label"
    assert path.read_text().splitlines()[0].endswith(",model,label")
    assert [e.label for e in read_events(path)] == ["not_cramp", "cramp", ""]


def test_old_file_without_label_reads_and_gets_the_column(tmp_path):
    path = tmp_path / "old.events.csv"
    path.write_text("kind,channel,start_s,end_s,alert_s,duration_s,peak_uv,confidence,n_potentials,detail,model\n"
                    "cramp,calf_left,10.0000,70.0000,13.5000,60.0000,80.00,0.900,0,\"sustained, localised\",m@1\n"
                    "voluntary,calf_right,1.0000,5.0000,5.0000,4.0000,,1.000,0,activity,m@1\n")
    assert [e.label for e in read_events(path)] == ["", ""]
    ev = set_label(path, 2, "cramp")
    assert (ev.kind, ev.channel) == ("voluntary", "calf_right")
    lines = path.read_text().splitlines()
    assert lines[0].endswith(",model,label")
    assert lines[1] == "cramp,calf_left,10.0000,70.0000,13.5000,60.0000,80.00,0.900,0,\"sustained, localised\",m@1,"
    assert lines[2].endswith(",activity,m@1,cramp")
    assert [e.label for e in read_events(path)] == ["", "cramp"]
    with pytest.raises(IndexError):
        set_label(path, 3, "cramp")


def test_writer_relabels_a_row_already_written_and_keeps_appending(tmp_path):
    path = tmp_path / "live.events.csv"
    w = EventsCsvWriter(path, model="m@1")
    first = Event("cramp", "calf_left", 10.0, 30.0, 13.5)
    w.write(first)
    assert not w.relabel(Event("cramp", "calf_right", 1.0, 2.0, 2.0), "cramp")   # never written
    assert w.relabel(first, "not_cramp")
    w.write(Event("voluntary", "calf_left", 40.0, 45.0, 45.0))
    w.close()
    assert [(e.kind, e.label) for e in read_events(path)] == [("cramp", "not_cramp"), ("voluntary", "")]
