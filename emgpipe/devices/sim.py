"""``sim:SCENARIO`` - the labelled simulator with the live source API.

Paced at real time by default (``?speed=10`` or ``speed=None`` for max), so a
demo or a test of the live path behaves like a device. Dropped packets in the
scenario arrive as real gaps (a jump of ``seq`` announced in
``attrs["gaps"]``), exactly like a device's.
"""
from __future__ import annotations

from typing import Iterator

from ..errors import UsageError
from ..types import Chunk, Gap
from .base import Pacer, Source, max_speed_chunk_s, parse_speed


class SimSource(Source):
    """Stream a simulated scenario.

    Parameters
    ----------
    scenario : str
        A key of :data:`emgpipe.sim.SCENARIOS`.
    seed, fs, duration, device :
        As :func:`emgpipe.sim.make`.
    speed : None (max), 1.0 (real time) or a factor
    chunk_s : float
        Chunk length (default 0.05 s when paced, like a device; large at max speed).
    """

    scheme = "sim"

    def __init__(self, scenario: str, seed: int = 0, fs: float | None = None, duration: float | None = None,
                 device: str | None = None, speed=1.0, chunk_s: float | None = None):
        super().__init__()
        from .. import sim
        if scenario not in sim.SCENARIOS:
            raise UsageError(f"--source sim:{scenario}: unknown scenario (known: {', '.join(sim.SCENARIOS)})")
        try:
            self.sim = sim.make(scenario, fs=None if fs is None else int(fs), seed=int(seed),
                                duration=None if duration is None else float(duration), device=device)
        except ValueError as err:
            raise UsageError(f"--source sim:{scenario}: {err}") from None
        self.scenario = scenario
        self.uri = f"sim:{scenario}"
        self.speed = parse_speed(speed)
        self.chunk_s = chunk_s
        self.fs = float(self.sim.fs)
        self.ch_names = tuple(self.sim.ch_names)
        self.meta = {"device": f"simulator ({self.sim.device})", **self.sim.sidecar()}

    @classmethod
    def from_uri(cls, target: str, seed=0, fs=None, duration=None, device=None, speed="realtime",
                 chunk_s=None, **unknown):
        if unknown:
            raise UsageError(f"--source sim:{target}: unknown option(s) {', '.join(sorted(unknown))}")
        return cls(target, seed=seed, fs=fs, duration=duration, device=device, speed=speed,
                   chunk_s=None if chunk_s is None else float(chunk_s))

    @property
    def labels(self):
        return self.sim.labels

    def chunks(self) -> Iterator[Chunk]:
        chunk_s = self.chunk_s or (0.05 if self.speed is not None else max_speed_chunk_s(self.fs, len(self.ch_names)))
        n = max(1, int(round(chunk_s * self.fs)))
        pacer = Pacer(self.speed)
        expected = 0
        for seq, data in self.sim.segments(max(chunk_s, 1.0)):
            for a in range(0, len(data), n):
                if self._stopped:
                    return
                s = seq + a
                attrs = {}
                if s > expected:
                    attrs["gaps"] = (Gap(expected, s - expected, self.fs, "dropped packets (simulated)"),)
                block = data[a:a + n]
                expected = s + len(block)
                pacer.wait_until(expected / self.fs)
                yield Chunk(block, fs=self.fs, t0=s / self.fs, seq=s, ch_names=self.ch_names,
                            source_id=self.uri, attrs=attrs)
