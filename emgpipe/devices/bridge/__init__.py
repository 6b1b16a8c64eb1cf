"""MyoWare 2.0 through our own firmware (``firmware_bridge/``): protocol codec, sources, emulator.

- :mod:`.protocol`: frames (COBS, CRC-16/CCITT-FALSE, sequence counters), encoder and
  streaming :class:`~.protocol.FrameDecoder`.
- :mod:`.source`: ``bridge:`` (USB serial) and ``bridge-ble:`` (BLE) sources.
- :mod:`.emulator`: a software device on a pseudo-terminal, for tests and demos.

Nothing here imports ``bleak`` until a BLE source opens.
"""
from .protocol import FrameDecoder, PROTOCOL_VERSION  # noqa: F401
from .source import BridgeBleSource, BridgeSerialSource  # noqa: F401
