"""A firmware_bridge device in software, for tests and for trying emgpipe without hardware.

:class:`DeviceModel` is the firmware's behaviour without a transport: it
samples a signal on its own clock, batches DATA frames, answers IDENTIFY /
START / STOP / SET_RATE / BUZZ exactly as the sketches do, sends a BUTTON
frame when the wearer "presses" its button (:meth:`DeviceModel.press_button`:
short = "not a cramp", long = "cramp"), and injects faults on demand (junk
bytes, dropped frames, CRC corruption, silence).
:class:`BridgeEmulator` serves it on a POSIX pseudo-terminal, so the real
``bridge:`` source (pyserial) talks to it; ``unplug()`` / ``replug()`` close
and reopen the pty behind a stable symlink, like a USB cable.

Windows has no pseudo-terminals: the emulator is unsupported there (a
com0com virtual port pair would be the way; not implemented).

Examples
--------
>>> model = DeviceModel(fs=1000, sensors=1, env=False, samples_per_frame=10)
>>> from emgpipe.devices.bridge.protocol import FrameDecoder, FrameType, encode_command
>>> dec = FrameDecoder()
>>> [st] = [f for f in dec.feed(b"".join(model.receive(encode_command(FrameType.IDENTIFY, 1))))
...         if f.type == FrameType.STATUS]
>>> (st.fs_hz, st.n_ch, st.board_name)
(1000, 1, 'avr')
"""
from __future__ import annotations

import contextlib
import logging
import os
import random
import sys
import threading
import time
from dataclasses import dataclass, replace

import numpy as np

from ...errors import UsageError
from ..boards import BRIDGE_AVR, BRIDGE_ESP32, MYOWARE_ENV_GAIN
from .protocol import (LONG_PRESS_MS, PROTOCOL_VERSION, Board, ChannelKind, CommandFrame, Flag,
                       FrameDecoder, FrameType, Press, Reason, Result, StatusFrame, encode_ack,
                       encode_button, encode_data, encode_status, max_samples_per_frame)

log = logging.getLogger(__name__)

#: Emulated firmware version.
FW_VERSION = (1, 0)


@dataclass(frozen=True)
class BoardSpec:
    board: int
    adc_bits: int
    vref_mv: int
    timer_hz: int       # sample-clock timer tick; the rate must divide it exactly
    conv_us: float      # one ADC conversion (AVR: 13 cycles at 125 kHz = 104 µs)
    min_fs: int = 100
    max_fs_cap: int = 4000


#: AVR Uno/Nano: 10-bit ADC, 5 V AVcc reference (protocols.md §3.2); Timer1
#: at 16 MHz / 8 = 2 MHz; 104 µs per conversion (ATmega328P datasheet, ADC
#: clock 125 kHz, 13 cycles). ESP32 Wireless Shield: 12-bit, 3.3 V (MW-LIB),
#: 1 MHz timer; ~80 µs per one-shot analogRead is the slow end of forum
#: reports [UNVERIFIED].
BOARDS = {
    "avr": BoardSpec(Board.AVR, BRIDGE_AVR.adc_bits, int(BRIDGE_AVR.vref_v * 1000), 2_000_000, 104.0),
    "esp32": BoardSpec(Board.ESP32, BRIDGE_ESP32.adc_bits, int(round(BRIDGE_ESP32.vref_v * 1000)),
                       1_000_000, 80.0, max_fs_cap=2000),
}


def max_rate(spec: BoardSpec, n_conversions: int) -> int:
    """Highest rate the firmware accepts: conversions fill at most 80 % of a period."""
    return int(min(spec.max_fs_cap, 0.8e6 / (n_conversions * spec.conv_us)))


def rate_ok(spec: BoardSpec, fs: int, n_conversions: int) -> bool:
    return spec.min_fs <= fs <= max_rate(spec, n_conversions) and spec.timer_hz % fs == 0


