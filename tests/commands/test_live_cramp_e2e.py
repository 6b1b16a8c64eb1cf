"""End to end with the real detector: a simulated calf cramp streamed by the Cyton
emulator over a pseudo-terminal (the real pyserial path) raises the stretch alert."""
from __future__ import annotations

import os

import numpy as np
import pytest

from emgpipe.cli import main
from emgpipe.io.events_csv import read_events

pytestmark = pytest.mark.skipif(os.name != "posix" or not hasattr(os, "openpty"),
                                reason="the Cyton emulator needs a POSIX pseudo-terminal")


def test_simulated_cramp_through_the_cyton_pty_raises_the_alert(tmp_path, capsys):
    from emgpipe import sim
    from emgpipe.devices.cyton.emulator import CytonEmulator
    s = sim.make("walk_then_cramp", seed=2, device="cyton")            # 250 Hz, both calves
    x = np.concatenate([d for _, d in s.segments(10.0)])
    rng = np.random.default_rng(0)
    samples = np.concatenate([x, rng.normal(0, 2.0, (len(x), 6))], axis=1)   # 6 spare inputs: noise
    label = next(lab for lab in s.labels if lab.kind == "cramp")
    ch = f"ch{s.ch_names.index(label.channel) + 1}"
    emu = CytonEmulator(samples, speed=25.0).start()
    try:
        out = tmp_path / "ev.csv"
        rc = main(["live", "--source", f"cyton:{emu.port_name}", "--duration", f"{s.duration_s - 1:g}",
                   "--no-ui", "--events-out", str(out), "--alert", "terminal"])
    finally:
        emu.stop()
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    cramps = [e for e in read_events(out) if e.kind == "cramp"]
    assert [e.channel for e in cramps] == [ch]
    assert 0 < cramps[0].alert_s - label.start_s <= 10.0
    assert "stretch" in cap.out.lower()          # the alert with its stretch prompt
