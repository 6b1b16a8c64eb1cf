"""Signal sources, one backend per transport behind a factory keyed by URI scheme.

Backends are imported lazily, so ``bleak`` or ``pylsl`` load only when a
``ganglion:``/``bridge-ble:``/``lsl:`` source is actually opened.
"""
from __future__ import annotations

import importlib
from urllib.parse import parse_qsl

from ..errors import UsageError
from . import options
from .base import Source

#: scheme -> "module:Class" (module relative to emgpipe.devices)
BACKENDS: dict[str, str] = {
    "file": "file:FileSource",
    "sim": "sim:SimSource",
    "cyton": "cyton.source:CytonSource",
    "ganglion": "ganglion.source:GanglionSource",
    "bridge": "bridge.source:BridgeSerialSource",
    "bridge-ble": "bridge.source:BridgeBleSource",
    "lsl": "lsl.source:LslSource",
}


def parse_uri(uri: str) -> tuple[str, str, dict]:
    """Split ``scheme:target?key=value&...``.

    Only the first ``:`` separates the scheme, so Windows ports and paths work
    (``cyton:COM3``, ``file:C:\\data\\night.edf``).

    >>> parse_uri("sim:walk_then_cramp?speed=10&seed=3")
    ('sim', 'walk_then_cramp', {'speed': '10', 'seed': '3'})
    >>> parse_uri("file:C:\\\\rec\\\\a.csv")[1]
    'C:\\\\rec\\\\a.csv'
    """
    if ":" not in uri:
        raise UsageError(f"--source {uri!r}: expected SCHEME:TARGET, e.g. cyton:/dev/ttyUSB0, "
                         f"file:night.edf or sim:walk_then_cramp")
    scheme, rest = uri.split(":", 1)
    scheme = scheme.lower()
    query = {}
    if "?" in rest:
        rest, q = rest.rsplit("?", 1)
        query = dict(parse_qsl(q, keep_blank_values=True))
    return scheme, rest, query


#: Schemes whose backend takes ``names`` itself (the bridge names its RAW channels).
OWN_NAMES = ("bridge", "bridge-ble")


def parse_names(value, uri: str = "") -> tuple:
    """``"a, b,c"`` (or a sequence) -> ``("a", "b", "c")``.

    >>> parse_names("calf_left, calf_right")
    ('calf_left', 'calf_right')
    """
    try:
        return options.names(value)
    except ValueError as err:
        raise UsageError(f"--source {uri}: names={value!r}: {err}") from None


def open_source(uri: str, **options) -> Source:
    """Create the source for ``uri``; ``options`` override URI query values.

    Every source takes ``names=a,b,...`` to name its channels in order
    (CONTRACT.md "Sources"); a count that differs from the device's channels
    is a one-line :class:`UsageError` when the source opens.
    """
    scheme, target, query = parse_uri(uri)
    if scheme not in BACKENDS:
        known = ", ".join(sorted(BACKENDS))
        raise UsageError(f"--source {uri!r}: unknown source type '{scheme}' (known: {known})")
    mod_name, cls_name = BACKENDS[scheme].split(":")
    cls = getattr(importlib.import_module(f"{__name__}.{mod_name}"), cls_name)
    query.update({k: v for k, v in options.items() if v is not None})
    names = query.pop("names", None) if scheme not in OWN_NAMES else None
    src = cls.from_uri(target, **query)
    if names is not None:
        src.use_names(parse_names(names, uri))
    return src
