"""OpenBCI Ganglion (4 channels, 200 Hz) over Bluetooth LE: everything in one place.

- :mod:`.protocol` - BLE packets, firmware 2 (delta) and 3 (absolute MSB) decoders
  (protocols.md §2); pure functions, no I/O.
- :mod:`.source` - :class:`~.source.GanglionSource`, the ``ganglion:NAME_OR_ADDRESS`` source.
- :mod:`.emulator` - :class:`~.emulator.GanglionEmulator`, a board streaming firmware-encoded
  notifications behind bleak's API (in-process: there is no radio, so no ``emgpipe emulate``).

``bleak`` is imported only when a Ganglion is opened.
"""
