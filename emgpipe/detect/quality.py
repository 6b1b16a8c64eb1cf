"""Signal-quality detector: dropped samples, flat line / lead-off, saturation,
motion artefacts, electrode pops and mains-interference bursts, reported as
``signal_loss`` and ``artifact`` events.

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
from .pops import PopScanner, PopSettings, wait_samples
from .settings import CARDIAC_RR


#: A coarse ADC's channel on one code is a flat line when that code is this many
#: steps from its live level (rest noise flickers it by one step around it).
FLAT_AWAY_LSB = 2.0


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
    mains_ratio: float = 4.0
    mains_floor_uv: float = 15.0
    mains_line: float = 8.0
    mains_min_s: float = 2.0
    min_artifact_s: float = 0.25
    merge_s: float = 1.0
    # electrode pops (emgpipe/detect/pops.py): a one-sample step that holds and decays
    pop_min_uv: float = 60.0
    pop_k: float = 8.0
    pop_rise_frac: float = 0.6
    pop_hold_s: float = 0.008
    pop_hold_frac: float = 0.3
    pop_smooth_frac: float = 0.25
    pop_pre_s: float = 0.05
    pop_lobe_s: float = 0.025           # an AC-coupled step's opposite lobe lasts this long (pops.py)
    pop_event_s: float = 0.5            # an electrode pop's event spans this long after its edge

    def pop_settings(self) -> PopSettings:
        return PopSettings(min_uv=self.pop_min_uv, k=self.pop_k, rise_frac=self.pop_rise_frac,
                           hold_s=self.pop_hold_s, hold_frac=self.pop_hold_frac,
                           smooth_frac=self.pop_smooth_frac, pre_s=self.pop_pre_s,
                           lobe_s=self.pop_lobe_s)

    @classmethod
    def from_model(cls, model) -> "QualitySettings":
        q = model.section("quality")
        return cls(**{k: q[k] for k in cls.__dataclass_fields__ if k in q})


def _row_median(a: np.ndarray) -> np.ndarray:
    """``np.median(a, axis=-1)``, bit for bit, by a sort: np.median's NaN check
    imports numpy.ma (~11 ms) on its first call, on a replay's critical path
    (issue 15). With a NaN, numpy's own."""
    if a.dtype != np.float64 or np.isnan(a).any() or a.shape[-1] == 0:
        return np.median(a, axis=-1)
    v = np.sort(a, axis=-1)
    h = v.shape[-1] // 2
    return v[..., h] if v.shape[-1] % 2 else (v[..., h - 1] + v[..., h]) / 2


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
    once; flat line, saturation, motion and mains hum once they have lasted their minimum
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

    CONDITIONS = ("flat", "clip", "motion", "mains")
    #: A flat line carries no signal (signal_loss); a railed channel is an
    #: artefact: a movement too large for the amplifier's range, the brief's
    #: "saturation" among motion, pops, mains and lead-off (model 0.7.13)
    KIND = {"flat": "signal_loss", "clip": "artifact", "motion": "artifact", "mains": "artifact"}
    DETAIL = {"flat": "flat line (lead-off?)", "clip": "saturation / clipping",
              "motion": "motion artefact or electrode pop",
              "mains": "mains interference (loose electrode or cable?)"}
    #: The usual mains level of a channel follows quieter windows within ~2 s
    #: and louder ones over ~60 s, never learning from a burst (like the rest
    #: baseline of the cramp detector): steady hum is that set-up's normal.
    MAINS_DOWN_S, MAINS_UP_S, MAINS_LEARN = 2.0, 60.0, 2.0
    #: A pop found by the AC test alone (behind an AC-coupled front end) is
    #: reported when it stands alone and the channel is back at rest after it:
    #: no other pop edge on the channel within AC_ALONE_S (the heart beats at
    #: least every 1.5 s: a QRS that passes the test passes it at every beat;
    #: cable motion makes one edge after another; pops come a few per hour), and
    #: its SD from AC_REST_S to ``pop_event_s`` after the edge at most AC_REST_K
    #: x its SD over the AC_REST_S before (a high-passed step is over within a
    #: few time constants of a 10-20 Hz high-pass, 8-16 ms; the first potential
    #: of a contraction is followed by its units' next discharges, 5-10 Hz).
    AC_ALONE_S, AC_REST_S, AC_REST_K = CARDIAC_RR[1], 0.1, 2.0

    def __init__(self, settings: QualitySettings | None = None, detector: str = ""):
        self.settings = settings or QualitySettings()
        self.detector = detector
        self._win = Windower(WindowSettings(self.settings.window_s, self.settings.window_s))
        self._trackers: dict = {}
        self._ch_names: tuple = ()
        self._source = ""
        self._next_seq = None
        self._mains_key, self._mains = None, None   # (fs, window length) -> its mains_table
        self._mains_base: dict = {}            # channel -> its usual mains-line RMS (µV)
        self._live_level: dict = {}            # channel -> where a coarse-ADC channel lives (µV, flat test)
        self._pops = PopScanner(self.settings.pop_settings())
        self._pop_open: dict = {}              # channel -> [first edge, last edge, alert_s, n]
        self._ac_pending: list = []            # (channel index, name, edge s) of AC pops to judge
        self._pop_edges: dict = {}             # channel -> edge times (s) of its recent pops, held or not
        self._tail = None                      # the last raw samples (n, channels) ...
        self._tail_seq = 0                     # ... and the sample index of its first row
        #: the electrode pops found in the last chunk, ``[(channel name, edge time s)]``
        #: (the pipeline hands them to the cramp detector: a pop is no fasciculation)
        self.pops: list = []

    def _tracker(self, ch, cond):
        key = (ch, cond)
        if key not in self._trackers:
            s = self.settings
            min_s = {"flat": s.flat_s, "mains": s.mains_min_s}.get(cond, s.min_artifact_s)
            self._trackers[key] = EpisodeTracker(min_s, s.merge_s)
        return self._trackers[key]

    def __call__(self, chunk: Chunk) -> list[Event]:
        if chunk.ch_names != self._ch_names or chunk.source_id != self._source:
            self._trackers = {}
            self._mains_base = {}
            self._live_level = {}
            self._ch_names = chunk.ch_names
            self._next_seq = None
            self._pops.reset()
            self._pop_open = {}
            self._ac_pending, self._pop_edges, self._tail = [], {}, None
        announced = sum(g.n_missing for g in chunk.gaps)
        if self._next_seq is not None and chunk.seq > self._next_seq + announced:
            # the sample index jumped without the source saying so: still a loss
            g = Gap(self._next_seq + announced, chunk.seq - self._next_seq - announced, chunk.fs,
                    "sample index jump")
            chunk = chunk.replace(attrs={**chunk.attrs, "gaps": chunk.gaps + (g,)})
        self._next_seq = chunk.next_seq
        events = gap_events(chunk, self.detector)
        self._source = chunk.source_id
        events.extend(self._pop_events(chunk))
        w = self._win(chunk)
        if w.n_windows == 0:
            return events
        s = self.settings
        if self._mains_key != (w.fs, w.n_len):
            self._mains_key, self._mains = (w.fs, w.n_len), _kernels.mains_table(w.n_len, w.fs)
        if w.n_hop == w.n_len:
            st = _kernels.quality_stats(w.segment, w.n_len, w.n_windows, self._mains)
        else:  # pragma: no cover - the windows are made non-overlapping above
            st = _kernels.quality_stats_numpy(w.data, self._mains)
        hi, lo, frac_hi, frac_lo, run_hi, run_lo, slow, fast, peak, m50, m60, m40 = st
        flat = self._flat(chunk, hi, lo)
        clip = np.zeros_like(flat)
        for ext, frac, run in ((hi, frac_hi, run_hi), (lo, frac_lo, run_lo)):
            cand = (frac >= s.clip_fraction) & (run >= s.clip_min_run) & ~flat
            if cand.any():   # the median only where it matters (rare)
                iw, ic = np.nonzero(cand)
                med = _row_median(w.data[iw, ic])
                clip[iw, ic] |= np.abs(ext[iw, ic] - med) >= s.clip_floor_uv
        slow_rms = slow * (2 * np.pi * 5.0 / w.fs)  # integrated: ~ amplitude at 5 Hz
        fast_rms = fast * w.fs / (2 * np.pi * 100.0) + 1e-9
        motion = (slow_rms > s.motion_floor_uv) & (slow_rms > s.motion_ratio * fast_rms) & ~flat & ~clip
        # mains interference: a spectral line at 50 or 60 Hz standing above both
        # the other mains frequency and 40 Hz (an EMG spectrum is smooth across
        # them), louder than this channel's usual mains
        mains_rms = np.maximum(m50, m60) / np.sqrt(2.0)
        line = np.maximum(m50, m60) / np.maximum(np.maximum(np.minimum(m50, m60), m40), 1e-12)
        usable = np.where(flat | clip, 0.0, mains_rms)      # a flat or railed window teaches nothing
        mains = ((self._mains_ratios(chunk.ch_names, usable, w.n_len / w.fs) >= s.mains_ratio)
                 & (mains_rms >= s.mains_floor_uv) & (line >= s.mains_line) & ~flat & ~clip)
        flags = {"flat": flat, "clip": clip, "motion": motion, "mains": mains}
        peaks = {"flat": peak, "clip": peak, "motion": peak, "mains": mains_rms}
        starts, ends = w.starts / w.fs, (w.starts + w.n_len) / w.fs
        for c, ch in enumerate(chunk.ch_names):
            for cond in self.CONDITIONS:
                f = flags[cond][:, c]
                tr = self._trackers.get((ch, cond))
                if (tr is None or tr.current is None) and not f.any():
                    continue   # nothing open and nothing new: an idle tracker stays idle
                tr = self._tracker(ch, cond)
                for i in range(w.n_windows):
                    new, done = tr.update(bool(f[i]), starts[i], ends[i], float(peaks[cond][i, c]))
                    if new is not None:
                        events.append(self._event(ch, cond, new, status="onset"))
                    if done is not None:
                        events.append(self._event(ch, cond, done))
        return events

    def _flat(self, chunk: Chunk, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        """Windows (n_windows, n_channels) in which a channel's raw signal is a flat line.

        A fine ADC (a step below ``flat_uv``: the Cyton's 0.02 µV, the
        Ganglion's 0.06 µV) never sits on one value while electrodes are on
        skin: amplifier and electrode noise (~1-10 µV) move it by many steps,
        so a spread below ``flat_uv`` is a lead-off or a dead ADC.

        A coarse ADC (the source gives its step in ``chunk.attrs["lsb_uv"]``,
        one per channel: an Arduino Uno's 10 bits behind the MyoWare's gain of
        200 are 24.4 µV) sits on one code for seconds at rest, because resting
        sEMG is smaller than one step: a window on one code says nothing about
        the electrodes. Such a channel is flat only when it sits on one code
        (spread below half a step) at least :data:`FLAT_AWAY_LSB` steps from
        where it lives (its level in the last window that moved by a step;
        RAW - REF is AC-coupled and rests on its centre code), i.e. stuck at a
        rail or pulled off by a lead that came off; a dead channel stuck on its
        rest code cannot be told from rest by the samples and is not flagged.
        ``flat_uv <= 0`` turns the test off (an envelope signal).
        """
        s = self.settings
        spread = hi - lo
        flat = spread < s.flat_uv
        lsb = chunk.attrs.get("lsb_uv")
        if lsb is None or s.flat_uv <= 0 or not flat.size:
            return flat
        lsb = np.broadcast_to(np.asarray(lsb, dtype=float), (flat.shape[1],))
        for c in np.flatnonzero(lsb > s.flat_uv):
            q, ch = float(lsb[c]), chunk.ch_names[c]
            mid = 0.5 * (hi[:, c] + lo[:, c])
            level = self._live_level.get(ch, mid[0])
            col = np.zeros(len(mid), dtype=bool)
            for i in range(len(mid)):
                if spread[i, c] >= 0.5 * q:        # moved by a step: alive, and here it lives
                    level = mid[i]
                else:
                    col[i] = abs(mid[i] - level) >= FLAT_AWAY_LSB * q
            self._live_level[ch] = level
            flat[:, c] = col
        return flat

    def _pop_events(self, chunk: Chunk) -> list[Event]:
        """Electrode pops of this chunk; pops on a channel within ``merge_s`` of
        each other are one ``artifact`` event, final once the scan has passed
        its last pop by ``merge_s`` (so the same events whatever the chunking)."""
        s = self.settings
        self.pops = []
        if not np.isfinite(s.pop_min_uv) or chunk.n_samples == 0:
            return []
        found = self._pops(chunk.data, chunk.fs, chunk.seq)
        out = []
        # a pop is known once the scanner has judged its edge (its hold, or the AC test's lobes)
        n_wait = wait_samples(self._pops.settings, chunk.fs)
        wait = n_wait / chunk.fs
        for c, t in found:
            ch = chunk.ch_names[c]
            self.pops.append((ch, t))
            self._pop_edges.setdefault(ch, []).append(t)
            if (c, t) in self._pops.unheld:
                # found by the AC test alone: no fasciculation, and an artefact once it
                # is known to stand alone with the channel at rest after it (the first
                # potential of a contraction out of rest can pass the test: pops.py)
                self._ac_pending.append((c, ch, t))
                continue
            ep = self._pop_open.get(ch)
            if ep is not None and t - ep[1] > s.merge_s:
                out.append(self._pop_event(ch, ep))
                ep = None
            if ep is None:
                self._pop_open[ch] = [t, t, t + wait, 1]
            else:
                ep[1], ep[3] = t, ep[3] + 1
        n_rest = max(2, int(round(self.AC_REST_S * chunk.fs)))
        self._keep_tail(chunk, n_wait + 1 + n_rest)
        out.extend(self._ac_judge(chunk.fs, n_wait + 1, n_rest))
        frontier = chunk.end_s - wait             # every edge before this has been judged
        for ch, ep in list(self._pop_open.items()):
            if frontier - ep[1] > s.merge_s:
                out.append(self._pop_event(ch, ep))
                del self._pop_open[ch]
        return out

    def _keep_tail(self, chunk: Chunk, n_keep: int) -> None:
        """Keep the raw samples the pending AC pops are judged on; with none
        pending only the last ``n_keep`` (the rest before a pop the next chunk
        may find), not a copy of the whole chunk. A gap or a change of shape
        starts the buffer anew."""
        x = np.asarray(chunk.data, dtype=float)
        if not self._ac_pending and len(x) >= n_keep:
            self._tail, self._tail_seq = x[len(x) - n_keep:].copy(), chunk.seq + len(x) - n_keep
        elif (self._tail is None or chunk.seq != self._tail_seq + len(self._tail)
                or self._tail.shape[1] != x.shape[1]):
            self._tail, self._tail_seq = x.copy(), chunk.seq
        else:
            self._tail = np.concatenate([self._tail, x])

    def _ac_judge(self, fs: float, n_wait: int, n_rest: int) -> list[Event]:
        """The pending AC pops whose neighbourhood is known (every pop edge up to
        AC_ALONE_S after theirs has been found): an ``artifact`` event each that
        stands alone with the channel back at rest after it; then the buffers
        keep what the others need. ``n_wait``: samples after its edge by which
        the scanner has found a pop; ``n_rest``: AC_REST_S in samples."""
        s = self.settings
        out, keep = [], []
        n_post = max(n_rest + 2, int(round(s.pop_event_s * fs)))
        n_known = max(n_post, int(round(self.AC_ALONE_S * fs)) + n_wait)
        seq0 = self._tail_seq
        end = seq0 + (0 if self._tail is None else len(self._tail))
        for c, ch, t in self._ac_pending:
            i = int(round(t * fs))
            if i - n_rest < seq0:
                continue                          # its rest before was not kept (a gap)
            if i + n_known > end:
                keep.append((c, ch, t))
                continue
            col = self._tail[:, c]
            pre = col[i - n_rest - seq0:i - 1 - seq0]
            post = col[i + n_rest - seq0:i + n_post - seq0]
            alone = not any(u != t and abs(u - t) <= self.AC_ALONE_S for u in self._pop_edges.get(ch, ()))
            if alone and np.std(post) <= self.AC_REST_K * np.std(pre):
                out.append(Event("artifact", ch, t, t + s.pop_event_s, alert_s=(i + n_known) / fs,
                                 detail="electrode pop", features={"n_pops": 1},
                                 detector=self.detector, source_id=self._source))
        self._ac_pending = keep
        if self._tail is not None:
            # (a pop is found up to the scanner's wait after its edge: keep its rest before too)
            first = min([int(round(t * fs)) - n_rest for _, _, t in keep] + [end - n_wait - n_rest])
            cut = max(0, first - seq0)
            if cut:
                self._tail, self._tail_seq = self._tail[cut:], seq0 + cut
        t_keep = first / fs - 2 * self.AC_ALONE_S if self._tail is not None else 0.0
        for ch in list(self._pop_edges):
            self._pop_edges[ch] = [u for u in self._pop_edges[ch] if u >= t_keep]
        return out

    def _pop_event(self, ch, ep) -> Event:
        n = ep[3]
        return Event("artifact", ch, ep[0], ep[1] + self.settings.pop_event_s, alert_s=ep[2],
                     detail="electrode pop" + (f" x{n}" if n > 1 else ""), features={"n_pops": n},
                     detector=self.detector, source_id=self._source)

    def _mains_ratios(self, ch_names, level: np.ndarray, win_s: float) -> np.ndarray:
        """Each window's mains-line RMS over the channel's usual level before it
        (the first usable window sets it; 0 marks a window that may not teach it)."""
        a_down = 1.0 - np.exp(-win_s / self.MAINS_DOWN_S)
        a_up = 1.0 - np.exp(-win_s / self.MAINS_UP_S)
        out = np.zeros_like(level)
        for c, ch in enumerate(ch_names):
            base = self._mains_base.get(ch)
            if base is None:
                first = np.flatnonzero(level[:, c] > 0)
                if not len(first):
                    continue
                base = max(float(level[first[0], c]), 0.1)
            out[:, c], self._mains_base[ch] = _kernels.track_baseline(level[:, c], base, a_down, a_up,
                                                                      self.MAINS_LEARN, 0.1)
        return out

    def _event(self, ch, cond, ep, status="final"):
        end = ep.alert_s if status == "onset" else ep.last_on_s
        return Event(self.KIND[cond], ch, ep.start_s, end, alert_s=ep.alert_s, status=status,
                     peak_uv=ep.peak if cond != "flat" else float("nan"),
                     detail=self.DETAIL[cond], detector=self.detector, source_id=self._source)

    def interference_notes(self, events) -> list:
        """The mains-interference episodes among ``events`` (this stage's), as the
        cramp detector takes them (:meth:`.detector.CrampDetector.note_interference`):
        ``(channel, start s, end s or None, known s)``. ``known`` is the stream time
        by which this stage had said so, whatever the chunking: an onset at its
        ``alert_s`` (the window that made it last ``mains_min_s``); an end no later
        than ``merge_s`` and a window after its last interfered window (the window
        that found it over). The detector applies each to its windows from then
        on, so what a chunk's notes tell it does not depend on where it ended."""
        s = self.settings
        out = []
        for e in events:
            if e.kind == "artifact" and e.detail == self.DETAIL["mains"]:
                if e.status == "onset":
                    out.append((e.channel, e.start_s, None, e.alert_s))
                else:
                    out.append((e.channel, e.start_s, e.end_s, e.end_s + s.merge_s + s.window_s))
        return out

    def close(self, end_s: float) -> list[Event]:
        out = [self._pop_event(ch, ep) for ch, ep in sorted(self._pop_open.items())]
        self._pop_open = {}
        for (ch, cond), tr in sorted(self._trackers.items()):
            ep = tr.close(end_s)
            if ep is not None:
                out.append(self._event(ch, cond, ep))
        self._trackers = {}
        return out
