"""emgpipe live end to end: the real pyserial path through the Cyton emulator's pty."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from emgpipe.cli import main
from emgpipe.io.events_csv import read_events
from emgpipe.types import Event
from tests.helpers import ctrl_c_enabled

REPO = Path(__file__).resolve().parents[2]
posix_only = pytest.mark.skipif(os.name != "posix" or not hasattr(os, "openpty"),
                                reason="the Cyton emulator needs a POSIX pseudo-terminal")
FS = 250.0


def when(cond, action, limit_s=10.0):
    """Run ``action()`` in a thread as soon as ``cond()`` holds."""
    def watch():
        t_end = time.monotonic() + limit_s
        while time.monotonic() < t_end:
            if cond():
                action()
                return
            time.sleep(0.002)
    t = threading.Thread(target=watch, daemon=True)
    t.start()
    return t


class ThresholdCramp:
    """A fake detector: "cramp" while a channel's window RMS is above ``on_uv``."""

    def __init__(self, on_uv=20.0, off_uv=10.0):
        self.on_uv, self.off_uv = on_uv, off_uv
        self._open = {}

    def update(self, f):
        out, rms = [], f.values["rms"]
        for i in range(f.n_windows):
            start, end = float(f.start_s[i]), float(f.end_s[i])
            for j, ch in enumerate(f.ch_names):
                if ch not in self._open and rms[i, j] > self.on_uv:
                    self._open[ch] = start
                    out.append(Event("cramp", ch, start, end, end, status="onset", detector="fake"))
                elif ch in self._open and rms[i, j] < self.off_uv:
                    s = self._open.pop(ch)
                    out.append(Event("cramp", ch, s, end, end, detector="fake"))
        return out

    def close(self, end_s):
        out = [Event("cramp", ch, s, end_s, end_s, detector="fake") for ch, s in self._open.items()]
        self._open.clear()
        return out


