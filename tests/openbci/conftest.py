"""Fixtures for the OpenBCI tests: a running Cyton emulator on a pty."""
from __future__ import annotations

import pytest


@pytest.fixture
def emulator():
    """``make(samples, **kw)`` -> a started CytonEmulator, stopped after the test."""
    from emgpipe.openbci.emulator import CytonEmulator
    made = []

    def make(samples=None, **kw):
        kw.setdefault("speed", 20.0)
        emu = CytonEmulator(samples, **kw).start()
        made.append(emu)
        return emu

    yield make
    for emu in made:
        emu.stop()
