"""The pattern every stateful processing step follows (see DESIGN.md).

A step is a frozen ``Settings`` dataclass, a small ``State`` and two pure
functions ``init(settings, chunk) -> state`` and ``step(settings, state, chunk)
-> (state, out)``. :class:`Stateful` wraps them into a callable that resets its
state when the stream's layout (fs, channel names, source) changes or the
sample index jumps (a gap): after a gap, filters restart from the first new
sample instead of ringing across the hole. Gaps only ever fall on chunk
boundaries, so this reset is itself chunk-invariant.
"""
from __future__ import annotations

from typing import Any, Callable

from ..types import Chunk


class Stateful:
    """Callable wrapper: ``out = obj(chunk)``; ``obj.state`` is inspectable.

    Parameters
    ----------
    settings : frozen dataclass
    init : callable(settings, chunk) -> state
        Called on the first non-empty chunk, after a layout change and after a gap.
    step : callable(settings, state, chunk) -> (state, out)
    empty : callable(settings, chunk) -> out
        Output for an empty chunk arriving before any state exists.
    reset_on_gap : bool
    """

    def __init__(self, settings, init: Callable, step: Callable, empty: Callable,
                 reset_on_gap: bool = True):
        self.settings = settings
        self._init, self._step, self._empty = init, step, empty
        self.reset_on_gap = reset_on_gap
        self.state: Any = None
        self._layout = None
        self._next_seq = None

    def reset(self):
        self.state, self._layout, self._next_seq = None, None, None

    def __call__(self, chunk: Chunk):
        layout = chunk.layout()
        if self.state is not None and (
                layout != self._layout
                or (self.reset_on_gap and chunk.seq != self._next_seq)):
            self.reset()
        if self.state is None:
            if chunk.n_samples == 0:
                return self._empty(self.settings, chunk)
            self.state = self._init(self.settings, chunk)
            self._layout = layout
        self.state, out = self._step(self.settings, self.state, chunk)
        self._next_seq = chunk.next_seq
        return out

    def __repr__(self):
        return f"{type(self).__name__}({self.settings!r})"
