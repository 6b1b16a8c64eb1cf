"""Faults in a night (issue 16 part 5): the scenarios behind ``soak_night.py --faults``.

Each function runs one fault against the real code of ``emgpipe night`` and
returns measured figures (a dict); :func:`run_all` prints them. Real parts
only: serial devices are emulators on pseudo-terminals, BLE is faked at the
radio boundary only (bleak's API, as the ``bridge-ble`` tests do), the disk
fills up through ``RLIMIT_FSIZE`` in a child process, ``kill -9`` hits child
``emgpipe night`` processes, and the webhook is a real HTTP server on
localhost that never answers.
"""
from __future__ import annotations

import json
import os
import random
import re
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def query(db, sql, args=()):
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(sql, args)]
    finally:
        con.close()


def read_raw(path):
    """Samples (n, ch) of an EDF+/BDF+ file through pyedflib (another tool)."""
    import pyedflib
    r = pyedflib.EdfReader(str(path))
    try:
        return np.column_stack([r.readSignal(i) for i in range(r.signals_in_file)])
    finally:
        r.close()


def pct(values, q):
    return float(np.percentile(values, q)) if len(values) else float("nan")


# --------------------------------------------------------------------------- timing hook

def timed_recorder(**kw):
    """A NightRecorder that notes, per chunk, when it was handed over and when the
    recorder finished with it (stored, written, detected, alerted)."""
    from emgpipe.night import NightRecorder

    class Timed(NightRecorder):
        def _chunks(self):
            self.timing = []
            for c in super()._chunks():
                t_in = time.monotonic()
                yield c
                self.timing.append((c.end_s, t_in, time.monotonic(), c.start_s, bool(c.gaps)))
    return Timed(**kw)


def gap_check(rec, res, min_s: float = 0.2) -> dict:
    """Each long gap the night logged against the wall-clock time the samples really did not
    come (arrival of the chunk after the gap minus arrival of the one before, minus the time
    the later chunk's own samples took), and whether files + gaps cover the whole stream."""
    db, fs = res.db, res.extra["fs"]
    gaps = query(db, "SELECT start_s, end_s, n_missing FROM gaps ORDER BY start_s")
    big = [g for g in gaps if g["n_missing"] >= min_s * fs]
    timing = rec.timing
    wall = []
    for g in big:
        k = next(i for i, t in enumerate(timing) if t[4] and abs(t[3] - g["end_s"]) < 1e-6)
        _, t_before, *_ = timing[k - 1]
        end_s, t_after, _, start_s, _ = timing[k]
        wall.append(t_after - t_before - (end_s - start_s))
    files = query(db, "SELECT path, start_s, end_s, n_records FROM files ORDER BY start_s")
    readable = all(len(read_raw(db.parent / f["path"])) == f["n_records"] * round(fs) for f in files)
    covered = sum(f["end_s"] - f["start_s"] for f in files)
    between = [g for g in gaps if any(abs(g["start_s"] - f["end_s"]) < 1e-6 for f in files)]
    covered += sum(g["end_s"] - g["start_s"] for g in between)
    last_s = query(db, "SELECT last_s FROM nights")[0]["last_s"]
    return {"logged_gap_s": [round(g["n_missing"] / fs, 3) for g in big],
            "wall_gap_s": [round(w, 3) for w in wall],
            "logged_minus_wall_ms": [round((g["n_missing"] / fs - w) * 1000) for g, w in zip(big, wall)],
            "raw_files": len(files), "raw_files_readable": readable,
            "stream_s": last_s, "unaccounted_s": round(last_s - covered, 6)}


# --------------------------------------------------------------------------- 1. serial

