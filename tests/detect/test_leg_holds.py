"""While another muscle of its leg holds a voluntary contraction, a channel's
isolated potentials are not fasciculations (model 0.7.14): a calf holding a
pedal, and the shin of that leg co-contracting at 1-3 % of its maximum, where
a unit near its recruitment threshold fires now and then, one potential at a
time. Fasciculations are assessed in a relaxed limb. The same potentials
still count at rest, while only the other leg holds, and once the hold has
ended; whatever the chunking."""
from __future__ import annotations

import numpy as np

from tests.detect.test_working_superposition import FS, _add
from tests.helpers import replay_chunks

NAMES = ("calf_left", "calf_right", "tibialis_anterior_left", "tibialis_anterior_right")
SHIN = NAMES.index("tibialis_anterior_right")
HOLD = (40.0, 100.0)
#: potentials on the right shin: during the right calf's hold, and at rest before and after it
DURING = (50.0, 57.3, 66.1, 74.8, 83.2, 91.7)
REST = (12.0, 23.4, 31.9, 112.0, 124.5, 136.2)


def _signal(seed: int, holding=("calf_left", "calf_right")) -> np.ndarray:
    """Four channels of 2 µV noise; the channels ``holding`` hold steadily
    (x12) over HOLD (both calves: standing; a calf and its shin: a voluntary
    co-contraction of that leg); 60-µV biphasic potentials on the right shin
    at DURING and REST."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 2.0, (int(150 * FS), len(NAMES)))
    a, b = int(HOLD[0] * FS), int(HOLD[1] * FS)
    for name in holding:
        x[a:b, NAMES.index(name)] *= 12.0
    shin = x[:, SHIN].copy()
    for t in DURING + REST:
        _add(shin, t, 60.0)
    x[:, SHIN] = shin
    return x


def _shin_fasc(events) -> list:
    return [e.start_s for e in events if e.kind == "fasciculation" and e.channel == NAMES[SHIN]
            and e.status != "onset"]


def _found(starts, times) -> list:
    return [t for t in times if any(abs(s - t) < 0.05 for s in starts)]


def test_potentials_while_the_same_leg_holds_are_not_fasciculations():
    for seed in (0, 1):
        ev = replay_chunks(_signal(seed), FS, NAMES, "awake", chunk_s=1.0)
        assert not [e for e in ev if e.kind == "cramp"]          # standing: a voluntary hold
        starts = _shin_fasc(ev)
        assert _found(starts, DURING) == [], (seed, starts)
        assert _found(starts, REST) == list(REST), (seed, starts)


def test_a_hold_of_the_other_leg_does_not_hide_them():
    ev = replay_chunks(_signal(0, holding=("calf_left", "tibialis_anterior_left")), FS, NAMES, "awake", chunk_s=1.0)
    assert not [e for e in ev if e.kind == "cramp"]              # a co-contraction: voluntary
    starts = _shin_fasc(ev)
    assert _found(starts, DURING) == list(DURING), starts
    assert _found(starts, REST) == list(REST), starts


def test_the_same_events_in_any_chunking():
    x = _signal(2)

    def key(evs):
        return [(e.kind, e.channel, e.status, round(e.start_s, 6), round(e.end_s, 6)) for e in evs]
    one = key(replay_chunks(x, FS, NAMES, "awake", chunk_s=60.0))
    assert key(replay_chunks(x, FS, NAMES, "awake", chunk_s=0.37)) == one
    assert key(replay_chunks(x, FS, NAMES, "awake", chunk_s=5.0)) == one
