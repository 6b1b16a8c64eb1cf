"""Electrode pops: found in the raw signal, chunk-invariant, never fasciculations."""
import numpy as np
import pytest

from emgpipe.detect.pops import PopScanner
from emgpipe.detect.quality import QualityDetector
from emgpipe.graph import Pipeline
from emgpipe.detect.cramp import CrampDetector, CrampSettings
from emgpipe.types import Chunk


def _fasc(fs, lam=0.002):
    """A biphasic motor-unit-like potential (first Hermite-Rodriguez function), peak 1."""
    t = np.arange(-0.015, 0.015, 1 / fs)
    y = -t / lam * np.exp(-(t / lam) ** 2)
    return y / np.abs(y).max()


def _night(fs, seed=0, dur=30.0, pops=(), fascs=(), tau=0.15, hp_hz=None):
    """Quiet EMG noise with electrode pops (steps decaying with tau) and potentials."""
    from scipy import signal
    rng = np.random.default_rng(seed)
    n = int(dur * fs)
    x = rng.normal(0, 2.5, n)
    steps = np.zeros(n)
    for t, amp in pops:
        i = int(t * fs)
        steps[i:] += amp * np.exp(-np.arange(n - i) / (tau * fs))
    if hp_hz:      # an AC-coupled front end (high-pass before the ADC)
        steps = signal.sosfilt(signal.butter(2, hp_hz, "highpass", fs=fs, output="sos"), steps)
    x += steps
    k = _fasc(fs)
    for t, amp in fascs:
        i = int(t * fs)
        x[i:i + len(k)] += amp * k
    return x[:, None]


@pytest.mark.parametrize("fs,hp", [(1000.0, None), (1000.0, 10.0), (2000.0, 10.0), (4000.0, None), (250.0, None)])
def test_pops_found_potentials_not(fs, hp):
    pops = [(5.0, 150.0), (12.3, -120.0), (20.0, 250.0)]
    fascs = [(8.0, 120.0), (15.5, 200.0), (25.0, 80.0)]
    x = _night(fs, pops=pops, fascs=fascs, hp_hz=hp)
    found = PopScanner()(x, fs, 0)
    assert [round(t, 2) for _, t in found] == [5.0, 12.3, 20.0]


@pytest.mark.parametrize("fs", [250.0, 1000.0])
def test_pop_scanner_is_chunk_invariant(fs):
    x = _night(fs, seed=3, pops=[(3.0, 150.0), (3.4, 100.0), (9.999, -200.0), (17.0, 130.0)],
               fascs=[(6.0, 150.0)])
    whole = PopScanner()(x, fs, 0)
    rng = np.random.default_rng(0)
    cuts = np.sort(rng.choice(np.arange(1, len(x)), 40, replace=False))
    parts, sc = [], PopScanner()
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(x)]):
        parts += sc(x[a:b], fs, int(a))
        parts += sc(x[b:b], fs, int(b))          # empty chunks are legal
    assert parts == whole and len(whole) == 4


def test_steps_into_and_out_of_a_flat_line_are_not_pops():
    fs = 1000.0
    x = _night(fs)
    x[10000:15000] = 300.0                       # lead-off: a flat line
    assert PopScanner()(x, fs, 0) == []


def test_interference_pattern_makes_no_pop():
    fs, rng = 250.0, np.random.default_rng(5)
    x = rng.normal(0, 3, (int(60 * fs), 1))
    x[2500:10000, 0] = rng.normal(0, 200, 7500)  # a strong contraction at 200 µV RMS
    assert PopScanner()(x, fs, 0) == []


def test_quality_events_merge_pops_and_do_not_depend_on_chunking():
    fs = 1000.0
    x = _night(fs, pops=[(4.0, 150.0), (4.6, 140.0), (15.0, -180.0)])

    def run(step):
        q, ev = QualityDetector(), []
        for a in range(0, len(x), step):
            ev += q(Chunk(x[a:a + step], fs=fs, seq=a, ch_names=("calf_left",)))
        return ev + q.close(len(x) / fs)
    one = [(e.kind, e.start_s, e.end_s, e.alert_s, e.detail) for e in run(len(x))]
    # known once judged: 75 ms after the edge (the AC test's edge and opposite lobe, 3 x pop_lobe_s)
    assert one == [("artifact", 4.0, 5.1, 4.075, "electrode pop x2"), ("artifact", 15.0, 15.5, 15.075, "electrode pop")]
    assert [(e.kind, e.start_s, e.end_s, e.alert_s, e.detail) for e in run(333)] == one