def serial_unplug(device: str = "bridge", downs=(0.5, 1.5, 3.0), every_s: float = 4.0) -> dict:
    """A serial device vanishes ``len(downs)`` times mid-night and comes back (real time).

    Measured: each logged gap against the time the port was really gone (wall
    clock, the device runs at real speed), the reconnects, and that the raw
    files plus the gaps account for every sample of stream time.
    """
    tmp = Path(tempfile.mkdtemp(prefix="soak-serial-"))
    if device == "bridge":
        from emgpipe.devices.bridge.emulator import BridgeEmulator
        emu = BridgeEmulator(None, link=tmp / "bridge0", fs=1000, env=False, reset_on_replug=False).start()
        uri, unplug, replug = f"bridge:{emu.path}?reconnect=30", emu.unplug, emu.replug
    else:
        from emgpipe.devices.cyton.emulator import CytonEmulator
        emu = CytonEmulator(None, speed=1.0).start()
        uri, unplug, replug = f"cyton:{emu.port_name}?reconnect_s=30", emu.unplug, emu.replug
    duration = every_s * (len(downs) + 1) + sum(downs)
    rec = timed_recorder(uri=uri, out_dir=tmp / "night", duration_s=duration, alerts=None)
    outages = []

    def faults():
        t = time.monotonic()
        for d in downs:
            t += every_s
            time.sleep(max(0.0, t - time.monotonic()))
            a = time.monotonic()
            unplug()
            time.sleep(d)
            replug()
            outages.append((a, time.monotonic()))
            t = time.monotonic()
    th = threading.Thread(target=faults, daemon=True)
    try:
        th.start()
        res = rec.run()
        th.join(5)
    finally:
        emu.stop()
    disc = query(res.db, "SELECT event FROM disconnects ORDER BY id")
    return {"device": device, "status": res.status, "unplugs": len(downs),
            "unplugged_s": [round(b - a, 2) for a, b in outages], **gap_check(rec, res),
            "disconnect_rows": sum(d["event"] == "disconnect" for d in disc),
            "reconnect_rows": sum(d["event"] == "reconnect" for d in disc)}


# --------------------------------------------------------------------------- 2. BLE

def _bridge_fakes():
    try:
        from tests.devices.bridge import bridge_fakes
    except ImportError:                                  # the layout before devices/
        from tests.bridge import bridge_fakes
    return bridge_fakes


def ble_loss(losses=(0.5, 2.0, 4.0), every_s: float = 3.0, speed: float = 1.0) -> dict:
    """An ESP32 over BLE loses its link ``len(losses)`` times (gone for each time, then
    advertising again); bleak is faked at its API, the device is the emulator's model."""
    from emgpipe.devices.bridge.emulator import DeviceModel
    from emgpipe.devices.bridge.source import BridgeBleSource
    fakes = _bridge_fakes()
    model = DeviceModel(board="esp32", fs=1000, sensors=1, env=False, samples_per_frame=25, speed=speed)

    class OutOfRange(fakes.FakeRadio):
        """The radio of the fakes, plus a wearer out of range: nothing to find or connect to."""
        out_of_range = False

        @property
        def advertising(self):
            return self._advertising and not self.out_of_range

        @advertising.setter
        def advertising(self, value):
            self._advertising = value
    radio = OutOfRange(model)

    def factory(uri, **kw):
        return BridgeBleSource("EMGBridge-1A2B", bleak_module=radio.module, scan=0.2, handshake=2.0,
                               backoff=(0.05, 0.1, 0.2))
    tmp = Path(tempfile.mkdtemp(prefix="soak-ble-"))
    duration = (every_s * (len(losses) + 1) + sum(losses)) * speed
    rec = timed_recorder(uri="bridge-ble:EMGBridge-1A2B", out_dir=tmp / "night", duration_s=duration,
                         alerts=None, source_factory=factory)
    outages = []

    def faults():
        for d in losses:
            time.sleep(every_s)
            a = time.monotonic()
            radio.out_of_range = True          # not found by a rescan either
            radio.drop_link()
            time.sleep(d)
            radio.out_of_range = False
            outages.append((a, time.monotonic()))
    th = threading.Thread(target=faults, daemon=True)
    th.start()
    res = rec.run()
    th.join(5)
    disc = query(res.db, "SELECT event FROM disconnects ORDER BY id")
    return {"status": res.status, "losses": len(losses),
            "out_of_range_s": [round(b - a, 2) for a, b in outages], **gap_check(rec, res),
            "disconnect_rows": sum(d["event"] == "disconnect" for d in disc),
            "reconnect_rows": sum(d["event"] == "reconnect" for d in disc),
            "scans": radio.scans, "connects": radio.connects}


# --------------------------------------------------------------------------- 3. full disk

EVENT_RE = re.compile(r"^(EVENT|ALERT) ")


def parse_printed(lines):
    """(kind of line, status, kind, channel, start_s, alert_s) of EVENT lines; ALERT lines too."""
    out = []
    for ln in lines:
        if ln.startswith("EVENT "):
            _, status, kind, channel, *kv = ln.split()
            v = dict(x.split("=") for x in kv)
            out.append(("event", status, kind, channel, float(v["start_s"]), float(v["alert_s"])))
        elif ln.startswith("ALERT "):
            _, kind, channel, *kv = ln.split()
            v = dict(x.split("=") for x in kv)
            out.append(("alert", kind, "cramp", channel, None, float(v["alert_s"])))
    return out


