"""Choosing the alert sinks: command-line flags and a TOML file.

Command line (see :func:`add_alert_arguments`)::

    --alert terminal,sound,desktop,haptic,webhook,command   (or none; repeatable)
    --alerts-config FILE     sinks and their options from a TOML file
    --webhook-url URL        shorthand for the [webhook] url (adds the webhook sink)
    --alert-command CMD      shorthand for [command] argv, split like a shell (adds it)
    --reminder-s S           one reminder if the cramp still runs S s after its start
    --no-bell                terminal alerts without the bell

Sinks named by ``--alert`` are used with the options of their section in the
file (if any); without ``--alert`` every section of the file is used unless it
says ``enabled = false``. With neither, alerts go to the terminal.
``--alert none`` turns them all off.

Configuration file (every key optional)::

    reminder_s = 30          # one reminder after this many seconds of cramp
    refractory_s = 10        # a new onset this soon after the end is the same cramp

    [terminal]
    bell = true

    [sound]                  # a beep pattern made locally; needs afplay/paplay/aplay or Windows
    frequency_hz = 880
    beep_s = 0.18
    volume = 0.6

    [desktop]                # notify-send (Linux), osascript (macOS), toast (Windows)
    urgency = "critical"

    [haptic]                 # the firmware bridge's motor: needs --source bridge:... or bridge-ble:...
    ms = 600
    strength = 255

    [webhook]                # HTTP POST of the alert as JSON
    url = "https://example.org/hooks/emgpipe"
    timeout_s = 5
    retries = 2
    backoff_s = 1
    headers = { Authorization = "Bearer ..." }   # never logged

    [command]                # run a program, no shell; placeholders such as {headline}
    argv = ["/usr/local/bin/cramp-alert", "{channel}", "{message}"]
    timeout_s = 30
"""
from __future__ import annotations

import argparse
import os
import shlex
import tomllib
from pathlib import Path

from ..errors import ConfigError, UsageError
from . import sinks as S
from .manager import REFRACTORY_S, REMINDER_S, AlertManager

#: Sink name -> (class, allowed options). Order = the order sinks are built.
SINKS = {
    "terminal": (S.TerminalSink, ("bell",)),
    "sound": (S.SoundSink, ("frequency_hz", "beep_s", "volume", "player", "timeout_s")),
    "desktop": (S.DesktopSink, ("urgency", "timeout_s")),
    "haptic": (S.HapticSink, ("ms", "strength")),
    "webhook": (S.WebhookSink, ("url", "timeout_s", "retries", "backoff_s", "headers")),
    "command": (S.CommandSink, ("argv", "timeout_s")),
}
TOP_LEVEL = ("reminder_s", "refractory_s")

_NUM = "a number"


def _number(lo=None, hi=None, lo_open=False, integer=False):
    """A check: (value -> ok?, what is expected)."""
    kind = "a whole number" if integer else _NUM
    rng = ""
    if lo is not None and hi is not None:
        rng = f" from {lo:g} to {hi:g}"
    elif lo is not None:
        rng = " above 0" if lo_open and lo == 0 else f" of at least {lo:g}"

    def ok(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not isinstance(v, int)):
            return False
        if v != v:
            return False
        if lo is not None and (v <= lo if lo_open else v < lo):
            return False
        return hi is None or v <= hi
    return ok, kind + rng


def _strings(v):
    return isinstance(v, str) or (isinstance(v, list) and bool(v) and all(isinstance(x, str) for x in v))


#: Option -> (check, what is expected), for every sink option and top-level key.
OPTION_CHECKS = {
    "enabled": (lambda v: isinstance(v, bool), "true or false"),
    "bell": (lambda v: isinstance(v, bool), "true or false"),
    "frequency_hz": _number(20, 20000),
    "beep_s": _number(0, 10, lo_open=True),
    "volume": _number(0, 1),
    "player": (_strings, "a program, as a string or a list of strings"),
    "timeout_s": _number(0, lo_open=True),
    "urgency": (lambda v: v in ("low", "normal", "critical"), '"low", "normal" or "critical"'),
    "ms": _number(1, 5000, integer=True),
    "strength": _number(0, 255, integer=True),
    "url": (lambda v: isinstance(v, str) and v.startswith(("http://", "https://")), "an http(s):// URL"),
    "retries": _number(0, integer=True),
    "backoff_s": _number(0),
    "headers": (lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
                "a table of strings"),
    "argv": (_strings, "a command, as a list of strings (or one string)"),
    "reminder_s": _number(0),
    "refractory_s": _number(0),
}


def _check_value(path, where: str, key: str, value) -> None:
    check = OPTION_CHECKS.get(key)
    if check is not None and not check[0](value):
        shown = repr(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) \
            else value
        raise ConfigError(f"{path}: {where}{key} = {shown}: expected {check[1]}")


