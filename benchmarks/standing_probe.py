"""Cramps out of light standing against bilateral leans from the same standing.

Two calves stand lightly (``--stand`` µV of muscle over 2.5 µV of noise, so
light that their adaptive baselines learn it or barely see it) for two
minutes, then, at 1 kHz (``--fs``):

* **cramps**: the left calf cramps (to 80 µV over a 1- or 3-s ramp, 30 s);
  the right calf holds its standing for 0.5-2 s, then takes more of the
  body's weight, 1.4-2.5x its load over a second (the wearer takes the weight
  off the cramping leg). Every one should be announced.
* **leans**: both calves rise together out of the standing (the left to
  15-60 µV, the right to 8-30 µV, ramps of 0.5-2 s, the right 0-0.5 s later)
  and hold 30 s: a forward lean or a bilateral raise. None should be
  announced.

It prints each cramp's onset-to-alert latency (or MISS) and every false
alert, then the counts. The signals are Gaussian noise shaped by these
envelopes (the detector's unit tests build theirs the same way); nothing
here is tuned on. It is the probe of docs/detector.md, "The other leg lets go
of its load" (a variant measured with it and not taken).

    python benchmarks/standing_probe.py
    python benchmarks/standing_probe.py --fs 250 --stand 5
"""
from __future__ import annotations

import argparse

import numpy as np

from emgpipe.pipeline import build_pipeline
from emgpipe.types import Chunk

NOISE_UV = 2.5
T0 = 120.0


def _ramps(fs: float, parts) -> np.ndarray:
    """Piecewise-linear envelope: (from µV, to µV, seconds) per part."""
    return np.concatenate([np.linspace(a, b, int(d * fs)) for a, b, d in parts])


def _signal(fs: float, stand: float, left: np.ndarray, right: np.ndarray, rng) -> np.ndarray:
    n = int((T0 + 60) * fs)
    env = np.zeros((n, 2))
    env[int(5 * fs):] = stand
    a = int(T0 * fs)
    env[a:a + len(left), 0] = left
    env[a:a + len(right), 1] = right
    return rng.normal(0, 1, (n, 2)) * np.sqrt(env ** 2 + NOISE_UV ** 2)


def _alerts(x: np.ndarray, fs: float) -> list:
    p = build_pipeline(mode="awake")
    ev = []
    p.events.sink(ev.append)
    p.push(Chunk(x, fs=fs, ch_names=("calf_left", "calf_right")))
    p.close()
    return [e for e in ev if e.kind == "cramp" and e.status == "onset"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fs", type=float, default=1000.0, help="sample rate (Hz)")
    ap.add_argument("--stand", type=float, nargs="+", default=[5.0, 8.0],
                    help="standing levels (µV of muscle over the noise)")
    ap.add_argument("--seed", type=int, default=5)
    a = ap.parse_args(argv)
    fs, rng = a.fs, np.random.default_rng(a.seed)
    found = n_cramps = 0
    print(f"cramps out of standing, the other calf taking weight after a lag ({fs:g} Hz):")
    for stand in a.stand:
        for ramp in (1.0, 3.0):
            for lag, k in ((0.5, 1.4), (1.0, 2.0), (2.0, 2.0), (1.0, 2.5)):
                left = _ramps(fs, [(stand, 80.0, ramp), (80.0, 80.0, 30)])
                right = _ramps(fs, [(stand, stand, lag), (stand, k * stand, 1.0), (k * stand, k * stand, 40)])
                lat = [round(e.alert_s - T0, 2) for e in _alerts(_signal(fs, stand, left, right, rng), fs)
                       if e.channel == "calf_left"]
                n_cramps += 1
                found += bool(lat)
                print(f"  standing {stand:g} µV, ramp {ramp:g} s, other calf x{k:g} after {lag:g} s: "
                      f"{lat[0] if lat else 'MISS'}")
    n_fa = n_leans = 0
    print("bilateral leans and raises from the same standing (every alert is false):")
    for stand in [0.0] + list(a.stand):
        for hi_l, hi_r in ((30, 12), (30, 20), (20, 10), (60, 30), (15, 8)):
            for ramp, dt in ((0.5, 0.0), (1.5, 0.0), (1.0, 0.3), (2.0, 0.5)):
                left = _ramps(fs, [(stand, hi_l, ramp), (hi_l, hi_l, 30)])
                right = _ramps(fs, [(stand, stand, dt), (stand, hi_r, ramp), (hi_r, hi_r, 30)])
                got = _alerts(_signal(fs, stand, left, right, rng), fs)
                n_leans += 1
                n_fa += bool(got)
                if got:
                    print(f"  FALSE ALERT: standing {stand:g} µV, {hi_l}/{hi_r} µV, ramp {ramp:g} s, "
                          f"other {dt:g} s later: {[(e.channel, round(e.alert_s - T0, 2)) for e in got]}")
    print(f"cramps found {found}/{n_cramps}; leans with a false alert {n_fa}/{n_leans}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