def missing_from_db(db, printed) -> list:
    """Announced lines (printed only after their commit) that the database does not hold."""
    events = query(db, "SELECT kind, channel, start_s, alert_s FROM events")
    alerts = query(db, "SELECT kind, channel, alert_s FROM alerts")
    lost = []
    for what, status, kind, channel, start, alert in printed:
        if what == "event":
            ok = any(e["kind"] == kind and e["channel"] == channel and abs(e["start_s"] - start) < 1e-3
                     and abs(e["alert_s"] - alert) < 1e-3 for e in events)
        else:
            ok = any(a["kind"] == status and a["channel"] == channel and abs(a["alert_s"] - alert) < 1e-3
                     for a in alerts)
        if not ok:
            lost.append((what, status, kind, channel, start, alert))
    return lost


def night_cmd(source, out, *extra):
    return [sys.executable, "-m", "emgpipe", "night", "--source", source, "--out", str(out),
            "--print-events", "--no-bell", *extra]


def disk_full(limit_bytes: int = 1_000_000, minutes: float = 10.0) -> dict:
    """``emgpipe night`` in a child whose files may not exceed ``limit_bytes`` (RLIMIT_FSIZE):
    the raw file hits the limit after ~3 min of 2 ch at 1 kHz; the night must go on."""
    tmp = Path(tempfile.mkdtemp(prefix="soak-disk-"))
    out = tmp / "night"

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
    t0 = time.perf_counter()
    p = subprocess.run(night_cmd(f"sim:night?duration={minutes * 60:g}&seed=1", out, "--speed", "max",
                                 "--alert", "terminal"),
                       preexec_fn=limit, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t0
    db = out / "emgpipe-night.sqlite"
    printed = parse_printed(p.stdout.splitlines())
    night = query(db, "SELECT status, last_s, stop_reason FROM nights")[0]
    files = query(db, "SELECT path, n_records, end_s FROM files")
    raw_s = 0.0
    readable = True
    for f in files:
        path = out / f["path"]
        if path.exists():
            try:
                raw_s += len(read_raw(path)) / 1000
            except OSError:
                readable = False
    stopped = query(db, "SELECT stream_s FROM disconnects WHERE event='raw_stopped'")
    after = [e for e in printed if e[0] == "event" and stopped and e[5] > stopped[0]["stream_s"]]
    err = p.stderr.strip().splitlines()
    return {"limit_bytes": limit_bytes, "exit_code": p.returncode, "stderr_lines": len(err),
            "stderr": err[0] if err else "", "night_status": night["status"], "night_s": night["last_s"],
            "raw_stopped_at_s": stopped[0]["stream_s"] if stopped else None,
            "raw_readable_s": round(raw_s, 1), "raw_files_readable": readable,
            "events_announced": len(printed), "announced_after_raw_stop": len(after),
            "announced_lost": len(missing_from_db(db, printed)), "wall_s": round(wall, 1)}


# --------------------------------------------------------------------------- 4. kill -9

class Child:
    """A running ``emgpipe night`` whose stdout lines are collected as they come."""

    def __init__(self, argv):
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.lines = []
        self.started = time.monotonic()
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def streaming(self) -> bool:
        return any(ln.startswith("night ") for ln in list(self.lines))

    def finish(self):
        self.proc.wait(30)
        self._t.join(5)
        self.proc.stderr.close()


def check_killed_night(out: Path, printed, reference, fs: float, flush_s: float) -> dict:
    """What a killed night left: announced lines missing from the database, raw files
    readable (pyedflib and emgpipe's reader), equal to the signal, how far they reach."""
    from emgpipe.io.edf import read
    db = out / "emgpipe-night.sqlite"
    res = {"lost": None, "unreadable": 0, "mismatch": 0, "raw_s": 0.0, "part_files": 0, "db": db.exists()}
    if not db.exists():
        return res
    try:
        res["lost"] = len(missing_from_db(db, printed))
    except sqlite3.DatabaseError:       # killed before the schema was written
        res["lost"] = len(printed)
    total = 0
    for f in sorted(list(out.glob("*.edf")) + list(out.glob("*.bdf"))):
        try:
            x = read_raw(f)
            if read(f).n_total != len(x):
                res["unreadable"] += 1
        except Exception:
            res["unreadable"] += 1
            continue
        ref = reference[total:total + len(x)]
        if len(ref) != len(x) or not np.allclose(x, ref, atol=0.16):
            res["mismatch"] += 1
        total += len(x)
    res["raw_s"] = total / fs
    res["part_files"] = len(list(out.glob("*.part")))
    return res


def kill9(runs: int = 40, seed: int = 0, parallel: int = 2, speed: float = 20.0, flush_s: float = 2.0) -> dict:
    """``runs`` nights of ``sim:walk_then_cramp`` (at ``speed`` x real time, then at max speed
    for every 4th run) killed with SIGKILL at a random moment between start-up and the end."""
    from emgpipe import sim
    s = sim.make("walk_then_cramp", seed=0)
    reference = np.concatenate([b for _, b in s.segments(10.0)])
    rng = random.Random(seed)
    tmp = Path(tempfile.mkdtemp(prefix="soak-kill-"))
    results = []
    pending = list(range(runs))
    active = []
    while pending or active:
        while pending and len(active) < parallel:
            k = pending.pop(0)
            fast = k % 4 == 3
            src = "sim:walk_then_cramp?speed=max&chunk_s=0.25" if fast else f"sim:walk_then_cramp?speed={speed:g}"
            out = tmp / f"run{k:03d}"
            child = Child(night_cmd(src, out, "--alert", "terminal", "--flush-s", str(flush_s)))
            # every 8th run: any moment of start-up (maybe before the database exists); the
            # others: a random moment of the stream (75 s of signal), counted from its start
            early = k % 8 == 5
            delay = rng.uniform(0.0, 2.0) if early else rng.uniform(0.0, 1.0 if fast else 75 / speed + 0.3)
            active.append((k, child, out, delay, fast, early))
        time.sleep(0.005)
        for item in list(active):
            k, child, out, delay, fast, early = item
            if early:
                due = time.monotonic() - child.started >= delay
            else:
                if child.streaming() and getattr(child, "t_stream", None) is None:
                    child.t_stream = time.monotonic()
                due = getattr(child, "t_stream", None) is not None and time.monotonic() - child.t_stream >= delay
            if due or child.proc.poll() is not None:
                killed = child.proc.poll() is None
                if killed:
                    child.proc.send_signal(signal.SIGKILL)
                child.finish()
                printed = parse_printed(child.lines)
                r = check_killed_night(out, printed, reference, 1000.0, flush_s)
                last = max((p[5] for p in printed), default=0.0)
                r.update(run=k, killed=killed, delay=round(delay, 2), announced=len(printed),
                         last_announced_s=last, fast=fast,
                         raw_behind_s=round(last - r["raw_s"], 2) if printed else None)
                results.append(r)
                active.remove(item)
    killed = [r for r in results if r["killed"]]
    behind = [r["raw_behind_s"] for r in killed if r["raw_behind_s"] is not None and not r["fast"]]
    return {"runs": runs, "killed": len(killed),
            "killed_before_db": sum(not r["db"] for r in killed),
            "announced_total": sum(r["announced"] for r in results),
            "announced_lost": sum(r["lost"] or 0 for r in results),
            "raw_files_unreadable": sum(r["unreadable"] for r in results),
            "raw_files_not_equal_to_signal": sum(r["mismatch"] for r in results),
            "part_files_left": sum(r["part_files"] for r in results),
            "raw_behind_last_announcement_s_max": max(behind) if behind else None,
            "raw_behind_limit_s": flush_s + 1.0 + 0.05,
            "details": results}


# --------------------------------------------------------------------------- 5. hanging webhook

class _Hang(BaseHTTPRequestHandler):
    hang_s = 60.0
    hits = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        self.hits.append(time.monotonic())
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(self.hang_s)           # never answers in time

    def log_message(self, *a):
        pass


def hanging_webhook(speed: float = 10.0, timeout_s: float = 30.0) -> dict:
    """The walk-then-cramp night paced at ``speed`` x real time with a webhook whose
    server accepts the POST and never answers; the same night without it for reference.

    Lag = when the recorder finished a chunk (database, raw file, detector, alerts)
    minus when its last sample was due (wall clock of the paced source)."""
    from emgpipe.alerts import WebhookSink
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hang)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hooks/secret-token"
    out = {}
    # warm-up (compiled kernels, imports) so that neither measured run pays for it
    timed_recorder(uri="sim:walk_then_cramp?speed=max&duration=10", out_dir=tempfile.mkdtemp(prefix="soak-warm-"),
                   alerts=None).run()
    try:
        for name, sinks in (("no sink", []), ("hanging webhook", [WebhookSink(url, timeout_s=timeout_s,
                                                                              retries=2)])):
            tmp = Path(tempfile.mkdtemp(prefix="soak-hook-"))
            rec = timed_recorder(uri=f"sim:walk_then_cramp?speed={speed:g}&chunk_s=0.05", out_dir=tmp,
                                 alerts=sinks)
            t0 = time.monotonic()
            res = rec.run()
            wall = time.monotonic() - t0
            start = rec.timing[0][1] - rec.timing[0][0] / speed     # wall time of stream time 0
            lag = [t[2] - (start + t[0] / speed) for t in rec.timing]
            proc = [t[2] - t[1] for t in rec.timing]
            deliveries = query(res.db, "SELECT sink, status FROM alert_deliveries")
            alerts = query(res.db, "SELECT kind, alert_s FROM alerts")
            out[name] = {"chunks": len(lag), "lag_p50_ms": round(1000 * pct(lag, 50), 1),
                         "lag_p99_ms": round(1000 * pct(lag, 99), 1), "lag_max_ms": round(1000 * max(lag), 1),
                         "process_max_ms": round(1000 * max(proc), 1), "alerts": len(alerts),
                         "deliveries": [d["status"] for d in deliveries], "wall_s": round(wall, 1),
                         "stream_s": res.duration_s}
        out["webhook_posts_received"] = len(_Hang.hits)
    finally:
        server.shutdown()
        server.server_close()
    return out


