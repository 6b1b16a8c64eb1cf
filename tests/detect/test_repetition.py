"""A repetition of a held contraction waits as a press does (model 0.7.6): a
single-leg hold that eases on over half a second is no press by its first
half second, so from rest it was announced at 3.5 s; but when the same calf
held a contraction at least as strong in the last hold_context_s and ended it
itself (the set's previous hold), it is the next repetition and waits
min_s_press (6.5 s). Walking's bursts are no held contraction (held for
most of its run): the standard set's cramps after walking are announced as
before (benchmarks/alerts.py)."""
from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import cramp_onsets

NAMES = ("calf_left", "calf_right")


def _holds(fs: float, holds, seed: int = 11):
    """Quiet rest (3 µV noise) on both calves; on the right calf a contraction
    per (start s, length s, x quiet) rising over its first 0.6 s (a raise
    onto the toes) and falling over 0.4 s."""
    rng = np.random.default_rng(seed)
    n = int(120 * fs)
    t = np.arange(n) / fs
    g = np.ones(n)
    for t0, dur, x in holds:
        m = (t >= t0) & (t < t0 + dur)
        up = np.clip((t[m] - t0) / 0.6, 0.0, 1.0)
        down = np.clip((t0 + dur - t[m]) / 0.4, 0.0, 1.0)
        g[m] = np.maximum(1.0, x * np.minimum(up, down))
    out = rng.normal(0.0, 3.0, (n, 2))
    out[:, 1] *= g
    return out


@pytest.mark.parametrize("fs", [250.0, 1000.0])
def test_the_next_single_leg_hold_of_a_set_is_a_repetition(fs):
    # a 2-s hold, a 6-s rest, then a 5-s hold at the same level (a set of
    # single-leg holds of up to 6 s, issue 13)
    onsets = [e for e in cramp_onsets(_holds(fs, [(30.0, 2.0, 40.0), (38.0, 5.0, 40.0)]), fs, NAMES)
              if e.channel == "calf_right"]
    assert onsets == [], [(round(e.start_s, 1), round(e.alert_s, 1)) for e in onsets]


@pytest.mark.parametrize("fs", [250.0, 1000.0])
def test_alone_it_is_a_contraction_from_rest_and_a_stronger_one_is_no_repetition(fs):
    # without the hold before it, the 5-s hold is announced at 3.5 s (one
    # calf, from rest, not at its level from its first half second: a cramp's
    # build-up looks the same); after a weaker hold, so is a 2x stronger one
    for holds in ([(38.0, 5.0, 40.0)], [(30.0, 2.0, 20.0), (38.0, 5.0, 40.0)]):
        onsets = [e for e in cramp_onsets(_holds(fs, holds), fs, NAMES) if e.channel == "calf_right"]
        assert len(onsets) == 1 and 38.0 + 3.5 <= onsets[0].alert_s <= 38.0 + 5.0, \
            (holds, [(round(e.start_s, 1), round(e.alert_s, 1)) for e in onsets])


@pytest.mark.parametrize("fs", [250.0, 1000.0])
def test_a_cramp_as_strong_as_the_hold_before_it_is_announced_as_a_press_is(fs):
    # a 30-s contraction after the same hold: it waits min_s_press, and is announced
    onsets = [e for e in cramp_onsets(_holds(fs, [(30.0, 2.0, 40.0), (38.0, 30.0, 40.0)]), fs, NAMES)
              if e.channel == "calf_right"]
    assert len(onsets) == 1 and 38.0 + 6.5 <= onsets[0].alert_s <= 38.0 + 7.5, \
        [(round(e.start_s, 1), round(e.alert_s, 1)) for e in onsets]
