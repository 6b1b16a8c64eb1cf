"""Lab Streaming Layer (needs pylsl): everything in one place.

- :mod:`.source` - :class:`~.source.LslSource`, the ``lsl:STREAM_NAME`` source.
- :mod:`.emulator` - :class:`~.emulator.LslEmulator`, an outlet streaming a recording or a
  simulation; ``emgpipe emulate lsl``.
"""