def test_pops_are_artifacts_not_fasciculations():
    fs = 1000.0
    pops = [(5.0, 150.0), (12.3, -120.0), (20.0, 250.0)]
    fascs = [(8.0, 150.0), (25.0, 150.0)]
    x = np.hstack([_night(fs, pops=pops, fascs=fascs, hp_hz=10.0), _night(fs, seed=1)])
    p = Pipeline("default", detectors=[CrampDetector(CrampSettings())])
    ev = []
    p.events.sink(ev.append)
    for a in range(0, len(x), 700):
        p.push(Chunk(x[a:a + 700], fs=fs, seq=a, ch_names=("calf_left", "calf_right")))
    p.close()
    fasc = sorted(round(e.start_s, 1) for e in ev if e.kind == "fasciculation")
    arts = sorted(round(e.start_s, 1) for e in ev if e.kind == "artifact")
    assert fasc == [8.0, 25.0]
    assert arts == [5.0, 12.3, 20.0]


def _steps_one_by_one(scanner, x, cand, n_pre, n_hold, base, fs):
    """The candidates judged one at a time, as PopScanner did before it judged them
    all at once (the reference for _steps)."""
    from emgpipe.detect.pops import _FLAT_UV
    s = scanner.settings
    out = []
    for i, ch in cand:
        i, ch = int(i), int(ch)
        col = x[:, ch]
        pre, seg = col[i - n_pre:i], col[i:i + n_hold]
        if float(np.ptp(pre)) < _FLAT_UV or float(np.ptp(seg)) < _FLAT_UV:
            continue
        ref = float(pre.mean())
        step = float(col[i] - ref)
        if abs(step) < s.min_uv or abs(float(col[i] - col[i - 1])) < s.rise_frac * abs(step):
            continue
        if float((np.sign(step) * (seg - ref)).min()) < s.hold_frac * abs(step):
            continue
        if float(np.abs(np.diff(seg)).mean()) > s.smooth_frac * abs(step):
            continue
        out.append((ch, (base + i) / fs))
    return out


@pytest.mark.parametrize("fs", [200.0, 250.0, 1000.0, 4000.0])
def test_candidates_judged_at_once_as_one_by_one(fs):
    """Bursting EMG, pops and a lead-off (flat) stretch and a NaN on three channels: every
    candidate edge gets the same verdict from _steps as from a loop over them."""
    import math
    from emgpipe.dsp import _kernels
    rng = np.random.default_rng(int(fs))
    n = int(20 * fs)
    x = rng.normal(0, 1, (n, 3)) * rng.lognormal(2.5, 1.2, (n // 50 + 1, 3)).repeat(50, axis=0)[:n]
    for t in rng.uniform(1, 19, 15):                     # steps that decay, on a random channel
        i, c = int(t * fs), int(rng.integers(3))
        x[i:, c] += rng.choice([-1, 1]) * rng.uniform(60, 300) * np.exp(-np.arange(n - i) / (0.2 * fs))
    x[int(5 * fs):int(6 * fs), 1] = 40.0                  # flat: a lead-off
    x[int(9 * fs), 2] = np.nan
    sc = PopScanner()
    s = sc.settings
    n_pre = max(2, int(round(s.pre_s * fs)))
    n_hold = max(3, int(math.ceil(s.hold_s * fs)))
    cand = _kernels.pop_candidates(x, n_pre, n - n_hold, n_pre, s.min_uv, s.k)
    assert len(cand) > 30
    got = sc._steps(x, cand, n_pre, n_hold, 1000, fs)
    assert got == _steps_one_by_one(sc, x, cand, n_pre, n_hold, 1000, fs)
    assert 0 < len(got) < len(cand)


def _ac_night(fs=200, seed=0, dur=30.0, pops=(), fascs=(), tau=0.3, offset=0.0, device="ganglion",
              burst=None):
    """Quiet EMG behind a device's front end (emgpipe.sim's model: for the Ganglion the
    MyoWare's 20 Hz 2nd-order high-pass and a sinc3 decimator), with electrode pops
    (steps of the half-cell potential decaying with ``tau``) and triphasic motor-unit
    potentials of 12 ms (``_fasc`` at the synthesis rate), plus a DC ``offset``;
    ``burst`` = (start, end) of activity at ~10x the rest level."""
    from emgpipe.sim.devices import DEVICES, FrontEnd
    fe = FrontEnd(DEVICES[device], fs, 1)
    S = fe.S
    rng = np.random.default_rng(seed)
    n = int(dur * S)
    x = rng.normal(0, 4.0, n)
    for t, amp in pops:
        i = int(t * S)
        x[i:] += amp * np.exp(-np.arange(n - i) / (tau * S))
    k = _fasc(S, lam=0.003)
    for t, amp in fascs:
        i = int(t * S)
        x[i:i + len(k)] += amp * k
    if burst is not None:
        a, b = int(burst[0] * S), int(burst[1] * S)
        x[a:b] += rng.normal(0, 40.0, b - a)
    y = fe.process((x + offset)[:, None])
    return y[fe.delay:]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ac_coupled_pops_found_potentials_not(seed):
    """Behind the Ganglion's high-pass a pop does not hold: its edge (one or two samples
    at 200 Hz) is followed by an opposite lobe of ~35 ms carrying its area back. Found
    by the AC test (and not without it); 12-ms potentials as large are not pops."""
    from emgpipe.detect.pops import PopSettings
    pops = [(5.0, 180.0), (12.3, -150.0), (20.0, 250.0)]
    fascs = [(8.0, 150.0), (15.5, -200.0), (25.0, 120.0)]
    x = _ac_night(pops=pops, fascs=fascs, seed=seed)
    found = PopScanner()(x, 200.0, 0)
    assert [round(t, 1) for _, t in found] == [5.0, 12.3, 20.0]
    assert PopScanner(PopSettings(lobe_s=float("inf")))(x, 200.0, 0) == []


def test_potentials_on_a_dc_coupled_amplifier_are_not_ac_pops():
    """A DC-coupled amplifier (the Cyton) carries the electrodes' offset: the AC test
    does not apply there (its steps hold), so a potential whose after-phase sits on a
    shifted level is no pop, with or without the offset removed by a high-pass."""
    fascs = [(float(t), 150.0 * (-1) ** i) for i, t in enumerate(np.arange(3.0, 28.0, 2.5))]
    x = _ac_night(fs=250, device="cyton", fascs=fascs, offset=20000.0)
    assert PopScanner()(x, 250.0, 0) == []


def test_ac_pop_scanner_is_chunk_invariant():
    x = _ac_night(seed=4, pops=[(3.0, 200.0), (3.4, -150.0), (9.999, -220.0), (17.0, 160.0)],
                  fascs=[(6.0, 150.0)])
    whole = PopScanner()(x, 200.0, 0)
    rng = np.random.default_rng(1)
    cuts = np.sort(rng.choice(np.arange(1, len(x)), 60, replace=False))
    parts, sc = [], PopScanner()
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(x)]):
        parts += sc(x[a:b], 200.0, int(a))
    assert parts == whole and len(whole) == 4


