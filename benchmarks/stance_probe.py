"""Single-leg stances out of standing against cramps after which the wearer sits down.

Two calves stand (``--stand`` µV of muscle over 2.5 µV of noise) for two
minutes, then, at ``--fs`` (1 kHz by default):

* **stances** (every alert is false): the right foot lifts (its calf falls to
  its noise over 0.3 or 1 s) as the left calf takes the body's weight
  (2-6x its standing level over the same ramp) and holds it 10 or 30 s, then
  the foot comes down again: dressing on one leg, a balance exercise, a
  yoga pose. A clinical single-leg-stance test is timed to 30-45 s.
* **cramps** (every one should be announced): the left calf cramps (to 25,
  40 or 80 µV over 0.5, 2 or 4 s, 40 s) and the wearer sits down 0.5, 1.5
  or 3 s after it began (both calves' standing ends; the cramp goes on).

It prints every false alert and every missed cramp (with the last reason the
detector gave), the counts, and the cramps' onset-to-alert latencies. The
signals are Gaussian noise shaped by these envelopes, as in
``standing_probe.py``; nothing here is tuned on. It is the probe of
docs/detector.md, "A single-leg stance lasts as long as the other foot is off
the ground" (model 0.6.7).

    python benchmarks/stance_probe.py
    python benchmarks/stance_probe.py --fs 250
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from standing_probe import NOISE_UV, T0, _alerts, _ramps  # noqa: E402


def _signal(fs: float, stand: float, left: np.ndarray, right: np.ndarray, rng, stand_until: float) -> np.ndarray:
    """Both calves stand from 5 s to ``stand_until`` (s from T0); then each
    follows its envelope from T0 (µV of muscle), over ``NOISE_UV`` of noise."""
    n = int((T0 + 60) * fs)
    env = np.zeros((n, 2))
    env[int(5 * fs):int((T0 + stand_until) * fs)] = stand
    a = int(T0 * fs)
    env[a:a + len(left), 0] = left
    env[a:a + len(right), 1] = right
    return rng.normal(0, 1, (n, 2)) * np.sqrt(env ** 2 + NOISE_UV ** 2)


def stances(fs: float, stands, rng) -> tuple[int, int, list]:
    """(stances announced, stances, lines)."""
    n_fa = n = 0
    lines = []
    for stand in stands:
        for gain in (2.0, 3.0, 4.0, 6.0):
            for ramp in (0.3, 1.0):
                for hold in (10.0, 30.0):
                    on = stand * gain
                    left = _ramps(fs, [(stand, on, ramp), (on, on, hold), (on, stand, 0.5)])
                    right = _ramps(fs, [(stand, 0.0, ramp), (0.0, 0.0, hold), (0.0, stand, 0.5)])
                    got = _alerts(_signal(fs, stand, left, right, rng, 60.0), fs)
                    n += 1
                    if got:
                        n_fa += 1
                        lines.append(f"  FALSE ALERT: standing {stand:g} µV, x{gain:g} over {ramp:g} s for "
                                     f"{hold:g} s: {[(e.channel, round(e.alert_s - T0, 2)) for e in got]}")
    return n_fa, n, lines


def cramps(fs: float, stands, rng, why: dict) -> tuple[int, int, list, list]:
    """(cramps found, cramps, latencies, lines)."""
    found = n = 0
    lat, lines = [], []
    for stand in stands:
        for peak in (25.0, 40.0, 80.0):
            for ramp in (0.5, 2.0, 4.0):
                for sit in (0.5, 1.5, 3.0):
                    left = _ramps(fs, [(stand, peak, ramp), (peak, peak, 40.0)])
                    right = np.zeros(0)
                    why.clear()
                    got = [e for e in _alerts(_signal(fs, stand, left, right, rng, sit), fs)
                           if e.channel == "calf_left"]
                    n += 1
                    if got:
                        found += 1
                        lat.append(got[0].alert_s - T0)
                    else:
                        lines.append(f"  MISS: standing {stand:g} µV, cramp to {peak:g} µV over {ramp:g} s, "
                                     f"sat down after {sit:g} s ({why.get('why', '')})")
    return found, n, lat, lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fs", type=float, default=1000.0, help="sample rate (Hz)")
    ap.add_argument("--stand", type=float, nargs="+", default=[5.0, 10.0, 20.0],
                    help="standing levels (µV of muscle over the noise)")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args(argv)
    from emgpipe.detect import rules
    decide, why = rules.decide, {}

    def kept(run, ch, t1, *args, **kw):         # the reason at about 9 s, for the misses
        e = decide(run, ch, t1, *args, **kw)
        if ch.name == "calf_left" and T0 + 9 <= t1 < T0 + 10:
            why["why"] = run.why
        return e
    rules.decide = kept
    try:
        rng = np.random.default_rng(a.seed)
        n_fa, n_st, fa_lines = stances(a.fs, a.stand, rng)
        found, n_cr, lat, miss_lines = cramps(a.fs, a.stand, rng, why)
    finally:
        rules.decide = decide
    print(f"single-leg stances of 10-30 s out of standing ({a.fs:g} Hz; every alert is false):")
    print("\n".join(fa_lines) or "  none announced")
    print("cramps out of standing, the wearer sitting down 0.5-3 s after it began:")
    print("\n".join(miss_lines) or "  none missed")
    if lat:
        print(f"  latency median {np.median(lat):.1f} s, p95 {np.percentile(lat, 95):.1f} s, max {max(lat):.1f} s")
    print(f"stances with a false alert {n_fa}/{n_st}; cramps found {found}/{n_cr}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
