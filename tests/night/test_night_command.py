"""`emgpipe night` as a real process: kill -9 loses no announced event, Ctrl-C stops cleanly."""
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from emgpipe.io.edf import read
from tests.helpers import ctrl_c_enabled
from tests.night.night_helpers import query, read_edf, sim_data

pytestmark = pytest.mark.skipif(sys.platform.startswith("win"), reason="POSIX signals (SIGKILL, SIGINT)")

SPEED = 20          # 75 s of simulated walk-then-cramp in under 4 s
FLUSH_S = 2.0
#: Raw data reach the disk every FLUSH_S of signal, in whole data records of 1 s.
MAX_LAG_S = FLUSH_S + 1.0 + 0.05      # + one data record + one chunk


class Night:
    """A running `emgpipe night` whose stdout lines are collected as they come."""

    def __init__(self, out, speed, source="sim:walk_then_cramp"):
        self.out = out
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "emgpipe", "night", "--source", f"{source}{'&' if '?' in source else '?'}speed={speed}",
             "--out", str(out), "--print-events", "--alert", "terminal", "--no-bell",
             "--flush-s", str(FLUSH_S)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.lines = []
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def events(self):
        return [ln for ln in list(self.lines) if ln.startswith("EVENT ")]

    def wait_for_events(self, n, timeout=60.0):
        t0 = time.monotonic()
        while len(self.events()) < n and time.monotonic() - t0 < timeout and self.proc.poll() is None:
            time.sleep(0.02)
        assert len(self.events()) >= n, f"no events from emgpipe night: {self.lines} {self.proc.stderr.read()}"


