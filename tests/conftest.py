"""Shared fixtures: the real-data folder and a Cyton emulator on a pty."""
from __future__ import annotations

from pathlib import Path

import pytest


REPO = Path(__file__).resolve().parents[1]
#: ../shared/data beside the repository (CI has it; a fresh machine may not).
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _private_config_home(tmp_path_factory, monkeypatch):
    """No test reads or writes the real wearer's profile folder (calibration,
    answers.json, which live and night read by default): XDG_CONFIG_HOME /
    APPDATA point into a temporary folder (tests that need their own set it again)."""
    import sys
    cfg = tmp_path_factory.mktemp("config-home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(cfg))
    monkeypatch.setenv("APPDATA", str(cfg))
    if sys.platform == "darwin":
        monkeypatch.setenv("HOME", str(cfg))


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real recordings not available ({SHARED_DATA} is absent)")
    return SHARED_DATA


@pytest.fixture
def cyton_emulator():
    """``make(samples=None, **kw)`` -> a started CytonEmulator on a pseudo-terminal
    (without samples: 60 µV bursts at 3-4.5 s of every 6 s on ch1, channel k at
    1/k), stopped after the test."""
    from emgpipe.devices.cyton.emulator import CytonEmulator
    made = []

    def make(samples=None, **kw):
        kw.setdefault("speed", 20.0)
        emu = CytonEmulator(samples, **kw).start()
        made.append(emu)
        return emu

    yield make
    for emu in made:
        emu.stop()
