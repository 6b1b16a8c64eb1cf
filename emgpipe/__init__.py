"""emgpipe: streaming surface-EMG cramp detection.

Not a medical device: alerts prompt a stretch, they do not diagnose.
"""
__version__ = "0.1.0"

from .types import Chunk, Event, Gap, EVENT_KINDS  # noqa: E402,F401
