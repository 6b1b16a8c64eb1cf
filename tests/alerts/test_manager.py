"""Alert policy (one per cramp, one reminder, no repeats) and non-blocking delivery."""
import logging
import time

import numpy as np

from emgpipe.alerts import AlertManager, CallbackSink
from emgpipe.graph import Pipeline
from emgpipe.types import Chunk
from tests.alerts.alert_helpers import BlockingSink, ScriptedDetector, cramp


def kinds(alerts):
    return [(a.kind, a.channel) for a in alerts]


def run(events, **kw):
    got = []
    m = AlertManager([CallbackSink(got.append)], **kw)
    made = []
    for e in events:
        made.extend(m.on_event(e) if not isinstance(e, float) else m.tick(e))
        m.flush()
    m.close()
    assert [a.headline for a in got] == [a.headline for a in made]
    return made


def test_one_alert_at_onset_and_one_reminder():
    made = run([cramp(status="onset"), cramp(status="onset"), 120.0, 131.4, 131.6, 200.0,
                cramp(status="final", end=210.0)], reminder_s=30)
    assert kinds(made) == [("onset", "calf_left"), ("reminder", "calf_left")]
    assert made[0].alert_s == 101.5 and made[0].start_s == 100.0
    assert made[1].alert_s == 131.4 and "still going after 31 s" in made[1].headline


def test_short_cramp_has_no_reminder_and_other_kinds_never_alert():
    made = run([cramp(kind="fasciculation", status="final"), cramp(kind="signal_loss", status="final"),
                cramp(kind="voluntary", status="onset"), cramp(status="onset", start=300.0),
                cramp(status="final", start=300.0, end=310.0), 500.0], reminder_s=30)
    assert kinds(made) == [("onset", "calf_left")]


def test_no_repeat_for_the_same_cramp_new_cramp_alerts_again():
    made = run([
        cramp(start=100.0), cramp(start=100.0, status="final", end=120.0),
        cramp(start=125.0),                                   # 5 s later: detector flicker, same cramp
        cramp(start=125.0, status="final", end=128.0),
        cramp(start=200.0),                                   # a new cramp
        cramp(start=200.0, status="final", end=205.0),
    ], reminder_s=None, refractory_s=10)
    assert kinds(made) == [("onset", "calf_left"), ("onset", "calf_left")]
    assert [a.start_s for a in made] == [100.0, 200.0]


def test_two_channels_of_one_calf_are_one_cramp_two_legs_are_two():
    made = run([cramp("gastrocnemius_medial_right", 50.0), cramp("soleus_right", 50.5),
                cramp("gastrocnemius_medial_right", 50.0, "final", end=60.0),
                cramp("soleus_right", 61.0),                 # soleus still cramping -> same cramp
                cramp("calf_left", 62.0)], reminder_s=None)
    assert kinds(made) == [("onset", "gastrocnemius_medial_right"), ("onset", "calf_left")]


def test_a_cramp_announced_only_when_final_alerts_once():
    made = run([cramp(status="final", start=10.0, end=30.0, alert=31.0),
                cramp(status="final", start=10.0, end=30.0, alert=31.0)], reminder_s=30)
    assert kinds(made) == [("onset", "calf_left")]


def test_reminder_follows_stream_time_of_events_too():
    made = run([cramp(start=0.0), cramp(kind="artifact", start=40.0, status="final")], reminder_s=30)
    assert kinds(made) == [("onset", "calf_left"), ("reminder", "calf_left")]


