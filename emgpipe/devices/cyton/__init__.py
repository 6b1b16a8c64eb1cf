"""OpenBCI Cyton (8 channels, 16 with the Daisy) through its USB dongle: everything in one place.

- :mod:`.protocol` - 33-byte packets, ``x...X`` channel settings, 24-bit counts to µV
  (protocols.md §1); pure functions, no I/O.
- :mod:`.source` - :class:`~.source.CytonSource`, the ``cyton:PORT`` source.
- :mod:`.emulator` - :class:`~.emulator.CytonEmulator`, a pseudo-terminal that speaks the
  dongle's protocol with simulated EMG (POSIX only); ``emgpipe emulate cyton``.
"""
