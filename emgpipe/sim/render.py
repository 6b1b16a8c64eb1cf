"""Render a :class:`~emgpipe.sim.scenarios.Plan` into device samples, frame by frame.

The signal is made in fixed frames of :data:`FRAME_S` seconds at the
synthesis rate (>= 2 kHz), each from the previous frame's carried state
(spike-train phases, filter states, the tail of potentials that run over the
frame edge) and the plan. Memory stays flat for a night, and since the frames
never change, :meth:`Simulation.blocks` gives the same samples whatever block
size is asked for.

Dropped packets
---------------
``blocks()`` covers *every* sample index from 0 to ``n_samples`` (what the
electrodes produced). ``gaps`` lists the samples the simulated device lost as
:class:`emgpipe.types.Gap` (``seq``, ``n_missing``); :meth:`Simulation.segments`
yields ``(seq, data)`` with those samples removed, exactly like
:attr:`emgpipe.io.base.Recording.segments`, and :meth:`Simulation.chunks`
turns them into :class:`~emgpipe.types.Chunk` s whose first chunk after a gap
carries it in ``attrs["gaps"]``. Writers and sources use the segments.
"""
from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from ..io.base import Recording
from ..types import Chunk, Gap
from .artifacts import ECG_HALF_S, ecg_beat
from .devices import DEVICES, FrontEnd
from .motor_units import CRAMP_POOL, VOLUNTARY_POOL, MotorUnitPool
from .scenarios import FASC_KERNEL_S, Plan, fasc_kernel

#: Frame length (s). Fixed: the output must not depend on how it is read.
FRAME_S = 2.0
#: Background rendered before t = 0 to settle the device filters (s).
PREROLL_S = 0.5
#: Rate of the excitation grid of the spike generators (Hz); discharge times are
#: interpolated inside a step, so this only limits how fast a drive may change.
GRID_HZ = 500


