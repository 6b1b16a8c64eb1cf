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


#: The slowest test files (``python -m pytest -n 0 --durations=0``, summed per file, session 15),
#: longest first. The suite runs on one pytest-xdist worker per core, a file per worker at a
#: time (``--dist loadfile``, in pyproject); files start in collection order, so these are
#: collected first, or one of them starting last would keep a core busy alone at the end.
#: Only the order changes: a file missing here is collected as before.
SLOW_FIRST = (
    "test_readme_examples.py", "night/test_faults.py", "sim/test_simulation.py",
    "batch/test_cluster.py", "firmware/test_avr_simavr.py", "report/test_chromium.py",
    "test_split.py", "answers/test_detector_learns.py", "report/test_report.py",
    "devices/cyton/test_cyton_source.py", "commands/test_live.py", "test_prepare_kernels.py",
    "sim/test_everyday.py", "test_aot.py", "night/test_night_command.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {REPO / "tests" / name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(Path(str(item.path)), len(rank)))
