"""Signal-quality detector: dropped samples, flat line / lead-off, saturation and
motion artefacts, reported as ``signal_loss`` and ``artifact`` events.

It looks at the *raw* signal (before filtering) in non-overlapping windows,
so a rail or a flat line is seen as the ADC delivered it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..types import Chunk, Event, Gap
from ..dsp import _kernels
from ..dsp.windows import Windower, WindowSettings
from .episodes import EpisodeTracker


@dataclass(frozen=True)
class QualitySettings:
    """Thresholds in physical units (see models/default.toml ``[quality]``)."""

    window_s: float = 0.25
    flat_uv: float = 0.05
    flat_s: float = 1.0
    clip_fraction: float = 0.05
    clip_min_run: int = 1
    clip_floor_uv: float = 100.0
    motion_ratio: float = 8.0
    motion_floor_uv: float = 200.0
    min_artifact_s: float = 0.25
    merge_s: float = 1.0

    @classmethod
    def from_model(cls, model) -> "QualitySettings":
        q = model.section("quality")
        return cls(**{k: q[k] for k in cls.__dataclass_fields__ if k in q})


def gap_events(chunk: Chunk, detector: str = "") -> list[Event]:
    """One ``signal_loss`` event per channel for every gap announced on ``chunk``."""
    out = []
    for g in chunk.gaps:
        for ch in chunk.ch_names:
            out.append(Event("signal_loss", ch, g.start_s, g.end_s, alert_s=chunk.start_s,
                             detail=f"{g.reason}: {g.n_missing} samples lost",
                             features={"n_missing": g.n_missing}, detector=detector,
                             source_id=chunk.source_id))
    return out


class QualityDetector:
    """Per-channel signal-quality events from raw chunks.

    Call it with each raw chunk; it returns the events it announces (gaps at
    once; flat line, saturation and motion once they have lasted their minimum
    duration, final when they clear). :meth:`close` finishes open episodes.

    Examples
    --------
    >>> import numpy as np
    >>> from emgpipe.types import Chunk
    >>> x = np.random.default_rng(0).normal(0, 5, (3000, 1)); x[1000:2500] = 0.0
    >>> q = QualityDetector()
    >>> ev = q(Chunk(x, fs=1000.0, ch_names=("calf",))) + q.close(3.0)
    >>> [(e.kind, e.status, e.detail, e.start_s, e.end_s, e.alert_s) for e in ev]
    [('signal_loss', 'onset', 'flat line (lead-off?)', 1.0, 2.0, 2.0), ('signal_loss', 'final', 'flat line (lead-off?)', 1.0, 2.5, 2.0)]
    """

    CONDITIONS = ("flat", "clip", "motion")
    KIND = {"flat": "signal_loss", "clip": "signal_loss", "motion": "artifact"}
    DETAIL = {"flat": "flat line (lead-off?)", "clip": "saturation / clipping",
              "motion": "motion artefact or electrode pop"}

    def __init__(self, settings: QualitySettings | None = None, detector: str = ""):
        self.settings = settings or QualitySettings()
        self.detector = detector
        self._win = Windower(WindowSettings(self.settings.window_s, self.settings.window_s))
        self._trackers: dict = {}
        self._ch_names: tuple = ()
        self._source = ""
        self._next_seq = None

    def _tracker(self, ch, cond):
        key = (ch, cond)
        if key not in self._trackers:
            s = self.settings
            min_s = s.flat_s if cond == "flat" else s.min_artifact_s
            self._trackers[key] = EpisodeTracker(min_s, s.merge_s)
        return self._trackers[key]

    def __call__(self, chunk: Chunk) -> list[Event]:
        if chunk.ch_names != self._ch_names or chunk.source_id != self._source:
            self._trackers = {}
            self._ch_names = chunk.ch_names
            self._next_seq = None
        announced = sum(g.n_missing for g in chunk.gaps)
        if self._next_seq is not None and chunk.seq > self._next_seq + announced:
            # the sample index jumped without the source saying so: still a loss
            g = Gap(self._next_seq + announced, chunk.seq - self._next_seq - announced, chunk.fs,
                    "sample index jump")
            chunk = chunk.replace(attrs={**chunk.attrs, "gaps": chunk.gaps + (g,)})
        self._next_seq = chunk.next_seq
        events = gap_events(chunk, self.detector)
        self._source = chunk.source_id
        w = self._win(chunk)
        if w.n_windows == 0:
            return events
        s = self.settings
        if w.n_hop == w.n_len:
            st = _kernels.quality_stats(w.segment, w.n_len, w.n_windows)
        else:  # pragma: no cover - the windows are made non-overlapping above
            st = _kernels.quality_stats_numpy(w.data)
        hi, lo, frac_hi, frac_lo, run_hi, run_lo, slow, fast, peak = st
        flat = (hi - lo) < s.flat_uv
        clip = np.zeros_like(flat)
        for ext, frac, run in ((hi, frac_hi, run_hi), (lo, frac_lo, run_lo)):
            cand = (frac >= s.clip_fraction) & (run >= s.clip_min_run) & ~flat
            if cand.any():   # the median only where it matters (rare)
                iw, ic = np.nonzero(cand)
                med = np.median(w.data[iw, ic], axis=-1)
                clip[iw, ic] |= np.abs(ext[iw, ic] - med) >= s.clip_floor_uv
        slow_rms = slow * (2 * np.pi * 5.0 / w.fs)  # integrated: ~ amplitude at 5 Hz
        fast_rms = fast * w.fs / (2 * np.pi * 100.0) + 1e-9
        motion = (slow_rms > s.motion_floor_uv) & (slow_rms > s.motion_ratio * fast_rms) & ~flat & ~clip
        flags = {"flat": flat, "clip": clip, "motion": motion}
        starts, ends = w.starts / w.fs, (w.starts + w.n_len) / w.fs
        for c, ch in enumerate(chunk.ch_names):
            for cond in self.CONDITIONS:
                f = flags[cond][:, c]
                tr = self._trackers.get((ch, cond))
                if (tr is None or tr.current is None) and not f.any():
                    continue   # nothing open and nothing new: an idle tracker stays idle
                tr = self._tracker(ch, cond)
                for i in range(w.n_windows):
                    new, done = tr.update(bool(f[i]), starts[i], ends[i], float(peak[i, c]))
                    if new is not None:
                        events.append(self._event(ch, cond, new, status="onset"))
                    if done is not None:
                        events.append(self._event(ch, cond, done))
        return events

    def _event(self, ch, cond, ep, status="final"):
        end = ep.alert_s if status == "onset" else ep.last_on_s
        return Event(self.KIND[cond], ch, ep.start_s, end, alert_s=ep.alert_s, status=status,
                     peak_uv=ep.peak if cond != "flat" else float("nan"),
                     detail=self.DETAIL[cond], detector=self.detector, source_id=self._source)

    def close(self, end_s: float) -> list[Event]:
        out = []
        for (ch, cond), tr in sorted(self._trackers.items()):
            ep = tr.close(end_s)
            if ep is not None:
                out.append(self._event(ch, cond, ep))
        self._trackers = {}
        return out
