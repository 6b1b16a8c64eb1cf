"""Terminal user interface: the live view shared by ``emgpipe live`` and ``emgpipe demo``.

Plain ANSI escape sequences (no curses, no extra dependency); see
:class:`~emgpipe.ui.live_view.LiveView`.
"""
from .live_view import LiveView  # noqa: F401
from .term import enable_ansi  # noqa: F401
