"""Event matching and scoring (emgpipe bench) on hand-made cases."""
from __future__ import annotations

import math

import pytest

from emgpipe.errors import BadData, BadHeader
from emgpipe.metrics import (Label, SLACK_S, combine, format_table, match, read_events, read_labels, score,
                             write_labels)
from emgpipe.types import Event


def ev(kind, ch, a, b, alert=None):
    return Event(kind, ch, a, b, alert_s=b if alert is None else alert)


def lab(kind, ch, a, b, **kw):
    return Label(kind, ch, a, b, **kw)


def test_contract_slacks():
    assert SLACK_S["cramp"] == 2.0 and SLACK_S["fasciculation"] == 0.3


def test_overlap_matches_and_latency():
    m = match([ev("cramp", "calf_left", 12, 30)], [lab("cramp", "calf_left", 10, 40)], "cramp")
    assert len(m.pairs) == 1 and not m.false_positives and not m.false_negatives
    s = score([ev("cramp", "calf_left", 12, 30, alert=15.5)], [lab("cramp", "calf_left", 10, 40)], 7200)
    assert s["cramp"].latency_median_s == pytest.approx(5.5)
    assert s["cramp"].sensitivity == 1.0 and s["cramp"].precision == 1.0 and s["cramp"].f1 == 1.0


@pytest.mark.parametrize("gap,matched", [(1.9, True), (2.1, False)])
def test_cramp_slack_is_two_seconds(gap, matched):
    # detection starts `gap` s after the label ends
    m = match([ev("cramp", "c", 40 + gap, 50)], [lab("cramp", "c", 10, 40)], "cramp")
    assert (len(m.pairs) == 1) is matched
    # and before the label starts
    m = match([ev("cramp", "c", 0, 10 - gap)], [lab("cramp", "c", 10, 40)], "cramp")
    assert (len(m.pairs) == 1) is matched


@pytest.mark.parametrize("gap,matched", [(0.25, True), (0.35, False)])
def test_fasciculation_slack(gap, matched):
    m = match([ev("fasciculation", "c", 5.02 + gap, 5.05 + gap)], [lab("fasciculation", "c", 5.0, 5.02)],
              "fasciculation")
    assert (len(m.pairs) == 1) is matched


def test_fragments_of_one_label_are_false_positives():
    labels = [lab("cramp", "c", 100, 200)]
    dets = [ev("cramp", "c", 101, 120), ev("cramp", "c", 130, 150), ev("cramp", "c", 160, 199)]
    s = score(dets, labels, 3600)["cramp"]
    assert (s.tp, s.fp, s.fn) == (1, 2, 0)
    assert s.fa_per_h == pytest.approx(2.0)
    assert s.precision == pytest.approx(1 / 3)


def test_channel_mismatch_is_fp_and_fn():
    s = score([ev("cramp", "calf_right", 10, 40)], [lab("cramp", "calf_left", 10, 40)], 1800)["cramp"]
    assert (s.tp, s.fp, s.fn) == (0, 1, 1)
    assert s.sensitivity == 0.0 and s.precision == 0.0 and s.f1 == 0.0
    assert s.fa_per_h == pytest.approx(2.0)


def test_kind_mismatch_is_not_a_match():
    s = score([ev("voluntary", "c", 10, 40)], [lab("cramp", "c", 10, 40)], 3600)
    assert (s["cramp"].tp, s["cramp"].fn, s["voluntary"].fp) == (0, 1, 1)


def test_empty_inputs():
    s = score([], [], 3600)
    for kind in ("cramp", "fasciculation", "voluntary", "artifact", "signal_loss"):
        k = s[kind]
        assert (k.tp, k.fp, k.fn) == (0, 0, 0)
        assert math.isnan(k.sensitivity) and math.isnan(k.precision) and math.isnan(k.f1)
        assert k.fa_per_h == 0.0
    assert math.isnan(s["cramp"].latency_median_s)
    only_labels = score([], [lab("cramp", "c", 1, 9)], 3600)["cramp"]
    assert (only_labels.fn, only_labels.sensitivity) == (1, 0.0) and math.isnan(only_labels.precision)
    only_dets = score([ev("cramp", "c", 1, 9)], [], 3600)["cramp"]
    assert (only_dets.fp, only_dets.precision) == (1, 0.0) and math.isnan(only_dets.sensitivity)
    assert math.isnan(score([], [], 0.0)["cramp"].fa_per_h)


