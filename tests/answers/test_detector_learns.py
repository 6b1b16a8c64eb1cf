"""The detector uses the wearer's answers: after "not a cramp" (in this session
or stored from an earlier one) a contraction of that muscle at the dismissed
level is not announced again; one clearly stronger still is; a confirmed cramp
keeps its own level announceable; answers of the other mode, or of another
muscle, do not apply; those of the same muscle on the other leg stand in until
it has its own."""
from __future__ import annotations

import numpy as np
import pytest

from emgpipe.answers import answer_record
from emgpipe.pipeline import build_pipeline
from emgpipe.types import Chunk

FS = 1000.0
NAMES = ("calf_left", "calf_right")


def _signal(holds, total_s=200.0, seed=0, n=2):
    """Quiet 3 µV noise on ``n`` channels (calf_left, calf_right, ...); on calf_right
    a steady hold (x ``gain``) per (start, length, gain)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 3.0, (int(total_s * FS), n))
    for t0, dur, gain in holds:
        a, b = int(t0 * FS), int((t0 + dur) * FS)
        x[a:b, 1] *= gain
    return x


def _run(x, answers=None, mode="awake", answer_first=False, names=NAMES):
    if x.shape[1] < len(names):
        x = np.concatenate([x, np.random.default_rng(9).normal(0.0, 3.0, (len(x), len(names) - x.shape[1]))], axis=1)
    p = build_pipeline(mode=mode, answers=answers)
    events = []
    p.events.sink(events.append)
    answered = []
    step = int(0.5 * FS)
    for i in range(0, len(x), step):
        p.push(Chunk(x[i:i + step], fs=FS, seq=i, ch_names=names))
        onset = [e for e in events if e.kind == "cramp" and e.status == "onset"]
        if answer_first and onset and not answered:
            answered.append(onset[0])
            p.answer(onset[0].channel, "not_cramp")
    p.close()
    p.destroy()
    return [e for e in events if e.kind == "cramp" and e.status == "onset"], answered


def _alerted_in(onsets, t0, t1):
    return [e for e in onsets if e.channel == "calf_right" and t0 <= e.alert_s <= t1]


def test_a_dismissed_level_is_not_announced_again_in_the_same_session():
    # three holds of 20 s at the same level (a pedal), then one 3x stronger (a cramp)
    x = _signal([(20, 20, 12), (70, 20, 12), (120, 20, 12), (160, 25, 36)])
    onsets, _ = _run(x)
    assert len(_alerted_in(onsets, 20, 45)) == 1            # without answers: the first hold alerts
    onsets, answered = _run(x, answer_first=True)
    assert [e.alert_s < 45 for e in answered] == [True]
    assert _alerted_in(onsets, 50, 145) == []                # same level after the answer: silent
    assert len(_alerted_in(onsets, 160, 190)) == 1           # a clearly stronger contraction alerts


def test_stored_answers_apply_from_the_next_session():
    x = _signal([(20, 20, 12), (120, 25, 36)])
    first, _ = _run(x)
    [e] = _alerted_in(first, 20, 45)
    stored = [answer_record(e, "not_cramp", source="key")]
    onsets, _ = _run(x, answers=stored)
    assert _alerted_in(onsets, 20, 45) == []                  # the dismissed kind of contraction
    assert len(_alerted_in(onsets, 120, 150)) == 1            # the stronger one still alerts
    # a confirmed cramp at the dismissed level keeps that level announceable
    both = stored + [answer_record(e, "cramp", source="key")]
    onsets, _ = _run(x, answers=both)
    assert len(_alerted_in(onsets, 20, 45)) == 1


@pytest.mark.parametrize("field", ["channel", "context"])
def test_answers_of_another_muscle_or_mode_do_not_apply(field):
    x = _signal([(20, 20, 12)])
    first, _ = _run(x)
    [e] = _alerted_in(first, 20, 45)
    rec = answer_record(e, "not_cramp")
    rec[field] = {"channel": "shin_right", "context": "sleep"}[field]
    onsets, _ = _run(x, answers=[rec], names=("calf_left", "calf_right", "shin_right"))
    assert len(_alerted_in(onsets, 20, 45)) == 1


def test_an_answer_stands_in_for_the_same_muscle_on_the_other_leg():
    # the wearer dismissed a 12x hold of the LEFT calf (a foot put down at a
    # stop); the right calf has no answers of its own: the same hold there is
    # silent, one clearly stronger still alerts
    x = _signal([(20, 20, 12), (120, 25, 36)])
    first, _ = _run(x)
    [e] = _alerted_in(first, 20, 45)
    left = answer_record(e, "not_cramp")
    left["channel"] = "calf_left"
    onsets, _ = _run(x, answers=[left])
    assert _alerted_in(onsets, 20, 45) == []
    assert len(_alerted_in(onsets, 120, 150)) == 1
    # once the right calf has answers of its own (a weaker contraction, 4x,
    # dismissed), they count, not the other leg's: the 12x hold alerts again
    own = answer_record(e, "not_cramp")
    own["level_uv"] = own["level_uv"] / 3.0
    onsets, _ = _run(x, answers=[left, own])
    assert len(_alerted_in(onsets, 20, 45)) == 1
    # a cramp confirmed on the left calf at the dismissed level keeps that level announceable on the right
    confirmed = dict(left, answer="cramp")
    onsets, _ = _run(x, answers=[left, confirmed])
    assert len(_alerted_in(onsets, 20, 45)) == 1


def test_a_dismissed_level_yields_to_the_working_level_of_a_working_muscle():
    # Stored: the wearer dismissed a 12x press from rest (the brake that starts a
    # drive). Next session: the same press first (silent: no working level yet,
    # the dismissed level stands in), then a pedal hold at 4x for a minute and,
    # inside it, a contraction at 15x: below 1.5 x the dismissed level but well
    # above 1.5 x what the muscle is doing now (a cramp of the pedal calf). It is
    # announced: the live working level replaces the dismissed one.
    x = _signal([(20, 20, 12)])
    first, _ = _run(x)
    [e] = _alerted_in(first, 20, 45)
    stored = [answer_record(e, "not_cramp", source="key")]
    # (the pedal hold starts over 3 min after the press: the press's own level
    # no longer counts in the working level, see hold_context_s)
    y = _signal([(20, 20, 12), (230, 90, 4)], total_s=340.0, seed=1)
    y[int(270 * FS):int(295 * FS), 1] *= 15.0 / 4.0
    onsets, _ = _run(y, answers=stored)
    assert _alerted_in(onsets, 20, 45) == []
    assert len(_alerted_in(onsets, 270, 295)) == 1
