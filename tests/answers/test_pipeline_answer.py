"""Pipeline.answer: the wearer's "not a cramp" ends the announced cramp, no further alert."""
from __future__ import annotations

from emgpipe.alerts import AlertManager
from emgpipe.alerts.sinks import CallbackSink
from emgpipe.pipeline import build_pipeline


def _run(chunks, answer=None):
    p = build_pipeline(mode="awake")
    events, returned = [], []
    p.events.sink(events.append)
    sent = []
    alerts = AlertManager([CallbackSink(sent.append)], reminder_s=5.0)
    p.events.sink(alerts.on_event)
    for c in chunks:
        p.push(c)
        alerts.tick(c.end_s)
        onset = next((e for e in events if e.kind == "cramp" and e.status == "onset"), None)
        if answer and onset is not None and not returned:
            returned.append((p.end_s, p.answer(onset.channel, answer)))
            alerts.silence(onset.channel)
    p.close()
    alerts.close()
    return events, returned, alerts


def test_not_cramp_ends_the_announced_cramp_and_no_further_alert(cramp_scenario):
    s, chunks = cramp_scenario
    events, returned, alerts = _run(chunks, "not_cramp")
    [(t_answer, out)] = returned
    [final] = out
    assert (final.kind, final.status, final.label) == ("cramp", "final", "not_cramp")
    assert final.end_s == t_answer                       # ended at the pipeline's stream end
    cramps = [e for e in events if e.kind == "cramp"]
    # one onset and its final (emitted on the events stream), nothing after for that contraction
    assert [(e.status, e.label) for e in cramps] == [("onset", ""), ("final", "not_cramp")]
    assert cramps[1] is final
    later = [e for e in events if e.channel == final.channel and e.alert_s > t_answer]
    assert all(e.kind != "cramp" for e in later)
    assert any(e.kind == "voluntary" and e.start_s == final.start_s for e in later)  # goes on as voluntary
    assert [a.kind for a in alerts.alerts] == ["onset"]  # the reminder (5 s) never came


def test_without_answer_the_same_cramp_is_reminded_and_lasts(cramp_scenario):
    s, chunks = cramp_scenario
    events, _, alerts = _run(chunks)
    [final] = [e for e in events if e.kind == "cramp" and e.status == "final"]
    assert final.label == "" and final.end_s > 50.0
    assert [a.kind for a in alerts.alerts] == ["onset", "reminder"]


def test_cramp_answer_labels_the_final_event(cramp_scenario):
    s, chunks = cramp_scenario
    events, returned, alerts = _run(chunks, "cramp")
    assert returned[0][1] == []                          # nothing ends now
    [final] = [e for e in events if e.kind == "cramp" and e.status == "final"]
    assert final.label == "cramp" and final.end_s > 50.0
    assert [a.kind for a in alerts.alerts] == ["onset"]  # answered: silenced, no reminder


def test_answer_without_a_cramp_changes_nothing(cramp_scenario):
    s, chunks = cramp_scenario
    p = build_pipeline(mode="awake")
    got = []
    p.events.sink(got.append)
    for c in chunks[:10]:
        p.push(c)
    n = len(got)
    assert p.answer("calf_left", "not_cramp") == [] and len(got) == n
