"""Fixtures of the bridge tests: the committed frame vectors and the pty emulator."""
from __future__ import annotations

import json
import os

import pytest

from tests.bridge.bridge_helpers import VECTORS


@pytest.fixture(scope="session")
def vectors() -> dict:
    return json.loads(VECTORS.read_text())


@pytest.fixture
def emulator(tmp_path):
    """Factory of running :class:`BridgeEmulator` on a pty behind tmp_path/bridge0."""
    if os.name != "posix":
        pytest.skip("the bridge emulator needs a POSIX pseudo-terminal")
    from emgpipe.devices.bridge.emulator import BridgeEmulator
    made = []

    def make(signal=None, **kwargs):
        emu = BridgeEmulator(signal, link=tmp_path / "bridge0", **kwargs).start()
        made.append(emu)
        return emu
    yield make
    for emu in made:
        emu.stop()
