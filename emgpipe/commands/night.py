"""``emgpipe night --source URI --out DIR [--duration S]``: overnight logging.

Writes into DIR the raw EMG as EDF+ (BDF+ for 24-bit sources) files rotated
at least hourly, with cramps and fasciculations as annotations, and one
SQLite database (``emgpipe-night.sqlite``) holding the night's metadata and
every event as soon as it is announced, the alerts, gaps and disconnects.
Ctrl-C (or SIGTERM) stops cleanly; a hard kill loses at most the last couple
of seconds of raw signal and no announced event. A full disk stops the raw
files (one line on stderr, exit code 5 at the end) while detection, alerts and
the events database go on. See :mod:`emgpipe.night`.
"""
from __future__ import annotations

import argparse
import logging
import sys

from ..errors import StorageError, UsageError
from ..session import stop_on_signals

log = logging.getLogger(__name__)


def register(sub) -> argparse.ArgumentParser:
    from ..alerts import add_alert_arguments
    p = sub.add_parser(
        "night", help="log a night: raw EMG files, events database, stretch alerts",
        description="Overnight logging from a device (or a file:/sim: source): raw EMG as EDF+/BDF+ "
                    "files rotated at least hourly with events as annotations, and one SQLite database "
                    "whose events table holds every event as soon as it is announced. Survives "
                    "disconnects (reconnects, records the gap), Ctrl-C and a hard kill. Then run "
                    "'emgpipe report DIR'. Not a medical device.")
    p.add_argument("--source", required=True, metavar="URI",
                   help="cyton:PORT, ganglion:NAME, bridge:PORT, bridge-ble:NAME, file:PATH, sim:SCENARIO")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the raw files and the database")
    p.add_argument("--duration", type=float, default=None, metavar="S",
                   help="stop after S seconds of signal (default: until Ctrl-C or the source ends)")
    p.add_argument("--speed", default=None,
                   help="for file:/sim: sources: realtime (default), max or a factor")
    p.add_argument("--mode", choices=("sleep", "awake", "auto"), default="auto",
                   help="detector mode (auto: the source's, else sleep)")
    p.add_argument("--model", default=None, metavar="NAME_OR_PATH", help="detector model (default: default)")
    p.add_argument("--profile", default=None, metavar="FILE",
                   help="calibration profile (JSON, from emgpipe calibrate); recorded with the night")
    p.add_argument("--answers", default=None, metavar="FILE",
                   help="the wearer's answers to cramp alerts, read by the detector; the bridge button's "
                        "answers are appended (default: answers.json in the configuration folder)")
    p.add_argument("--format", dest="raw_format", choices=("auto", "edf", "bdf"), default="auto",
                   help="raw file format (auto: BDF+ for 24-bit devices such as the Cyton, else EDF+)")
    p.add_argument("--range-uv", type=float, default=None, metavar="UV",
                   help="physical range of the raw files, ±UV (default: the ADC's full scale for BDF+, "
                        "±10000 for EDF+)")
    p.add_argument("--rotate-s", type=float, default=3600.0, metavar="S",
                   help="start a new raw file every S seconds of signal (default 3600)")
    p.add_argument("--flush-s", type=float, default=2.0, metavar="S",
                   help="write raw data to disk every S seconds of signal (default 2)")
    p.add_argument("--no-reconnect", action="store_true",
                   help="stop when the source gives up instead of reopening it")
    p.add_argument("--print-events", action="store_true",
                   help="print a line per announced event (onset and final) once it is in the database")
    add_alert_arguments(p)
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from ..answers import load_answers
    from ..night.recorder import NightRecorder, echo_stdout, load_profile
    from ..devices.base import parse_speed
    from ..pipeline import prepare_kernels_before

    if args.duration is not None and not args.duration > 0:
        raise UsageError(f"--duration {args.duration:g}: must be positive")
    profile = None
    if args.profile:
        from ..calibration import Profile
        profile = load_profile(args.profile)
        Profile.load(args.profile)     # checked as live and replay check it (rest_uv < mvc_uv...)
    speed = None
    if args.speed is not None:
        speed = parse_speed(args.speed)
        speed = "max" if speed is None else speed
    rec = NightRecorder(
        args.source, args.out, duration_s=args.duration, speed=speed, model=args.model, mode=args.mode,
        alerts=args, raw_format=args.raw_format, range_uv=args.range_uv, rotate_s=args.rotate_s,
        flush_s=args.flush_s, profile=profile,
        profile_path=args.profile,
        reconnect=not args.no_reconnect, echo=echo_stdout if args.print_events else None,
        answers=load_answers(args.answers), answers_path=args.answers,
        on_warning=lambda line: print(f"emgpipe: {line}", file=sys.stderr, flush=True),
        on_start=lambda line: print(f"{line}. Ctrl-C stops. Not a medical device.", flush=True))
    def stop():
        print("emgpipe: stopping (finishing the files)...", file=sys.stderr, flush=True)
        rec.stop()

    # the kernels before the device streams (see live): the first night after an install
    # would otherwise compile them while the device's samples queue up
    prepare_kernels_before("night")
    with stop_on_signals(stop):   # first Ctrl-C/SIGTERM: clean stop; a second one aborts
        result = rec.run()
    print(result.summary(), flush=True)
    print(f"morning report: emgpipe report {args.out}", flush=True)
    # raw EMG stopped early (full disk): said on stderr when it happened; the exit code says it too
    return StorageError.exit_code if result.extra.get("raw_stopped") else 0
