"""A nocturnal cramp's precursor (Chaney & Sherman: the calf's tension at ~2x
its rest level for 20-60 s before the cramp) is evidence: asleep, the cramp is
then announced after min_s_sleep_evidence instead of min_s_sleep. The adaptive
baseline rises toward a long precursor, so the precursor is measured against
the rest level of the minutes before it."""
from __future__ import annotations

import numpy as np
import pytest

from emgpipe.models import load_model
from emgpipe.detect.settings import CrampSettings
from tests.helpers import cramp_onsets

NAMES = ("calf_left", "calf_right")
S = CrampSettings.from_model(load_model("default"))


def _night(fs, precursor_s, seed=7):
    """240 s of rest (3 µV noise), the right calf at 2x for ``precursor_s``
    before a cramp at 15x from 300 s for 30 s, then rest."""
    rng = np.random.default_rng(seed)
    n = int(360 * fs)
    gain = np.ones((n, 2))
    a, b, c = int((300 - precursor_s) * fs), int(300 * fs), int(330 * fs)
    gain[a:b, 1] = 2.0
    gain[b:c, 1] = 15.0
    return rng.normal(0.0, 3.0, (n, 2)) * gain


@pytest.mark.parametrize("fs", [250.0, 1000.0])
def test_a_long_precursor_is_evidence_asleep(fs):
    # a 60-s precursor: by the start of the 20-s precursor window the adaptive
    # baseline has risen ~1.4x toward it (measured against that, 1.4x < 1.6)
    onsets = cramp_onsets(_night(fs, 60.0), fs, NAMES, mode="sleep")
    assert len(onsets) == 1, onsets
    e = onsets[0]
    assert "precursor" in e.features["evidence"], e.features
    assert e.features["context"] == "sleep_evidence"
    assert e.alert_s <= 300.0 + S.min_s_sleep_evidence + 1.0, e.alert_s


@pytest.mark.parametrize("fs", [250.0, 1000.0])
def test_without_a_precursor_the_sleep_rule_waits(fs):
    onsets = cramp_onsets(_night(fs, 0.0), fs, NAMES, mode="sleep")
    assert len(onsets) == 1, onsets
    e = onsets[0]
    assert e.features["evidence"] == "" and e.features["context"] == "sleep"
    assert e.alert_s >= 300.0 + S.min_s_sleep - 0.25, e.alert_s
