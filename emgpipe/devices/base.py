"""The source API shared by live devices, file replay and the simulator."""
from __future__ import annotations

import time
from typing import Iterator

from ..types import Chunk


class Source:
    """A stream of :class:`~emgpipe.types.Chunk`.

    Use as a context manager and iterate::

        with open_source("cyton:/dev/ttyUSB0") as src:
            for chunk in src:
                ...

    Iteration blocks until data arrives and ends when the stream ends (file
    done, ``stop()`` called, device lost for good). ``chunk.seq`` counts
    samples since the stream began, lost ones included; a gap is announced in
    ``chunk.attrs["gaps"]`` of the first chunk after it. Sources learn ``fs``
    and ``ch_names`` in :meth:`open`.

    Attributes
    ----------
    uri : str
    fs : float
    ch_names : tuple of str
        The device's names, or those given with ``names=a,b,...`` (:meth:`use_names`).
    meta : dict
        Device facts for logs (board, firmware, gain, scaling, mode).
    """

    scheme = ""
    uri = ""
    fs: float = 0.0
    meta: dict
    _device_names: tuple = ()
    _names: tuple | None = None

    def __init__(self):
        self.meta = {}
        self._stopped = False

    # --- channel names: the device's, or the user's ``names=a,b,...`` (CONTRACT.md "Sources")
    @property
    def ch_names(self) -> tuple:
        """The channel names chunks carry: the ``names=`` given, else the device's."""
        return self._names if self._names is not None and self._device_names else self._device_names

    @ch_names.setter
    def ch_names(self, names) -> None:
        self._device_names = tuple(names)
        self._check_names()

    def use_names(self, names) -> None:
        """Name the channels in order (``names=calf_left,calf_right``). Checked against
        the device's channel count as soon as it is known (at :meth:`open` for devices):
        a different count is a :class:`~emgpipe.errors.UsageError` naming both."""
        names = tuple(names)
        if len(set(names)) != len(names) or not all(names):
            from ..errors import UsageError
            raise UsageError(f"--source {self.uri}: names={','.join(names)}: names must be non-empty "
                             f"and different")
        self._names = names
        self._check_names()

    def _check_names(self) -> None:
        if self._names is None or not self._device_names or len(self._names) == len(self._device_names):
            return
        from ..errors import UsageError
        raise UsageError(f"--source {self.uri}: names= gives {len(self._names)} name(s) "
                         f"({','.join(self._names)}) for {len(self._device_names)} channel(s) "
                         f"({','.join(self._device_names)})")

    def _named(self, chunk: Chunk) -> Chunk:
        """``chunk`` under the user's channel names (for chunks made elsewhere, e.g. a reader)."""
        if self._names is None or chunk.ch_names == self._names:
            return chunk
        return chunk.replace(ch_names=self._names)

    @classmethod
    def from_uri(cls, target: str, **options) -> "Source":
        raise NotImplementedError

    def open(self) -> None:
        """Connect / open the file; sets ``fs`` and ``ch_names``."""

    def close(self) -> None:
        """Release the device or file. Safe to call twice."""

    def stop(self) -> None:
        """Ask iteration to end soon (thread-safe)."""
        self._stopped = True

    def chunks(self) -> Iterator[Chunk]:
        raise NotImplementedError

    def __iter__(self) -> Iterator[Chunk]:
        return self.chunks()

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class Pacer:
    """Paces chunks at ``speed`` × real time by sample time (None = max speed)."""

    def __init__(self, speed: float | None):
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.speed = speed
        self._wall0 = None
        self._stream0 = None

    def wait_until(self, stream_s: float) -> None:
        """Sleep until stream time ``stream_s`` is due."""
        if self.speed is None:
            return
        now = time.monotonic()
        if self._wall0 is None:
            self._wall0, self._stream0 = now, stream_s
            return
        due = self._wall0 + (stream_s - self._stream0) / self.speed
        if due > now:
            time.sleep(due - now)


def max_speed_chunk_s(fs: float, n_channels: int = 1) -> float:
    """Chunk length for max-speed replay: ~30 000 samples per channel (30 s at
    1 kHz). Large chunks amortise per-call overhead (measured in
    benchmarks/throughput.py: 10 s chunks give ~19 000x, 30 s ~23 000x real
    time for one 1 kHz channel) while intermediate arrays stay a few MB."""
    return max(1.0, 30000.0 / fs / max(1.0, n_channels / 4))


def parse_speed(value) -> float | None:
    """``max``/None -> None (as fast as possible); ``realtime`` -> 1.0; else a factor."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        v = float(value)
    else:
        s = str(value).strip().lower()
        if s in ("max", "inf", ""):
            return None
        if s in ("realtime", "real-time", "1x"):
            return 1.0
        try:
            v = float(s.rstrip("x"))
        except ValueError:
            from ..errors import UsageError
            raise UsageError(f"--speed {value!r}: expected max, realtime or a positive factor") from None
    if not v > 0:
        from ..errors import UsageError
        raise UsageError(f"--speed {value!r}: must be positive")
    return None if v == float("inf") else v
