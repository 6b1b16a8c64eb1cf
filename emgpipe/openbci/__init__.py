"""OpenBCI boards: pure protocol code, stream bookkeeping and a Cyton emulator.

- :mod:`.cyton_protocol` - Cyton 33-byte packets, ``x...X`` channel settings,
  24-bit counts to µV (protocols.md §1).
- :mod:`.ganglion_protocol` - Ganglion BLE packets, firmware 2 (delta) and 3
  (absolute MSB) decoders (protocols.md §2).
- :mod:`.stream` - packet-counter unwrapping, gap-aware chunk assembly and
  disconnect bookkeeping shared by the live sources.
- :mod:`.emulator` - :class:`~.emulator.CytonEmulator`, a pseudo-terminal that
  speaks the Cyton dongle protocol (POSIX only).

The sources themselves are :class:`emgpipe.sources.cyton.CytonSource` and
:class:`emgpipe.sources.ganglion.GanglionSource`. Nothing here imports
``bleak``; the Ganglion source imports it only when it connects.
"""
