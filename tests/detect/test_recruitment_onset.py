"""The first discharges of a contraction too weak to be active are its
recruitment, not fasciculations (model 0.7.8, ``fasciculations.began_working``):
a shin that starts steering a pedal, a calf that takes some weight, fires its
first units a moment before its floor rises. Until model 0.7.7 those first
potentials were counted at rest (the tonic rules look back 2 s) and reported,
because only the start of an activity run dropped the chain leading into it,
and such a contraction never makes one. Now the chain leading into a floor
that stays at ``fasc_work_floor`` x the rest level for ``min_voluntary_s``
(having been at rest) is dropped too. A fasciculation seconds before, or at
rest, still counts, whatever the chunking."""
from __future__ import annotations

import numpy as np

from tests.detect.test_working_superposition import FS, NAMES, _add
from tests.helpers import replay_chunks

import scipy.signal

ONSETS = (30.0, 75.0, 120.0, 165.0)
HOLD_S = 20.0


def _signal(seed: int, fasc=()) -> np.ndarray:
    """The shin at rest (2 µV), with a weak contraction of HOLD_S at each of
    ONSETS: a faint interference pattern and two units of 26 and 30 µV whose
    firing starts at the onset (8 and 9 Hz, ISI CV 10 %); 60-µV
    fasciculations at ``fasc``."""
    rng = np.random.default_rng(seed)
    n = int(200 * FS)
    x = rng.normal(0.0, 2.0, n)
    sos = scipy.signal.butter(4, [40.0, 250.0], btype="bandpass", fs=FS, output="sos")
    for t0 in ONSETS:
        a, b = int(t0 * FS), int((t0 + HOLD_S) * FS)
        pattern = scipy.signal.sosfilt(sos, rng.normal(0.0, 1.0, b - a))
        x[a:b] += 1.5 * pattern / pattern.std()
        for amp, rate in ((26.0, 8.0), (30.0, 9.0)):
            t = t0 + rng.uniform(0.0, 0.05)
            while t < t0 + HOLD_S - 0.05:
                _add(x, t, amp)
                t += rng.normal(1 / rate, 0.1 / rate)
    for t in fasc:
        _add(x, t, 60.0)
    return x


def _events(x: np.ndarray, chunk_s: float = 1.0) -> list:
    quiet = np.random.default_rng(99).normal(0.0, 2.0, len(x))
    return replay_chunks(np.column_stack([quiet, x]), FS, NAMES, "awake", chunk_s=chunk_s)


def _fasc(events) -> list:
    return [e for e in events if e.kind == "fasciculation" and e.channel == NAMES[1]]


def test_the_first_discharges_of_a_weak_contraction_are_no_fasciculation():
    for seed in (0, 1):
        ev = _events(_signal(seed))
        # the contractions stay under the activity threshold: no run drops the onset
        assert not [e for e in ev if e.channel == NAMES[1] and e.kind in ("voluntary", "cramp")]
        at_onsets = [round(e.start_s, 2) for e in _fasc(ev)
                     if any(t0 - 0.5 <= e.start_s <= t0 + 0.5 for t0 in ONSETS)]
        assert at_onsets == []


def test_a_fasciculation_before_the_onset_or_at_rest_still_counts_in_any_chunking():
    fasc = (12.0, 27.5, 72.0, 100.3, 190.0)        # 1.5-3 s before an onset, or at rest
    x = _signal(2, fasc=fasc)
    one = _events(x, chunk_s=60.0)
    starts = [e.start_s for e in _fasc(one)]
    for t in fasc:
        assert any(abs(s - t) < 0.05 for s in starts), (t, starts)
    assert not [s for s in starts if any(t0 - 0.5 <= s <= t0 + 0.5 for t0 in ONSETS)]

    def key(evs):
        return [(e.kind, e.channel, round(e.start_s, 6), round(e.end_s, 6)) for e in evs]
    assert key(_events(x, chunk_s=0.37)) == key(one)
