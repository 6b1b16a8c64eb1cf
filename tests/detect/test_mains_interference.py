"""A loose electrode's harmonic-rich hum is reported as an artefact and is not a cramp;
a cramp before, under or after it is still announced (the quality stage tells the cramp
detector its mains-interference episodes: rules.interfered)."""
from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import replay_chunks

NAMES = ("calf_left", "calf_right")


def _hum(t: np.ndarray, amp: float) -> np.ndarray:
    """50 Hz with a clipped (square) part: the notches take the line, its odd harmonics pass."""
    s = np.sin(2 * np.pi * 50 * t)
    return amp * s + 0.5 * amp * np.sign(s)


def _replay(x: np.ndarray, fs: float, mode: str = "awake", chunk_s: float = 1.0, model=None) -> list:
    return replay_chunks(x, fs, NAMES, mode, chunk_s, model)


def _signal(fs, hum=None, cramp=None, seed=1, dur=600.0):
    """Quiet noise on both calves; ``hum`` (t0, t1, amp) and ``cramp`` (t0, t1, µV) on the left."""
    rng = np.random.default_rng(seed)
    n = int(dur * fs)
    x = rng.normal(0, 2.5, (n, 2))
    t = np.arange(n) / fs
    if cramp is not None:
        a, b, uv = cramp
        i, j = int(a * fs), int(b * fs)
        env = np.minimum(1.0, (t[i:j] - a) / 2.0) * uv            # a 2-s ramp
        x[i:j, 0] += rng.normal(0, 1, j - i) * env
    if hum is not None:
        a, b, amp = hum
        i, j = int(a * fs), int(b * fs)
        x[i:j, 0] += _hum(t[i:j], amp)
    return x


def _cramps(ev):
    return [e for e in ev if e.kind == "cramp" and e.status == "onset"]


@pytest.mark.parametrize("fs,mode", [(250.0, "sleep"), (1000.0, "sleep"), (1000.0, "awake")])
def test_a_harmonic_hum_is_an_artefact_not_a_cramp(fs, mode):
    for amp in (100.0, 500.0):
        ev = _replay(_signal(fs, hum=(300.0, 500.0, amp)), fs, mode)
        assert not _cramps(ev), (amp, _cramps(ev))
        hum = [e for e in ev if e.kind == "artifact" and e.channel == "calf_left" and "mains" in e.detail]
        assert hum and abs(hum[0].start_s - 300.0) < 1.0
        # nor a leg movement: the hum is reported once, as the artefact it is
        assert not [e for e in ev if e.kind == "voluntary" and e.channel == "calf_left"], amp


def test_cramps_before_under_and_after_the_hum_are_still_announced():
    fs = 1000.0
    # a cramp that began before the hum: announced before the hum starts
    cr = _cramps(_replay(_signal(fs, hum=(300.0, 400.0, 100.0), cramp=(290.0, 350.0, 60.0)), fs, "awake"))
    assert len(cr) == 1 and 290.0 < cr[0].alert_s < 297.0, cr
    # one that begins under the hum and goes on after it: announced once it has
    # lasted its minimum after the hum ended (0.5 s for the quality stage to end the episode)
    cr = _cramps(_replay(_signal(fs, hum=(300.0, 400.0, 100.0), cramp=(350.0, 460.0, 60.0)), fs, "awake"))
    assert len(cr) == 1 and 400.0 + 3.5 <= cr[0].alert_s < 400.0 + 8.0, cr
    # one after the hum: as without it
    alone = _cramps(_replay(_signal(fs, cramp=(450.0, 500.0, 60.0)), fs, "awake"))
    cr = _cramps(_replay(_signal(fs, hum=(300.0, 400.0, 100.0), cramp=(450.0, 500.0, 60.0)), fs, "awake"))
    assert len(cr) == len(alone) == 1 and cr[0].alert_s == alone[0].alert_s, (cr, alone)


