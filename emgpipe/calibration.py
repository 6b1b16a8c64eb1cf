"""Per-user calibration profiles: each channel's rest level and maximal contraction.

``emgpipe calibrate`` records a rest period and a brief maximal voluntary
contraction (MVC) and stores, per channel, the rest RMS and the MVC RMS of
the *filtered* signal (same filters and windows as detection). The detector
then seeds its baseline with the rest level and requires a cramp to reach
``cramp_mvc`` of the MVC instead of the uncalibrated absolute floor.

Profiles are JSON in the user's configuration folder (per OS, see
:func:`default_profile_path`) or anywhere given with ``--profile``.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ConfigError, StorageError

PROFILE_VERSION = 1


def config_dir() -> Path:
    """Where emgpipe keeps per-user files, following each OS's convention."""
    if sys.platform.startswith("win"):
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "emgpipe"


def default_profile_path() -> Path:
    return config_dir() / "profile.json"


@dataclass
class Profile:
    """Calibration of one user and electrode set-up."""

    channels: dict                       # name -> {"rest_uv": float, "mvc_uv": float}
    fs: float
    source: str = ""
    created: str = ""
    model: str = ""
    extra: dict = field(default_factory=dict)

    def detector_profile(self) -> dict:
        return {k: dict(v) for k, v in self.channels.items()}

    def save(self, path) -> Path:
        path = Path(path)
        try:
            from .night.private import open_private, private_dir
            private_dir(path.parent)
            tmp = path.with_suffix(path.suffix + ".tmp")
            fd = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0))
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:   # health data: 0600
                f.write(json.dumps({"version": PROFILE_VERSION, "fs": self.fs, "source": self.source,
                                    "created": self.created, "model": self.model,
                                    "channels": self.channels, **self.extra}, indent=1) + "\n")
            os.replace(tmp, path)
        except OSError as err:
            raise StorageError(f"{path}: cannot write the profile ({err.strerror or err})") from None
        return path

    @classmethod
    def load(cls, path) -> "Profile":
        path = Path(path)
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such profile (run emgpipe calibrate first)") from None
        except (OSError, ValueError) as err:
            raise ConfigError(f"{path}: not a valid profile ({err})") from None
        chans = d.get("channels")
        if not isinstance(chans, dict) or not chans:
            raise ConfigError(f"{path}: profile has no channels")
        for name, v in chans.items():
            try:
                rest, mvc = float(v["rest_uv"]), float(v["mvc_uv"])
            except (KeyError, TypeError, ValueError):
                raise ConfigError(f"{path}: channel {name!r} needs rest_uv and mvc_uv") from None
            if not (0 < rest < mvc):
                raise ConfigError(f"{path}: channel {name!r}: need 0 < rest_uv < mvc_uv")
        extra = {k: v for k, v in d.items() if k not in ("version", "fs", "source", "created", "model",
                                                          "channels")}
        return cls(chans, float(d.get("fs", 0.0)), d.get("source", ""), d.get("created", ""),
                   d.get("model", ""), extra)


def window_rms(chunks, model=None, source=None) -> tuple[np.ndarray, np.ndarray, tuple, float]:
    """RMS of every window of the filtered chunks: (end_s, rms (n, ch), names, fs).

    The chunks go through the detection pipeline itself
    (:func:`emgpipe.pipeline.build_pipeline` for ``source``, else for the first
    chunk), so the levels are those the detector compares with the profile:
    same filters and windows, and a MyoWare ENV envelope is not band-passed.
    """
    from .pipeline import build_pipeline
    ends, vals, names, fs = [], [], (), 0.0
    pipe = None

    def on_features(f):
        if f.n_windows:
            ends.append(f.end_s)
            vals.append(f.values["rms"])
    try:
        for c in chunks:
            if pipe is None:
                pipe = build_pipeline(source if source is not None else c, model=model, detectors=())
                pipe.features.sink(on_features)
            names, fs = c.ch_names, c.fs
            pipe.push(c)
    finally:
        if pipe is not None:
            pipe.destroy()
    if not vals:
        return np.empty(0), np.empty((0, len(names))), names, fs
    return np.concatenate(ends), np.concatenate(vals), names, fs


def compute_profile(end_s, rms, names, fs, rest, mvc, min_ratio: float = 5.0, source="", model="") -> Profile:
    """Profile from the windows in the ``rest`` and ``mvc`` (start, end) periods.

    Rest level: median window RMS of the rest period (robust to a twitch).
    MVC: 95th percentile of the contraction period (a brief peak, not one
    spike). Raises ConfigError naming a channel whose contraction is not at
    least ``min_ratio`` times its rest level.
    """
    r_sel = (end_s > rest[0]) & (end_s <= rest[1])
    m_sel = (end_s > mvc[0]) & (end_s <= mvc[1])
    if r_sel.sum() < 4 or m_sel.sum() < 4:
        raise ConfigError("calibration: too little signal recorded for rest or contraction")
    chans = {}
    for k, name in enumerate(names):
        rest_uv = float(np.median(rms[r_sel, k]))
        mvc_uv = float(np.percentile(rms[m_sel, k], 95))
        if mvc_uv < min_ratio * rest_uv:
            raise ConfigError(f"calibration: channel {name!r}: contraction ({mvc_uv:.1f} µV) is not "
                              f"{min_ratio:g}x rest ({rest_uv:.1f} µV); check the electrodes and contract harder")
        chans[name] = {"rest_uv": round(rest_uv, 3), "mvc_uv": round(mvc_uv, 2)}
    return Profile(chans, fs, source, time.strftime("%Y-%m-%dT%H:%M:%S"), model)
