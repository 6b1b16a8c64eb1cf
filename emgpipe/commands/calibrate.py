"""``emgpipe calibrate --source URI``: rest, then a brief maximal contraction -> per-user profile."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import UsageError


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "calibrate", help="record rest and a maximal contraction; write a per-user profile",
        description="Records REST_S seconds of rest, then MVC_S seconds during which you contract the "
                    "muscles as hard as you comfortably can (calf: push the balls of your feet down; "
                    "shin: pull your toes up), and writes a profile with each channel's rest and maximal "
                    "level, keyed by the source's channel names (name them with ?names=calf_left,...: "
                    "live, night and replay use the profile with --profile for the channels of the same "
                    "names, and warn when none match).")
    # not required by argparse: `emgpipe calibrate --show-path` (README) needs no source
    p.add_argument("--source", default=None, metavar="URI",
                   help="device or recording (see emgpipe live); required unless --show-path")
    p.add_argument("--out", default=None, metavar="PATH",
                   help="profile file (default: the per-user profile, see --show-path)")
    p.add_argument("--rest-s", type=float, default=10.0, help="seconds of rest (default 10)")
    p.add_argument("--mvc-s", type=float, default=5.0, help="seconds of contraction (default 5)")
    p.add_argument("--settle-s", type=float, default=2.0,
                   help="seconds ignored after each prompt while you relax or contract (default 2)")
    p.add_argument("--speed", default=None, help="for file:/sim: sources: max, realtime or a factor")
    p.add_argument("--model", default=None, help="model whose filters and windows are used")
    p.add_argument("--show-path", action="store_true", help="print the default profile path and exit")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from ..calibration import compute_profile, default_profile_path, window_rms
    from ..devices import open_source
    from ..pipeline import prepare_kernels_before

    if args.show_path:
        print(default_profile_path())
        return 0
    if not args.source:
        raise UsageError("calibrate: --source URI is required (a device, e.g. bridge:/dev/ttyACM0, or a "
                         "recording)")
    if args.rest_s < 3 or args.mvc_s < 2:
        raise UsageError("--rest-s must be >= 3 and --mvc-s >= 2")
    total = args.settle_s + args.rest_s + args.settle_s + args.mvc_s
    t_rest = (args.settle_s, args.settle_s + args.rest_s)
    t_mvc = (t_rest[1] + args.settle_s, total)
    prompts = [(0.0, f"Relax completely for {args.rest_s:g} s..."),
               (t_rest[1], f"Now CONTRACT as hard as you comfortably can for {args.settle_s + args.mvc_s:g} s "
                           f"(calf: push the balls of your feet down; shin: pull your toes up)..."),
               (total, "Done: relax.")]
    opts = {} if args.speed is None else {"speed": args.speed}
    src = open_source(args.source, **opts)
    # the kernels before the device streams (see live): compiled mid-stream, the prompt
    # to contract would come late against the wearer's muscle and miss the contraction
    prepare_kernels_before("calibrate")
    collected = []

    def chunks():
        nonlocal prompts
        with src:
            t0 = None
            for c in src:
                if t0 is None:
                    t0 = c.start_s
                while prompts and c.end_s - t0 >= prompts[0][0]:
                    print(prompts.pop(0)[1], flush=True)
                collected.append(c)
                yield c
                if c.end_s - t0 >= total:
                    break
    end_s, rms, names, fs = window_rms(chunks(), args.model, source=src)
    if len(end_s) == 0:
        raise UsageError(f"--source {args.source}: no signal arrived")
    t0 = collected[0].start_s
    prof = compute_profile(end_s - t0, rms, names, fs, t_rest, t_mvc, source=args.source,
                           model=args.model or "default")
    for p in prompts:
        print(p[1])
    out = Path(args.out) if args.out else default_profile_path()
    prof.save(out)
    for name, v in prof.channels.items():
        print(f"  {name}: rest {v['rest_uv']:.1f} µV RMS, maximal {v['mvc_uv']:.0f} µV RMS "
              f"({v['mvc_uv'] / v['rest_uv']:.0f}x)")
    print(f"profile written to {out}", file=sys.stderr)
    return 0