@posix_only
def test_cyton_gap_reported_as_signal_loss(cyton_emulator, tmp_path, capsys):
    # Drop 10 packets once streaming is well under way (a leading loss is invisible), at the
    # first batch the emulator thread makes from sample 300 (1.2 s) on: asked for from its own
    # signal function, so the gap's place in the stream does not depend on thread timing. (A
    # watcher thread polling packets_sent, late on a loaded machine, found 5 s sent already.)
    from emgpipe.devices.cyton.emulator import synthetic_emg
    signal_fn, drop_at = synthetic_emg(8, FS), []

    def samples(start, n):
        if not drop_at and start >= 300:     # at most 1000 packets a batch: start < 1300
            drop_at.append(start)
            emu.drop_packets(10)
        return signal_fn(start, n)
    emu = cyton_emulator(samples)
    out = tmp_path / "f.csv"
    rc = main(["live", "--source", f"cyton:{emu.port_name}", "--duration", "10", "--no-ui",
               "--events-out", str(out)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    events = read_events(out)
    loss = [e for e in events if e.kind == "signal_loss" and "dropped" in e.detail]
    assert sorted(e.channel for e in loss) == [f"ch{i}" for i in range(1, 9)]
    # one gap of 10 samples, where the emulator dropped them (>= sample 300, 1.2 s)
    assert len({e.start_s for e in loss}) == 1, loss
    assert all(e.duration_s == pytest.approx(10 / FS) and e.start_s == pytest.approx(drop_at[0] / FS)
               for e in loss), (loss, drop_at)
    assert max(e.end_s for e in events) <= 10.0 + 1e-9
    assert "duration reached after 10.0 s of signal" in cap.err
    assert "250 Hz" in cap.err and "dongle" in cap.err          # the device limit is stated
    assert sum("signal_loss" in line for line in cap.out.splitlines()) == 8
    assert "\x1b[" not in cap.out                                # stdout is not a terminal


@posix_only
@pytest.mark.parametrize("alert", ["terminal", "none"])
def test_alert_fires_through_live_with_injected_detector(cyton_emulator, tmp_path, capsys, monkeypatch, alert):
    import emgpipe.pipeline as pipeline
    monkeypatch.setattr(pipeline, "default_detectors", lambda model, mode, *a, **k: [ThresholdCramp()])
    emu = cyton_emulator()
    out = tmp_path / "f.csv"
    rc = main(["live", "--source", f"cyton:{emu.port_name}", "--duration", "5", "--no-ui",
               "--events-out", str(out), "--alert", alert])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    cramps = [e for e in read_events(out) if e.kind == "cramp" and e.channel == "ch1"]
    assert len(cramps) == 1
    # the burst runs 3.0-4.5 s; windows are 0.25 s, so onset is within a window of 3.0 s
    assert 2.75 <= cramps[0].start_s <= 3.25 and 4.4 <= cramps[0].end_s <= 4.9
    alerts = [line for line in cap.out.splitlines() if "stretch now" in line]
    # one alert per cramp: ch1, and ch2 (half the amplitude, still above the threshold)
    assert "2 alert(s)" in cap.err
    if alert == "none":
        assert alerts == [] and "\a" not in cap.out
        return
    # printed by the terminal sink, with the bell; its keep-latest slot may drop the ch1
    # alert for the ch2 one made 6 ms later (20x real time), never repeat one
    assert 1 <= len(alerts) <= 2 and len(set(alerts)) == len(alerts)
    assert all(a.split("CRAMP", 1)[1].split()[2] in ("ch1", "ch2") for a in alerts), alerts
    assert "\a" in cap.out


@posix_only
def test_unplug_shows_reconnecting_and_recovers(cyton_emulator, tmp_path, capsys):
    emu = cyton_emulator(speed=5.0)

    def pull_cable():
        emu.unplug()
        time.sleep(0.4)
        emu.replug()
    when(lambda: emu.packets_sent >= 250, pull_cable)
    rc = main(["live", "--source", f"cyton:{emu.port_name}?stall_s=0.5", "--duration", "4",
               "--no-ui"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "disconnected" in cap.err and "reconnecting..." in cap.err
    assert "reconnected after" in cap.err
    assert "signal_loss" in cap.out


def test_missing_port_is_one_line_with_exit_code(capsys, tmp_path):
    port = str(tmp_path / "ttyUSB9")
    rc = main(["live", "--source", f"cyton:{port}", "--no-ui"])
    err = capsys.readouterr().err
    assert rc == 4
    assert err.count("\n") == 1 and err.startswith(f"emgpipe: cyton:{port}: serial port not found")


def test_bad_duration_and_source_are_usage_errors(capsys):
    assert main(["live", "--source", "sim:walk_then_cramp", "--duration", "0"]) == 2
    assert main(["live", "--source", "nosuch:thing"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("emgpipe: --duration") and "unknown source type" in err[1]


def test_duration_is_signal_time_and_events_are_causal(tmp_path, capsys):
    out = tmp_path / "sim.csv"
    t = time.monotonic()
    rc = main(["live", "--source", "sim:walk_then_cramp", "--speed", "max", "--duration", "12.3",
               "--events-out", str(out)])                       # no --no-ui: stdout is no tty
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "after 12.3 s of signal" in cap.err and time.monotonic() - t < 12.3
    events = read_events(out)
    assert all(e.end_s <= 12.3 + 1e-9 and e.alert_s <= 12.3 + 1e-9 for e in events)
    assert "\x1b[" not in cap.out


@posix_only
def test_sigint_stops_cleanly_with_events_file_intact(cyton_emulator, tmp_path):
    """Ctrl-C to a streaming `emgpipe live`: exit 0, a complete events file.

    Event-driven: the SIGINT goes out only once the process has announced the
    drop we caused (so it is streaming with its Ctrl-C handler in place), and the
    source is a real-time board that never ends by itself.
    """
    emu = cyton_emulator(speed=1.0)
    out = tmp_path / "f.csv"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with ctrl_c_enabled():               # the child must not inherit an ignored SIGINT
        proc = subprocess.Popen([sys.executable, "-m", "emgpipe", "live", "--source",
                                 f"cyton:{emu.port_name}", "--no-ui", "--events-out", str(out)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                cwd=REPO)
    guard = threading.Timer(40, proc.kill)                # never hang the test run
    guard.start()
    try:
        err = []
        while not (err and err[-1].startswith("live: cyton:")):   # the header: streaming
            err.append(proc.stderr.readline())
            assert err[-1], f"live ended before streaming: {''.join(err)}"
        sent = emu.packets_sent
        when(lambda: emu.packets_sent > sent + 50, lambda: emu.drop_packets(25))
        line = " "
        while line and "signal_loss" not in line:        # the gap, announced live
            line = proc.stdout.readline()
        assert "signal_loss" in line
        proc.send_signal(signal.SIGINT)
        _, rest_err = proc.communicate(timeout=15)       # drains both pipes while it stops
        rc = proc.returncode
    finally:
        guard.cancel()
        if proc.poll() is None:
            proc.kill()
    assert rc == 0, rest_err
    assert "stopped by user" in rest_err and "Traceback" not in rest_err
    loss = [e for e in read_events(out) if e.kind == "signal_loss"]
    assert len(loss) == 8 and all(np.isclose(e.duration_s, 25 / FS) for e in loss)
    assert out.read_text().endswith("\n")


@posix_only
def test_live_view_mode_draws_states_and_alert(cyton_emulator, capsys, monkeypatch):
    import emgpipe.pipeline as pipeline
    import emgpipe.ui as ui
    monkeypatch.setattr(pipeline, "default_detectors", lambda model, mode, *a, **k: [ThresholdCramp()])
    monkeypatch.setattr(ui, "enable_ansi", lambda stream=None: True)   # as if stdout were a tty
    emu = cyton_emulator(speed=2.0)                 # the 1.5 s burst lasts 0.75 s: several frames
    rc = main(["live", "--source", f"cyton:{emu.port_name}", "--duration", "5"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    out = cap.out
    assert out.startswith("\x1b[?1049h") and out.endswith("\x1b[?25h\x1b[?1049l")
    frames = out.split("\x1b[H")
    assert len(frames) >= 3, out
    assert any("CRAMP!" in f and "- stretch now" in f for f in frames), frames
    assert "\a" in out                                       # the bell rang once drawn
    assert "250 Hz" in frames[-1] and "dongle" in frames[-1]          # the device limit stays in view
    assert "live: duration reached after 5.0 s of signal" in cap.err


def test_permission_denied_is_one_line_with_the_fix(capsys, monkeypatch):
    import errno

    import serial

    def refuse(port, **kw):
        raise serial.SerialException(errno.EACCES, f"could not open port {port}: [Errno 13] "
                                                   f"Permission denied: '{port}'")
    monkeypatch.setattr(serial, "Serial", refuse)
    monkeypatch.setattr(sys, "platform", "linux")
    rc = main(["live", "--source", "cyton:/dev/ttyUSB0", "--no-ui"])
    err = capsys.readouterr().err
    assert rc == 4 and err.count("\n") == 1
    assert err.startswith("emgpipe: cyton:/dev/ttyUSB0: permission denied") and "dialout" in err


def test_no_lsl_stream_is_one_line_device_not_found(capsys):
    pytest.importorskip("pylsl", reason="pylsl (extra 'lsl') is not installed")
    rc = main(["live", "--source", "lsl:emgpipe-no-such-stream?timeout=0.2", "--no-ui"])
    err = capsys.readouterr().err
    assert rc == 4 and err.count("\n") == 1
    assert err.startswith("emgpipe: lsl:emgpipe-no-such-stream: no LSL stream named")
