"""Issue 14: every source takes ``names=a,b,...`` (CONTRACT.md "Sources"), with a clear
error when the count differs from the device's channels."""
from __future__ import annotations

import os

import numpy as np
import pytest

from emgpipe.errors import UsageError
from emgpipe.io.contract_csv import CsvWriter
from emgpipe.devices import open_source
from emgpipe.devices.ganglion.source import GanglionSource
from emgpipe.devices.ganglion.emulator import GanglionEmulator, ble_api
from tests.devices.openbci_fakes import collect

posix = pytest.mark.skipif(os.name != "posix", reason="the emulators need a POSIX pty")


def _first(src, n=50):
    return collect(src, n)[0]


def test_sim_and_file_sources_take_names(tmp_path):
    src = open_source("sim:walk_then_cramp?speed=max&names=gm_l,gm_r")
    src.open()
    assert src.ch_names == ("gm_l", "gm_r") and next(iter(src)).ch_names == ("gm_l", "gm_r")
    path = tmp_path / "r.csv"
    with CsvWriter(path, 500.0, ("a", "b"), {}) as w:
        w.write(np.zeros((1000, 2)))
    src = open_source(f"file:{path}?names=calf_left,calf_right", speed="max")
    with src:
        assert src.ch_names == ("calf_left", "calf_right")
        assert {c.ch_names for c in src} == {("calf_left", "calf_right")}
    with pytest.raises(UsageError, match=r"names= gives 1 name\(s\) \(x\) for 2 channel\(s\) \(a,b\)"):
        open_source(f"file:{path}?names=x").open()


@posix
def test_cyton_takes_names(cyton_emulator):
    emu = cyton_emulator()
    names = ",".join(f"m{i}_left" for i in range(1, 9))
    with open_source(f"cyton:{emu.port_name}?names={names}") as src:
        assert src.ch_names == tuple(names.split(","))
        assert collect(src, 20)[0].ch_names == tuple(names.split(","))


@posix
def test_cyton_wrong_name_count_is_one_line(cyton_emulator):
    emu = cyton_emulator()
    src = open_source(f"cyton:{emu.port_name}?names=calf_left,calf_right")
    with pytest.raises(UsageError) as ei:
        src.open()
    src.close()
    msg = str(ei.value)
    assert "\n" not in msg and "2 name(s)" in msg and "8 channel(s)" in msg and emu.port_name in msg


def test_ganglion_takes_names():
    scanner, client = ble_api(GanglionEmulator(np.zeros((400, 4), int), fw=3, bits=19))
    src = GanglionSource("", scanner=scanner, client_factory=client, scan_timeout=0.5)
    src.use_names(("calf_left", "calf_right", "tib_ant_left", "tib_ant_right"))
    with src:
        assert src.ch_names == ("calf_left", "calf_right", "tib_ant_left", "tib_ant_right")
        assert collect(src, 20)[0].ch_names == src.ch_names
    assert open_source("ganglion:?names=a,b,c,d")._names == ("a", "b", "c", "d")


def test_lsl_and_bridge_accept_names():
    assert open_source("lsl:MyEMG?names=calf_left")._names == ("calf_left",)
    assert open_source("bridge:/dev/ttyACM0?names=calf_l,calf_r").names == ("calf_l", "calf_r")
    assert open_source("bridge-ble:?names=calf_l").names == ("calf_l",)


@posix
def test_bridge_wrong_name_count_is_one_line(tmp_path):
    from emgpipe.devices.bridge.emulator import BridgeEmulator
    emu = BridgeEmulator(link=tmp_path / "bridge0", fs=1000, env=False).start()
    try:
        with pytest.raises(UsageError, match=r"2 name\(s\) \(a,b\) for the device's 1 RAW channel"):
            open_source(f"bridge:{emu.path}?names=a,b&handshake=2").open()
    finally:
        emu.stop()


def test_empty_or_repeated_names_are_refused():
    with pytest.raises(UsageError, match="different"):
        open_source("sim:walk_then_cramp?names=a,a")
    with pytest.raises(UsageError, match="names="):
        open_source("sim:walk_then_cramp?names=a,,b")
