"""Recording readers, one module per format (registry filled in by emgpipe.io.registry)."""
from .base import Recording  # noqa: F401
from .registry import find_recordings, read_recording  # noqa: F401
