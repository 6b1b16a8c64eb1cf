"""The ``emgpipe`` command line.

Each command lives in ``emgpipe/commands/<name>.py`` and exposes
``register(subparsers) -> argparse.ArgumentParser`` whose parser sets
``func=run`` (``run(args) -> int`` exit code). A command is listed in
:data:`COMMANDS` only once it works.

Errors: any :class:`~emgpipe.errors.EmgpipeError` becomes one line on stderr
(``emgpipe: <message>``) and its ``exit_code``; anything else is a bug and
prints a traceback only with ``--debug``.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from . import __version__
from .errors import EmgpipeError

COMMANDS = (
    "demo",
    "replay",
    "calibrate",
    "simulate",
    "bench",
    "live",
    "emulate",
    "night",
    "report",
    "nights",
    "label",
)


class _Parser(argparse.ArgumentParser):
    """argparse with the contract's one-line usage errors (exit 2)."""

    def error(self, message):
        self.exit(2, f"emgpipe {self.prog.split(' ', 1)[-1] if ' ' in self.prog else ''}: {message}\n"
                  .replace("emgpipe : ", "emgpipe: "))


def command_of(argv) -> str | None:
    """The command ``argv`` names (its first word that is not an option), if it is one of
    :data:`COMMANDS`; None otherwise (no command, ``--help``, a misspelt one)."""
    for a in argv:
        if not a.startswith("-"):
            return a if a in COMMANDS else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command-line parser: every command's, or ``only`` that one's. Registering a
    command imports what its options come from (the alert sinks, the device emulators:
    ~0.2 s together), which a replay need not pay (issue 15); the list of commands in
    ``emgpipe --help`` and a misspelt command's error register them all."""
    parser = _Parser(prog="emgpipe", description=(
        "Streaming surface-EMG cramp detection. Not a medical device: alerts prompt "
        "a stretch, they do not diagnose."))
    parser.add_argument("--version", action="version", version=f"emgpipe {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("-v", "--verbose", action="store_true", help="show info logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS if only is None else (only,):
        mod = importlib.import_module(f".commands.{name}", __package__)
        p = mod.register(sub)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show tracebacks and debug logs")
    return parser


def main(argv=None) -> int:
    parser = build_parser(command_of(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s")
    # streamz logs every exception raised inside the graph with its traceback
    # before re-raising it; the error reaches the user as one line below
    logging.getLogger("streamz.core").setLevel(logging.DEBUG if debug else logging.CRITICAL)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except EmgpipeError as err:
        if debug:
            raise
        print(f"emgpipe: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("emgpipe: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as err:  # a bug: one line unless --debug
        if debug:
            raise
        print(f"emgpipe: internal error: {type(err).__name__}: {err} (run with --debug for details)",
              file=sys.stderr)
        return 70


if __name__ == "__main__":
    sys.exit(main())
