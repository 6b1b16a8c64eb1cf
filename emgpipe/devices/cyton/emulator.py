"""A Cyton-through-the-dongle emulator on a pseudo-terminal (POSIX only).

:class:`CytonEmulator` opens a pty and speaks the protocol of protocols.md §1
as the dongle presents it to the PC: ``v`` -> banner + ``$$$``, ``d`` ->
defaults, ``x...X`` -> ``Success: Channel set for N$$$`` (gain tracked), ``b``
-> 33-byte packets at 250 packets/s (x ``speed``), ``s`` stop, ``c``/``C``
Daisy off/on. µV input samples become 24-bit counts with each channel's
current gain, so a correct reader gets the input back within one LSB.

Faults on demand: :meth:`~CytonEmulator.inject_junk`,
:meth:`~CytonEmulator.drop_packets`, ``board_on = False`` (the dongle answers
every command with ``Failure: Communications timeout ...``), ``silent = True``
(nothing is sent or answered, like a radio link gone), and
:meth:`~CytonEmulator.unplug` / :meth:`~CytonEmulator.replug` (the port
vanishes and comes back under the same name; the "board" keeps running, so
packets due meanwhile are lost, as with a real unplug).

``port_name`` is a symlink to the current pty so it stays stable across
unplug/replug. Windows has no pty: use a virtual COM-port pair there.

Pty hygiene: pty numbers (``/dev/pts/N``) are a machine-wide namespace that
the kernel recycles at once, so anything still pointing at a closed pty may
open somebody else's. The symlink is therefore removed *before* the pty is
closed, and the pty file descriptors are only ever used and closed by the
emulator thread (a descriptor number closed under a running thread could be
reused by the next ``openpty``).

Examples
--------
Run it from a shell (the CLI wires ``emgpipe emulate cyton`` to :func:`main`)::

    python -m emgpipe.devices.cyton.emulator --speed 1
    # prints the port; then: emgpipe live --source cyton:<port>

or in Python::

    with CytonEmulator(daisy=False, speed=10) as emu:
        with CytonSource(emu.port_name) as src:
            ...
"""
from __future__ import annotations

import argparse
import collections
import logging
import os
import select
import shutil
import sys
import tempfile
import threading
import time
from typing import Callable

import numpy as np

from ...errors import UsageError
from . import protocol as cp

log = logging.getLogger(__name__)

#: Firmware v3.1.2 reset text (protocols.md §1.2, CYT-FW ``boardReset()``).
BANNER_HEAD = "OpenBCI V3 8-16 channel\nOn Board ADS1299 Device ID: 0x3E\n"
BANNER_DAISY = "On Daisy ADS1299 Device ID: 0x3E\n"
BANNER_TAIL = "LIS3DH Device ID: 0x33\nFirmware: {fw}\n$$$"
#: Bytes the emulator may hold for a reader that is not reading (then drops packets).
MAX_PENDING = 256 * 1024
#: A multi-byte command must be complete within 1 s (protocols.md §1.3, DOCS SDK).
MULTI_BYTE_TIMEOUT_S = 1.0
MULTI_BYTE_TIMEOUT_REPLY = ("Timeout processing multi byte message - please send all commands "
                            "at once as of v2$$$")


def synthetic_emg(n_channels: int, fs: float, seed: int = 0) -> Callable:
    """A deterministic EMG-like test signal: ``fn(start, n) -> (n, n_channels)`` µV.

    Gaussian noise of 3 µV RMS at rest with a 1.5 s burst of 60 µV RMS every
    6 s (channel k at 1/k of the amplitude). Index-addressable: the same
    sample index always gives the same value.
    """
    block = 256

    def fn(start: int, n: int) -> np.ndarray:
        if n <= 0:
            return np.zeros((0, n_channels))
        b0, b1 = start // block, (start + n - 1) // block
        noise = np.concatenate([np.random.default_rng([seed, b]).standard_normal((block, n_channels))
                                for b in range(b0, b1 + 1)])
        noise = noise[start - b0 * block:start - b0 * block + n]
        t = (start + np.arange(n)) / fs
        burst = ((t % 6.0) >= 3.0) & ((t % 6.0) < 4.5)
        amp = np.where(burst, 60.0, 3.0)[:, None] / np.arange(1, n_channels + 1)[None, :]
        return noise * np.maximum(amp, 3.0)

    return fn


