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
