"""``cyton:PORT`` - OpenBCI Cyton (optionally with Daisy) through its USB dongle.

Rate limit
----------
**Over the USB dongle the Cyton streams at 250 Hz, no more** (protocols.md
§1.7: the OpenBCI docs say so and firmware v3 forces 250 Hz when streaming
starts over the radio). Nyquist is 125 Hz, so most surface-EMG power
(20-450 Hz) is aliased or lost; amplitude envelopes still work, spectral
features are limited. With a Daisy board the 16 channels come at **125 Hz**
(§1.8). Higher rates need the WiFi shield or the SD card (not supported here).

Connection sequence (§1.2-1.4): open at 115200 baud, ``s`` (in case it was
streaming), ``v`` (soft reset; read to ``$$$``; a reply containing
``Failure`` means "dongle on, board off"), Daisy on/off as asked, ``d``
(defaults), one ``x CH 0 GAIN 0 BIAS SRB2 0 X`` per channel (EMG: bipolar,
SRB2 off, gain tracked for scaling), then ``b``. ``s`` stops on close.

The live sources' reader thread (:class:`~emgpipe.devices.live.LiveSource`)
reads the port and hands raw bytes with their arrival time
to :meth:`CytonSource.chunks`, which parses 33-byte packets (resyncing after
junk), unwraps the 8-bit sample counter into ``seq`` and reports lost packets
as gaps. If reads fail (unplugged dongle) or no data comes for ``stall_s``
(board switched off), the thread reopens the same port with back-off for up to
``reconnect_s`` seconds, redoes the connection sequence and restarts streaming;
the wall-clock time lost becomes one gap (``round(elapsed * fs)`` samples).
Each disconnect is recorded in ``meta["disconnects"]`` and passed to the
callables in ``link_listeners``.
"""
from __future__ import annotations

import logging
import time

import numpy as np

from ...errors import DeviceNotFound, ProtocolError, UsageError
from . import protocol as cp
from ..live import ChunkAssembler, LinkDown, LiveSource, PacketCounter
from ..options import LIVE, Option, flag
from ..serialport import open_serial

log = logging.getLogger(__name__)

#: Bytes asked per read; the read returns earlier after ``read_s``.
READ_SIZE = 4096


def gains(value):
    """``24`` or ``"24,24,8,..."`` (one per channel) -> a gain or a list of gains."""
    vals = value.split(",") if isinstance(value, str) else np.atleast_1d(value)
    try:
        out = [int(v) for v in vals]
    except (TypeError, ValueError):
        raise ValueError("expected a gain such as 24 or a comma list, one per channel") from None
    for g in out:
        if g not in cp.GAIN_CODES:
            raise ValueError(f"expected one of {', '.join(str(k) for k in sorted(cp.GAIN_CODES))}")
    return out[0] if len(out) == 1 else out


def daisy(value):
    """``auto``, or on/off."""
    if str(value).strip().lower() == "auto":
        return "auto"
    try:
        return flag(value)
    except ValueError:
        raise ValueError("expected auto, on or off") from None


