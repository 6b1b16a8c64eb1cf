"""Sliding windows counted in samples, with the remainder carried across chunks.

Windows start on a grid ``origin + k * hop`` (samples) where ``origin`` is the
first sample of the stream, or the first sample after a gap: no window ever
spans lost samples. Length and hop are given in seconds and rounded to samples
from the stream's fs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..types import Chunk
from .stateful import Stateful


@dataclass(frozen=True)
class WindowSettings:
    length_s: float = 0.25
    hop_s: float = 0.125

    def samples(self, fs: float) -> tuple[int, int]:
        n_len = max(2, int(round(self.length_s * fs)))
        n_hop = max(1, int(round(self.hop_s * fs)))
        return n_len, n_hop


class WindowGrid:
    """Times of a batch of windows (mixed into :class:`Windows` and
    :class:`~emgpipe.dsp.features.Features`, which have ``starts``, ``fs``
    and ``n_len``)."""

    @property
    def n_windows(self) -> int:
        return len(self.starts)

    @property
    def start_s(self) -> np.ndarray:
        return self.starts / self.fs

    @property
    def end_s(self) -> np.ndarray:
        """Stream time at which each window is complete (when a causal step may act)."""
        return (self.starts + self.n_len) / self.fs


@dataclass(frozen=True, eq=False)
class Windows(WindowGrid):
    """A batch of windows.

    ``segment`` is the contiguous (n, n_channels) stretch of samples from the
    first window's start to the last window's end; ``data`` is the
    (n_windows, n_channels, n_len) strided view of the windows in it (do not
    write to it); ``starts`` holds each window's first-sample index (seq).
    A window is available (causally) at stream time ``(start + n_len) / fs``.
    """

    segment: np.ndarray
    starts: np.ndarray
    fs: float
    n_len: int
    n_hop: int
    ch_names: tuple
    source_id: str = ""

    @property
    def data(self) -> np.ndarray:
        """(n_windows, n_channels, n_len) strided view into ``segment``."""
        if self.n_windows == 0:
            return np.empty((0, self.segment.shape[1], self.n_len))
        return sliding_window_view(self.segment, self.n_len, axis=0)[::self.n_hop]



@dataclass
class WindowState:
    n_len: int
    n_hop: int
    buf: np.ndarray   # samples from buf_seq on
    buf_seq: int
    next_start: int


def _win_init(settings: WindowSettings, chunk: Chunk) -> WindowState:
    n_len, n_hop = settings.samples(chunk.fs)
    return WindowState(n_len, n_hop, np.empty((0, chunk.n_channels)), chunk.seq, chunk.seq)


def _win_step(settings: WindowSettings, st: WindowState, chunk: Chunk):
    buf = np.concatenate([st.buf, chunk.data]) if len(st.buf) else chunk.data
    end = st.buf_seq + len(buf)
    n_avail = (end - st.next_start - st.n_len) // st.n_hop + 1 if end - st.next_start >= st.n_len else 0
    off = st.next_start - st.buf_seq
    if n_avail > 0:
        segment = buf[off:off + (n_avail - 1) * st.n_hop + st.n_len]
        starts = st.next_start + st.n_hop * np.arange(n_avail)
        st.next_start += n_avail * st.n_hop
    else:
        segment = np.empty((0, chunk.n_channels))
        starts = np.empty(0, dtype=np.int64)
    keep_from = st.next_start - st.buf_seq
    if keep_from <= len(buf):
        st.buf, st.buf_seq = buf[keep_from:].copy(), st.next_start
    else:  # hop longer than the window: the samples up to next_start are skipped
        st.buf, st.buf_seq = np.empty((0, chunk.n_channels)), end
    return st, Windows(segment, starts.astype(np.int64, copy=False), chunk.fs, st.n_len, st.n_hop,
                       chunk.ch_names, chunk.source_id)


def _win_empty(settings: WindowSettings, chunk: Chunk):
    n_len, n_hop = settings.samples(chunk.fs)
    return Windows(np.empty((0, chunk.n_channels)), np.empty(0, dtype=np.int64),
                   chunk.fs, n_len, n_hop, chunk.ch_names, chunk.source_id)


class Windower(Stateful):
    """Cut a chunk stream into windows of ``length_s`` every ``hop_s``.

    Examples
    --------
    >>> import numpy as np
    >>> from emgpipe.types import Chunk
    >>> w = Windower(length_s=0.004, hop_s=0.002)
    >>> x = np.arange(10.0)[:, None]
    >>> a = w(Chunk(x[:5], fs=1000.0)); b = w(Chunk(x[5:], fs=1000.0, seq=5))
    >>> a.starts.tolist(), b.starts.tolist()
    ([0], [2, 4, 6])
    >>> b.data[0, 0].tolist()
    [2.0, 3.0, 4.0, 5.0]
    """

    def __init__(self, settings: WindowSettings | None = None, **kw):
        settings = settings or WindowSettings(**kw)
        super().__init__(settings, _win_init, _win_step, _win_empty)