def default_signal(fs: float, n_sensors: int, seed: int = 0):
    """EMG-like test signal in µV: 20 µV RMS noise plus a 300 µV burst 1 s in every 4 s."""
    rng = np.random.default_rng(seed)
    state = {"i": 0}

    def gen(n: int) -> np.ndarray:
        t = (state["i"] + np.arange(n)) / fs
        state["i"] += n
        burst = ((t % 4.0) < 1.0).astype(float)
        x = rng.standard_normal((n, n_sensors)) * (20.0 + 300.0 * burst[:, None])
        return x
    return gen


def signal_from_array(samples, loop: bool = True):
    """A signal callable that plays ``samples`` (n, c) in µV, looping if asked."""
    arr = np.asarray(samples, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    state = {"i": 0}

    def gen(n: int) -> np.ndarray:
        idx = state["i"] + np.arange(n)
        state["i"] += n
        if loop:
            return arr[idx % len(arr)]
        out = np.zeros((n, arr.shape[1]))
        ok = idx < len(arr)
        out[ok] = arr[idx[ok]]
        return out
    return gen


class DeviceModel:
    """firmware_bridge behaviour, transport-free.

    Parameters
    ----------
    signal : callable or array, optional
        ``signal(n) -> (n, k)``; µV at the electrodes, one column per sensor
        (``units="uV"``: ENV columns are derived), or ADC counts for every
        device channel (``units="counts"``). An array is played in a loop.
    board : {"avr", "esp32"}
    fs : int
    sensors : int
        1 or 2 MyoWare sensors.
    env : bool
        Also send each sensor's ENV channel.
    samples_per_frame : int, optional
        Default: 10 ms of samples (serial policy, protocol.md).
    speed : float
        Sample clock relative to real time (tests run faster).
    haptic : bool
        Whether a haptic motor is fitted (BUZZ answered UNSUPPORTED if not).

    Attributes
    ----------
    buzzes : list of (duration_ms, strength)
    presses : list of (Press, held_ms, sample)
        Button presses sent.
    commands : list of CommandFrame
    sent : list of (first_sample, counts, delivered)
        Every DATA frame built; ``delivered`` is False for frames a fault dropped or corrupted.
    """

    def __init__(self, signal=None, *, board: str = "avr", fs: int = 1000, sensors: int = 1,
                 env: bool = True, samples_per_frame: int | None = None, units: str = "uV",
                 speed: float = 1.0, haptic: bool = True, env_gain: float = float(MYOWARE_ENV_GAIN),
                 seed: int = 0):
        if board not in BOARDS:
            raise UsageError(f"emulated board must be one of {', '.join(BOARDS)}, got {board!r}")
        if sensors not in (1, 2):
            raise UsageError(f"emulated sensors must be 1 or 2, got {sensors}")
        self.spec = BOARDS[board]
        self.sensors = sensors
        self.env = env
        self.channels = tuple((s, k) for s in range(sensors)
                              for k in ((ChannelKind.RAW, ChannelKind.ENV) if env
                                        else (ChannelKind.RAW,)))
        self.n_ch = len(self.channels)
        self.n_conv = sensors * (3 if env else 2)
        if not rate_ok(self.spec, fs, self.n_conv):
            raise UsageError(f"emulated {board} cannot sample {self.n_ch} channel(s) at {fs} Hz")
        self.fs = int(fs)
        self._spf_fixed = samples_per_frame
        self.spf = self._choose_spf()
        self.units = units
        self.speed = float(speed)
        self.haptic = haptic
        self.env_gain = env_gain
        self._rng = random.Random(seed)
        if signal is None:
            signal = default_signal(fs, sensors, seed)
        elif not callable(signal):
            signal = signal_from_array(signal)
        self.signal = signal
        self.boot_id = self._rng.getrandbits(32)
        self.lock = threading.RLock()
        self._decoder = FrameDecoder()
        self.buzzes: list = []
        self.presses: list = []
        self._button_out: list = []
        self.commands: list = []
        self.sent: list = []
        self.identifies = 0
        self.streaming = False
        self.overruns = 0
        self._seq = 0
        self._env_state = np.zeros(sensors)
        self._pending: list = []
        self._pending_first = 0
        self._clock0 = time.monotonic()
        self.next_sample = 0
        self.last_status_t = 0.0
        # faults
        self.drop_next = 0
        self.corrupt_next = 0
        self.silent = False
        self._junk: list = []

    # ------------------------------------------------------------------ helpers
    def _choose_spf(self) -> int:
        want = int(self._spf_fixed) if self._spf_fixed else max(1, self.fs // 100)
        return min(want, max_samples_per_frame(self.n_ch))

    def _frame_seq(self) -> int:
        s = self._seq
        self._seq = (self._seq + 1) & 0xFFFF
        return s

    @property
    def status_frame(self) -> StatusFrame:
        flags = Flag.USB | (Flag.STREAMING if self.streaming else 0) | \
            (Flag.HAPTIC if self.haptic else 0)
        return StatusFrame(FrameType.STATUS, 0, fw_major=FW_VERSION[0], fw_minor=FW_VERSION[1],
                           board=self.spec.board, adc_bits=self.spec.adc_bits,
                           vref_mv=self.spec.vref_mv, raw_gain=int(BRIDGE_AVR.gain), fs_hz=self.fs, n_ch=self.n_ch,
                           samples_per_frame=self.spf, flags=int(flags), reason=0,
                           boot_id=self.boot_id, next_sample=self.next_sample & 0xFFFFFFFF,
                           overruns=self.overruns, battery_mv=0,
                           max_fs_hz=max_rate(self.spec, self.n_conv), channels=self.channels)

    def status(self, reason: Reason) -> bytes:
        st = replace(self.status_frame, seq=self._frame_seq(), reason=int(reason))
        return encode_status(st)

    def reboot(self) -> None:
        """Power cycle: new boot id, counter from 0, not streaming."""
        with self.lock:
            self.boot_id = self._rng.getrandbits(32)
            self.streaming = False
            self.next_sample = 0
            self._clock0 = time.monotonic()
            self._pending = []
            self._seq = 0
            self._decoder.reset()

    def press_button(self, long: bool = False, held_ms: int | None = None) -> bytes:
        """The wearer presses the button: a BUTTON frame goes out with the next
        :meth:`poll` (short press = "not a cramp", ``long`` = "cramp", as the
        firmware's debouncer reports them). Returns the frame."""
        with self.lock:
            press = Press.LONG if long else Press.SHORT
            held = int(held_ms) if held_ms is not None else (LONG_PRESS_MS if long else 200)
            frame = encode_button(self._frame_seq(), press, held, self.next_sample)
            self.presses.append((press, held, self.next_sample))
            self._button_out.append(frame)
            return frame

    def inject_junk(self, data: bytes) -> None:
        """Queue raw bytes to go out before a coming frame (one run per frame)."""
        with self.lock:
            self._junk.append(bytes(data))

    # ------------------------------------------------------------------ host -> device
    def receive(self, data: bytes) -> list:
        """Bytes from the host; returns the reply frames (wire bytes)."""
        out = []
        with self.lock:
            for f in self._decoder.feed(data):
                if not isinstance(f, CommandFrame):
                    continue
                self.commands.append(f)
                out.extend(self._handle(f))
            if self.silent:
                return []
        return out

    def _handle(self, f: CommandFrame) -> list:
        ack = lambda res: encode_ack(self._frame_seq(), f.type, f.seq, res)  # noqa: E731
        if f.type == FrameType.IDENTIFY:
            self.identifies += 1
            return [ack(Result.OK), self.status(Reason.IDENTIFY)]
        if f.type == FrameType.START:
            self._pending = []
            self.streaming = True
            return [ack(Result.OK), self.status(Reason.START)]
        if f.type == FrameType.STOP:
            self.streaming = False
            return [ack(Result.OK), self.status(Reason.STOP)]
        if f.type == FrameType.SET_RATE:
            if not rate_ok(self.spec, f.fs_hz, self.n_conv):
                return [ack(Result.BAD_ARGUMENT)]
            self.fs = f.fs_hz
            self.spf = self._choose_spf()
            self.next_sample = 0          # the sample counter restarts with the new clock
            self._clock0 = time.monotonic()
            self._pending = []
            return [ack(Result.OK), self.status(Reason.CONFIG)]
        if f.type == FrameType.BUZZ:
            if not self.haptic:
                return [ack(Result.UNSUPPORTED)]
            self.buzzes.append((min(f.duration_ms, 5000), f.strength))
            return [ack(Result.OK)]
        return [ack(Result.UNKNOWN_COMMAND)]

    # ------------------------------------------------------------------ sampling
    def _counts(self, n: int) -> np.ndarray:
        x = np.asarray(self.signal(n), dtype=np.float64)
        if x.ndim == 1:
            x = x[:, None]
        full = (1 << self.spec.adc_bits) - 1
        if self.units == "counts":
            return np.clip(np.round(x), -32768, 32767).astype(np.int16)
        vpc = self.spec.vref_mv / 1000.0 / full
        raw = np.clip(np.round(x / (vpc / BRIDGE_AVR.gain * 1e6)), -(full + 1) // 2, full // 2)
        cols = []
        for s in range(self.sensors):
            cols.append(raw[:, s])
            if self.env:
                # crude envelope: rectified signal through a 50 ms one-pole low-pass
                a = np.exp(-1.0 / (0.05 * self.fs))
                env = np.empty(n)
                y = self._env_state[s]
                for i, v in enumerate(np.abs(x[:, s])):
                    y = a * y + (1 - a) * v
                    env[i] = y
                self._env_state[s] = y
                cols.append(np.clip(np.round(env * self.env_gain * 1e-6 / vpc), 0, full))
        return np.stack(cols, axis=1).astype(np.int16)

    def advance(self, n: int) -> list:
        """Take ``n`` samples; returns the DATA frames (wire bytes) now complete."""
        out = []
        with self.lock:
            if n <= 0:
                return out
            counts = self._counts(n)
            first = self.next_sample
            self.next_sample += n
            if not self.streaming:
                return out
            if not self._pending:
                self._pending_first = first
            self._pending.append(counts)
            buf = np.concatenate(self._pending)
            start = self._pending_first
            while len(buf) >= self.spf:
                block, buf = buf[:self.spf], buf[self.spf:]
                out.extend(self._emit(start, block))
                start += self.spf
            self._pending = [buf] if len(buf) else []
            self._pending_first = start
        return out

    def _emit(self, first: int, block: np.ndarray) -> list:
        frame = encode_data(self._frame_seq(), first, self.fs, block)
        out = [self._junk.pop(0)] if self._junk else []   # one junk run per frame gap
        if self.silent:
            self.sent.append((first, block, False))
            return []
        if self.drop_next > 0:
            self.drop_next -= 1
            self.sent.append((first, block, False))
            return out
        if self.corrupt_next > 0:
            self.corrupt_next -= 1
            b = bytearray(frame)
            b[len(b) // 2] ^= 0x10  # one bit flip mid-frame (never a delimiter: 0x10 != 0)
            if b[len(b) // 2] == 0:
                b[len(b) // 2] = 0x55
            frame = bytes(b)
            self.sent.append((first, block, False))
        else:
            self.sent.append((first, block, True))
        out.append(frame)
        return out

    def poll(self, now: float | None = None) -> list:
        """Advance the sample clock to ``now``; periodic STATUS every second while streaming."""
        now = time.monotonic() if now is None else now
        with self.lock:
            due = int((now - self._clock0) * self.fs * self.speed) - self.next_sample
            out = self.advance(due)
            if self._button_out:              # the firmware sends a press at once, streaming or not
                if not self.silent:
                    out.extend(self._button_out)
                self._button_out = []
            if self.streaming and not self.silent and now - self.last_status_t >= 1.0:
                self.last_status_t = now
                out.append(self.status(Reason.PERIODIC))
        return out

    def delivered_counts(self) -> dict:
        """{first_sample: counts} of the DATA frames that went out intact."""
        return {first: block for first, block, ok in self.sent if ok}


class BridgeEmulator:
    """Serves a :class:`DeviceModel` on a pseudo-terminal (POSIX only).

    Parameters
    ----------
    signal : see :class:`DeviceModel`
    link : path, optional
        A symlink kept pointing at the current pty slave: open it with
        ``bridge:<link>``; it survives ``unplug()``/``replug()``.
    reset_on_replug : bool
        ``replug()`` reboots the device (an Uno powered from USB does).
    **model_kwargs
        Passed to :class:`DeviceModel`.

    Examples
    --------
    ::

        with BridgeEmulator(link=tmp / "bridge0", fs=1000) as emu:
            with open_source(f"bridge:{emu.path}") as src:
                ...
    """

    def __init__(self, signal=None, *, link=None, reset_on_replug: bool = True, **model_kwargs):
        self.model = DeviceModel(signal, **model_kwargs)
        self.link = os.fspath(link) if link is not None else None
        self.reset_on_replug = reset_on_replug
        self._master = None
        self._slave = None
        self.port_name = None
        self._thread = None
        self._stop = threading.Event()
        self._io_lock = threading.Lock()
        self._out = bytearray()
        self.tx_dropped = 0

    # ------------------------------------------------------------------ pty
    @property
    def path(self) -> str:
        """What the host should open: the symlink if any, else the pty slave."""
        return self.link or self.port_name

    def _open_pty(self) -> None:
        if os.name != "posix":
            raise UsageError("emulate bridge: needs a POSIX pseudo-terminal (Linux, macOS); "
                             "Windows is not supported")
        import tty
        master, slave = os.openpty()
        tty.setraw(slave)          # no echo, no CR/LF translation: bytes pass untouched
        os.set_blocking(master, False)
        name = os.ttyname(slave)
        with self._io_lock:
            self._master, self._slave, self.port_name = master, slave, name
            self._out.clear()
        if self.link:
            tmp = f"{self.link}.tmp{os.getpid()}"
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink(name, tmp)
            os.replace(tmp, self.link)
        self._write(self.model.status(Reason.BOOT))

    def _close_pty(self) -> None:
        # Link first: a closed pty's number is free for any process, and a host
        # retrying the link must find nothing rather than a stranger's pty.
        if self.link and os.path.islink(self.link):
            os.unlink(self.link)
        with self._io_lock:
            fds = [fd for fd in (self._master, self._slave) if fd is not None]
            self._master = self._slave = None
            self._out.clear()
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def _write(self, data: bytes) -> None:
        with self._io_lock:
            if self._master is None:
                return
            self._out += data
            if len(self._out) > 1 << 18:   # host not reading: a USB bridge drops too
                self.tx_dropped += len(self._out) - (1 << 18)
                del self._out[:len(self._out) - (1 << 18)]
            try:
                n = os.write(self._master, self._out)
                del self._out[:n]
            except BlockingIOError:
                pass
            except OSError:
                pass  # nobody at the other end yet (EIO): keep it buffered

    def _read(self) -> bytes:
        with self._io_lock:
            if self._master is None:
                return b""
            try:
                return os.read(self._master, 4096)
            except (BlockingIOError, OSError):
                return b""

    # ------------------------------------------------------------------ control
    def start(self) -> "BridgeEmulator":
        self._open_pty()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="bridge-emulator", daemon=True)
        self._thread.start()
        log.info("emulated firmware_bridge device on %s", self.path)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None
        self._close_pty()

    def press_button(self, long: bool = False, held_ms: int | None = None) -> None:
        """Press the device's button (short: "not a cramp"; ``long``: "cramp")."""
        self.model.press_button(long, held_ms)

    def unplug(self) -> None:
        """Pull the cable: the pty disappears; the device keeps sampling (or not, on replug)."""
        self._close_pty()

    def replug(self, reset: bool | None = None) -> None:
        """Plug back in on a new pty (the symlink follows); reboot if ``reset``."""
        if reset if reset is not None else self.reset_on_replug:
            self.model.reboot()
        self._open_pty()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def _run(self) -> None:
        while not self._stop.is_set():
            data = self._read()
            if data:
                for frame in self.model.receive(data):
                    self._write(frame)
            frames = self.model.poll()
            if self.plugged:
                for frame in frames:
                    self._write(frame)
                if self._out:
                    self._write(b"")
            self._stop.wait(0.002)


# ---------------------------------------------------------------------- CLI entry

def add_emulator_arguments(parser) -> None:
    """Options of ``emgpipe emulate bridge`` (the CLI command wires this in)."""
    parser.add_argument("--board", choices=sorted(BOARDS), default="avr",
                        help="which firmware to emulate (ADC bits and reference)")
    parser.add_argument("--fs", type=int, default=1000, help="sample rate, Hz (default 1000)")
    parser.add_argument("--sensors", type=int, choices=(1, 2), default=1)
    parser.add_argument("--no-env", dest="env", action="store_false",
                        help="do not send the ENV channels")
    parser.add_argument("--link", help="also make this symlink to the pty (stable path)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--duration", type=float, default=None,
                        help="stop after this many seconds (default: until Ctrl-C)")
    parser.add_argument("--press", action="append", default=[], metavar="S[:long]",
                        help="press the button S seconds after start (short: 'not a cramp'; "
                             "S:long: 'cramp'); repeatable")


def parse_presses(specs) -> list:
    """``--press S[:long]`` options -> sorted ``[(seconds, long), ...]``."""
    out = []
    for spec in specs or []:
        at, _, kind = str(spec).partition(":")
        try:
            at_s = float(at)
        except ValueError:
            raise UsageError(f"--press {spec!r}: expected seconds, optionally ':long'") from None
        if kind not in ("", "long", "short") or not at_s >= 0:
            raise UsageError(f"--press {spec!r}: seconds >= 0, then optionally ':long' or ':short'")
        out.append((at_s, kind == "long"))
    return sorted(out)


def press_due(emu, presses: list, elapsed_s: float, out=sys.stdout) -> None:
    """Press the emulator's button for each of ``presses`` due by ``elapsed_s`` (removed)."""
    while presses and elapsed_s >= presses[0][0]:
        _, long = presses.pop(0)
        emu.press_button(long)
        print(f"button: {'long' if long else 'short'} press ({'cramp' if long else 'not a cramp'})",
              file=out, flush=True)


def run_emulator(args, out=sys.stdout) -> int:
    """Run an emulated bridge until Ctrl-C (or ``args.duration``); prints the port to use.

    Buzz commands the host sends are printed as they arrive.
    """
    emu = BridgeEmulator(link=getattr(args, "link", None), board=args.board, fs=args.fs,
                         sensors=args.sensors, env=args.env, seed=getattr(args, "seed", 0))
    presses = parse_presses(getattr(args, "press", None))
    emu.start()
    t_start = time.monotonic()
    print(f"emulated firmware_bridge ({args.board}, {args.fs} Hz, protocol v{PROTOCOL_VERSION}) "
          f"on {emu.path}\nuse: emgpipe live --source bridge:{emu.path}   (Ctrl-C to stop)",
          file=out, flush=True)
    duration = getattr(args, "duration", None)
    t_end = None if duration is None else time.monotonic() + duration
    shown = 0
    try:
        while t_end is None or time.monotonic() < t_end:
            time.sleep(0.05)
            buzzes = list(emu.model.buzzes)
            for ms, strength in buzzes[shown:]:
                print(f"buzz {ms} ms (strength {strength})", file=out, flush=True)
            shown = len(buzzes)
            press_due(emu, presses, time.monotonic() - t_start, out)
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    return 0