# --------------------------------------------------------------------------- all

def run_all(kills: int = 40, seed: int = 0, only=None) -> dict:
    steps = {"serial_bridge": lambda: serial_unplug("bridge"),
             "serial_cyton": lambda: serial_unplug("cyton"),
             "ble": ble_loss,
             "disk_full": disk_full,
             "kill9": lambda: kill9(kills, seed),
             "webhook": hanging_webhook}
    out = {}
    for name, fn in steps.items():
        if only and name not in only:
            continue
        t0 = time.perf_counter()
        out[name] = fn()
        out[name]["soak_wall_s"] = round(time.perf_counter() - t0, 1)
    return out


def report(r: dict) -> str:
    lines = []
    for name in ("serial_bridge", "serial_cyton", "ble"):
        if name in r:
            s = r[name]
            what = (f"{s['unplugs']} unplugs of {s['unplugged_s']} s" if name != "ble"
                    else f"{s['losses']} link losses, out of range {s['out_of_range_s']} s")
            lines.append(f"{name}: {what} -> gaps logged {s['logged_gap_s']} s, samples really missing by the "
                         f"wall clock {s['wall_gap_s']} s (logged - real: {s['logged_minus_wall_ms']} ms); "
                         f"{s['disconnect_rows']} disconnect + {s['reconnect_rows']} reconnect rows; "
                         f"{s['raw_files']} raw files (readable: {s['raw_files_readable']}); files + gaps leave "
                         f"{s['unaccounted_s']} s of {s['stream_s']:g} s unaccounted; {s['status']}")
    if "disk_full" in r:
        s = r["disk_full"]
        lines.append(f"disk full (RLIMIT_FSIZE {s['limit_bytes']} B): exit {s['exit_code']}, {s['stderr_lines']} "
                     f"stderr line; raw stopped at {s['raw_stopped_at_s']} s, {s['raw_readable_s']} s readable; "
                     f"night {s['night_status']} to {s['night_s']:g} s; {s['events_announced']} announced "
                     f"({s['announced_after_raw_stop']} after the raw stop), lost {s['announced_lost']}")
        lines.append(f"  stderr: {s['stderr']}")
    if "kill9" in r:
        s = r["kill9"]
        lines.append(f"kill -9: {s['runs']} runs, {s['killed']} killed ({s['killed_before_db']} before the "
                     f"database existed); announced {s['announced_total']}, lost {s['announced_lost']}; raw files "
                     f"unreadable {s['raw_files_unreadable']}, not equal to the signal "
                     f"{s['raw_files_not_equal_to_signal']}, .part left {s['part_files_left']}; raw behind the last "
                     f"announcement at most {s['raw_behind_last_announcement_s_max']} s "
                     f"(flush bound {s['raw_behind_limit_s']} s)")
    if "webhook" in r:
        s = r["webhook"]
        for name in ("no sink", "hanging webhook"):
            w = s[name]
            lines.append(f"detection loop lag, {name}: p50 {w['lag_p50_ms']} ms, p99 {w['lag_p99_ms']} ms, "
                         f"max {w['lag_max_ms']} ms over {w['chunks']} chunks (slowest chunk {w['process_max_ms']} ms); "
                         f"{w['alerts']} alerts, deliveries {w['deliveries']}; {w['wall_s']} s wall "
                         f"for {w['stream_s']:g} s")
        lines.append(f"  webhook server got {s['webhook_posts_received']} POST(s) and answered none")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit("run: python benchmarks/soak_night.py --faults")
