"""A per-channel run tracker shared by detectors: hysteresis, minimum duration,
merging of short pauses, announcement time.

Feed it one boolean per window (is the condition on?) with the window's start
and end times; it returns finished episodes and tells when one was announced.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Episode:
    start_s: float
    last_on_s: float          # end time of the last window with the condition on
    alert_s: float | None = None
    peak: float = 0.0
    extra: dict = field(default_factory=dict)


class EpisodeTracker:
    """Turn a boolean window sequence into episodes.

    Parameters
    ----------
    min_s : float
        An episode is announced once it has lasted this long (``alert_s``).
    merge_s : float
        Off-stretches shorter than this do not end an episode; an episode is
        final once the condition has been off for ``merge_s``.
    """

    def __init__(self, min_s: float, merge_s: float):
        self.min_s, self.merge_s = min_s, merge_s
        self.current: Episode | None = None

    def update(self, on: bool, start_s: float, end_s: float, value: float = 0.0):
        """Returns (announced Episode or None, finished Episode or None)."""
        announced = finished = None
        ep = self.current
        if on:
            if ep is None:
                ep = self.current = Episode(start_s, end_s)
            ep.last_on_s = end_s
            ep.peak = max(ep.peak, value)
            if ep.alert_s is None and end_s - ep.start_s >= self.min_s:
                ep.alert_s = end_s
                announced = ep
        elif ep is not None and end_s - ep.last_on_s >= self.merge_s:
            self.current = None
            if ep.alert_s is not None:
                finished = ep
        return announced, finished

    def close(self, end_s: float):
        """End of stream: the open episode (if announced) ends at ``end_s``."""
        ep, self.current = self.current, None
        if ep is not None and ep.alert_s is not None:
            ep.last_on_s = min(ep.last_on_s, end_s)
            return ep
        return None
