"""Weak cramps at a low signal-to-noise ratio, on amplifiers of different noise.

Issue 13's target for weak cramps is relative: a cramp whose RMS is at least
2.5x the channel's quiet level must be found (sensitivity >= 0.9), whatever the
set-up. Its independent recordings had one missed at 1 kHz at 3.3x the quiet
level. The simulator's own weak cramps at 1 kHz stand 9-38x above a 1-3 µV
floor (their MVC is a few hundred µV), so they never test this.

This probe does not use the simulator. Two calves of white noise at a quiet
level Q (µV RMS over the detector's band), 60 s of rest, then on the right calf
a 40-s contraction of band-limited noise (30-300 Hz, 15 % slow modulation),
ramping up over R s, whose RMS with the noise is r x Q; 30 s of rest after. The
left calf stays quiet. Each case is replayed through the pipeline (awake, 1-s
chunks); it prints, per sample rate, quiet level and ratio, the onset-to-alert
latency of each seed and ramp (``MISS`` where no cramp was announced on the
right calf) and any false alert.

    python benchmarks/snr_probe.py                  # 250 Hz and 1 kHz
    python benchmarks/snr_probe.py --fs 1000 --quiet 2 --ratios 3,5

What it shows is whether a finding depends on the set-up's absolute µV (an
amplifier's noise, the wearer's MVC) rather than on the ratio to its rest.
"""
from __future__ import annotations

import argparse
import itertools
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np

NAMES = ("calf_left", "calf_right")
REST_S, CRAMP_S, AFTER_S = 60.0, 40.0, 30.0


def signal(fs: float, quiet_uv: float, ratio: float, ramp_s: float, seed: int) -> np.ndarray:
    """(samples, 2) µV: the case described in the module docstring."""
    from scipy.signal import butter, sosfilt
    rng = np.random.default_rng(seed)
    n = int((REST_S + CRAMP_S + AFTER_S) * fs)
    t = np.arange(n) / fs
    band = (min(450.0, 0.45 * fs) - 20.0) / (fs / 2.0)       # share of white noise the detector keeps
    x = rng.normal(0.0, quiet_uv / np.sqrt(band), (n, 2))
    sos = butter(4, [30.0, min(300.0, 0.4 * fs)], "bandpass", fs=fs, output="sos")
    e = sosfilt(sos, rng.normal(0.0, 1.0, n))
    e /= e.std()
    env = np.clip((t - REST_S) / ramp_s, 0.0, 1.0) * (t < REST_S + CRAMP_S)
    env *= 1.0 + 0.15 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 2 * np.pi))
    x[:, 1] += quiet_uv * np.sqrt(max(ratio * ratio - 1.0, 0.0)) * env * e
    return x


def events(x: np.ndarray, fs: float, mode: str = "awake", model=None, chunk_s: float = 1.0,
           names=NAMES) -> list:
    """Every event (onsets and finals, as announced) of a replay of ``x`` in ``chunk_s`` chunks."""
    from emgpipe.io.base import Recording
    from emgpipe.pipeline import run_recording
    rec = Recording("<array>", fs, tuple(names), [(0, np.asarray(x, dtype=float))])
    return run_recording(rec, mode=mode, model=model, chunk_s=chunk_s).announced


def replay(x: np.ndarray, fs: float, model=None, chunk_s: float = 1.0) -> list:
    """The cramp onsets the pipeline announces over ``x`` (awake)."""
    return [e for e in events(x, fs, "awake", model, chunk_s) if e.kind == "cramp" and e.status == "onset"]


def one(case: tuple) -> tuple:
    fs, quiet, ratio, ramp, seed, model = case
    cramps = replay(signal(fs, quiet, ratio, ramp, seed), fs, model)
    hit = [e for e in cramps if e.channel == "calf_right" and e.alert_s >= REST_S - 2.0]
    return (hit[0].alert_s - REST_S) if hit else None, len(cramps) - (1 if hit else 0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fs", default="250,1000", help="sample rates, Hz (comma-separated)")
    ap.add_argument("--quiet", default="2,4,8", help="quiet levels, µV RMS (comma-separated)")
    ap.add_argument("--ratios", default="2.5,3,3.5,4,5,7", help="cramp RMS over the quiet level")
    ap.add_argument("--ramps", default="0.5,3", help="ramp-up times, s")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--model", default=None, help="detector model (name or .toml path)")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args(argv)
    fss = [float(v) for v in a.fs.split(",")]
    quiets = [float(v) for v in a.quiet.split(",")]
    ratios = [float(v) for v in a.ratios.split(",")]
    ramps = [float(v) for v in a.ramps.split(",")]
    cases = list(itertools.product(fss, quiets, ratios, ramps, range(1, a.seeds + 1), [a.model]))
    with ProcessPoolExecutor(max(1, a.jobs)) as pool:
        res = list(pool.map(one, cases))
    rows: dict = {}
    for case, (lat, fa) in zip(cases, res):
        rows.setdefault(case[:3], []).append((lat, fa))
    print(f"weak cramps, {REST_S:.0f} s rest then {CRAMP_S:.0f} s; latency (s) per ramp {a.ramps} s "
          f"x seed 1..{a.seeds}; MISS = not announced")
    found = total = 0
    for (fs, quiet, ratio), v in sorted(rows.items()):
        cells = " ".join("MISS " if lat is None else f"{lat:5.1f}" for lat, _ in v)
        fas = sum(fa for _, fa in v)
        found += sum(lat is not None for lat, _ in v)
        total += len(v)
        print(f"{fs:6.0f} Hz  quiet {quiet:4.1f} µV  {ratio:3.1f}x ({ratio * quiet:5.1f} µV)  {cells}"
              + (f"  false alerts {fas}" if fas else ""))
    print(f"found {found}/{total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
