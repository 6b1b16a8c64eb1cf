"""Detectors: Features/Chunks in, :class:`~emgpipe.types.Event` out."""
