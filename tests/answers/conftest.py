"""The answer tests never touch the real profile folder: the configuration
folder (XDG_CONFIG_HOME / APPDATA / HOME on macOS) points into tmp_path."""
from __future__ import annotations

import sys

import pytest


@pytest.fixture(autouse=True)
def private_config(tmp_path, monkeypatch):
    cfg = tmp_path / "config-home"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(cfg))
    monkeypatch.setenv("APPDATA", str(cfg))
    if sys.platform == "darwin":
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return cfg


@pytest.fixture(scope="session")
def cramp_scenario():
    """A simulated walk, pause and calf cramp (Cyton, 250 Hz, 75 s), in 0.5 s chunks."""
    from emgpipe import sim
    from emgpipe.types import Chunk
    s = sim.make("walk_then_cramp", seed=2, device="cyton")
    chunks, seq = [], 0
    for _, d in s.segments(0.5):
        chunks.append(Chunk(d, fs=s.fs, seq=seq, ch_names=s.ch_names))
        seq += len(d)
    return s, chunks