def test_blocking_sink_delays_neither_the_caller_nor_other_sinks(blocking_sink, caplog):
    fast = []
    m = AlertManager([blocking_sink, CallbackSink(fast.append, name="fast")], reminder_s=None)
    caplog.set_level(logging.WARNING, "emgpipe.alerts")
    t0 = time.perf_counter()
    for i in range(5):  # five cramps on alternating legs
        ch = "calf_left" if i % 2 else "calf_right"
        m.on_event(cramp(ch, start=100.0 * i))
        m.on_event(cramp(ch, start=100.0 * i, status="final", end=100.0 * i + 20))
        assert m.workers[1].wait_idle(10.0)
        if i == 0:  # the next four come while the blocking sink is stuck in the first
            assert blocking_sink.entered.wait(10.0)
    took = time.perf_counter() - t0
    assert len(fast) == 5                                  # the fast sink got every alert
    assert not blocking_sink.returned.is_set()             # none waited for the hung send
    assert took < 5.0                                     # the blocked sink waits 30 s
    # the blocked sink holds the first; of the next four (two per leg) it keeps the newest per leg
    assert len(blocking_sink.got) == 1
    assert m.stats()["blocking"]["dropped"] == 2
    drops = [r for r in caplog.records if "still busy; dropped" in r.getMessage()]
    assert len(drops) == 2 and all("blocking" in r.getMessage() for r in drops)
    t1 = time.perf_counter()
    m.close(timeout=0.5)                                   # a hung sink is abandoned, not waited for
    assert time.perf_counter() - t1 < 1.5 and not blocking_sink.returned.is_set()
    assert any("still busy at exit" in r.getMessage() for r in caplog.records)


def test_failing_sink_is_logged_and_others_still_deliver(caplog):
    def broken(alert):
        raise RuntimeError("notifier exploded")
    ok, results = [], []
    m = AlertManager([CallbackSink(broken, "broken"), CallbackSink(ok.append, "ok")],
                     on_result=lambda *r: results.append(r[::2]))
    m.on_event(cramp())
    m.close()
    assert len(ok) == 1
    assert sorted(results) == [("broken", "failed"), ("ok", "sent")]
    assert m.stats()["broken"] == {"sent": 0, "failed": 1, "dropped": 0, "abandoned": 0}
    assert any("notifier exploded" in r.getMessage() for r in caplog.records)


def run_pipeline(sinks, after_alert=lambda m: None, n=16_000):
    """``n`` samples (16 s) of 2-channel 1 kHz noise through the real graph in 100 ms chunks
    (like a live device), two scripted cramps, alerts to ``sinks``. ``after_alert(manager)``
    runs, untimed, after each chunk that raised an alert. Returns the seconds spent in push
    and tick, the announced events, the alerts made and the manager."""
    fs = 1000.0
    det = ScriptedDetector([("cramp", "calf_left", 2.0, 7.0), ("cramp", "calf_right", 9.0, 15.0)])
    pipe = Pipeline(None, "sleep", detectors=[det])
    on_alert, announced = [], []
    m = AlertManager(sinks, reminder_s=3, on_alert=lambda a, e: on_alert.append(a))
    pipe.events.sink(announced.append)
    pipe.events.sink(m.on_event)
    x = np.random.default_rng(0).normal(0, 5, (n, 2))
    took, seen = 0.0, 0
    for a in range(0, n, 100):
        c = Chunk(x[a:a + 100], fs=fs, seq=a, ch_names=("calf_left", "calf_right"))
        t0 = time.perf_counter()
        pipe.push(c)
        m.tick(c.end_s)
        took += time.perf_counter() - t0
        if len(on_alert) > seen:
            seen = len(on_alert)
            after_alert(m)
    t0 = time.perf_counter()
    pipe.close()
    took += time.perf_counter() - t0
    return took, announced, on_alert, m


