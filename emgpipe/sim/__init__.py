"""Labelled surface-EMG simulator: the ground truth the detector is judged on.

A motor-unit-pool model (:mod:`.motor_units`) driven by scenario timelines
(:mod:`.scenarios`, :mod:`.activities`), with interference and artefacts
(:mod:`.artifacts`), synthesised at >= 2 kHz and passed through a device
model (:mod:`.devices`) down to the device rate, frame by frame
(:mod:`.render`). Figures and their sources: docs/physiology.md.

Examples
--------
>>> from emgpipe import sim
>>> s = sim.make("walk_then_cramp", fs=1000, seed=1)
>>> s.ch_names, s.mode, s.fs
(('calf_left', 'calf_right'), 'awake', 1000.0)
>>> sum(len(b) for b in s.blocks(10.0)) == s.n_samples
True
>>> [lab.kind for lab in s.labels if lab.kind == "cramp"]
['cramp']
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import StorageError, UsageError
from ..metrics import Label, write_labels
from .devices import DEVICES, check_fs, device_for_fs
from .render import Simulation
from .scenarios import SCENARIOS, build_plan

__all__ = ["SCENARIOS", "DEVICES", "Label", "Simulation", "make", "write", "stem_paths"]


def make(scenario: str, fs: int | None = None, seed: int = 0, duration: float | None = None,
         device: str | None = None) -> Simulation:
    """Build a labelled simulation (samples are made lazily when iterated).

    Parameters
    ----------
    scenario : str
        A key of :data:`SCENARIOS`.
    fs : int, optional
        Output rate. Default: the device's (raw 1000, cyton 250, ganglion 200,
        myoware_env 1000). Given alone, 250 selects ``cyton`` and 200 ``ganglion``.
    seed : int
        Same seed, same output (and the same event timeline on every device).
    duration : float, optional
        Seconds (>= 10); default per scenario (e.g. 75 s walk_then_cramp, 8 h night).
    device : str, optional
        ``raw`` (1-4 kHz), ``cyton`` (250 Hz), ``ganglion`` (200 Hz) or
        ``myoware_env`` (rectified smoothed envelope). Default ``raw`` or from ``fs``.

    Returns
    -------
    Simulation

    Raises
    ------
    ValueError
        Unknown scenario/device or a rate the device cannot have.
    """
    if device is None:
        device = device_for_fs(fs)
    fs = check_fs(device, fs)
    plan = build_plan(scenario, int(seed), duration, device)
    return Simulation(plan, device, fs)


def stem_paths(out_path) -> tuple[Path, Path, Path]:
    """(recording CSV, labels CSV, sidecar JSON) for an output path (``.csv`` added if missing)."""
    p = Path(out_path)
    if p.suffix.lower() != ".csv":
        p = p.with_name(p.name + ".csv")
    return p, p.with_name(p.stem + ".labels.csv"), p.with_suffix(".json")


def write(sim: Simulation, out_path, block_s: float = 10.0) -> Path:
    """Write ``<stem>.csv`` (contract recording CSV), ``<stem>.labels.csv`` and ``<stem>.json``.

    Dropped samples are left out of the CSV (a ``time_s`` jump, read back as a
    Gap) and listed in the sidecar's ``gaps`` as ``[seq, n_missing]``.

    Returns
    -------
    Path of the recording CSV.
    """
    from ..io.contract_csv import CsvWriter

    rec, lab, side = stem_paths(out_path)
    if rec.parent and not rec.parent.is_dir():
        try:      # the README's `--out sim/walk.csv` in a fresh folder: make it (exports say where)
            rec.parent.mkdir(parents=True)
        except OSError as err:
            raise StorageError(f"--out {out_path}: cannot create folder {rec.parent} "
                               f"({err.strerror or err})") from None
    extra = {k: v for k, v in sim.sidecar().items() if k not in ("fs", "channels")}
    try:
        with CsvWriter(rec, sim.fs, sim.ch_names, extra) as w:
            for seq, data in sim.segments(block_s):
                w.write(data, seq=seq)
        write_labels(lab, sim.labels)
        # CsvWriter wrote the sidecar first; rewrite it with the final content
        with open(side, "w", encoding="utf-8") as f:
            json.dump(sim.sidecar(), f, indent=1)
            f.write("\n")
    except OSError as exc:
        raise StorageError(f"{rec}: cannot write ({exc.strerror or exc})") from None
    return rec


def is_labeled_recording(path) -> bool:
    """True for ``X.csv`` with a sibling ``X.labels.csv`` (not a labels/events CSV itself)."""
    p = Path(path)
    name = p.name
    if not name.endswith(".csv") or name.endswith((".labels.csv", ".events.csv")):
        return False
    return (p.with_name(p.stem + ".labels.csv")).is_file()


_ = os  # keep os imported for path helpers in subclasses/tools
