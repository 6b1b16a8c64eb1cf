"""``emgpipe live --source URI``: live monitoring with the live view, alerts and the events file.

A thin layer over the public API: the options become :func:`emgpipe.open_source`,
:func:`emgpipe.build_pipeline` arguments and a :class:`emgpipe.session.Session`
(which says what runs where, the output and how a session stops). ``--duration
S`` stops after S seconds of signal; Ctrl-C (or SIGTERM) stops cleanly with a
complete events file and exit code 0; a device lost for good ends with the
same clean close, then its one-line error and exit code.
"""
from __future__ import annotations

import argparse
import sys
import time

from ..errors import UsageError


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "live", help="live monitoring from a device, with the live view and stretch alerts",
        description="Monitor a live source (cyton:PORT, ganglion:NAME, bridge:PORT, bridge-ble:NAME, "
                    "lsl:STREAM, file:PATH, sim:SCENARIO) through the detection pipeline, with the "
                    "live view and stretch alerts. Ctrl-C stops cleanly. Not a medical device.")
    p.add_argument("--source", required=True, metavar="URI",
                   help="e.g. cyton:/dev/ttyUSB0, cyton:COM3, lsl:MyStream, sim:walk_then_cramp")
    p.add_argument("--duration", type=float, default=None, metavar="S",
                   help="stop after S seconds of signal (sample time)")
    p.add_argument("--events-out", default=None, metavar="FILE",
                   help="write the events CSV here as events become final")
    p.add_argument("--no-ui", action="store_true",
                   help="no live view: one line per event (also when stdout is not a terminal)")
    p.add_argument("--model", default=None, metavar="NAME_OR_PATH", help="detector model (default: default)")
    p.add_argument("--mode", choices=("awake", "sleep"), default=None,
                   help="detector mode (default: the source's, else awake)")
    p.add_argument("--speed", default=None,
                   help="file: and sim: sources: realtime (default), max or a factor; devices ignore it")
    p.add_argument("--profile", default=None, metavar="FILE",
                   help="calibration profile from emgpipe calibrate (its channel names must be the "
                        "source's: name them with ?names=...)")
    p.add_argument("--answers", default=None, metavar="FILE",
                   help="the wearer's answers to cramp alerts, read by the detector and appended to by "
                        "the n / c keys and the bridge button (default: answers.json in the "
                        "configuration folder, beside the calibration profile)")
    p.add_argument("--lsl-out", nargs="?", const="emgpipe", default=None, metavar="NAME",
                   help="also publish events (JSON markers) and the RMS envelope on LSL as "
                        "NAME-events / NAME-envelope (default name emgpipe; needs pylsl)")
    from ..alerts import add_alert_arguments
    add_alert_arguments(p)
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from ..answers import load_answers
    from ..devices import open_source
    from ..pipeline import build_pipeline, prepare_kernels_before
    from ..session import Session
    from ..ui import enable_ansi
    if args.duration is not None and not args.duration > 0:
        raise UsageError(f"--duration {args.duration:g}: must be positive")
    options = {"speed": args.speed} if args.speed is not None else {}
    profile = None
    if args.profile:
        from ..calibration import Profile
        profile = Profile.load(args.profile)     # a bad file fails before the device opens
    src = open_source(args.source, **options)
    # the kernels before the device streams: compiled mid-stream (first session after
    # an install), its samples would queue up and the first alert come seconds late
    prepare_kernels_before("live")
    src.open()  # a missing port, no device, permission denied: one line from the CLI
    try:
        ui = not args.no_ui and enable_ansi(sys.stdout)
        pipeline = build_pipeline(src, mode=args.mode, model=args.model, profile=profile,
                                  profile_path=args.profile, answers=load_answers(args.answers))
        session = Session(src, pipeline, events_out=args.events_out, ui=ui, lsl_out=args.lsl_out,
                          duration_s=args.duration, alert_args=args, answers_path=args.answers)
        t0 = time.monotonic()
        try:
            session.run()
        finally:
            print(session.summary() + f" [{time.monotonic() - t0:.1f} s wall]", file=sys.stderr)
    finally:
        src.close()
    return 0
