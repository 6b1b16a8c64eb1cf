"""``file:PATH`` - a recording replayed as if it were live (paced by sample time)."""
from __future__ import annotations

from typing import Iterator

from ..types import Chunk
from .base import Pacer, Source, max_speed_chunk_s, parse_speed


class FileSource(Source):
    """Replay a recording file with the live source API.

    Parameters
    ----------
    path : str
    speed : None (max), 1.0 (real time) or a factor
    chunk_s : float
        Chunk length; defaults to 0.05 s when paced (like a live device) and
        :func:`max_speed_chunk_s` at max speed (throughput).
    """

    scheme = "file"

    def __init__(self, path: str, speed=1.0, chunk_s: float | None = None, fmt: str | None = None):
        super().__init__()
        self.path = path
        self.uri = f"file:{path}"
        self.speed = parse_speed(speed)
        self.chunk_s = chunk_s
        self.fmt = fmt
        self.recording = None

    @classmethod
    def from_uri(cls, target: str, speed="realtime", chunk_s=None, format=None, **_):
        return cls(target, speed=speed, chunk_s=None if chunk_s is None else float(chunk_s), fmt=format)

    def open(self) -> None:
        from ..io import read_recording
        self.recording = read_recording(self.path, fmt=self.fmt)
        self.fs = self.recording.fs
        self.ch_names = self.recording.ch_names
        self.meta = {"device": "file", "path": str(self.path), **self.recording.meta}

    def chunks(self) -> Iterator[Chunk]:
        if self.recording is None:
            self.open()
        pacer = Pacer(self.speed)
        chunk_s = self.chunk_s
        if chunk_s is None:
            chunk_s = 0.05 if self.speed is not None else max_speed_chunk_s(self.fs, len(self.ch_names))
        for chunk in self.recording.iter_chunks(chunk_s, source_id=self.uri):
            if self._stopped:
                return
            pacer.wait_until(chunk.end_s)
            yield self._named(chunk)
