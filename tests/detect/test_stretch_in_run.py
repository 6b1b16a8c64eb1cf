"""A contraction that begins inside an activity run (no pause long enough to end
the run: a cramp straight after walking) is judged on its own windows once it
has lasted as long as its context asks, not on the 15-s decision window that
still holds the walking bursts."""
from __future__ import annotations

import numpy as np

from emgpipe.pipeline import build_pipeline
from emgpipe.types import Chunk

FS = 1000.0
NAMES = ("calf_left", "calf_right")


def _onsets(x):
    p = build_pipeline(mode="awake")
    events = []
    p.events.sink(events.append)
    step = int(0.5 * FS)
    for i in range(0, len(x), step):
        p.push(Chunk(x[i:i + step], fs=FS, seq=i, ch_names=NAMES))
    p.close()
    p.destroy()
    return [e for e in events if e.kind == "cramp" and e.status == "onset"]


def _walk_then_hold(hold_s: float, seed: int = 0):
    """40 s of rest, 40 s of walking on both calves (a 0.4-s burst at 10x every
    1.0 s, the left leg half a stride later), then on the right calf, without a
    pause, a sustained contraction at 10x for ``hold_s``; 3 µV noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 3.0, (int(160 * FS), 2))
    for t in np.arange(40.0, 80.0, 1.0):
        for k, lag in ((1, 0.0), (0, 0.5)):
            a, b = int((t + lag) * FS), int((t + lag + 0.4) * FS)
            x[a:b, k] *= 10.0
    a, b = int(80.0 * FS), int((80.0 + hold_s) * FS)
    x[a:b, 1] *= 10.0
    return x


def test_a_cramp_straight_after_walking_is_announced_within_its_own_rule():
    onsets = [e for e in _onsets(_walk_then_hold(30.0)) if e.channel == "calf_right"]
    assert len(onsets) == 1
    e = onsets[0]
    # from rest or rhythmic activity a cramp must last min_s (3.5 s): the alert
    # comes a few windows after that, not once the walking has left the 15-s window
    assert 80.0 + 3.5 <= e.alert_s <= 80.0 + 6.0, e.alert_s
    assert abs(e.start_s - 80.0) <= 0.5


def test_a_short_press_after_walking_is_still_not_a_cramp():
    onsets = [e for e in _onsets(_walk_then_hold(2.5)) if e.channel == "calf_right"]
    assert onsets == []
