"""benchmarks/snr_probe.py: a weak cramp is judged by its ratio to the channel's
rest, not by its µV (model 0.7.0: no cramp_min_uv without calibration)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.helpers import load_script

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def probe():
    return load_script(ROOT / "benchmarks" / "snr_probe.py")


def test_the_probe_signal_has_the_quiet_level_and_ratio_it_states(probe):
    from emgpipe.graph import filters_from_model
    from emgpipe.models import load_model
    from emgpipe.types import Chunk
    fs = 1000.0
    x = probe.signal(fs, 4.0, 3.0, 0.5, 1)
    y = filters_from_model(load_model(None))(Chunk(x, fs=fs, ch_names=probe.NAMES)).data

    def rms(t0, t1, k):
        return float(np.sqrt(np.mean(y[int(t0 * fs):int(t1 * fs), k] ** 2)))
    assert rms(10, 55, 1) == pytest.approx(4.0, rel=0.1)                  # the quiet level
    assert rms(10, 120, 0) == pytest.approx(4.0, rel=0.1)                 # the other calf stays quiet
    assert rms(probe.REST_S + 2, probe.REST_S + 38, 1) == pytest.approx(12.0, rel=0.15)   # 3x


@pytest.mark.parametrize("fs,quiet,ratio", [(1000.0, 4.0, 3.0), (1000.0, 2.0, 5.0), (250.0, 4.0, 2.5)])
def test_a_weak_cramp_of_a_few_microvolts_is_announced_by_its_ratio(probe, fs, quiet, ratio):
    """10-12 µV of cramp: under the 12-µV floor of model 0.6.9, which missed all three."""
    cramps = probe.replay(probe.signal(fs, quiet, ratio, 0.5, 1), fs)
    assert [e.channel for e in cramps] == ["calf_right"]
    assert 3.0 <= cramps[0].alert_s - probe.REST_S <= 10.0, cramps


def test_without_a_contraction_nothing_is_announced(probe):
    assert probe.replay(probe.signal(1000.0, 2.0, 1.0, 0.5, 1), 1000.0) == []