def load_config(path: str | os.PathLike) -> dict:
    """Read and check an alerts TOML file; errors name the file and the key."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the alerts config ({err.strerror or err})") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML ({err})") from None
    for key, value in data.items():
        if key in TOP_LEVEL:
            if not OPTION_CHECKS[key][0](value):
                raise ConfigError(f"{path}: {key} must be a non-negative number of seconds")
            continue
        if key not in SINKS:
            raise ConfigError(f"{path}: unknown section or key {key!r} (sections: "
                              f"{', '.join(SINKS)}; keys: {', '.join(TOP_LEVEL)})")
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: {key} must be a [{key}] table")
        allowed = SINKS[key][1] + ("enabled",)
        for opt in value:
            if opt not in allowed:
                raise ConfigError(f"{path}: [{key}] unknown option {opt!r} (allowed: {', '.join(allowed)})")
            _check_value(path, f"[{key}] ", opt, value[opt])
    data["_path"] = str(path)
    return data


def add_alert_arguments(parser: argparse.ArgumentParser, default: str = "terminal") -> None:
    """Add the alert options to a command's parser (``live``, ``demo``, ``night``)."""
    g = parser.add_argument_group("alerts")
    g.add_argument("--alert", action="append", metavar="SINKS", default=None,
                   help=f"where alerts go: comma list of {', '.join(SINKS)}, or none "
                        f"(repeatable; default: the config file's sections, else {default})")
    g.add_argument("--alerts-config", metavar="FILE", default=None,
                   help="TOML file with alert sinks and options (see emgpipe.alerts.config)")
    g.add_argument("--webhook-url", metavar="URL", default=None,
                   help="POST each alert as JSON to URL (adds the webhook sink)")
    g.add_argument("--alert-command", metavar="CMD", default=None,
                   help="run CMD for each alert, e.g. 'my-alert {channel} {headline}' (adds it)")
    g.add_argument("--reminder-s", type=float, metavar="S", default=None,
                   help=f"one reminder if a cramp lasts S s (default {REMINDER_S:g}; 0 = none)")
    g.add_argument("--no-bell", action="store_true", help="terminal alerts without the bell")
    parser.set_defaults(alert_default=default)


def _chosen(args, config: dict) -> list[str]:
    names = []
    for item in getattr(args, "alert", None) or ():
        for n in str(item).split(","):
            n = n.strip().lower()
            if not n:
                continue
            if n != "none" and n not in SINKS:
                raise UsageError(f"--alert {n!r}: unknown sink (known: {', '.join(SINKS)}, none)")
            names.append(n)
    if "none" in names:
        if len(set(names)) > 1:
            raise UsageError("--alert none cannot be combined with other sinks")
        return []
    explicit = bool(names)
    if not explicit:
        names = [k for k in SINKS if isinstance(config.get(k), dict) and config[k].get("enabled", True)]
    if getattr(args, "webhook_url", None):
        names.append("webhook")
    if getattr(args, "alert_command", None):
        names.append("command")
    if not names and not explicit:
        names = [getattr(args, "alert_default", "terminal")]
    return [k for k in SINKS if k in names]  # dedupe, fixed order


def build_sinks(args=None, config: dict | None = None, bridge=None) -> list:
    """The sinks asked for by ``args`` (from :func:`add_alert_arguments`) and/or a config.

    Parameters
    ----------
    args : argparse.Namespace, optional
        Parsed alert options; ``args.alerts_config`` is loaded if given.
    config : dict, optional
        An already-loaded config (as :func:`load_config` returns).
    bridge : object, optional
        The source, for the haptic sink (anything with ``send_buzz(ms)``).
    """
    args = args if args is not None else argparse.Namespace()
    if config is None:
        path = getattr(args, "alerts_config", None)
        config = load_config(path) if path else {}
    where = config.get("_path", "alerts config")
    out = []
    for name in _chosen(args, config):
        cls, _ = SINKS[name]
        opts = {k: v for k, v in dict(config.get(name) or {}).items() if k != "enabled"}
        if name == "terminal" and getattr(args, "no_bell", False):
            opts["bell"] = False
        if name == "webhook" and getattr(args, "webhook_url", None):
            opts["url"] = args.webhook_url
        if name == "command" and getattr(args, "alert_command", None):
            try:
                opts["argv"] = shlex.split(args.alert_command, posix=os.name != "nt")
            except ValueError as err:
                raise UsageError(f"--alert-command: {err}") from None
        if name == "webhook" and "url" not in opts:
            raise UsageError(f"--alert webhook needs --webhook-url or [webhook] url in {where}")
        if name == "command" and "argv" not in opts:
            raise UsageError(f"--alert command needs --alert-command or [command] argv in {where}")
        if name == "haptic":
            out.append(cls(bridge, **opts))
            continue
        try:
            out.append(cls(**opts))
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{where}: [{name}] {err}") from None
    return out


def build_alert_manager(args=None, bridge=None, **kw) -> AlertManager:
    """An :class:`AlertManager` with the sinks and timings ``args`` ask for.

    ``kw`` is passed on (``on_alert``, ``on_result``).
    """
    args = args if args is not None else argparse.Namespace()
    path = getattr(args, "alerts_config", None)
    config = load_config(path) if path else {}
    reminder = getattr(args, "reminder_s", None)
    if reminder is None:
        reminder = config.get("reminder_s", REMINDER_S)
    if reminder is not None and reminder < 0:
        raise UsageError(f"--reminder-s {reminder:g}: must be >= 0")
    return AlertManager(build_sinks(args, config, bridge), reminder_s=reminder or None,
                        refractory_s=config.get("refractory_s", REFRACTORY_S), **kw)