def test_the_hum_rule_is_chunk_invariant():
    fs = 250.0
    x = _signal(fs, hum=(100.0, 160.0, 100.0), cramp=(140.0, 220.0, 60.0), dur=300.0)
    key = [(e.kind, e.channel, e.status, round(e.start_s, 6), round(e.alert_s, 6)) for e in _replay(x, fs, "awake")]
    for chunk_s in (0.05, 0.37, 7.0):
        assert [(e.kind, e.channel, e.status, round(e.start_s, 6), round(e.alert_s, 6))
                for e in _replay(x, fs, "awake", chunk_s)] == key, chunk_s


def test_a_hum_that_starts_during_movement_is_not_a_cramp_either():
    """The calf is walking (bursts of 0.4 s every second) when the hum starts: the run
    began before the hum, and goes on with it; nothing is announced while it hums."""
    fs = 1000.0
    x = _signal(fs, hum=(300.0, 420.0, 100.0))
    rng = np.random.default_rng(7)
    for t0 in np.arange(280.0, 310.0, 1.0):
        i, j = int(t0 * fs), int((t0 + 0.4) * fs)
        x[i:j, 0] += rng.normal(0, 40.0, j - i)
    for mode in ("awake", "sleep"):
        assert not _cramps(_replay(x, fs, mode)), mode


def test_what_a_hum_note_tells_the_windows_does_not_depend_on_the_chunk_it_came_with():
    """The quality stage announces a hum 2 s after it began, in whichever chunk
    holds that window: a 60-s chunk brought the note before the windows of the
    hum's first 2 s, 0.37-s chunks after them, so a 0.6-s movement just before
    the hum was a leg movement in one and the hum's in the other (the benchmark's
    Ganglion artifact_torture_s1 at 74 s). Each note now counts from the stream
    time the quality stage knew it (QualityDetector.interference_notes), and a
    finished leg movement is reported once a hum that began with it would be
    known (HUM_NOTE_S): in every chunking, the hum's."""
    fs = 250.0
    rng = np.random.default_rng(4)
    x = _signal(fs, dur=200.0)
    t = np.arange(x.shape[0]) / fs
    i, j = int(99.3 * fs), int(99.9 * fs)
    x[i:j, 0] += rng.normal(0, 40.0, j - i)                  # a 0.6-s movement
    k, m = int(100.0 * fs), int(160.0 * fs)                  # a 30-µV hum from 100 s (a 0.3-s rise)
    x[k:m, 0] += 30.0 * np.clip((t[k:m] - 100.0) / 0.3, 0, 1) * np.sin(2 * np.pi * 50 * t[k:m])

    def key(ev):   # (the order of a chunk's quality and detector events is the chunk's)
        return sorted((e.kind, e.channel, e.status, round(e.start_s, 6), round(e.end_s or 0, 6)) for e in ev)

    ref = _replay(x, fs, "awake", 0.37)
    assert [e for e in ref if e.kind == "artifact" and "mains" in e.detail and e.channel == "calf_left"]
    # the movement began a window before the hum: it is the hum's onset, reported as the artefact only
    assert not [e for e in ref if e.kind == "voluntary" and e.channel == "calf_left"]
    for chunk_s in (0.05, 7.0, 60.0, 200.0):
        assert key(_replay(x, fs, "awake", chunk_s)) == key(ref), chunk_s


def test_a_leg_movement_waits_no_less_than_the_quality_stage_takes_to_announce_a_hum():
    """HUM_NOTE_S covers the default model's mains_min_s and a quality window:
    a hum that began with a movement is known before the movement is reported."""
    from emgpipe.detect.quality import QualitySettings
    from emgpipe.detect.settings import HUM_NOTE_S
    from emgpipe.models import load_model
    q = QualitySettings.from_model(load_model("default"))
    assert HUM_NOTE_S >= q.mains_min_s + q.window_s
