"""A lead-off (a flat line) or a rail is no rest level: when the electrode is
back, the channel's noise is not a contraction, and a cramp after it is judged
against the baseline from before the loss (baseline.untaught: a flat window, or
the band-pass's ring decaying into one, teaches the baseline nothing)."""
from __future__ import annotations

import numpy as np
import pytest

from emgpipe.detect.baseline import untaught
from tests.helpers import replay_chunks

NAMES = ("calf_left", "calf_right")


def _replay(x: np.ndarray, fs: float, mode: str = "awake", chunk_s: float = 1.0, model=None) -> list:
    return replay_chunks(x, fs, NAMES, mode, chunk_s, model)


def _signal(fs, noise_uv, lead_off=(100.0, 130.0), level=0.0, cramp=None, seed=3, dur=240.0):
    """Quiet noise on both calves; the left one's electrode off (its signal at
    ``level``, flat) over ``lead_off``; ``cramp`` (t0, t1, µV) on the left."""
    rng = np.random.default_rng(seed)
    n = int(dur * fs)
    x = rng.normal(0, noise_uv, (n, 2))
    if cramp is not None:
        a, b, uv = cramp
        i, j = int(a * fs), int(b * fs)
        t = np.arange(j - i) / fs
        x[i:j, 0] += rng.normal(0, 1, j - i) * np.minimum(1.0, t / 2.0) * uv
    a, b = lead_off
    x[int(a * fs):int(b * fs), 0] = level
    return x


def _cramps(ev):
    return [e for e in ev if e.kind == "cramp" and e.status == "onset"]


@pytest.mark.parametrize("fs,noise_uv,level", [(1000.0, 10.0, 0.0), (250.0, 10.0, 187500.0),
                                                (1000.0, 3.0, 0.0)])
def test_the_noise_after_a_lead_off_is_not_a_cramp(fs, noise_uv, level, tmp_path):
    """A noisy set-up (a MyoWare on a Ganglion: ~10 µV) and a quiet one; the
    lead flat at 0 µV or at the Cyton's rail. Before the mend the baseline fell
    to its 0.5-µV floor during the flat line, and the noise that came back was
    20x it: announced as a cramp lasting to the end."""
    ev = _replay(_signal(fs, noise_uv, level=level), fs)
    loss = [e for e in ev if e.kind == "signal_loss" and e.channel == "calf_left" and "flat" in e.detail]
    assert loss and abs(loss[0].start_s - 100.0) < 0.6
    assert not _cramps(ev), _cramps(ev)
    # nor in a model without µV floors, which judges by ratios to the baseline alone
    bare = tmp_path / "bare.toml"
    bare.write_text('[model]\nname = "bare"\nversion = "1"\nextends = "default"\n'
                    '[detector]\nmin_active_uv = 0.0\ncramp_min_uv = 0.0\n', encoding="utf-8")
    assert not _cramps(_replay(_signal(fs, noise_uv, level=level), fs, model=str(bare)))


def test_a_cramp_after_a_lead_off_is_judged_against_the_baseline_before_it():
    fs = 1000.0
    alone = _cramps(_replay(_signal(fs, 3.0, lead_off=(0.0, 0.0), cramp=(160.0, 200.0, 40.0)), fs))
    got = _cramps(_replay(_signal(fs, 3.0, cramp=(160.0, 200.0, 40.0)), fs))
    assert len(alone) == len(got) == 1
    assert abs(got[0].alert_s - alone[0].alert_s) < 0.3, (got, alone)
    assert got[0].features["baseline_uv"] == pytest.approx(alone[0].features["baseline_uv"], rel=0.1)


def test_the_lead_off_rule_is_chunk_invariant():
    fs = 1000.0
    x = _signal(fs, 10.0, cramp=(160.0, 200.0, 120.0))

    def key(ev):
        return sorted((e.kind, e.channel, round(e.start_s, 3), round(e.end_s, 3), round(e.alert_s, 3))
                      for e in ev if e.status != "onset")
    ref = _replay(x, fs, chunk_s=240.0)
    assert _cramps(ref)
    for chunk_s in (0.37, 1.0, 4.1):
        assert key(_replay(x, fs, chunk_s=chunk_s)) == key(ref), chunk_s


def test_untaught_marks_flat_windows_and_a_ring_decaying_into_them():
    from types import SimpleNamespace
    ch = SimpleNamespace(prev_rms=(float("nan"), float("nan")))
    rms = np.array([[3.0], [3.3], [1800.0], [800.0], [350.0], [150.0], [3.1], [1.4], [0.6], [0.01],
                    [0.0], [2.9], [3.2], [1.5], [3.0], [1.2], [0.5]])
    got = untaught([ch], rms)[:, 0].tolist()
    # the ring after the step into a rail falls by a quarter or more twice in a
    # row: untaught from its third window until the line is flat; noise dropping
    # to half once (1.5) is not; two such drops in a row (3.0 -> 1.2 -> 0.5) are
    assert got == [False, False, False, False, True, True, True, True, True, True,
                   True, False, False, False, False, False, True]
    assert ch.prev_rms == (1.2, 0.5)                       # carried to the next batch
    assert untaught([ch], np.array([[0.2]]))[0, 0]          # 0.5 -> 0.2 after 1.2 -> 0.5


@pytest.mark.parametrize("fs,level", [(1000.0, 0.0), (250.0, 187500.0)])
def test_the_step_back_from_a_flat_line_is_not_a_fasciculation(fs, level):
    """When the electrode is on again the signal steps back from the flat line
    (or the rail): the band-pass makes that step a spike, which model 0.7.1
    counted as a fasciculation on every lead-off of artifact_torture."""
    ev = _replay(_signal(fs, 3.0, level=level), fs, mode="sleep")
    fasc = [e for e in ev if e.kind == "fasciculation" and e.channel == "calf_left"]
    assert not [e for e in fasc if 99.0 <= e.start_s <= 133.0], fasc


def test_track_gives_the_same_ratios_baselines_and_untaught_windows_whatever_the_batches():
    """baseline.track over one batch and split at every place: a ring decaying
    into a flat line across the split carries both its RMS and whether the
    window before was untaught (a first version carried only the RMS: the
    window after a split ring counted a fasciculation in one chunking only)."""
    from emgpipe.detect.baseline import track
    from emgpipe.detect.channel import _Channel
    from emgpipe.detect.settings import CrampSettings
    s = CrampSettings()
    rng = np.random.default_rng(3)
    rms = np.abs(rng.normal(3.0, 0.2, (60, 2)))
    rms[30:38, 0] = [1800.0, 800.0, 350.0, 150.0, 60.0, 20.0, 0.01, 0.0]    # a rail's ring, then flat
    rms[38:, 0] = np.abs(rng.normal(3.0, 0.2, 22))
    rms[20:25, 1] = [400.0, 250.0, 150.0, 80.0, 40.0]    # a relaxation falling steadily, then rest

    def run(cuts):
        chs = [_Channel("calf_left", s, None, None), _Channel("calf_right", s, None, None)]
        out = []
        for a, b in zip([0] + cuts, cuts + [len(rms)]):
            out.append(track(chs, rms[a:b], 0.125, s))
        return [np.concatenate([o[i] for o in out]) for i in range(3)]
    ref = run([])
    for cut in range(1, len(rms)):
        got = run([cut])
        for r, g in zip(ref, got):
            np.testing.assert_array_equal(np.nan_to_num(r), np.nan_to_num(g), err_msg=str(cut))
