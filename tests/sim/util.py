"""Helpers for the simulator tests."""
from __future__ import annotations

import numpy as np


def rms(x) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if len(x) else float("nan")


def idx(sim_, t0, t1):
    return slice(max(0, int(t0 * sim_.fs)), min(sim_.n_samples, int(t1 * sim_.fs)))


def outside(sim_, channel, kinds=None, margin=1.0):
    """Boolean mask of samples of ``channel`` at least ``margin`` s away from any label."""
    mask = np.ones(sim_.n_samples, bool)
    for lab in sim_.labels:
        if lab.channel == channel and (kinds is None or lab.kind in kinds):
            mask[idx(sim_, lab.start_s - margin, lab.end_s + margin)] = False
    for g in sim_.gaps:
        mask[g.seq:g.seq + g.n_missing] = False
    return mask


def plan_digest(plan) -> str:
    """sha256 (first 16 hex digits) of a plan's timeline: labels, activity levels, potentials, transients.

    Rounded so that it does not depend on float formatting; for "the old scenarios did not change".
    """
    import hashlib
    import json

    h = hashlib.sha256()
    h.update(json.dumps([list(lab.row()) for lab in plan.labels], default=str).encode())
    grid = np.arange(0.0, plan.duration_s, 0.25)
    for a in plan.activities:
        h.update(f"{type(a).__name__},{a.channel},{a.pool},{a.t0:.6f},{a.t1:.6f}".encode())
        h.update(np.round(a.level(grid), 6).tobytes())
    h.update(np.round(np.column_stack([plan.fasc_t, plan.fasc_ch, plan.fasc_unit, plan.fasc_amp]), 6).tobytes())
    for tr in plan.transients:
        h.update(f"{tr.channel},{tr.t0:.6f},{tr.kind},{tr.amp_uv:.4f},{tr.tau:.6f},{tr.freq:.4f}".encode())
    h.update(np.round(plan.beats, 6).tobytes())
    h.update(f"{plan.mains.freq},{plan.mains.phase:.6f},{[w.amp_uv for w in plan.wander]}".encode())
    return h.hexdigest()[:16]