def test_pipeline_with_a_hanging_sink_runs_at_full_speed(blocking_sink):
    """Detection through the real graph is not slowed by a sink that never returns.

    Proven by events, not by a wall-clock limit: the whole stream after the first alert
    runs while the hanging sink is provably inside send(), and the run finishes before that
    send() returns. Its speed is compared with the same run without the hanging sink, timed
    in this test, so a loaded machine slows both alike. Between alerts the test waits
    (untimed) for the fast sink, whose keep-latest slot would otherwise drop an alert when
    a loaded machine does not run its thread before the next one.
    """
    run_pipeline([], n=3000)[3].close()     # untimed: loads the filter kernels (mains decided at 2 s)
    plain_fast = []
    took_plain, _, plain_alerts, plain = run_pipeline([CallbackSink(plain_fast.append, name="fast")],
                                                      lambda m: m.workers[0].wait_idle(10.0))
    plain.close()

    def after_alert(m):
        assert blocking_sink.entered.wait(10.0)          # the hanging sink is stuck in the first alert
        assert m.workers[1].wait_idle(10.0)              # the fast sink has this one
    fast = []
    took, announced, on_alert, m = run_pipeline([blocking_sink, CallbackSink(fast.append, name="fast")],
                                                after_alert)
    assert not blocking_sink.returned.is_set()            # the run ended with the sink still hung
    assert not m.workers[0].idle()
    assert took < 1.5 * took_plain + 1.0, (took, took_plain)
    cramps = [e for e in announced if e.kind == "cramp"]
    assert [(e.channel, e.status) for e in cramps] == [("calf_left", "onset"), ("calf_left", "final"),
                                                       ("calf_right", "onset"), ("calf_right", "final")]
    assert kinds(on_alert) == [("onset", "calf_left"), ("reminder", "calf_left"),
                               ("onset", "calf_right"), ("reminder", "calf_right")]
    assert kinds(fast) == kinds(on_alert) == kinds(plain_alerts) == kinds(plain_fast)
    # the hung sink holds the first alert; of the three handed over meanwhile it keeps the
    # newest per cramp (left reminder, right reminder): the right onset gave way to its reminder
    assert kinds(blocking_sink.got) == [("onset", "calf_left")]
    assert m.stats()["blocking"]["dropped"] == 1
    onset = cramps[0]
    assert on_alert[0].alert_s == onset.alert_s and 3.0 <= onset.alert_s < 3.2
    m.close(timeout=0.2)


def test_two_cramps_at_once_both_reach_a_busy_sink(blocking_sink):
    """Both calves cramping within milliseconds while the sink is busy with an older
    alert: each cramp's alert waits in its own slot and both go out, oldest first."""
    m = AlertManager([blocking_sink], reminder_s=None)
    m.on_event(cramp("hamstring_left", start=10.0))
    assert blocking_sink.entered.wait(10.0)               # busy with the first
    m.on_event(cramp("calf_left", start=50.0))
    m.on_event(cramp("calf_right", start=50.001))
    blocking_sink.release.set()
    assert m.workers[0].wait_idle(10.0)
    assert kinds(blocking_sink.got) == [("onset", "hamstring_left"), ("onset", "calf_left"),
                                        ("onset", "calf_right")]
    assert m.stats()["blocking"]["dropped"] == 0
    m.close(timeout=1.0)


def test_alerts_a_hung_sink_never_delivered_are_reported_abandoned_once(blocking_sink):
    """Regression: a sink still hanging at close() left its alerts with no delivery row in the
    night log (neither sent nor failed). Now close() reports the one in delivery and the waiting
    ones as "abandoned", and nothing is reported for them when the sink comes back later."""
    results = []
    m = AlertManager([blocking_sink], reminder_s=None,
                     on_result=lambda sink, alert, status, error: results.append((alert.channel, status, error)))
    m.on_event(cramp("calf_left", start=10.0))
    assert blocking_sink.entered.wait(10.0)
    m.on_event(cramp("calf_right", start=11.0))          # waits behind the hung one
    m.close(timeout=0.3)
    assert [(c, s) for c, s, _ in results] == [("calf_left", "abandoned"), ("calf_right", "abandoned")]
    assert "still busy after 0.3 s" in results[0][2]
    assert m.stats()["blocking"]["abandoned"] == 2
    blocking_sink.release.set()                           # the sink answers after all
    assert blocking_sink.returned.wait(10.0)
    time.sleep(0.1)
    assert len(results) == 2 and m.stats()["blocking"]["sent"] == 0
