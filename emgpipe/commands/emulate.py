"""``emgpipe emulate cyton|bridge|lsl``: a device in software on a pseudo-terminal (or LSL).

Prints one line with the port to use, then streams simulator data
(:func:`emgpipe.sim.make`, scenario ``--scenario``) at the device's rate until
Ctrl-C (or ``--duration`` seconds of wall time):

* ``cyton``: an OpenBCI Cyton behind its USB dongle
  (:class:`emgpipe.devices.cyton.emulator.CytonEmulator`), 250 Hz (the dongle's
  limit, protocols.md §1.7), 8 channels, or 16 at 125 Hz with ``--daisy``;
* ``bridge``: a MyoWare on an Arduino running firmware_bridge
  (:class:`emgpipe.devices.bridge.emulator.BridgeEmulator`), 1000 Hz by default;
* ``lsl``: a Lab Streaming Layer outlet (:class:`emgpipe.devices.lsl.emulator.LslEmulator`,
  needs pylsl), 1000 Hz by default; no pseudo-terminal, so it runs on Windows too.

There is no ``ganglion``: a BLE peripheral cannot be made without a radio; the
Ganglion's emulator (:mod:`emgpipe.devices.ganglion.emulator`) works in-process,
at bleak's API.

The scenario's muscles fill the first channels; remaining Cyton inputs carry
rest-level noise (:data:`SPARE_NOISE_UV`). The scenario loops when it ends.
Its simulated packet drops are not replayed (the emulators drop packets on
demand, see their ``drop_packets``/``drop_next``).

POSIX only (Linux, macOS): Windows has no pseudo-terminals; use a virtual
COM-port pair (com0com) and a serial device emulator there.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time

import numpy as np

from ..errors import UsageError

#: RMS of the spare (unused) Cyton inputs: a rest-level surface EMG baseline
#: (1-5 µV RMS, physiology.md §4; sim/devices.py draws 2-5 µV for the Cyton).
SPARE_NOISE_UV = 3.0
#: Scenario streamed when none is named: a walk ending in a calf cramp.
DEFAULT_SCENARIO = "walk_then_cramp"
#: Samples kept behind the newest request (the Cyton emulator re-reads the
#: current Daisy row); 10 s is far more than any re-read.
KEEP_S = 10.0


class ScenarioSignal:
    """A simulator scenario as an endless signal, for the device emulators.

    ``signal(start, n)`` (index-addressable, the Cyton emulator's API) and
    ``signal.read(n)`` (sequential, the bridge's) return ``(n, n_columns)``
    µV. Blocks are made lazily and only the last :data:`KEEP_S` seconds are
    kept, so an 8 h ``night`` streams in constant memory.

    Examples
    --------
    >>> s = ScenarioSignal("walk_then_cramp", fs=250, n_columns=8, seed=1, device="cyton")
    >>> x = s(0, 500)
    >>> x.shape, bool(np.allclose(s(250, 10), x[250:260]))
    ((500, 8), True)
    """

    def __init__(self, scenario: str, fs: int, n_columns: int, seed: int = 0,
                 device: str | None = None, duration: float | None = None):
        from .. import sim
        if scenario not in sim.SCENARIOS:
            raise UsageError(f"--scenario {scenario}: unknown (known: {', '.join(sim.SCENARIOS)})")
        try:
            self.sim = sim.make(scenario, fs=int(fs), seed=int(seed), device=device,
                                duration=duration)
        except ValueError as err:
            raise UsageError(f"--scenario {scenario}: {err}") from None
        self.scenario, self.fs, self.n_columns, self.seed = scenario, float(fs), n_columns, seed
        self.ch_names = self.sim.ch_names[:n_columns]
        self._blocks = None
        self._n_blocks = 0
        self._buf = np.zeros((0, n_columns))
        self._buf0 = 0          # index of _buf[0]
        self._pos = 0           # for read()

    def _next_block(self) -> np.ndarray:
        while True:
            if self._blocks is None:
                self._blocks = self.sim.blocks(2.0)
            block = next(self._blocks, None)
            if block is not None:
                break
            self._blocks = None  # the scenario ended: loop it (same samples again)
            self._n_blocks = 0
        self._n_blocks += 1
        k = min(block.shape[1], self.n_columns)
        out = np.empty((len(block), self.n_columns))
        out[:, :k] = block[:, :k]
        if k < self.n_columns:
            rng = np.random.default_rng([self.seed, self._n_blocks])
            out[:, k:] = rng.standard_normal((len(block), self.n_columns - k)) * SPARE_NOISE_UV
        return out

    def __call__(self, start: int, n: int) -> np.ndarray:
        if n <= 0:
            return np.zeros((0, self.n_columns))
        while self._buf0 + len(self._buf) < start + n:
            self._buf = np.concatenate([self._buf, self._next_block()])
        if start < self._buf0:
            raise ValueError(f"sample {start} is no longer kept (oldest {self._buf0})")
        out = self._buf[start - self._buf0:start - self._buf0 + n].copy()
        drop = start - self._buf0 - int(KEEP_S * self.fs)
        if drop > 0:
            self._buf, self._buf0 = self._buf[drop:], self._buf0 + drop
        return out

    def read(self, n: int) -> np.ndarray:
        out = self(self._pos, n)
        self._pos += n
        return out


def _add(p: argparse.ArgumentParser, flag: str, **kw) -> None:
    """Add ``flag`` unless the emulator module already defines it."""
    if flag not in p._option_string_actions:
        p.add_argument(flag, **kw)


def _common(p: argparse.ArgumentParser, link: bool = True) -> None:
    # (emgpipe.sim is not imported here: it pulls in scipy, and every command
    # builds this parser)
    _add(p, "--scenario", default=DEFAULT_SCENARIO, metavar="NAME",
         help=f"simulator scenario to stream (default {DEFAULT_SCENARIO}; "
              f"'emgpipe simulate --list' names them)")
    _add(p, "--speed", default="1", help="sample clock factor (1 = real time)")
    _add(p, "--duration", type=float, default=None, metavar="S",
         help="stop after S seconds of wall time (default: until Ctrl-C)")
    _add(p, "--seed", type=int, default=0, help="simulator seed")
    if link:
        _add(p, "--link", default=None, help="also make this symlink to the pty (stable path)")


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "emulate", help="emulate a device on a pseudo-terminal (POSIX), for trying live without hardware",
        description="Emulate a device on a pseudo-terminal and stream simulator data to whoever opens "
                    "it; prints the port to use with 'emgpipe live'. Runs until Ctrl-C. POSIX only "
                    "(on Windows use a virtual COM-port pair such as com0com).")
    dev = p.add_subparsers(dest="device", metavar="DEVICE", required=True,
                           parser_class=type(p))
    from ..devices.cyton import emulator as cyton_emu
    c = dev.add_parser("cyton", help="OpenBCI Cyton behind its USB dongle (250 Hz)",
                       description="OpenBCI Cyton (8 ch) or Cyton+Daisy (16 ch) behind its USB "
                                   "dongle: 250 Hz, the dongle's limit (125 Hz with Daisy).")
    cyton_emu.add_arguments(c)
    _common(c)
    c.set_defaults(func=run)
    b = dev.add_parser("bridge", help="MyoWare on an Arduino running firmware_bridge (1000 Hz)",
                       description="MyoWare 2.0 sensor(s) on an Arduino/ESP32 running "
                                   "firmware_bridge, over USB serial.")
    try:
        from ..devices.bridge.emulator import add_emulator_arguments
    except ImportError:  # the bridge backend is not in this build: `run` says so
        pass
    else:
        add_emulator_arguments(b)
    _common(b)
    b.set_defaults(func=run)
    s = dev.add_parser("lsl", help="a Lab Streaming Layer EMG outlet (needs pylsl)",
                       description="A Lab Streaming Layer outlet (type EMG, µV, channel labels) "
                                   "streaming the scenario; read it with 'emgpipe live --source "
                                   "lsl:NAME'. No pseudo-terminal: works on Windows too.")
    s.add_argument("--name", default="emgpipe-emulator", help="stream name (default %(default)s)")
    s.add_argument("--fs", type=int, default=1000, help="sample rate, Hz (default %(default)s)")
    s.add_argument("--channels", type=int, default=2, help="channels (default %(default)s)")
    _common(s, link=False)
    s.set_defaults(func=run)
    p.set_defaults(func=lambda args: p.print_help() or 2)
    return p


def _check_posix() -> None:
    if os.name != "posix" or not hasattr(os, "openpty"):
        raise UsageError("emulate: needs a POSIX pseudo-terminal (Linux or macOS); on Windows, "
                         "create a virtual COM-port pair with com0com and point a serial emulator "
                         "at one end")


def _port_shown(path: str, link: str | None) -> str:
    """The port to print: the user's symlink if given, else the pty itself."""
    return path if link else os.path.realpath(path)


def _wait(duration: float | None, poll, stop) -> None:
    """Wait until ``duration`` (wall s) passes or ``stop`` is set; ``poll()`` every 0.1 s."""
    t_end = None if duration is None else time.monotonic() + duration
    try:
        while t_end is None or time.monotonic() < t_end:
            wait = 0.1 if t_end is None else max(0.0, min(0.1, t_end - time.monotonic()))
            if stop.wait(wait):
                return
            if poll is not None:
                poll()
    except KeyboardInterrupt:  # a second Ctrl-C
        pass


def _pair_mean(x: np.ndarray) -> np.ndarray:
    return 0.5 * (x[0::2] + x[1::2])


def start_cyton(args):
    """``(emulator, port, description, signal, poll)``: a started :class:`CytonEmulator`
    streaming ``args.scenario``; ``poll`` (or None) is called while it runs."""
    from ..devices.cyton import protocol as cp
    from ..devices.cyton.emulator import CytonEmulator
    from ..devices.base import parse_speed
    n = 16 if args.daisy else 8
    fs = cp.FS_DAISY if args.daisy else cp.FS_DONGLE
    # The scenario at the ADS1299's 250 Hz (sinc3 front end, DC offsets). With
    # Daisy the firmware sends each ADS's average of its current and previous
    # sample every other packet (protocols.md §1.8): 125 Hz pair averages.
    sig = ScenarioSignal(args.scenario, int(cp.FS_DONGLE), n, args.seed, device="cyton")
    signal = sig if not args.daisy else (lambda start, k: _pair_mean(sig(2 * start, 2 * k)))
    emu = CytonEmulator(signal, daisy=args.daisy, speed=parse_speed(args.speed),
                        link_path=args.link).start()
    port = _port_shown(emu.port_name, args.link)
    desc = ("an OpenBCI Cyton+Daisy (16 ch, 125 Hz over the dongle)" if args.daisy else
            f"an OpenBCI Cyton ({n} ch, {fs:g} Hz: the USB dongle's limit)")
    return emu, port, desc, sig, None


def start_bridge(args):
    """As :func:`start_cyton`, for a :class:`BridgeEmulator` (``poll`` prints buzzes)."""
    try:
        from ..devices.bridge.emulator import BridgeEmulator
    except ImportError as err:
        raise UsageError(f"emulate bridge: the bridge backend is not available ({err})") from None
    from ..devices.base import parse_speed
    from ..devices.bridge.emulator import parse_presses, press_due
    presses = parse_presses(getattr(args, "press", None))     # bad --press: before anything starts
    speed = parse_speed(args.speed)
    if speed is None:
        raise UsageError("emulate bridge: --speed must be a factor (the bridge has a sample clock)")
    fs = int(getattr(args, "fs", 1000))
    sensors = int(getattr(args, "sensors", 1))
    sig = ScenarioSignal(args.scenario, fs, sensors, args.seed, device="raw")
    emu = BridgeEmulator(sig.read, link=args.link, board=getattr(args, "board", "avr"), fs=fs,
                         sensors=sensors, env=getattr(args, "env", True), seed=args.seed,
                         speed=speed).start()
    t0 = time.monotonic()
    port = _port_shown(emu.path, args.link)
    desc = f"a MyoWare on firmware_bridge ({sensors} sensor(s), {fs} Hz)"
    shown = [0]

    def show_buzzes():  # the host's haptic alerts, as the real board would buzz; --press presses
        buzzes = list(emu.model.buzzes)
        for ms, strength in buzzes[shown[0]:]:
            print(f"buzz {ms} ms (strength {strength})", flush=True)
        shown[0] = len(buzzes)
        press_due(emu, presses, time.monotonic() - t0)
    return emu, port, desc, sig, show_buzzes


def start_lsl(args):
    """As :func:`start_cyton`, for an :class:`LslEmulator` (the "port" is the stream name)."""
    from ..devices.base import parse_speed
    from ..devices.lsl.emulator import LslEmulator
    speed = parse_speed(args.speed)
    if speed is None:
        raise UsageError("emulate lsl: --speed must be a factor (the outlet has a sample clock)")
    if args.channels < 1 or args.fs < 1:
        raise UsageError("emulate lsl: --fs and --channels must be positive")
    sig = ScenarioSignal(args.scenario, args.fs, args.channels, args.seed)
    names = tuple(sig.ch_names) + tuple(f"ch{i + 1}" for i in range(len(sig.ch_names),
                                                                       args.channels))
    emu = LslEmulator(args.name, sig, fs=args.fs, ch_names=names, speed=speed).start()
    return emu, args.name, f"an LSL EMG outlet ({args.channels} ch, {args.fs} Hz)", sig, None


STARTERS = {"cyton": start_cyton, "bridge": start_bridge, "lsl": start_lsl}


def run(args, stop=None) -> int:
    """Run the emulator until Ctrl-C/SIGTERM/SIGHUP, ``--duration`` or ``stop`` (a
    threading.Event) is set; the port and its symlink are removed on the way out."""
    from ..session import stop_on_signals
    if args.device != "lsl":
        _check_posix()
    stop = stop or threading.Event()
    start = STARTERS[args.device]
    emu, port, desc, sig, poll = start(args)
    try:
        print(f"emulating {desc} on {port} - scenario {sig.scenario} "
              f"({', '.join(sig.ch_names)}) - connect with: emgpipe live --source "
              f"{args.device}:{port}", flush=True)
        with stop_on_signals(stop.set):
            _wait(args.duration, poll, stop)
    finally:
        emu.stop()
    print("emulator stopped", file=sys.stderr)
    return 0