def test_each_label_matched_once_and_best_overlap_wins():
    labels = [lab("fasciculation", "c", 1.0, 1.1), lab("fasciculation", "c", 1.5, 3.0)]
    m = match([ev("fasciculation", "c", 1.2, 2.5)], labels, "fasciculation")
    assert m.pairs[0][1] is labels[1] and m.false_negatives == [labels[0]]
    # a detection covering two labels matches one; the other is missed
    labels = [lab("cramp", "c", 10, 20), lab("cramp", "c", 30, 40)]
    s = score([ev("cramp", "c", 9, 41)], labels, 3600)["cramp"]
    assert (s.tp, s.fp, s.fn) == (1, 0, 1)


def test_star_channel():
    labels = [lab("signal_loss", "a", 10, 12), lab("signal_loss", "b", 10, 12)]
    s = score([ev("signal_loss", "*", 10, 12)], labels, 3600)["signal_loss"]
    assert (s.tp, s.fp, s.fn) == (2, 0, 0)
    s = score([ev("signal_loss", "a", 10, 12)], [lab("signal_loss", "*", 10, 12)], 3600)["signal_loss"]
    assert (s.tp, s.fp, s.fn) == (1, 0, 0)
    s = score([ev("signal_loss", "*", 100, 101)], labels, 3600)["signal_loss"]
    assert (s.tp, s.fp, s.fn) == (0, 1, 2)


def test_combine_sums_counts_and_latencies():
    a = score([ev("cramp", "c", 11, 20, alert=13)], [lab("cramp", "c", 10, 20)], 3600)
    b = score([ev("cramp", "c", 5, 8, alert=6)], [lab("cramp", "c", 30, 40)], 3600)
    t = combine([a, b])["cramp"]
    assert (t.tp, t.fp, t.fn, t.duration_s) == (1, 1, 1, 7200)
    assert t.latencies_s == [3.0] and t.fa_per_h == pytest.approx(0.5)
    d = t.as_dict()
    assert d["latency_p95_s"] == 3.0 and d["sensitivity"] == 0.5


def test_labels_and_events_csv_roundtrip(tmp_path):
    labels = [lab("cramp", "calf_left", 1.5, 20.25, mvc_pct=35.0, ending="stretch", detail="ramp 1s"),
              lab("fasciculation", "calf_right", 3.0, 3.02, n_potentials=4)]
    p = tmp_path / "x.labels.csv"
    write_labels(p, labels)
    back = read_labels(p)
    assert [x.row() for x in back] == [x.row() for x in labels]
    e = tmp_path / "x.events.csv"
    e.write_text("kind,channel,start_s,end_s,alert_s,confidence,n_potentials\n"
                 "cramp,calf_left,2.0,19.0,4.5,0.9,0\nfasciculation,calf_right,3.0,3.1,3.2,,3\n")
    evs = read_events(e)
    assert evs[0].alert_s == 4.5 and evs[0].confidence == 0.9 and evs[1].n_potentials == 3
    assert score(evs, back, 60)["cramp"].tp == 1


def test_bad_csv_rows_name_file_line_and_column(tmp_path):
    p = tmp_path / "bad.labels.csv"
    p.write_text("kind,channel,start_s,end_s\ncramp,c,1,abc\n")
    with pytest.raises(BadData, match=r"bad.labels.csv: line 2: column 'end_s' is not a number"):
        read_labels(p)
    p.write_text("kind,channel,start\ncramp,c,1\n")
    with pytest.raises(BadHeader, match="missing column"):
        read_labels(p)
    p.write_text("kind,channel,start_s,end_s\ncramp,c,5,1\n")
    with pytest.raises(BadData, match="before start_s"):
        read_labels(p)
    with pytest.raises(BadHeader, match="alert_s"):
        q = tmp_path / "e.csv"
        q.write_text("kind,channel,start_s,end_s\ncramp,c,1,2\n")
        read_events(q)


def test_format_table_prints_nan_as_dash():
    out = format_table([{"a": "x", "b": float("nan")}, {"a": "yy", "b": 1.5}], [("a", "A", "{}"), ("b", "B", "{:.1f}")])
    assert out.splitlines()[1].split() == ["x", "-"] and "1.5" in out
