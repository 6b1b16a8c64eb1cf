"""A shin that lifts the foot too weakly to be active still places the
accelerator after a brief brake (model 0.7.9, ``moved`` in
:func:`emgpipe.detect.rules.placed`). On a noisy device (the Ganglion, ~6 µV)
the tibialis burst of a pedal release reached 2.0-2.4x its baseline, under
``on_ratio``: no activity run, so the accelerator after a 2-s first brake was
a contraction from rest and was announced 6.6 s in (everyday split, Ganglion
``driving_s2001``; here, after a 1.5-s brake, 3.6 s in). Now an antagonist that, in the calf's pause, was
both louder than the calf and at least ``off_ratio`` x its own baseline moved
the foot. Cross-talk of the calf's own contraction is a fraction of it and
falls with it in the pause, so it never is; and a shin under ``off_ratio``
places nothing."""
from __future__ import annotations

import pytest

from tests.detect.test_stretch_in_run import _drive_start, _right


def _weak_lift(fs: float, gain: float, brake_s: float = 1.5, cramp=None):
    """:func:`_drive_start` without its 20x shin burst, and instead one of
    ``gain`` x the noise over the same 0.7 s after the brake."""
    x = _drive_start(fs, brake_s, cramp=cramp, shin=False)
    b1 = 30.0 + brake_s
    x[int(b1 * fs):int((b1 + 0.7) * fs), 2] *= gain
    return x


@pytest.mark.parametrize("fs", [200.0, 250.0, 1000.0])
def test_a_weak_lift_of_the_foot_places_the_accelerator(fs):
    assert not _right(_weak_lift(fs, 2.4), fs)
    # without a lift, or with one under off_ratio, the accelerator after a
    # brake too brief to be a hold is a contraction from rest (its 0.6-s rise
    # is no press): announced 3.5 s in, as model 0.7.8 announced the weak lift's
    for gain in (1.0, 1.6):
        found = _right(_weak_lift(fs, gain), fs)
        assert len(found) == 1 and 32.2 + 3.5 <= found[0][1] < 32.2 + 5.0, (gain, found)


def test_a_cramp_after_a_weak_lift_is_still_announced():
    # a cramp that builds up right after the brake, well above the pedal
    found = _right(_weak_lift(1000.0, 2.4, cramp=(32.2, 2.0)), 1000.0)
    assert len(found) == 1 and found[0][1] < 32.2 + 8.0, found
