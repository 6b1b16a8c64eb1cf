"""Report test helpers (import as tests.report.report_helpers): nights written straight into a store."""
from __future__ import annotations

import numpy as np

from emgpipe.alerts.prompts import make_alert
from emgpipe.night.store import NightStore
from emgpipe.types import Event, Gap

CHANNELS = ("calf_left", "calf_right")


def make_night(folder, started_time: float, hours: float = 8.0, cramps=((2.25, "calf_right", 190.0, 350.0),),
               n_fasc: int = 30, n_lm: int = 40, seed: int = 0, killed: bool = False) -> int:
    """A night in ``folder``'s database: cramps ``(hour, channel, duration s, peak µV)``,
    fasciculations and leg movements at random, one gap, one disconnect, per-minute quality."""
    rng = np.random.default_rng(seed)
    dur = hours * 3600
    with NightStore(folder) as store:
        nid = store.begin_night(source="sim:night", device="raw", fs=1000.0, channels=CHANNELS, mode="sleep",
                                model="default@0.1.0", source_meta={"mvc_rms_uv": {"calf_left": 400.0,
                                                                                   "calf_right": 350.0}},
                                raw_format="EDF+ ±10000 uV", started_time=started_time)
        for t in np.sort(rng.uniform(0, dur - 10, n_fasc)):
            store.add_event(Event("fasciculation", CHANNELS[int(rng.integers(2))], t, t + 0.4, t + 1.5,
                                  n_potentials=int(rng.integers(1, 6))))
        for t in np.sort(rng.uniform(0, dur - 20, n_lm)):
            store.add_event(Event("voluntary", CHANNELS[int(rng.integers(2))], t, t + 2.0, t + 3.5,
                                  peak_uv=40.0, detail="activity"))
        for i, (h, ch, d, peak) in enumerate(cramps):
            t0 = h * 3600
            onset = Event("cramp", ch, t0, t0 + 12, t0 + 12, status="onset", confidence=0.9, peak_uv=peak)
            store.add_event(onset)
            store.add_alert(make_alert(onset), onset)
            if not (killed and i == len(cramps) - 1):
                store.add_event(Event("cramp", ch, t0, t0 + d, t0 + 12, confidence=0.9, peak_uv=peak))
        g = Gap(int(1.5 * 3600 * 1000), 4600, 1000.0, "dropped packets")
        store.add_gap(g)
        for ch in CHANNELS:
            store.add_event(Event("signal_loss", ch, g.start_s, g.end_s, g.start_s,
                                  detail="dropped packets: 4600 samples lost"))
        store.add_link_event({"event": "disconnect", "reason": "read failed", "time": started_time + 5000},
                             5000.0)
        store.add_link_event({"event": "reconnect", "reason": "read failed", "n_missing": 500,
                              "time": started_time + 5001}, 5000.5)
        store.add_quality([(m * 60.0, ch, float(rng.uniform(3, 8)), 0.0)
                           for m in range(int(dur // 60)) for ch in CHANNELS])
        store.progress(dur, int(dur * 1000), 4600)
        if not killed:
            store.end_night("complete", "end of signal")
        else:
            store.db.execute("UPDATE nights SET updated_time=? WHERE id=?", (started_time + dur, nid))
    return nid


def replayed_folder(base, n: int = 2, fs: int = 250, seed0: int = 2):
    """``n`` simulated 75 s recordings (walk, then a calf cramp) in ``base/rec`` replayed into
    ``base/events``: returns (events folder, recordings folder)."""
    from emgpipe.cli import main
    rec, events = base / "rec", base / "events"
    rec.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        assert main(["simulate", "walk_then_cramp", "--out", str(rec / f"rec{i}.csv"), "--seed",
                     str(seed0 + i), "--fs", str(fs)]) == 0
    assert main(["replay", str(rec), "--events-out", str(events), "--answers", str(base / "answers.json")]) == 0
    return events, rec
