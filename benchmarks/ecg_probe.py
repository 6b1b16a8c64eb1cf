"""The heart's QRS picked up by the leg electrodes: fasciculations and cramps it makes.

A QRS complex reaches the skin of the legs as a 40-100 ms deflection of a few
to tens of µV, once a second, and its main peak is a sharp biphasic wave like a
motor unit's potential (physiology notes §5: Moore 2014 had to cancel it to
score leg movements). The simulator adds it only weakly. This probe does not use
the simulator: two calves of white noise (2 µV RMS), QRS complexes (a 40-ms
Mexican hat, 66 beats per minute with 3 % beat-to-beat jitter) at a peak of A µV
times a gain per calf, and, asleep, five leg movements of 4.5-6 s on the right
calf (one every ~100 s, 15x rest). Each case is replayed through the pipeline
(1-s chunks) and it prints the fasciculation episodes reported in 5 minutes of
rest, and the cramp alerts among the 10 minutes of leg movements (every one of
them is false: a leg movement lasts at most 10 s, and these are well under it
but longer than the 3.5 s a cramp waits asleep once fasciculations came first).

    python benchmarks/ecg_probe.py
    python benchmarks/ecg_probe.py --fs 250 --amp 40
"""
from __future__ import annotations

import argparse
import itertools
import os
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import snr_probe  # noqa: E402  (the probe beside this one)

NAMES = ("calf_left", "calf_right")
#: (left, right) gains of the QRS: both legs, one opposite in sign, the moving calf only
GAINS = ((1.0, 0.7), (1.0, -0.7), (0.0, 1.0))
MOVEMENTS = ((100.0, 4.5), (200.0, 5.0), (310.0, 5.5), (420.0, 6.0), (520.0, 5.0))


def ecg(fs: float, n: int, amp_uv: float, gains, bpm: float = 66.0, seed: int = 0) -> np.ndarray:
    """(n, len(gains)) µV: QRS complexes (a 40-ms Mexican hat, peak ``amp_uv`` x gain) at ``bpm`` with 3 % jitter."""
    rng = np.random.default_rng(seed)
    k = np.arange(int(0.04 * fs)) / fs - 0.02
    q = -(1 - (k / 0.006) ** 2) * np.exp(-(k / 0.006) ** 2 / 2)
    x = np.zeros((n, len(gains)))
    t = 0.7
    while t < n / fs - 0.1:
        i = int(t * fs)
        x[i:i + len(q)] += amp_uv * np.outer(q, gains)[:n - i]
        t += 60.0 / bpm * (1 + rng.normal(0, 0.03))
    return x


def rest(fs: float, amp_uv: float, gains, seconds: float = 300.0, seed: int = 1) -> np.ndarray:
    n = int(seconds * fs)
    return np.random.default_rng(seed).normal(0, 2.0, (n, 2)) + ecg(fs, n, amp_uv, gains)


def night(fs: float, amp_uv: float, gains, seed: int = 4) -> np.ndarray:
    """Ten minutes asleep: the QRS and the five leg movements of :data:`MOVEMENTS` on the right calf."""
    n = int(600 * fs)
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 2.0, (n, 2)) + ecg(fs, n, amp_uv, gains)
    for t0, d in MOVEMENTS:
        a, b = int(t0 * fs), int((t0 + d) * fs)
        x[a:b, 1] += rng.normal(0, 30.0, b - a)
    return x


def replay(x: np.ndarray, fs: float, mode: str, model=None) -> list:
    """The final events over ``x`` (:func:`snr_probe.events`, the probe beside this one)."""
    return [e for e in snr_probe.events(x, fs, mode, model) if e.status != "onset"]


def one(case: tuple) -> tuple:
    fs, amp, gains, model = case
    fasc = sum(e.kind == "fasciculation" for e in replay(rest(fs, amp, gains), fs, "sleep", model))
    cramps = [round(e.alert_s, 1) for e in replay(night(fs, amp, gains), fs, "sleep", model) if e.kind == "cramp"]
    return fasc, cramps


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fs", default="250,1000", help="sample rates, Hz (comma-separated)")
    ap.add_argument("--amp", default="20,40", help="QRS peaks, µV (comma-separated)")
    ap.add_argument("--model", default=None, help="detector model (name or .toml path)")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args(argv)
    cases = [(float(f), float(amp), g, a.model) for f, amp, g in
             itertools.product(a.fs.split(","), a.amp.split(","), GAINS)]
    with ProcessPoolExecutor(max(1, a.jobs)) as pool:
        res = list(pool.map(one, cases))
    print("QRS on two calves at rest (2 µV noise), 66 per minute; asleep, 5 leg movements of 4.5-6 s")
    print(f"{'fs':>6} {'QRS µV':>7} {'gains (L, R)':>13} {'fasciculations / 5 min':>23} {'false cramp alerts / 10 min':>28}")
    for (fs, amp, g, _), (fasc, cramps) in zip(cases, res):
        print(f"{fs:6.0f} {amp:7.0f} {str(g):>13} {fasc:23d} {len(cramps):28d}"
              + (f"  at {cramps} s" if cramps else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
