"""``emgpipe simulate SCENARIO --out PATH``: a labelled synthetic recording."""
from __future__ import annotations

import argparse
import time
from collections import Counter

from ..errors import UsageError


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "simulate", help="write a labelled synthetic sEMG recording",
        description="Write a synthetic surface-EMG recording (motor-unit-pool model, artefacts, device "
                    "model) as a recording CSV plus <stem>.labels.csv and <stem>.json beside it. "
                    "Same seed, same output. --list names the scenarios.")
    p.add_argument("scenario", nargs="?", help="scenario name (see --list)")
    p.add_argument("--out", metavar="PATH", help="recording CSV to write (.csv added if missing)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--fs", type=int, default=None, metavar="HZ",
                   help="sample rate; 250 alone means --device cyton, 200 --device ganglion "
                        "(default: the device's, raw 1000)")
    p.add_argument("--duration", type=float, default=None, metavar="S",
                   help="seconds of signal (default: the scenario's, e.g. 75 s walk_then_cramp, 8 h night)")
    p.add_argument("--device", default=None, choices=("raw", "cyton", "ganglion", "myoware_env"),
                   help="device model (default raw, or from --fs)")
    p.add_argument("--plot", nargs="?", const="", default=None, metavar="PNG",
                   help="also draw the signal with its labels (default <stem>.png)")
    p.add_argument("--list", action="store_true", help="list the scenarios and devices, then exit")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from .. import sim

    if args.list:
        width = max(map(len, sim.SCENARIOS))
        print("scenarios:")
        for name, desc in sim.SCENARIOS.items():
            print(f"  {name:{width}s}  {desc}")
        print("devices (--device):")
        for name, dev in sim.DEVICES.items():
            fs = f"{dev.default_fs} Hz" if dev.fixed_fs else f"default {dev.default_fs} Hz"
            print(f"  {name:{width}s}  {dev.description} ({fs})")
        return 0
    if not args.scenario:
        raise UsageError("simulate: give a SCENARIO (see emgpipe simulate --list)")
    if not args.out:
        raise UsageError("simulate: --out PATH is required")
    if args.scenario not in sim.SCENARIOS:
        raise UsageError(f"simulate: unknown scenario {args.scenario!r} (known: {', '.join(sim.SCENARIOS)})")
    try:
        s = sim.make(args.scenario, fs=args.fs, seed=args.seed, duration=args.duration, device=args.device)
    except ValueError as exc:
        raise UsageError(f"simulate: {exc}") from None
    t = time.monotonic()
    path = sim.write(s, args.out)
    took = time.monotonic() - t
    rec, lab, side = sim.stem_paths(args.out)
    counts = Counter(x.kind for x in s.labels)
    print(f"{rec}: {s.scenario} seed {s.seed}, {s.device} {s.fs:g} Hz, {s.duration_s:g} s, "
          f"{len(s.ch_names)} channels ({', '.join(s.ch_names)}), {s.mode}")
    print(f"{lab}: " + (", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no labels"))
    if s.gaps:
        print(f"  {len(s.gaps)} dropped-packet gap(s), {sum(g.n_missing for g in s.gaps)} samples missing")
    print(f"  written in {took:.1f} s")
    if args.plot is not None:
        from ..sim.plot import plot_simulation
        png = args.plot or str(rec.with_suffix(".png"))
        plot_simulation(s, png)
        print(f"{png}: plot")
    return 0 if path else 1
