"""``emgpipe demo``: the main job with no hardware.

A simulated walk that ends in a calf cramp streams through the live pipeline
at real speed (``--fast``: max speed) with the live view; the cramp raises the
stretch alert. Uses exactly the code ``emgpipe live`` uses, with the ``sim:``
source in place of a device.
"""
from __future__ import annotations

import argparse
import sys
import time

#: The demo's scenario and seed: a ~75 s walk, then a right-calf cramp.
SCENARIO, SEED = "walk_then_cramp", 2


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "demo", help="simulated walk ending in a calf cramp, streamed live with the stretch alert",
        description="Streams a simulated walk that ends in a calf cramp through the live pipeline at real "
                    "speed, with the live view, and fires the stretch alert. No hardware needed. "
                    "Not a medical device: alerts prompt, they do not diagnose.")
    p.add_argument("--fast", action="store_true", help="run at max speed instead of real time")
    p.add_argument("--seed", type=int, default=SEED, help=f"simulation seed (default {SEED})")
    p.add_argument("--fs", type=int, default=None, help="sample rate (default 1000; 250 = Cyton, 200 = Ganglion)")
    p.add_argument("--no-ui", action="store_true", help="plain lines instead of the live view")
    p.add_argument("--events-out", default=None, metavar="FILE", help="also write the events CSV")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from ..devices.sim import SimSource
    from ..pipeline import build_pipeline, prepare_kernels_before
    from ..session import Session
    from ..ui import enable_ansi

    src = SimSource(SCENARIO, seed=args.seed, fs=args.fs, speed=None if args.fast else 1.0,
                    chunk_s=0.05 if not args.fast else 1.0)
    cramps = [lab for lab in src.labels if lab.kind == "cramp"]
    print(f"emgpipe demo: {src.sim.duration_s:.0f} s of simulated surface EMG from both calves "
          f"({src.fs:g} Hz): a walk, a pause, then a cramp in one calf"
          f"{' (at real speed; --fast to skip ahead)' if not args.fast else ''}. "
          f"Not a medical device.", flush=True)
    if not args.fast:   # at real speed the walk must not wait for a first compile (see live)
        prepare_kernels_before("demo")
    src.open()
    try:
        ui = not args.no_ui and enable_ansi(sys.stdout)
        # a simulation: the n / c keys work, but answers are not saved in the wearer's profile
        session = Session(src, build_pipeline(src, mode="awake"), events_out=args.events_out, ui=ui,
                          answers_path=False)
        t0 = time.monotonic()
        session.run()
    finally:
        src.close()
    n = session.final.get("cramp", 0)
    truth = ", ".join(f"{c.channel} from {c.start_s:.1f} s" for c in cramps)
    print(session.summary() + f" [{time.monotonic() - t0:.1f} s wall]")
    print(f"demo: {n} cramp alert(s); the simulation put a cramp on {truth}.")
    return 0
