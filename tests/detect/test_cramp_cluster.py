"""A second cramp of the same muscle soon after a first one (cramps come in
clusters) is judged against what the muscle was doing, not against the first
cramp: a cramp's steady first seconds look like a hold and join the muscle's
working level before the decision; the answer "cramp" takes them out (model
0.7.6), and so does the end of an unanswered one (model 0.7.12,
:func:`emgpipe.detect.runs.forget_cramp`)."""
from __future__ import annotations

import numpy as np
import pytest

from emgpipe.pipeline import build_pipeline
from emgpipe.types import Chunk

NAMES = ("calf_left", "calf_right")


def _two_cramps(fs: float, gap_s: float, seed: int = 0):
    """The right calf cramps at 30 s for 30 s (rising from 4x to 10x its
    quiet level over 2 s, as a cramp's discharge builds up), rests, and cramps
    again as strongly ``gap_s`` after the first one ended; the left calf
    rests; 3 µV noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 3.0, (int((100.0 + gap_s + 40.0) * fs), 2))
    for start in (30.0, 60.0 + gap_s):
        a, b = int(start * fs), int((start + 30.0) * fs)
        gain = np.full(b - a, 10.0)
        n = int(2.0 * fs)
        gain[:n] = np.linspace(4.0, 10.0, n)
        x[a:b, 1] *= gain
    return x


def _onsets(x, fs: float, confirm: bool):
    """The right calf's cramp onsets of a replay in 0.5-s chunks; with
    ``confirm`` the wearer answers "cramp" to the first one as it comes."""
    p = build_pipeline(mode="awake")
    events = []
    p.events.sink(events.append)
    step = int(0.5 * fs)
    answered = False
    for i in range(0, len(x), step):
        p.push(Chunk(x[i:i + step], fs=fs, seq=i, ch_names=NAMES))
        onsets = [e for e in events if e.kind == "cramp" and e.status == "onset"]
        if confirm and onsets and not answered:
            assert p.answer(onsets[0].channel, "cramp") == []
            answered = True
    p.close()
    p.destroy()
    return [e for e in events if e.kind == "cramp" and e.status == "onset" and e.channel == "calf_right"]


@pytest.mark.parametrize("confirm", [True, False], ids=["confirmed", "unanswered"])
def test_a_second_cramp_as_strong_as_the_first_one_is_announced(confirm):
    for fs in (200.0, 1000.0):
        for gap_s in (20.0, 90.0):
            x = _two_cramps(fs, gap_s)
            onsets = _onsets(x, fs, confirm=confirm)
            starts = [round(e.start_s) for e in onsets]
            assert len(onsets) == 2, (fs, gap_s, starts)
            second = 60.0 + gap_s
            assert abs(onsets[1].start_s - second) <= 1.0, (fs, gap_s, starts)
            # the first cramp's hold still makes the second wait as long as
            # the rule after a hold asks (min_s_after_hold, 8 s), no longer
            assert onsets[1].alert_s - second <= 8.0 + 2.0, (fs, gap_s, onsets[1].alert_s)


def test_the_working_level_forgets_the_entries_from_a_time_on():
    from emgpipe.detect.runs import WorkMemory

    mem = WorkMemory()
    for i in range(40):
        mem.append(i * 0.125, float(i), -1.0)
    assert mem.percentile(0.0, 10.0, 50.0) == float(np.percentile(np.arange(40.0), 50.0))
    mem.drop_from(2.0)                   # the entries from 2 s on (16 of them kept)
    assert len(mem) == 16
    assert mem.percentile(0.0, 10.0, 90.0) == float(np.percentile(np.arange(16.0), 90.0))
    mem.append(3.0, 100.0, -1.0)         # it goes on from there
    assert mem.percentile(0.0, 10.0, 100.0) == 100.0
    mem.drop_from(50.0)                  # nothing that late: unchanged
    assert len(mem) == 17