class Simulation:
    """A labelled synthetic recording (lazy: samples are made when iterated).

    Attributes
    ----------
    scenario, seed, device : str, int, str
    fs : float
        Output sample rate.
    ch_names : tuple of str
        Named by muscle (``calf_left``, ``tibialis_anterior_right``...).
    duration_s : float
    n_samples : int
    mode : str
        ``"sleep"`` or ``"awake"``.
    labels : list of :class:`emgpipe.metrics.Label`
    gaps : list of :class:`emgpipe.types.Gap`
    meta : dict
        Scenario, seed, device, mains frequency, ``signal`` (``"emg"`` or
        ``"envelope"``), per-channel MVC RMS and noise level.
    """

    def __init__(self, plan: Plan, device: str, fs: int):
        self.plan = plan
        self.scenario, self.seed, self.device = plan.scenario, plan.seed, device
        self.fs = float(fs)
        self._fs = int(fs)
        self.ch_names = tuple(c.name for c in plan.channels)
        self.duration_s = plan.duration_s
        self.n_samples = int(round(plan.duration_s * fs))
        self.mode = plan.mode
        self.labels = list(plan.labels)
        self.gaps = self._gaps()
        dev = DEVICES[device]
        self.meta = {
            "scenario": plan.scenario, "seed": plan.seed, "device": device,
            "signal": "envelope" if dev.envelope else "emg",
            "mains_hz": plan.meta.get("mains_hz"),
            "mvc_rms_uv": {c.name: round(c.mvc_rms_uv, 1) for c in plan.channels},
            "noise_uv": {c.name: round(c.noise_uv, 2) for c in plan.channels},
            "device_description": dev.description,
        }

    # ---------------------------------------------------------------- public
    def __repr__(self):
        return (f"Simulation({self.scenario!r}, seed={self.seed}, device={self.device!r}, fs={self.fs:g}, "
                f"channels={list(self.ch_names)}, duration_s={self.duration_s:g}, labels={len(self.labels)})")

    def blocks(self, block_s: float = 10.0) -> Iterator[np.ndarray]:
        """The whole signal as consecutive (n, channels) µV blocks of ``block_s`` s (last may be shorter)."""
        n_block = max(1, int(round(block_s * self.fs)))
        buf, have = [], 0
        for frame in self._frames():
            buf.append(frame)
            have += len(frame)
            while have >= n_block:
                cat = np.concatenate(buf) if len(buf) > 1 else buf[0]
                yield cat[:n_block]
                rest = cat[n_block:]
                buf, have = ([rest] if len(rest) else []), len(rest)
        if have:
            yield np.concatenate(buf)

    def segments(self, block_s: float = 10.0) -> Iterator[tuple[int, np.ndarray]]:
        """``(seq, data)`` pieces of at most ``block_s`` s with the dropped samples left out."""
        gaps = [(g.seq, g.seq + g.n_missing) for g in self.gaps]
        pos = 0
        for block in self.blocks(block_s):
            a, b = pos, pos + len(block)
            cur = a
            for g0, g1 in gaps:
                if g1 <= cur or g0 >= b:
                    continue
                if g0 > cur:
                    yield cur, block[cur - a:g0 - a]
                cur = max(cur, min(g1, b))
            if cur < b:
                yield cur, block[cur - a:]
            pos = b

    def chunks(self, chunk_s: float = 0.1, source_id: str | None = None) -> Iterator[Chunk]:
        """The device stream as :class:`Chunk` s (gaps announced on the first chunk after them)."""
        sid = source_id or f"sim:{self.scenario}"
        ends = {g.seq + g.n_missing: g for g in self.gaps}
        for seq, data in self.segments(chunk_s):
            g = ends.get(seq)
            yield Chunk(data, fs=self.fs, t0=seq / self.fs, seq=seq, ch_names=self.ch_names,
                        source_id=sid, attrs={"gaps": (g,)} if g is not None else {})

    def to_array(self) -> np.ndarray:
        """All samples (gaps included as produced at the electrodes); short simulations only."""
        return np.concatenate(list(self.blocks(60.0)))

    def to_recording(self) -> Recording:
        """An in-memory :class:`Recording` (gaps removed and reported), for tests and bench."""
        x = self.to_array()
        keep = np.ones(len(x), bool)
        for g in self.gaps:
            keep[g.seq:g.seq + g.n_missing] = False
        segs, start = [], None
        for i in np.flatnonzero(np.diff(np.concatenate([[0], keep.astype(int), [0]]))):
            if start is None:
                start = i
            else:
                segs.append((int(start), x[start:i]))
                start = None
        return Recording(path=f"sim:{self.scenario}", fs=self.fs, ch_names=self.ch_names, segments=segs,
                         gaps=list(self.gaps), meta={"format": "sim", "mode": self.mode, **self.meta})

    def sidecar(self) -> dict:
        """The ``<stem>.json`` sidecar content."""
        return {"fs": self._fs, "mode": self.mode, "channels": list(self.ch_names),
                "scenario": self.scenario, "seed": self.seed, "device": self.device,
                "duration_s": self.duration_s, "signal": self.meta["signal"],
                "gaps": [[g.seq, g.n_missing] for g in self.gaps],
                "mains_hz": self.meta["mains_hz"], "mvc_rms_uv": self.meta["mvc_rms_uv"],
                "generator": "emgpipe.sim"}

    # ---------------------------------------------------------------- internals
    def _gaps(self) -> list:
        out = []
        step = 2 if self.device == "ganglion" else 1  # BLE packets carry 2 samples (protocols.md §2.1)
        for t0, t1 in sorted(self.plan.gap_spans):
            a = int(round(t0 * self.fs))
            n = max(step, int(round((t1 - t0) * self.fs / step)) * step)
            a = min(a, self.n_samples - 1)
            n = min(n, self.n_samples - 1 - a)
            if out and a <= out[-1].seq + out[-1].n_missing:
                continue
            if n > 0 and a > 0:
                out.append(Gap(seq=a, n_missing=n, fs=self.fs, reason="dropped packets (simulated)"))
        return out

    def _frames(self) -> Iterator[np.ndarray]:
        plan = self.plan
        fe = FrontEnd(DEVICES[self.device], self._fs, len(plan.channels))
        S, k = fe.S, fe.k
        c = len(plan.channels)
        Ns = int(round(FRAME_S * S))
        g_step = S // GRID_HZ if S % GRID_HZ == 0 else 1
        dt = g_step / S
        G = Ns // g_step
        seed = plan.seed
        # motor-unit pools: voluntary and cramp pool per channel, own channel + cross-talk
        pools = {}
        for i, ch in enumerate(plan.channels):
            targets = [(i, 1.0, 1.0)] + [(dst, g, w) for src, dst, g, w in plan.crosstalk if src == i]
            for p, (settings, lam_scale) in enumerate(((VOLUNTARY_POOL, 1.0), (CRAMP_POOL, 1.0))):
                rng = np.random.default_rng([seed, 2, i, p])
                pools[(i, ("vol", "cramp")[p])] = MotorUnitPool(settings, S, rng, ch.mvc_rms_uv, targets,
                                                                 lam_scale=lam_scale)
        L = max(pl.length for pl in pools.values())
        tail_n = L + int(0.03 * S) + int(round(FASC_KERNEL_S * S)) + 2
        tail = np.zeros((tail_n, c))
        fk = [[fasc_kernel(u, S) for u in units] for units in plan.fasc_units]
        noise_rng = np.random.default_rng([seed, 3])
        noise_sd = np.array([ch.noise_uv for ch in plan.channels]) / fe.noise_gain()
        acts = plan.activities
        a_t0 = np.array([a.t0 for a in acts]) if acts else np.empty(0)
        a_t1 = np.array([a.t1 for a in acts]) if acts else np.empty(0)
        tr = plan.transients
        tr_t0 = np.array([x.t0 for x in tr]) if tr else np.empty(0)
        tr_t1 = np.array([x.t1 for x in tr]) if tr else np.empty(0)
        wander_scale = plan.meta.get("wander_scale", 1.0)
        dc = np.array([ch.dc_uv for ch in plan.channels])
        ecg_amp = np.array([ch.ecg_uv for ch in plan.channels]) * \
            np.where(np.arange(c) % 2 == 0, 1.0, -0.8)  # polarity differs by lead placement
        # pre-roll: settle the device filters on 0.5 s of background before t = 0
        n_pre = int(round(PREROLL_S * S)) // k * k
        t_pre = (np.arange(n_pre) - n_pre) / S
        pre = np.random.default_rng([seed, 4]).standard_normal((n_pre, c)) * noise_sd + dc[None, :]
        pre += plan.mains(t_pre)[:, None] * plan.mains_uv[None, :]
        for i, w in enumerate(plan.wander):
            pre[:, i] += wander_scale * w(t_pre)
        fe.process(pre)
        skip = fe.delay  # drop the decimator's delay so that samples line up with the labels
        n_frames = math.ceil((self.n_samples + skip) * k / Ns)
        produced = 0
        for j in range(n_frames):
            ts0 = j * FRAME_S
            t = ts0 + np.arange(Ns) / S
            buf = np.zeros((Ns + tail_n, c))
            buf[:tail_n] += tail
            # ---- motor-unit pools
            if acts:
                live = np.flatnonzero((a_t0 < ts0 + FRAME_S) & (a_t1 > ts0))
            else:
                live = []
            if len(live):
                tg = ts0 + np.arange(G) * dt
                levels = {}
                for ai in live:
                    a = acts[ai]
                    key = (a.channel, a.pool)
                    levels[key] = levels.get(key, 0.0) + a.level(tg)
                for key, lv in levels.items():
                    pool = pools[key]
                    exc = pool.excitation_for(lv, plan.channels[key[0]].mvc_rms_uv)
                    times, units = pool.spikes(exc, dt)
                    pos = np.round(times * S).astype(np.int64)
                    pool.render(buf, pos, units)
            # ---- fasciculation potentials starting in this frame
            if plan.fasc_t.size:
                lo, hi = np.searchsorted(plan.fasc_t, [ts0, ts0 + FRAME_S])
                for q in range(lo, hi):
                    ch, u = int(plan.fasc_ch[q]), int(plan.fasc_unit[q])
                    kern = fk[ch][u]
                    p0 = int(round((plan.fasc_t[q] - ts0) * S))
                    buf[p0:p0 + len(kern), ch] += plan.fasc_amp[q] * kern
            tail = buf[Ns:].copy()
            x = buf[:Ns]
            # ---- electrode/amplifier noise, interference, artefacts
            x += noise_rng.standard_normal((Ns, c)) * noise_sd
            x += plan.mains(t)[:, None] * plan.mains_uv[None, :]
            tw = t[::g_step]
            for i, w in enumerate(plan.wander):
                x[:, i] += wander_scale * np.interp(t, tw, w(tw))
            if dc.any():
                x += dc[None, :]
            self._ecg(x, t, ecg_amp)
            if tr:
                for q in np.flatnonzero((tr_t0 < ts0 + FRAME_S) & (tr_t1 > ts0)):
                    x[:, tr[q].channel] += tr[q](t)
            # ---- device
            y = fe.process(x)
            first = j * (Ns // k) - skip  # output index of y[0]
            for ch, a, b, value in plan.lead_off:
                i0 = max(0, int(round(a * self._fs)) - first)
                i1 = min(len(y), int(round(b * self._fs)) - first)
                if i1 > i0:
                    y[i0:i1, ch] = value
            if first < 0:
                y = y[-first:]
            n_left = self.n_samples - produced
            if n_left < len(y):
                y = y[:n_left]
            produced += len(y)
            yield y

    def _ecg(self, x, t, amp):
        plan = self.plan
        beats = plan.beats
        lo, hi = np.searchsorted(beats, [t[0] - ECG_HALF_S, t[-1] + ECG_HALF_S])
        boosts = [(ch, a, b, v) for ch, a, b, v in plan.ecg_boost if a < t[-1] and b > t[0]]
        S = 1.0 / (t[1] - t[0])
        for q in range(lo, hi):
            tb = beats[q]
            i0 = max(0, int((tb - ECG_HALF_S - t[0]) * S))
            i1 = min(len(t), int((tb + ECG_HALF_S - t[0]) * S) + 1)
            if i1 <= i0:
                continue
            w = ecg_beat(t[i0:i1] - tb)
            a = amp.copy()
            for ch, a0, a1, v in boosts:
                if a0 <= tb < a1:
                    a[ch] = v * np.sign(amp[ch])
            x[i0:i1] += w[:, None] * a[None, :]