class CytonSource(LiveSource):
    """OpenBCI Cyton (8 ch, 250 Hz) or Cyton+Daisy (16 ch, 125 Hz) over the dongle.

    Parameters
    ----------
    port : str
        Serial port, e.g. ``/dev/ttyUSB0``, ``/dev/cu.usbserial-DM00Q0QN``, ``COM3``.
    gain : int or sequence of int
        ADS1299 gain, one for all channels or one per channel
        (1, 2, 4, 6, 8, 12, 24; default 24 = ±187.5 mV full scale, §1.4).
    daisy : {"auto", True, False}
        16 channels if a Daisy is attached (auto), force it, or use 8 only.
    srb2 : bool
        Connect SRB2 (referential montage). Default off: bipolar EMG (§1.4).
    bias : bool
        Include the channel in the bias drive (default on).
    reconnect_s : float
        How long to keep retrying after the link is lost before giving up.
    stall_s : float
        No byte for this long while streaming counts as a lost link.
    reply_timeout : float
        Time allowed for each text reply (``$$$``) during connection.
    read_s : float
        Serial read timeout: chunks come about this often (20 ms default).

    Examples
    --------
    >>> src = CytonSource.from_uri("/dev/ttyUSB0", gain="24", daisy="off")
    >>> src.uri, src.daisy, src.reconnect_s
    ('cyton:/dev/ttyUSB0', False, 30.0)

    Then ``with src: for chunk in src: ...`` (needs the board).
    """

    scheme = "cyton"
    OPTIONS = {**LIVE, "gain": Option(gains, "PGA gain, one or one per channel (1-24)"),
               "daisy": Option(daisy, "auto, on or off: use the Daisy board's 8 channels"),
               "srb2": Option(flag, "SRB2 reference (off for bipolar EMG)"),
               "bias": Option(flag, "include the channels in the bias drive")}
    #: URI option -> constructor keyword.
    KWARGS = {"timeout_s": "reply_timeout", "chunk_s": "read_s"}

    def __init__(self, port: str, *, gain=cp.DEFAULT_GAIN, daisy="auto", srb2: bool = False,
                 bias: bool = True, reconnect_s: float = 30.0, stall_s: float = 3.0,
                 reply_timeout: float = 3.0, read_s: float = 0.02):
        super().__init__()
        if not port:
            raise UsageError("cyton: needs a serial port, e.g. cyton:/dev/ttyUSB0 or cyton:COM3")
        self.port = port
        self.uri = f"cyton:{port}"
        gains = [gain] if np.ndim(gain) == 0 else list(gain)
        for g in gains:
            if g not in cp.GAIN_CODES:
                raise UsageError(f"{self.uri}: option gain={g!r}: expected one of "
                                 f"{', '.join(str(k) for k in sorted(cp.GAIN_CODES))}")
        self.gain = gains
        self.daisy = daisy
        self.srb2 = bool(srb2)
        self.bias = bool(bias)
        self.reconnect_s = float(reconnect_s)
        self.stall_s = float(stall_s)
        self.reply_timeout = float(reply_timeout)
        self.read_s = float(read_s)
        self._ser = None
        self._n_channels = None

    # ------------------------------------------------------------------ connection

    def _open_port(self):
        return open_serial(self.port, self.uri, cp.BAUD, self.read_s)

    def _read_reply(self, ser, what: str) -> str:
        """Read up to and including ``$$$``; '' on timeout."""
        buf = bytearray()
        deadline = time.monotonic() + self.reply_timeout
        while time.monotonic() < deadline and not self._halt.is_set():
            buf += ser.read(256)
            if cp.EOT in buf:
                return bytes(buf).decode("ascii", "replace")
        log.debug("%s: no complete reply to %s (got %r)", self.uri, what, bytes(buf[:80]))
        return ""

    def _ask(self, ser, cmd: bytes) -> str:
        ser.write(cmd)
        return self._read_reply(ser, repr(cmd.decode("ascii")))

    def _board_off(self) -> DeviceNotFound:
        return DeviceNotFound(f"{self.uri}: dongle found but Cyton is off: switch the board on "
                              f"(PC position)")

    def _handshake(self, ser) -> dict:
        """Reset, configure the channels and start streaming. Returns board facts."""
        ser.write(cp.COMMAND_STOP)
        time.sleep(0.05)
        ser.reset_input_buffer()
        banner = self._ask(ser, cp.COMMAND_RESET)
        if not banner:
            raise DeviceNotFound(
                f"{self.uri}: no reply to the reset command 'v' within {self.reply_timeout:g} s: "
                f"is this the OpenBCI USB dongle?")
        info = cp.parse_banner(banner)
        if info["board_off"]:
            raise self._board_off()
        daisy = info["daisy"]
        if self.daisy is True and not daisy:
            raise DeviceNotFound(f"{self.uri}: daisy=on but no Daisy board answered the reset")
        if self.daisy is False and daisy:
            reply = self._ask(ser, cp.COMMAND_DAISY_OFF)
            if "Failure" in reply:
                raise self._board_off()
            daisy = False
        n = 16 if daisy else 8
        if self._n_channels is not None and n != self._n_channels:
            raise ProtocolError(f"{self.uri}: board now reports {n} channels, was "
                                f"{self._n_channels}")
        gains = self.gain * n if len(self.gain) == 1 else self.gain
        if len(gains) != n:
            raise UsageError(f"{self.uri}: option gain has {len(gains)} values but the board has "
                             f"{n} channels")
        reply = self._ask(ser, cp.COMMAND_DEFAULTS)
        if "Failure" in reply:
            raise self._board_off()
        commands = []
        for ch, g in enumerate(gains, start=1):
            cmd = cp.channel_command(ch, g, srb2=self.srb2, bias=self.bias)
            reply = self._ask(ser, cmd)
            if "Success" not in reply:
                if "Failure: Communications timeout" in reply:
                    raise self._board_off()
                raise ProtocolError(f"{self.uri}: channel {ch} settings {cmd.decode()} refused: "
                                    f"{reply.strip() or 'no reply'}")
            commands.append(cmd.decode())
        ser.reset_input_buffer()
        ser.write(cp.COMMAND_START)
        return {"firmware": info["firmware"], "daisy": daisy, "n_channels": n, "gains": gains,
                "channel_commands": commands, "banner": banner.replace(cp.EOT.decode(), "").strip()}

    def open(self) -> None:
        if self._ser is not None:
            return
        self._halt.clear()
        ser = self._open_port()
        try:
            info = self._handshake(ser)
        except BaseException:
            ser.close()
            raise
        self._ser = ser
        n = self._n_channels = info["n_channels"]
        self.fs = cp.FS_DAISY if info["daisy"] else cp.FS_DONGLE
        self.ch_names = tuple(f"ch{i + 1}" for i in range(n))
        self._scale = cp.uv_per_count(np.asarray(info["gains"]))
        self.meta = {
            "device": "cyton", "port": self.port, "firmware": info["firmware"],
            "daisy": info["daisy"], "fs": self.fs, "gains": list(info["gains"]),
            "uv_per_count": self._scale.tolist(), "srb2": self.srb2, "bias": self.bias,
            "channel_commands": info["channel_commands"],
            "rate_limit": "the USB dongle caps the Cyton at 250 Hz (125 Hz with Daisy)",
            "disconnects": [], "junk_bytes": 0, "lost_samples": 0,
        }
        self._parser = cp.PacketParser()
        # One sample per packet, counter wraps 255 -> 0 (§1.5); 250 packets/s.
        self._counter = PacketCounter(range(257), rate_hz=cp.FS_DONGLE)
        self._asm = ChunkAssembler(self.fs, self.ch_names, self.uri)
        self._new_link_log()
        self._pending_half = None
        self._new_queue()
        self._start_reader(f"cyton-reader {self.port}")
        log.info("%s: streaming %d channels at %g Hz (firmware %s)", self.uri, n, self.fs,
                 info["firmware"])

    def close(self) -> None:
        self._stop_reader(2.0 + self.read_s)
        ser, self._ser = self._ser, None
        if ser is not None:
            try:
                ser.write(cp.COMMAND_STOP)
                ser.flush()
            except Exception:  # the port may be gone already
                pass
            try:
                ser.close()
            except Exception:
                pass

    # ------------------------------------------------------------------ reader thread
    # (LiveSource._reader runs the loop: stall test, recovery with back-off)

    def _read_link(self) -> bool:
        """One read of the port; bytes go to the consumer with their arrival
        time and the listening time without data before them (the packet
        counter's wrap guard)."""
        import serial
        try:
            data = self._ser.read(READ_SIZE)
        except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
            # TypeError/AttributeError: pyserial internals after the fd vanished.
            raise LinkDown(f"read failed: {exc}") from exc
        if data:
            self._put(("data", time.monotonic(), (data, self._quiet_s)))
        return bool(data)

    def _drop_link(self) -> None:
        try:
            self._ser.close()
        except Exception:
            pass

    def _reconnect(self) -> bool:
        """Reopen the same port and redo the connection sequence."""
        ser = self._open_port()
        try:
            self._handshake(ser)
        except BaseException:
            try:
                ser.close()
            except Exception:
                pass
            raise
        if self._halt.is_set():  # close() came meanwhile: leave the port closed
            try:
                ser.write(cp.COMMAND_STOP)
                ser.close()
            except Exception:
                pass
            return False
        self._ser = ser
        return True

    # ------------------------------------------------------------------ consumer

    def _on_data(self, t: float, data: bytes, quiet_s: float) -> None:
        packets = self._parser.feed(data)
        self.meta["junk_bytes"] = self._parser.n_junk
        if not len(packets):
            return
        numbers, counts, _stop = cp.decode_packets(packets)
        idx = self._counter.unwrap(numbers, t, quiet_s=quiet_s)
        if self._n_channels == 8:
            self._asm.push(idx, counts * self._scale, t)
            return
        # Daisy (§1.8): even packet = channels 9-16, the next odd one = channels 1-8
        # and completes the row; row index = packet index // 2. An incomplete row
        # (either half lost) is dropped and shows up as a gap.
        rows_i, rows = [], []
        for u, c in zip(idx.tolist(), counts):
            if u % 2 == 0:
                self._pending_half = (u, c)
                continue
            if self._pending_half is not None and self._pending_half[0] == u - 1:
                rows_i.append(u // 2)
                rows.append(np.concatenate([c, self._pending_half[1]]))
            self._pending_half = None
        if rows:
            self._asm.push(rows_i, np.asarray(rows) * self._scale, t)

    def _on_item(self, kind: str, t: float, payload):
        fatal = super()._on_item(kind, t, payload)
        if kind == "restored":  # the board was reset: new counter, no partial packet
            self._parser.reset()
            self._counter.reset()
            self._pending_half = None
        return fatal

    def _assembled(self) -> list:
        self.meta["lost_samples"] = self._asm.n_lost
        return self._asm.pop()
