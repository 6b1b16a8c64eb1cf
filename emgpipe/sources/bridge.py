"""``bridge:`` / ``bridge-ble:`` backends (implemented in :mod:`emgpipe.bridge`)."""
from ..bridge.source import BridgeBleSource, BridgeSerialSource  # noqa: F401
