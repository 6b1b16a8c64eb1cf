"""emgpipe against a BrainFlow script on one 8-hour night (issue 15 part 2).

Builds (once, cached under ``build/peers/``) an 8-hour two-channel 1 kHz EDF+
night simulated by :mod:`emgpipe.sim` (the ``night`` scenario: sleep, leg
movements, fasciculations and cramps, both calves), written 60 s at a time by
the night writer (:class:`emgpipe.night.edfplus.EdfPlusWriter`), so building
it is memory-flat. Then, in turns, each in its own subprocess:

* ``emgpipe replay NIGHT.edf --mode sleep --events-out ...``: the whole
  pipeline with full detection (quality checks, cramps, fasciculations,
  voluntary activity), exactly what a user runs;
* a BrainFlow script (``--brainflow NIGHT.edf``): the EDF read with pyedflib
  (BrainFlow has no EDF reader), then per channel BrainFlow's ``DataFilter``:
  band-pass 20-450 Hz (Butterworth, order 4), mains notch (50 and 60 Hz),
  rectify, low-pass 5 Hz (the envelope), and a threshold (5 x the median
  envelope of the first minute, runs of at least 1 s): what one writes with
  BrainFlow for "EMG above rest", with no cramp detection. pyedflib's
  ``readSignal`` is the fastest whole-signal EDF reader here (edfio's
  ``read_edf`` takes longer).

Each child's wall time, CPU time (user + system) and peak resident memory
(``ru_maxrss`` of that child alone, from ``os.wait4``) are measured; every command runs ``--rounds`` times
(default 3), alternating, and the table shows the best wall and CPU times (on a
shared machine other work only adds time) and the largest peak memory.

    pip install '.[bench]'             # brainflow, pyedflib
    python benchmarks/peers_brainflow.py
    python benchmarks/peers_brainflow.py --hours 1 --rounds 1   # a quick look
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.path.join(ROOT, "build", "peers")


# --------------------------------------------------------------------------- the night

def night_path(hours: float, seed: int) -> str:
    return os.path.join(BUILD, f"night_{hours:g}h_2ch_1kHz_seed{seed}.edf")


def build_night(hours: float, seed: int = 1) -> str:
    """The simulated night as EDF+ (cached: built once per length and seed)."""
    path = night_path(hours, seed)
    done = path + ".done"
    if os.path.exists(path) and os.path.exists(done):
        return path
    from emgpipe import sim
    from emgpipe.night.edfplus import EdfPlusWriter
    os.makedirs(BUILD, exist_ok=True)
    t0 = time.perf_counter()
    s = sim.make("night", fs=1000, seed=seed, duration=hours * 3600.0)
    w = EdfPlusWriter(path, fs=s.fs, ch_names=s.ch_names, start_wall=1.7e9)
    try:
        for x in s.blocks(60.0):
            w.append(x)
            w.flush()
    finally:
        w.close()
    with open(done, "w") as f:
        f.write(f"{s.n_samples} samples, built in {time.perf_counter() - t0:.0f} s\n")
    print(f"built {path} ({os.path.getsize(path) / 1e6:,.0f} MB) in {time.perf_counter() - t0:.0f} s",
          file=sys.stderr)
    return path


# --------------------------------------------------------------------------- the BrainFlow script

def brainflow_script(path: str) -> int:
    """What a BrainFlow user writes for 'EMG above rest' on a recording."""
    import numpy as np
    import pyedflib
    from brainflow.data_filter import DataFilter, FilterTypes, NoiseTypes

    with pyedflib.EdfReader(path) as f:
        labels = f.getSignalLabels()
        chans = [i for i, lab in enumerate(labels) if "Annotations" not in lab]
        fs = int(round(f.getSampleFrequency(chans[0])))
        data = [f.readSignal(i) for i in chans]               # float64 µV, whole channel
    n_on, t_above = 0, 0.0
    for x in data:
        x = np.ascontiguousarray(x)
        DataFilter.perform_bandpass(x, fs, 20.0, 450.0, 4, FilterTypes.BUTTERWORTH.value, 0.0)
        DataFilter.remove_environmental_noise(x, fs, NoiseTypes.FIFTY_AND_SIXTY.value)
        np.abs(x, out=x)
        DataFilter.perform_lowpass(x, fs, 5.0, 4, FilterTypes.BUTTERWORTH.value, 0.0)
        above = x > 5.0 * np.median(x[:60 * fs])
        d = np.diff(above.astype(np.int8), prepend=0, append=0)
        on, off = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
        keep = (off - on) >= fs                                  # at least 1 s
        n_on += int(keep.sum())
        t_above += float((off - on)[keep].sum()) / fs
    print(f"brainflow: {len(data)} ch @ {fs} Hz, {n_on} episodes above 5x the rest envelope, "
          f"{t_above:.0f} s in all")
    return 0


# --------------------------------------------------------------------------- running

def run_child(argv):
    """(exit code, peak RSS MB of that child alone, wall s, stdout, CPU s)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace").strip()
    p.stdout.close()
    p.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        print(f"  ! {' '.join(argv[:4])}...: exit {code}: {err[-400:]}", file=sys.stderr)
    kb = usage.ru_maxrss if sys.platform != "darwin" else usage.ru_maxrss / 1024
    return code, kb / 1024.0, wall, out.decode(errors="replace").strip(), usage.ru_utime + usage.ru_stime


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=8.0, help="night length (default 8)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3, help="runs of each command, alternating (default 3)")
    ap.add_argument("--brainflow", metavar="EDF", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.brainflow:
        return brainflow_script(args.brainflow)
    path = build_night(args.hours, args.seed)
    py = sys.executable
    events = os.path.join(BUILD, os.path.basename(path) + ".events.csv")
    cmds = {
        "emgpipe replay (full detection)": [py, "-m", "emgpipe", "replay", path, "--mode", "sleep",
                                            "--events-out", events, "--no-progress"],
        "BrainFlow script (no detection)": [py, os.path.abspath(__file__), "--brainflow", path],
    }
    res = {k: [] for k in cmds}
    last = {}
    for r in range(args.rounds):
        for name, cmd in cmds.items():
            code, rss, wall, out, cpu = run_child(cmd)
            if code != 0:
                return 1
            res[name].append((wall, rss, cpu))
            last[name] = out.splitlines()[-1] if out else ""
            print(f"  round {r + 1}: {name}: {wall:.2f} s (CPU {cpu:.2f} s), peak RSS {rss:.0f} MB", file=sys.stderr,
                  flush=True)
    real_s = args.hours * 3600.0
    print(f"{args.hours:g} h night, 2 channels at 1 kHz, EDF+ ({os.path.getsize(path) / 1e6:,.0f} MB); "
          f"best of {args.rounds} alternating runs (python {sys.version.split()[0]}, {os.cpu_count()} cores)")
    print(f"{'':34s} {'wall s':>8s} {'CPU s':>8s} {'x real time':>12s} {'peak RSS MB':>12s}")
    best = {}
    for name, runs in res.items():
        wall = min(r[0] for r in runs)
        rss = max(r[1] for r in runs)
        cpu = min(r[2] for r in runs)
        best[name] = wall
        print(f"{name:34s} {wall:8.2f} {cpu:8.2f} {real_s / wall:12,.0f} {rss:12.0f}")
    e, b = best["emgpipe replay (full detection)"], best["BrainFlow script (no detection)"]
    print(f"ratio emgpipe / BrainFlow wall time: {e / b:.2f} ({'faster' if e < b else 'slower'}); "
          f"emgpipe per 1 kHz channel: {2 * real_s / e:,.0f}x real time")
    for name, line in last.items():
        print(f"  {name}: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