def tiny_filesystem(path) -> bool:
    """Mount a 4 MiB tmpfs at ``path`` (needs root on Linux); False when not allowed here."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or not shutil.which("mount"):
        return False
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(path)],
                          capture_output=True)
    return done.returncode == 0


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    """Both runs at once (the slow part is starting Python): kill -9 and a full disk."""
    root = tmp_path_factory.mktemp("nights")
    tiny = root / "tiny"
    mounted = tiny_filesystem(tiny)
    runs = {}
    try:
        runs["kill"] = Night(root / "kill", SPEED)
        if mounted:   # 12 min of 1 kHz EDF (3 MB) cannot fit beside the database's 2 MiB reserve
            runs["full"] = Night(tiny / "night", "max", source="sim:night?duration=720")
        yield runs
    finally:
        for r in runs.values():
            if r.proc.poll() is None:
                r.proc.kill()
            r.proc.wait(10)
        if mounted:
            subprocess.run(["umount", "-l", str(tiny)], capture_output=True)


def parse(line):
    _, status, kind, channel, *kv = line.split()
    vals = dict(x.split("=") for x in kv)
    return status, kind, channel, float(vals["start_s"]), float(vals["alert_s"])


def test_kill_9_keeps_every_announced_event_and_readable_raw_files(nights):
    run = nights["kill"]
    run.wait_for_events(3)                        # a few events in (stream time ~25-30 s)
    run.proc.send_signal(signal.SIGKILL)
    run.proc.wait(10)
    time.sleep(0.1)                               # the reader thread drains stdout
    printed = [parse(ln) for ln in run.events()]
    db = run.out / "emgpipe-night.sqlite"
    rows = query(db, "SELECT kind, channel, start_s, alert_s, status FROM events")
    for status, kind, channel, start, alert in printed:   # printed only after the commit
        match = [r for r in rows if (r["kind"], r["channel"]) == (kind, channel)
                 and abs(r["start_s"] - start) < 1e-3 and abs(r["alert_s"] - alert) < 1e-3]
        assert match, f"announced but not in the database: {status} {kind} {channel} {start}"
    assert query(db, "SELECT status FROM nights")[0]["status"] == "recording"   # never closed
    last_alert = max(p[4] for p in printed)
    files = sorted(run.out.glob("*.edf"))
    assert files
    ref = sim_data()
    total = 0
    for f in files:
        x, _ = read_edf(f)                        # pyedflib reads the killed file
        np.testing.assert_allclose(x, ref[total:total + len(x)], atol=0.16)
        total += len(x)
        assert read(f).n_total == len(x)          # and so does emgpipe's reader
    # the raw file holds everything up to the last flush before the kill
    assert total / 1000 >= last_alert - MAX_LAG_S


def test_ctrl_c_stops_cleanly(tmp_path, monkeypatch, capsys):
    """A real SIGINT to this process while `emgpipe night` runs in it, sent from its first event.

    Event-driven, not timed: the signal goes out from the first printed event (streaming has
    started), and Python runs emgpipe's handler in this same thread right after ``os.kill``,
    so the stop lands in the chunk that announced the event however loaded the machine is.
    """
    from emgpipe.cli import main
    from emgpipe.night import recorder
    sent = []

    def echo(line):
        print(line, flush=True)
        if not sent:
            sent.append((line, signal.getsignal(signal.SIGINT)))
            os.kill(os.getpid(), signal.SIGINT)       # Ctrl-C, handled by emgpipe night's handler
    monkeypatch.setattr(recorder, "echo_stdout", echo)
    out = tmp_path / "int"
    with ctrl_c_enabled():                            # even if the test run ignores Ctrl-C
        assert main(["night", "--source", "sim:walk_then_cramp?speed=max&chunk_s=0.5", "--out", str(out),
                     "--print-events", "--alert", "none"]) == 0
    lines = capsys.readouterr()
    assert sent, lines.out
    first, handler = sent[0]
    assert handler not in (signal.SIG_IGN, signal.SIG_DFL, signal.default_int_handler)  # night's own
    assert "stopping (finishing the files)" in lines.err
    assert any(ln.startswith("night 1 stopped") for ln in lines.out.splitlines()), lines.out
    db = out / "emgpipe-night.sqlite"
    night = query(db, "SELECT status, stop_reason, last_s FROM nights")[0]
    assert night["status"] == "stopped" and night["stop_reason"] == "stopped by the user"
    # it stopped at the end of the 0.5 s chunk that announced the first event, not at 75 s
    alert_s = float(first.split("alert_s=")[1].split()[0])
    assert alert_s <= night["last_s"] <= alert_s + 0.5, (first, night["last_s"])
    assert query(db, "SELECT COUNT(*) AS n FROM events WHERE status != 'final'")[0]["n"] == 0
    files = query(db, "SELECT path, n_records, closed, end_s FROM files")
    assert files and all(f["closed"] for f in files)
    for f in files:
        path = out / f["path"]
        head = path.read_bytes()[:256]
        n_sig = int(head[252:256])
        rec_bytes = (path.stat().st_size - 256 * (n_sig + 1)) // f["n_records"]
        assert int(head[236:244]) == f["n_records"]
        assert path.stat().st_size == 256 * (n_sig + 1) + f["n_records"] * rec_bytes   # no torn record
        x, _ = read_edf(path)
        assert len(x) == f["n_records"] * 1000
        np.testing.assert_allclose(x[:int(f["end_s"] * 1000)], sim_data()[:int(f["end_s"] * 1000)], atol=0.16)
    assert night["last_s"] == pytest.approx(files[-1]["end_s"])


def test_a_full_disk_stops_the_raw_files_with_one_line_and_the_night_goes_on(nights):
    """A real full file system: the raw file stops at its last whole record, one line says
    so, the database goes on in the space it set aside, and the night reaches its end."""
    if "full" not in nights:
        pytest.skip("cannot mount a tiny tmpfs here (needs root on Linux); "
                    "test_faults.py fills the disk with RLIMIT_FSIZE")
    run = nights["full"]
    assert run.proc.wait(60) == 5
    err = run.proc.stderr.read().strip().splitlines()
    assert len(err) == 1 and err[0].startswith("emgpipe: "), err
    assert "No space left on device" in err[0] and "raw EMG recording stopped at" in err[0], err
    assert "go on" in err[0]
    db = run.out / "emgpipe-night.sqlite"
    night = query(db, "SELECT status, last_s, stop_reason FROM nights")[0]
    assert night["status"] == "complete" and night["last_s"] == 720.0, night
    stop = query(db, "SELECT stream_s FROM disconnects WHERE event = 'raw_stopped'")[0]["stream_s"]
    printed = [parse(ln) for ln in run.events()]
    rows = query(db, "SELECT kind, channel, start_s FROM events")
    for status, kind, channel, start, alert in printed:
        assert any((r["kind"], r["channel"]) == (kind, channel) and abs(r["start_s"] - start) < 1e-3
                   for r in rows)
    assert any(p[4] > stop + 60 for p in printed)          # detection went on after the raw stop
    files = sorted(run.out.glob("*.edf"))
    assert files and not list(run.out.glob("*.part"))
    ref = sim_data("night", duration=720)
    total = 0
    for f in files:
        x, _ = read_edf(f)
        np.testing.assert_allclose(x, ref[total:total + len(x)], atol=0.16)
        total += len(x)
    assert total / 1000 == stop and total >= 180 * 1000      # whole records up to the stop
