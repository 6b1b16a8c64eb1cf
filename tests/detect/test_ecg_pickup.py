"""The heart's QRS picked up by both legs' electrodes is not a fasciculation:
a potential that coincides (COMMON_S) with one on a channel of the other leg is
common-mode (fasciculations.coincident); one on a single calf still counts."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emgpipe.detect.fasciculations import cardiac_times, coincident
from tests.helpers import load_script, replay_chunks

NAMES = ("calf_left", "calf_right")
PROBE = load_script(Path(__file__).resolve().parents[2] / "benchmarks" / "ecg_probe.py")


def _ecg(fs: float, n: int, amp_uv: float, gains, bpm: float = 66.0, seed: int = 0) -> np.ndarray:
    """benchmarks/ecg_probe.py's QRS complexes (a 40-ms Mexican hat) at ``bpm`` with 3 % jitter."""
    return PROBE.ecg(fs, n, amp_uv, gains, bpm, seed)


@pytest.mark.parametrize("fs", [250.0, 1000.0])
def test_qrs_on_both_calves_is_not_counted_as_fasciculations(fs):
    n = int(300 * fs)
    x = np.random.default_rng(1).normal(0, 2.0, (n, 2)) + _ecg(fs, n, 40.0, (1.0, 0.7))
    fasc = [e for e in replay_chunks(x, fs, NAMES, "sleep") if e.kind == "fasciculation"]
    # model 0.7.0 counted 75 episodes at 1 kHz and 13 at 250 Hz in these 5 minutes
    assert len(fasc) <= 2, fasc


@pytest.mark.parametrize("fs,gains", [(250.0, (1.0, 0.7)), (1000.0, (1.0, 0.7)),
                                      (250.0, (0.0, 1.0)), (1000.0, (0.0, 1.0))])
def test_ecg_is_no_evidence_that_makes_a_leg_movement_a_cramp(fs, gains):
    """Asleep, fasciculations in the minute before shorten a cramp's wait from
    6.5 s to 3.5 s: counted QRS complexes made 4.5-6 s leg movements cramps
    (model 0.7.0: 3 alerts in these 10 minutes at 1 kHz, 1 at 250 Hz, with the
    QRS on both calves; 3 at both rates with it on the moving calf only, which
    the other leg cannot tell: its rhythm does, model 0.7.3)."""
    n = int(600 * fs)
    rng = np.random.default_rng(4)
    x = rng.normal(0, 2.0, (n, 2)) + _ecg(fs, n, 40.0, gains)
    for t0, d in ((100, 4.5), (200, 5.0), (310, 5.5), (420, 6.0), (520, 5.0)):
        a, b = int(t0 * fs), int((t0 + d) * fs)
        x[a:b, 1] += rng.normal(0, 30.0, b - a)
    ev = replay_chunks(x, fs, NAMES, "sleep")
    assert not [e for e in ev if e.kind == "cramp"]
    assert len([e for e in ev if e.kind == "voluntary" and e.channel == "calf_right"]) == 5


def test_the_common_mode_rule_is_chunk_invariant():
    from tests.helpers import random_chunks
    fs = 250.0
    n = int(120 * fs)
    x = np.random.default_rng(5).normal(0, 2.0, (n, 2)) + _ecg(fs, n, 40.0, (1.0, 0.8))
    x[int(50 * fs):int(50 * fs) + 5, 1] += np.array([0.0, 90.0, -60.0, 20.0, 0.0])   # one of its own

    def key(ev):
        return sorted((e.kind, e.channel, round(e.start_s, 3), round(e.end_s, 3))
                      for e in ev if e.status != "onset")
    ref = key(replay_chunks(x, fs, NAMES, "sleep", chunk_s=120.0))
    for seed in range(3):
        from emgpipe.pipeline import build_pipeline
        p = build_pipeline(mode="sleep")
        ev = []
        p.events.sink(ev.append)
        for c in random_chunks(x, fs, np.random.default_rng(seed), ch_names=NAMES, max_len=400):
            p.push(c)
        p.close()
        assert key(ev) == ref, seed


def test_a_fasciculation_of_one_calf_still_counts_beside_a_quiet_other_leg():
    fs = 1000.0
    n = int(120 * fs)
    x = np.random.default_rng(2).normal(0, 2.0, (n, 2))
    k = np.arange(int(0.02 * fs)) / fs - 0.01
    mu = 80.0 * (k / 0.003) * np.exp(-(k / 0.003) ** 2)          # a biphasic 10-ms potential
    times = (30.0, 47.3, 61.9, 80.2, 95.5)
    for t in times:
        i = int(t * fs)
        x[i:i + len(mu), 1] += mu
    fasc = [e for e in replay_chunks(x, fs, NAMES, "sleep") if e.kind == "fasciculation"]
    assert [e.channel for e in fasc] == ["calf_right"] * len(times)
    assert all(abs(e.start_s - t) < 0.05 for e, t in zip(fasc, times))


def test_the_heart_s_rhythm_is_told_from_fasciculations_by_its_regularity():
    rng = np.random.default_rng(7)
    rr = 0.9 * (1 + rng.normal(0, 0.04, 12))
    beats = list(np.cumsum(rr) + 10.0)
    times = [(t, 1.0) for t in beats]
    times.insert(4, (beats[3] + 0.03, 2.0))                    # a QRS split over two windows
    assert cardiac_times(times) == {t for t, _ in times}
    assert cardiac_times(times[:3]) == set()                    # three beats: not yet a rhythm
    # fasciculations: irregular, Poisson at 20 per minute, and a storm at 2 per
    # second for minutes (measured: 5.8 % of its potentials fall in chance runs)
    for rate, share in ((20.0, 0.03), (120.0, 0.08)):
        t = np.cumsum(rng.exponential(60.0 / rate, 400))
        flagged = cardiac_times([(x, 1.0) for x in t])
        assert len(flagged) <= share * len(t), (rate, len(flagged))
    # a rhythm outside 40-180 beats per minute is none
    assert cardiac_times([(2.0 * i, 1.0) for i in range(10)]) == set()


def test_coincident_pairs_only_the_channels_marked_common():
    at = np.array([[1.000, 1.010, 1.000], [2.000, np.nan, 2.001], [3.000, 3.050, 3.001]])
    counted = np.ones(at.shape, dtype=bool)
    common = np.array([[False, True, False], [True, False, False], [False, False, False]])   # 0 <-> 1 only
    got = coincident(at, counted, common)
    assert got.tolist() == [[True, True, False], [False, False, False], [False, False, False]]
    counted[0, 0] = False
    assert not coincident(at, counted, common)[0, 0]                   # not counted: nothing to drop
