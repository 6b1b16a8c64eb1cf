"""An announced contraction that pauses while the shin moves the foot has
ended: what follows is a new movement, judged as one. A brake alerted by
mistake at the start of a drive, then the accelerator: until model 0.7.6 the
cramp event went on through every pedal hold and brake until the foot was off
for end_pause_s, and taught no hold meanwhile."""
from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import replay_chunks

NAMES = ("calf_left", "calf_right", "tibialis_anterior_right")


def _drive(fs: float, shin_in_pause: bool = True, seed: int = 7):
    """Rest; from 20 s the right calf brakes from rest at 10x its quiet level
    for 9 s (held at its level: a press, announced at 6.5 s); it pauses 0.7 s
    while the shin lifts the foot (a 0.4-s burst at 8x; without
    ``shin_in_pause``, no burst), then holds the accelerator at 4x (+-20 % at
    0.3 Hz) until 150 s. The left calf rests; 3 µV noise."""
    rng = np.random.default_rng(seed)
    n = int(170 * fs)
    t = np.arange(n) / fs
    g = np.ones((n, 3))
    g[(t >= 20.0) & (t < 29.0), 1] = 10.0
    pedal = (t >= 29.7) & (t < 150.0)
    g[pedal, 1] = 4.0 * (1.0 + 0.2 * np.sin(2 * np.pi * 0.3 * t[pedal]))
    if shin_in_pause:
        g[(t >= 29.1) & (t < 29.5), 2] = 8.0
    return rng.normal(0.0, 3.0, (n, 3)) * g


def _cramps(x, fs):
    ev = [e for e in replay_chunks(x, fs, NAMES, chunk_s=0.5) if e.kind == "cramp" and e.channel == "calf_right"]
    return [e for e in ev if e.status == "onset"], [e for e in ev if e.status != "onset"]


@pytest.mark.parametrize("fs", [250.0, 1000.0])
def test_an_alerted_brake_ends_when_the_shin_moves_the_foot(fs):
    onsets, finals = _cramps(_drive(fs), fs)
    assert len(onsets) == 1 and 26.0 <= onsets[0].alert_s <= 28.0, [(e.start_s, e.alert_s) for e in onsets]
    assert len(finals) == 1
    # the event ends with the brake, not with the pedal hold 2 minutes later
    assert 28.5 <= finals[0].end_s <= 29.6, finals[0].end_s


@pytest.mark.parametrize("fs", [250.0, 1000.0])
def test_without_the_shin_the_event_goes_on_through_the_pause(fs):
    # a pause alone is no end: a cramp's discharge dips and comes back
    onsets, finals = _cramps(_drive(fs, shin_in_pause=False), fs)
    assert len(onsets) == 1 and len(finals) == 1
    assert finals[0].end_s >= 149.0, finals[0].end_s
