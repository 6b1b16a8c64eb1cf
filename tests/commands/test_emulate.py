"""emgpipe emulate: the printed port works with emgpipe live; the scenario signal."""
from __future__ import annotations

import os
import re
import threading
import time

import numpy as np
import pytest

from emgpipe.cli import main
from emgpipe.commands import emulate
from emgpipe.errors import UsageError

posix_only = pytest.mark.skipif(os.name != "posix" or not hasattr(os, "openpty"),
                                reason="the emulators need a POSIX pseudo-terminal")


def test_scenario_signal_is_index_addressable_and_loops():
    s = emulate.ScenarioSignal("walk_then_cramp", fs=250, n_columns=8, seed=3, device="cyton",
                               duration=10.0)
    assert s.ch_names == ("calf_left", "calf_right")
    first = s(0, 3000)                                   # 12 s: past the 10 s scenario
    np.testing.assert_array_equal(first[2500:2600], first[:100])   # looped, same seed
    np.testing.assert_array_equal(s(1000, 50), first[1000:1050])   # re-read within KEEP_S
    spare = first[:, 2:]
    assert 2.0 < spare.std() < 4.0 and abs(spare.mean()) < 0.5    # rest-level noise
    seq = emulate.ScenarioSignal("walk_then_cramp", fs=250, n_columns=8, seed=3, device="cyton",
                                 duration=10.0)
    np.testing.assert_array_equal(np.concatenate([seq.read(7), seq.read(993)]), first[:1000, :])


def test_windows_gets_a_one_line_com0com_hint(monkeypatch):
    monkeypatch.setattr(emulate.os, "name", "nt")
    with pytest.raises(UsageError, match="com0com"):
        emulate._check_posix()


def run_emulator_and_live(argv_emulate, scheme, live_duration, capsys):
    """Run ``emgpipe emulate ...`` in a thread, parse its line, run live on its port."""
    from emgpipe.cli import build_parser
    args = build_parser().parse_args(argv_emulate)
    stop, rc_emu = threading.Event(), []
    t = threading.Thread(target=lambda: rc_emu.append(args.func(args, stop=stop)), daemon=True)
    t.start()
    try:
        line, t_end = "", time.monotonic() + 20
        while "connect with" not in line and time.monotonic() < t_end:
            time.sleep(0.02)
            line += capsys.readouterr().out
        m = re.search(rf"--source {scheme}:(\S+)", line)
        assert m, line
        assert line.count("\n") == 1                       # one line
        rc = main(["live", "--source", f"{scheme}:{m.group(1)}", "--duration", str(live_duration),
                   "--no-ui"])
        err = capsys.readouterr().err
    finally:
        stop.set()
        t.join(timeout=10)
    return line, rc, err, rc_emu


@posix_only
def test_emulate_cyton_prints_a_port_that_live_can_use(capsys):
    line, rc, err, rc_emu = run_emulator_and_live(
        ["emulate", "cyton", "--speed", "10", "--seed", "2"], "cyton", 3, capsys)
    assert line.startswith("emulating an OpenBCI Cyton (8 ch, 250 Hz: the USB dongle's limit)")
    assert "/dev/" in line
    assert rc == 0, err
    assert "8 ch (ch1, ch2, ch3, ch4, ch5, ch6, ch7, ch8) @ 250 Hz" in err
    assert "duration reached after 3.0 s of signal" in err
    assert rc_emu == [0]


@posix_only
def test_emulate_bridge_prints_a_port_that_live_can_use(capsys):
    pytest.importorskip("emgpipe.devices.bridge.emulator", reason="bridge backend not available")
    line, rc, err, rc_emu = run_emulator_and_live(
        ["emulate", "bridge", "--speed", "4"], "bridge", 2, capsys)
    assert line.startswith("emulating a MyoWare on firmware_bridge (1 sensor(s), 1000 Hz)")
    assert rc == 0, err
    assert "@ 1000 Hz" in err and "duration reached after 2.0 s of signal" in err
    assert rc_emu == [0]


def test_emulate_lsl_prints_a_stream_that_live_can_use(capsys):
    pytest.importorskip("pylsl", reason="pylsl (extra 'lsl') is not installed")
    import uuid
    name = f"emgpipe-emu-{uuid.uuid4().hex[:8]}"
    line, rc, err, rc_emu = run_emulator_and_live(
        ["emulate", "lsl", "--name", name, "--speed", "4"], "lsl", 2, capsys)
    assert line.startswith(f"emulating an LSL EMG outlet (2 ch, 1000 Hz) on {name}")
    assert rc == 0, err
    assert "(calf_left, calf_right) @ 1000 Hz" in err and "duration reached after 2.0 s" in err
    assert rc_emu == [0]


def test_emulate_needs_a_device(capsys):
    with pytest.raises(SystemExit) as e:
        main(["emulate"])
    assert e.value.code == 2
    assert "emgpipe emulate" in capsys.readouterr().err
