"""``emgpipe simulate --plot``: a PNG of the signal with its labels.

Long recordings are drawn as per-pixel min/max bands computed block by block,
so an 8-hour night plots with flat memory.
"""
from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

#: label colours by kind
COLORS = {"cramp": "#d62728", "fasciculation": "#ff7f0e", "voluntary": "#2ca02c",
          "artifact": "#7f7f7f", "signal_loss": "#000000"}
#: bins per channel trace
N_BINS = 3000


def _minmax(blocks, n_total: int, n_ch: int, n_bins: int):
    """Per-bin min/max over a block iterator (NaN for empty bins)."""
    edges = np.linspace(0, n_total, n_bins + 1).astype(np.int64)
    lo = np.full((n_bins, n_ch), np.inf)
    hi = np.full((n_bins, n_ch), -np.inf)
    pos = 0
    for block in blocks:
        n = len(block)
        idx = np.searchsorted(edges, pos + np.arange(n), side="right") - 1
        idx = np.clip(idx, 0, n_bins - 1)
        for c in range(n_ch):
            np.minimum.at(lo[:, c], idx, block[:, c])
            np.maximum.at(hi[:, c], idx, block[:, c])
        pos += n
    lo[~np.isfinite(lo)] = np.nan
    hi[~np.isfinite(hi)] = np.nan
    return edges, lo, hi


def plot_simulation(sim, out_png, start_s: float = 0.0, stop_s: float | None = None,
                    title: str | None = None) -> None:
    """Draw ``sim`` (a :class:`~emgpipe.sim.Simulation`) with its labels into ``out_png``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    fs = sim.fs
    stop_s = sim.duration_s if stop_s is None else min(stop_s, sim.duration_s)
    a, b = int(start_s * fs), int(stop_s * fs)
    n_ch = len(sim.ch_names)
    n = b - a
    short = n <= 2 * N_BINS

    def cut():
        pos = 0
        for block in sim.blocks(10.0):
            lo, hi = max(a, pos), min(b, pos + len(block))
            if hi > lo:
                yield block[lo - pos:hi - pos]
            pos += len(block)
            if pos >= b:
                break

    gap_mask = None
    if short:
        x = np.concatenate(list(cut())) if n > 0 else np.zeros((0, n_ch))
        t = (a + np.arange(len(x))) / fs
        gap_mask = np.zeros(len(x), bool)
        for g in sim.gaps:
            gap_mask[max(0, g.seq - a):max(0, g.seq + g.n_missing - a)] = True
        x = x.copy()
        x[gap_mask] = np.nan
    else:
        edges, lo, hi = _minmax(cut(), n, n_ch, N_BINS)
        tb = (a + edges[:-1]) / fs
    fig, axes = plt.subplots(n_ch, 1, figsize=(14, 2.2 * n_ch + 0.8), sharex=True, squeeze=False)
    for c, name in enumerate(sim.ch_names):
        ax = axes[c, 0]
        if short:
            ax.plot(t, x[:, c], lw=0.5, color="#1f3b73")
            vals = x[:, c]
        else:
            ax.fill_between(tb, lo[:, c], hi[:, c], step="post", lw=0, color="#1f3b73")
            vals = np.concatenate([lo[:, c], hi[:, c]])
        vals = vals[np.isfinite(vals)]
        if vals.size:
            q = np.percentile(np.abs(vals - np.median(vals)), 99.9)
            mid = np.median(vals)
            lim = max(q * 1.15, 10.0)
            ax.set_ylim(mid - lim, mid + lim)
        for lab in sim.labels:
            if lab.channel not in (name, "*") or lab.end_s < start_s or lab.start_s > stop_s:
                continue
            col = COLORS.get(lab.kind, "#9467bd")
            w = (stop_s - start_s) / 1500  # keep short labels visible
            if lab.kind == "fasciculation":  # ticks along the top edge
                ax.axvspan(lab.start_s, max(lab.end_s, lab.start_s + w), ymin=0.9, color=col, alpha=0.9, lw=0)
            else:
                ax.axvspan(lab.start_s, max(lab.end_s, lab.start_s + w), color=col, alpha=0.18, lw=0)
        ax.set_ylabel(f"{name}\nµV", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[-1, 0].set_xlabel("time (s)")
    axes[-1, 0].set_xlim(start_s, stop_s)
    handles = [Patch(color=v, alpha=0.5, label=k) for k, v in COLORS.items()]
    fig.legend(handles=handles, loc="upper right", ncol=5, fontsize=8)
    fig.suptitle(title or f"{sim.scenario} (seed {sim.seed}, {sim.device}, {fs:g} Hz, {sim.mode})", fontsize=10,
                 x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(out_png, dpi=90)
    plt.close(fig)
    log.info("wrote %s", out_png)
