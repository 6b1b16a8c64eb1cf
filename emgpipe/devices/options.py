"""The one parser of source options (``cyton:/dev/ttyUSB0?stall_s=2&gain=24``).

Every live source declares its options as a dict ``name -> Option``; the
options all live sources share (:data:`LIVE`) have the same names everywhere:

=============  ==============================================================
``stall_s``    seconds without data before the link counts as lost
``reconnect_s`` seconds to keep reconnecting before giving up (``inf`` = forever)
``timeout_s``  seconds to wait for the device to answer (open, handshake)
``chunk_s``    how often chunks are cut / the port is read
``scan_s``     Bluetooth LE scan time (BLE sources)
``names``      channel names, in order (every source; CONTRACT.md "Sources")
=============  ==============================================================

The names the sources used before they shared this parser still work
(:data:`ALIASES`: ``stall``, ``reconnect``, ``handshake``, ``scan``,
``scan_timeout``, ``reply_timeout``, ``timeout``, ``read_s``). ``speed`` is
accepted and ignored (a live device runs in real time). An unknown option, or a
value of the wrong type, is one :class:`~emgpipe.errors.UsageError` naming the
source, the option and what is expected.

Examples
--------
>>> from emgpipe.devices.options import LIVE, parse_options
>>> parse_options("x:y", {"stall": "2", "reconnect": "inf", "speed": "3"}, LIVE)
{'stall_s': 2.0, 'reconnect_s': inf}
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Callable

from ..errors import UsageError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Option:
    """One option: ``parse(value) -> typed value`` (raises ``ValueError`` with what is
    expected) and a one-line help."""

    parse: Callable
    help: str = ""


def positive(value) -> float:
    """A number > 0."""
    try:
        v = float(str(value).strip()) if not isinstance(value, (int, float)) else float(value)
    except ValueError:
        raise ValueError("not a number (expected a number > 0)") from None
    if not v > 0 or math.isnan(v):
        raise ValueError("expected a number > 0")
    return v


def seconds_or_inf(value) -> float:
    """A positive number of seconds, or ``inf``/``forever``."""
    if str(value).strip().lower() in ("inf", "forever"):
        return math.inf
    return positive(value)


def whole(value) -> int:
    """A whole number > 0."""
    v = positive(value)
    if v != int(v):
        raise ValueError("expected a whole number > 0")
    return int(v)


def flag(value) -> bool:
    """``on/off``, ``true/false``, ``yes/no``, ``1/0``."""
    if isinstance(value, bool):
        return value
    s = str(value).strip().lower()
    if s in ("1", "true", "yes", "on"):
        return True
    if s in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected on or off (1/0, true/false)")


def names(value) -> tuple:
    """``"a, b,c"`` (or a sequence) -> ``("a", "b", "c")``."""
    items = value.split(",") if isinstance(value, str) else list(value)
    out = tuple(str(n).strip() for n in items)
    if not out or not all(out):
        raise ValueError("expected comma-separated channel names, e.g. names=calf_left,calf_right")
    return out


def choice(*allowed):
    """One of ``allowed`` (compared as lower-case text; numbers come back as ints)."""
    def parse(value):
        s = str(value).strip().lower()
        for a in allowed:
            if s == str(a):
                return a
        raise ValueError(f"expected {', '.join(str(a) for a in allowed[:-1])} or {allowed[-1]}")
    return parse


#: Options every live device source takes, under the same names.
LIVE = {
    "stall_s": Option(positive, "seconds without data before the link counts as lost"),
    "reconnect_s": Option(seconds_or_inf, "seconds to keep reconnecting (inf = forever)"),
    "timeout_s": Option(positive, "seconds to wait for the device to answer"),
    "chunk_s": Option(positive, "how often chunks are cut"),
}
#: Options of the Bluetooth LE sources, on top of :data:`LIVE`.
BLE = {**LIVE, "scan_s": Option(positive, "Bluetooth LE scan time, seconds")}

#: Older names of the shared options (each source had its own), still accepted.
ALIASES = {"stall": "stall_s", "reconnect": "reconnect_s", "handshake": "timeout_s",
           "reply_timeout": "timeout_s", "timeout": "timeout_s", "scan": "scan_s",
           "scan_timeout": "scan_s", "read_s": "chunk_s"}
#: Accepted and ignored by live sources (they run in real time).
IGNORED = ("speed",)


def parse_options(uri: str, options: dict, spec: dict, *, ignored=IGNORED) -> dict:
    """Typed ``{canonical name: value}`` from URI / command-line ``options``.

    ``None`` values are skipped (an option not given on the command line).
    """
    out = {}
    for key, value in options.items():
        if value is None:
            continue
        if key in ignored:
            log.debug("%s: option %s ignored (a live device runs in real time)", uri, key)
            continue
        name = key if key in spec else ALIASES.get(key, key)
        if name not in spec:
            raise UsageError(f"--source {uri}: unknown option {key!r} "
                             f"(known: {', '.join(sorted(spec))})")
        try:
            out[name] = spec[name].parse(value)
        except ValueError as err:
            raise UsageError(f"--source {uri}: option {key}={value!r}: {err}") from None
    return out