class CytonEmulator:
    """Emulated Cyton (optionally with Daisy) behind its USB dongle, on a pty.

    Parameters
    ----------
    samples : ndarray (n, 8 or 16) in µV, callable ``fn(start, n)``, or None
        The signal: 8 columns (16 with ``daisy``) at 250 Hz (125 Hz with
        Daisy). An array is replayed in a loop; None = :func:`synthetic_emg`.
    daisy : bool
        A Daisy board is attached (16 channels, alternating packets, §1.8).
    speed : float or None
        Packet rate multiplier (1 = 250 packets/s); None = as fast as possible.
    firmware : str
        Version printed in the banner.
    link_path : str, optional
        Where to put the stable symlink (default: a new temporary folder).

    Attributes
    ----------
    port_name : str
        The port to open (a symlink to the current pty).
    commands : list of str
        Every command received, in order (``"v"``, ``"x1060100X"``, ...).
    gains : list of int
        Current gain per channel.
    stream_starts : list of int
        Input sample index at each ``b`` (so tests can line data up).
    packets_sent, packets_dropped, packets_overflowed : int
    """

    def __init__(self, samples=None, *, daisy: bool = False, speed: float | None = 1.0,
                 firmware: str = "v3.1.2", link_path: str | None = None):
        if os.name != "posix" or not hasattr(os, "openpty"):
            raise UsageError("the Cyton emulator needs a POSIX pseudo-terminal (Linux or macOS); "
                             "on Windows use a virtual COM-port pair such as com0com")
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be positive or None, got {speed}")
        self.daisy = bool(daisy)
        self.n_channels = 16 if daisy else 8
        self.fs = cp.FS_DAISY if daisy else cp.FS_DONGLE
        self.speed = speed
        self.firmware = firmware
        if samples is None:
            self._fn = synthetic_emg(self.n_channels, self.fs)
        elif callable(samples):
            self._fn = samples
        else:
            arr = np.asarray(samples, dtype=np.float64)
            if arr.ndim != 2 or arr.shape[1] != self.n_channels or not len(arr):
                raise ValueError(f"samples must be shaped (n, {self.n_channels}), got {arr.shape}")
            self._fn = lambda start, n: arr[np.arange(start, start + n) % len(arr)]
        self._tmpdir = None
        if link_path is None:
            self._tmpdir = tempfile.mkdtemp(prefix="emgpipe-cyton-")
            link_path = os.path.join(self._tmpdir, "ttyCYTON")
        self.port_name = str(link_path)
        # Board state (all mutated in the emulator thread only).
        self._board_on = True
        self.silent = False
        self.commands = []
        self.stream_starts = []
        self.packets_sent = 0
        self.packets_dropped = 0
        self.packets_overflowed = 0
        self._reset_board()
        self.streaming = False
        self._index = 0           # next input sample index (continues across restarts)
        self._pkt = 0             # packets since 'b'
        self._start_index = 0
        self._t_stream0 = 0.0
        self._xbuf = None
        self._xbuf_t = 0.0
        self._out = bytearray()
        self._junk = collections.deque()   # pieces, one before each of the next sent packets
        self._drops = collections.deque()  # bursts of packets to skip, oldest first
        self._drop_sep = False             # a burst just ended: deliver one before the next
        self._master = self._slave = None
        self._calls = []
        self._lock = threading.Lock()
        self._quit = threading.Event()
        self._thread = None

    # ------------------------------------------------------------------ lifecycle

    def _reset_board(self) -> None:
        self.daisy_active = self.daisy
        self.settings = [{"gain": cp.DEFAULT_GAIN, "power_on": True} for _ in range(16)]

    @property
    def gains(self) -> list:
        return [s["gain"] for s in self.settings[:self.n_active]]

    @property
    def n_active(self) -> int:
        return 16 if self.daisy_active else 8

    def _make_pty(self) -> None:
        import tty
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        tmp = self.port_name + ".new"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(os.ttyname(slave), tmp)
        os.replace(tmp, self.port_name)
        self._master, self._slave = master, slave

    def _drop_pty(self) -> None:
        # Name first: once the pty is closed its number is free for any process, and a
        # client retrying port_name must find nothing rather than a stranger's pty.
        if os.path.lexists(self.port_name):
            os.unlink(self.port_name)
        fds, (self._master, self._slave) = (self._master, self._slave), (None, None)
        for fd in fds:
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._out.clear()
        self._xbuf = None

    def start(self) -> "CytonEmulator":
        """Create the pty and start answering."""
        if self._thread is None:
            self._make_pty()
            self._quit.clear()
            self._thread = threading.Thread(target=self._run, name="cyton-emulator", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the emulator and remove the port."""
        self._quit.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5.0)
        if thread is None or not thread.is_alive():
            self._drop_pty()
        else:  # never close descriptors under a running thread; it drops the pty as it ends
            log.warning("Cyton emulator thread slow to stop; it will close %s itself",
                        self.port_name)
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def _call(self, fn, timeout: float = 2.0) -> None:
        """Run ``fn`` in the emulator thread (state is owned by it) and wait."""
        if self._thread is None:
            fn()
            return
        done = threading.Event()
        with self._lock:
            self._calls.append((fn, done))
        if not done.wait(timeout):
            raise RuntimeError("Cyton emulator thread did not respond")

    # ------------------------------------------------------------------ faults

    @property
    def board_on(self) -> bool:
        """Board power. Off: the dongle answers ``Failure...`` and no packets
        come; switching on again gives a freshly reset, non-streaming board."""
        return self._board_on

    @board_on.setter
    def board_on(self, on: bool) -> None:
        def switch():
            self._board_on = bool(on)
            self.streaming = False
            self._reset_board()
        self._call(switch)

    def inject_junk(self, data=16) -> None:
        """Send junk bytes (``bytes`` or a count of pseudo-random ones) before a packet.

        Each call's bytes go before their own packet: calls made before the
        emulator thread gets to run are spread over successive packets, never
        merged into one longer run of junk (so what the link carries does not
        depend on thread scheduling).
        """
        if isinstance(data, int):
            rng = np.random.default_rng(len(self.commands) + self.packets_sent)
            data = rng.integers(0, 256, data, dtype=np.uint8).tobytes()
        if data:
            with self._lock:
                self._junk.append(bytes(data))

    def drop_packets(self, n: int) -> None:
        """Silently skip ``n`` packets from the next one on (their sample numbers are used up).

        Each call is one burst of loss: a burst requested while an earlier one
        is still pending starts after it with one delivered packet between
        them, so two calls always give two gaps whatever the thread timing.
        """
        if int(n) > 0:
            with self._lock:
                self._drops.append(int(n))

    def unplug(self) -> None:
        """The dongle disappears: the port closes and its name vanishes."""
        self._call(self._drop_pty)

    def replug(self) -> None:
        """The dongle comes back under the same ``port_name``."""
        self._call(self._make_pty)

    # ------------------------------------------------------------------ protocol

    def _reply(self, text: str) -> None:
        if not self.streaming:  # while streaming most commands give no reply (§1.3)
            self._out += text.encode("ascii")

    def _banner(self) -> str:
        return BANNER_HEAD + (BANNER_DAISY if self.daisy else "") + BANNER_TAIL.format(
            fw=self.firmware)

    def _on_command(self, c: str) -> None:
        self.commands.append(c)
        if c == "v":
            self.streaming = False
            self._reset_board()
            self._reply(self._banner())
        elif c == "d":
            for s in self.settings:
                s.update(gain=cp.DEFAULT_GAIN, power_on=True)
            self._reply("updating channel settings to default$$$")
        elif c == "b":
            if not self.streaming:
                self.streaming = True
                self._pkt = 0
                self._start_index = self._index
                self._t_stream0 = time.monotonic()
                self.stream_starts.append(self._index)
        elif c == "s":
            self.streaming = False
        elif c == "c":
            self.daisy_active = False
            self._reply("daisy removed$$$")
        elif c == "C":
            if self.daisy:
                self.daisy_active = True
                self._reply("daisy attached16$$$")
            else:
                self._reply("no daisy to attach!8$$$")
        elif c == "V":
            self._reply(f"{self.firmware}$$$")
        elif c.startswith("x"):
            try:
                st = cp.parse_channel_command(c.encode("ascii", "replace"))
            except ValueError as exc:
                self._reply(f"{exc}$$$")
                return
            self.settings[st["channel"] - 1].update(gain=st["gain"], power_on=st["power_on"])
            self._reply(f"Success: Channel set for {st['channel']}$$$")

    def _on_input(self, data: bytes) -> None:
        if self.silent:
            return
        if not self._board_on:
            # The dongle alone answers anything with this (§1.2).
            self.commands.append(data.decode("ascii", "replace"))
            self._out += cp.BOARD_OFF_REPLY
            return
        self._expire_multi_byte()
        for byte in data:
            if self._xbuf is not None:
                self._xbuf.append(byte)
                if len(self._xbuf) == 9:
                    self._on_command(self._xbuf.decode("ascii", "replace"))
                    self._xbuf = None
            elif byte == ord("x"):
                self._xbuf = bytearray(b"x")
                self._xbuf_t = time.monotonic()
            else:
                self._on_command(chr(byte))

    def _expire_multi_byte(self) -> None:
        """Drop an ``x...`` command not completed in time, as the firmware does (§1.3)."""
        if self._xbuf is not None and time.monotonic() - self._xbuf_t > MULTI_BYTE_TIMEOUT_S:
            log.debug("Cyton emulator: incomplete command %r timed out", bytes(self._xbuf))
            self._xbuf = None
            self._reply(MULTI_BYTE_TIMEOUT_REPLY)

    def _emit_due(self) -> None:
        if self.speed is None:
            due = self._pkt + 64
        else:
            due = int((time.monotonic() - self._t_stream0) * cp.FS_DONGLE * self.speed) + 1
        n = min(due - self._pkt, 1000)
        if n <= 0:
            return
        k = self._pkt + np.arange(n)
        rows = (k // 2) if self.daisy_active else k
        first = self._start_index + int(rows[0])
        uv = np.asarray(self._fn(first, int(rows[-1] - rows[0]) + 1), dtype=np.float64)
        uv = uv[rows - rows[0]]
        gains = np.asarray([s["gain"] for s in self.settings[:self.n_active]], dtype=np.float64)
        on = np.asarray([s["power_on"] for s in self.settings[:self.n_active]])
        counts = np.rint(uv[:, :self.n_active] / cp.uv_per_count(gains)) * on
        if self.daisy_active:
            # Even sample numbers carry the Daisy (ch 9-16), odd ones the board (§1.8).
            counts = np.where((k % 2 == 0)[:, None], counts[:, 8:16], counts[:, :8])
        self._pkt += n
        self._index = self._start_index + int(rows[-1]) + 1
        keep = np.ones(n, dtype=bool)
        with self._lock:
            junk = self._take_faults(keep)
        n_sent = int(keep.sum())
        self.packets_dropped += n - n_sent
        if self.silent or not self._board_on or self._master is None:
            return  # packets lost: radio silent, board off, or dongle unplugged
        data = cp.encode_packets(k[keep], counts[keep])
        if junk:
            size = len(data) // max(n_sent, 1)
            data = b"".join(j + data[i * size:(i + 1) * size] for i, j in enumerate(junk)) \
                + data[len(junk) * size:]
        if len(self._out) + len(data) > MAX_PENDING:
            self.packets_overflowed += n_sent
            return
        self._out += data
        self.packets_sent += n_sent

    def _take_faults(self, keep: np.ndarray) -> list:
        """Apply pending drop bursts to this batch (clears ``keep``); junk for its sent packets."""
        i, n = 0, len(keep)
        while i < n and self._drops:
            if self._drop_sep:  # one delivered packet between separate bursts
                self._drop_sep = False
                i += 1
                continue
            r = min(self._drops[0], n - i)
            keep[i:i + r] = False
            i += r
            self._drops[0] -= r
            if not self._drops[0]:
                self._drops.popleft()
                self._drop_sep = True
        if i < n:
            self._drop_sep = False
        n_junk = min(len(self._junk), int(keep.sum()))
        return [self._junk.popleft() for _ in range(n_junk)]

    def _flush(self) -> None:
        while self._out and self._master is not None:
            try:
                w = os.write(self._master, self._out)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._out.clear()
                return
            del self._out[:w]

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            if self._quit.is_set():  # stop() left the pty to this thread
                self._drop_pty()

    def _loop(self) -> None:
        while not self._quit.is_set():
            with self._lock:
                calls, self._calls = self._calls, []
            for fn, done in calls:
                try:
                    fn()
                finally:
                    done.set()
            if self._master is None:
                if self.streaming:
                    self._emit_due()
                self._quit.wait(0.005)
                continue
            timeout = 0.002 if self.streaming else 0.01
            wlist = [self._master] if self._out else []
            try:
                r, _, _ = select.select([self._master], wlist, [], timeout)
            except (OSError, ValueError):
                continue
            self._expire_multi_byte()
            if r:
                try:
                    data = os.read(self._master, 4096)
                except (BlockingIOError, InterruptedError):
                    data = b""
                except OSError:  # EIO: no process has the port open
                    data = b""
                    self._quit.wait(0.002)
                if data:
                    self._on_input(data)
            if self.streaming:
                self._emit_due()
            self._flush()


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of ``emgpipe emulate cyton`` (also used by :func:`main`)."""
    parser.add_argument("--daisy", action="store_true", help="emulate a Daisy board (16 ch, 125 Hz)")
    parser.add_argument("--speed", default="1", help="packet rate factor (1 = 250 packets/s real time)")
    parser.add_argument("--link", default=None, help="path of the port symlink to create")
    parser.add_argument("--duration", type=float, default=None, help="stop after S seconds")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic signal")
    return parser


def run(args) -> int:
    """Run an emulator from parsed :func:`add_arguments` options until Ctrl-C."""
    from ..base import parse_speed
    n = 16 if args.daisy else 8
    fs = cp.FS_DAISY if args.daisy else cp.FS_DONGLE
    emu = CytonEmulator(synthetic_emg(n, fs, args.seed), daisy=args.daisy,
                        speed=parse_speed(args.speed), link_path=args.link)
    with emu:
        print(f"Cyton emulator ({n} channels, {fs:g} Hz) on {emu.port_name}", flush=True)
        print(f"connect with: emgpipe live --source cyton:{emu.port_name}", flush=True)
        t_end = None if args.duration is None else time.monotonic() + args.duration
        try:
            while t_end is None or time.monotonic() < t_end:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
    return 0


def main(argv=None) -> int:
    """``python -m emgpipe.devices.cyton.emulator [--daisy] [--speed F] ...``."""
    parser = add_arguments(argparse.ArgumentParser(
        prog="emgpipe emulate cyton",
        description="Emulate an OpenBCI Cyton behind its USB dongle on a pseudo-terminal."))
    try:
        return run(parser.parse_args(argv))
    except UsageError as err:
        print(f"emgpipe: {err}", file=sys.stderr)
        return err.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
