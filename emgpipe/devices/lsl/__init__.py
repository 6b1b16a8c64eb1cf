"""Lab Streaming Layer: :class:`~.source.LslSource`, the ``lsl:STREAM_NAME`` source (needs pylsl)."""