def test_ac_coupled_pops_are_not_fasciculations():
    """At 200 Hz behind the Ganglion's front end, through the whole pipeline: the
    potentials are fasciculations and the pops are not. A pop found by the AC test
    alone is reported as an artefact once it is known to stand alone with the channel
    back at rest after it (model 0.7.15; until then it was not reported: the first
    potential of a contraction out of rest can pass the test); a fasciculation is not."""
    pops = [(5.0, 180.0), (12.3, -150.0), (20.0, 250.0)]
    fascs = [(8.0, 220.0), (25.0, -220.0)]
    x = np.hstack([_ac_night(pops=pops, fascs=fascs), _ac_night(seed=1)])
    p = Pipeline("default", detectors=[CrampDetector(CrampSettings())])
    ev = []
    p.events.sink(ev.append)
    for a in range(0, len(x), 74):
        p.push(Chunk(x[a:a + 74], fs=200.0, seq=a, ch_names=("calf_left", "calf_right")))
    p.close()
    fasc = sorted(round(e.start_s, 1) for e in ev if e.kind == "fasciculation")
    assert fasc == [8.0, 25.0]
    art = [(e.channel, round(e.start_s, 1), e.detail) for e in ev if e.kind == "artifact"]
    assert art == [("calf_left", t, "electrode pop") for t, _ in pops]


def _quality_pops(x, step):
    """The electrode-pop artefact events of the quality stage over ``x`` (200 Hz)
    pushed in ``step``-sample chunks."""
    q = QualityDetector()
    ev = []
    for a in range(0, len(x), step):
        ev += q(Chunk(x[a:a + step], fs=200.0, seq=a, ch_names=("calf_left",)))
    ev += q.close(len(x) / 200.0)
    return [(e.kind, round(e.start_s, 4), round(e.end_s, 4), round(e.alert_s, 4), e.detail)
            for e in ev if e.detail.startswith("electrode pop")]


def test_an_ac_pop_is_an_artefact_only_alone_and_followed_by_rest():
    """Behind the Ganglion's front end (model 0.7.15) the AC test finds all of these
    edges, but only a pop that stands alone (no other pop edge within 1.5 s: a QRS
    passes the test at every beat, cable motion edge after edge) with the channel
    back at rest after it is an artefact. Where activity follows the edge (the first
    potential of a contraction out of rest) nothing is reported; the same events
    whatever the chunking."""
    pops = [(5.0, 180.0), (12.3, -150.0), (20.0, 250.0)]
    beats = [(24.0 + 0.9 * k, 160.0) for k in range(5)]      # a run of edges 0.9 s apart
    y = _ac_night(seed=3, pops=pops + beats, burst=(12.34, 15.34))    # activity 40 ms after the second pop
    found = {round(t, 1) for _, t in PopScanner()(y, 200.0, 0)}
    assert found >= {5.0, 12.3, 20.0} and len(found & {round(t, 1) for t, _ in beats}) >= 3
    one = _quality_pops(y, len(y))
    assert [e[1] for e in one] == [pytest.approx(5.0, abs=0.02), pytest.approx(20.0, abs=0.02)]
    assert all(e[3] >= e[1] + 1.5 for e in one)               # known once its neighbourhood is
    for step in (37, 200, 1000):
        assert _quality_pops(y, step) == one
