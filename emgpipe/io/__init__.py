"""Recording readers, one module per format (registry filled in by emgpipe.io.registry)."""
from .base import Recording  # noqa: F401
