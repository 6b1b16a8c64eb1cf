"""``bridge:`` (USB serial) and ``bridge-ble:`` sources: MyoWare 2.0 via firmware_bridge.

Both speak the same frames (``firmware_bridge/protocol.md``) over a
:mod:`~emgpipe.devices.bridge.links` transport. ``open()`` identifies the device
(retrying while an Uno reboots after the port opens), sets the rate if asked,
and starts streaming; ``chunks()`` yields µV chunks whose ``seq`` follows the
device's sample counter. The frames are read on the live sources' reader
thread (:class:`~emgpipe.devices.live.LiveSource`), which also handles STATUS
and ACK frames and redoes the handshake when the device restarts; DATA and
BUTTON frames become chunks and answers on the thread that iterates the
chunks. A lost link (unplug, BLE drop, or no data for ``stall`` seconds) is
retried with the shared back-off; the outage comes out as a gap on the next
chunk. ``send_buzz(ms)`` drives the haptic motor (thread-safe).
A press of the device's button (BUTTON frame: short = "not a cramp", long =
"cramp") is handed to every callable in ``answer_listeners`` as
``{"answer", "source": "button", "press", "held_ms", "sample"}``, on the
thread that iterates the chunks.

Link drops are told to every callable in ``link_listeners`` (the live view's
status line, the night database's ``links`` table), with the same dicts as the
Cyton and Ganglion sources (:class:`emgpipe.devices.live.LinkLog`):
``"disconnect"`` when the link is lost, ``"reconnect"`` (with ``n_missing``,
the samples the gap on the first chunk after it announces, and ``elapsed_s``)
and ``"gave_up"``; each outage is also kept in ``meta["disconnects"]``.

URI options (``bridge:/dev/ttyACM0?rate=1000&env=1``):

=========== ============================================================
baud        serial baud rate (default 500000)
rate        sample rate to request, Hz (default: the device's)
env         1 to include the ENV channels (default: RAW - REF only)
env_gain    ENV gain for µV scaling (default 10200, MW-LIB's pot default)
names       comma-separated names of the RAW channels, one per RAW channel
stall_s     seconds without data before the link counts as lost (2)
reconnect_s seconds to keep retrying a lost device, ``inf`` = forever (600)
timeout_s   seconds to wait for the device to answer (5)
chunk_s     longest wait for data per read (0.05)
scan_s      BLE scan timeout, seconds (10)
=========== ============================================================

These are the names every live source uses (:mod:`emgpipe.devices.options`);
the bridge's older ``stall``, ``reconnect``, ``handshake`` and ``scan`` still work.
"""
from __future__ import annotations

import itertools
import logging
import threading
import time

from ...errors import DeviceError, DeviceNotFound, ProtocolError, StreamLost, UsageError
from ..live import LinkDown, LiveSource
from ..options import BLE, LIVE, Option, flag, names as names_option, positive, whole
from ..serialport import PORT_EXAMPLES, available_ports
from .links import BleLink, LinkLost, SerialLink
from .protocol import (DEFAULT_BAUD, PROTOCOL_VERSION, AckFrame, ButtonFrame, ChannelKind, DataFrame, Flag,
                       FrameDecoder, FrameType, Result, StatusFrame, encode_command)
from .stream import DEFAULT_ENV_GAIN, ChunkAssembler, merge_chunks

log = logging.getLogger(__name__)

#: Longest buzz the firmware accepts (it clamps longer requests), ms.
MAX_BUZZ_MS = 5000

#: The bridge's own URI options, on top of the live ones (stall_s, reconnect_s, timeout_s, chunk_s).
BRIDGE_OPTIONS = {
    "baud": Option(whole, "serial baud rate"),
    "rate": Option(whole, "sample rate to request, Hz"),
    "env": Option(flag, "include the ENV channels"),
    "env_gain": Option(positive, "ENV gain for µV scaling"),
    "names": Option(names_option, "names of the RAW channels, in order"),
}


class BridgeSource(LiveSource):
    """Transport-independent part of the bridge sources (use the subclasses).

    Attributes
    ----------
    status : StatusFrame
        The last STATUS the device sent.
    decoder : FrameDecoder
        Its ``stats`` count bad frames (CRC, COBS, length...).
    assembler : ChunkAssembler
        Counts frames, samples, gaps and lost frames.
    """

    def __init__(self, link, *, uri: str, rate: int | None = None, env: bool = False,
                 env_gain: float = DEFAULT_ENV_GAIN, names=None, stall: float = 2.0,
                 reconnect: float = 600.0, handshake: float = 5.0, backoff=None,
                 read_s: float = 0.05):
        super().__init__()
        self.uri = uri
        self.link = link
        self.rate = rate
        self.env = env
        self.env_gain = env_gain
        self.names = names
        self.stall = stall
        self.reconnect = reconnect
        self.handshake = handshake
        if backoff is not None:
            self.backoff = tuple(backoff)
        self.read_s = float(read_s)
        self.status: StatusFrame | None = None
        self.decoder = FrameDecoder()
        self.assembler: ChunkAssembler | None = None
        self._cmd_seq = itertools.count()
        self._cmd_lock = threading.Lock()
        self._pending: list = []             # frames read but not yet handled (reader side)
        self._streaming = False
        self._boot_id = None
        self._opened = False
        self.disconnects = 0
        self.buzz_sent = 0
        self.buzz_acked = 0
        self.device_overruns = 0
        self.protocol_warnings = 0
        self.button_presses = 0
        self.answer_listeners: list = []     # called with each button answer (dict)
        self._new_link_log()
        self._restored = None                # (monotonic, elapsed s) of a reconnect not yet told

    #: One reconnection attempt failed: try again.
    RECONNECT_ERRORS = (DeviceError, LinkLost, OSError)

    # the names the live-source base uses
    @property
    def stall_s(self) -> float:
        return self.stall

    @property
    def reconnect_s(self) -> float:
        return self.reconnect

    # ------------------------------------------------------------------ commands
    def _next_seq(self) -> int:
        with self._cmd_lock:
            return next(self._cmd_seq) & 0xFFFF

    def _send(self, ftype: FrameType, **args) -> int:
        seq = self._next_seq()
        self.link.write(encode_command(ftype, seq, **args))
        return seq

    def send_buzz(self, ms: int, strength: int = 255) -> bool:
        """Ask the device to run its haptic motor for ``ms`` milliseconds.

        Thread-safe (the alert sink calls it from its own thread). Returns
        False, with a warning, when the link is down; the device's ACK is
        counted in ``meta["counters"]["buzz_acked"]``. The firmware clamps
        ``ms`` to 5000 (protocol.md).
        """
        ms = int(ms)
        if not 0 <= ms <= 0xFFFF:
            raise ValueError(f"buzz duration must be 0..65535 ms, got {ms}")
        if not 0 <= int(strength) <= 255:
            raise ValueError(f"buzz strength must be 0..255, got {strength}")
        try:
            self._send(FrameType.BUZZ, duration_ms=ms, strength=int(strength))
        except LinkLost as exc:
            log.warning("%s: buzz not sent (%s)", self.uri, exc)
            return False
        self.buzz_sent += 1
        return True

    def _read_frames(self, timeout: float) -> list:
        data = self.link.read(timeout)
        return self.decoder.feed(data) if data else []

    def _forward(self, frames: list, push: bool = False) -> None:
        """Hand frames read to the consumer: every frame counts for the lost-frame
        counter, BUTTON frames are answers, DATA frames become samples if ``push``."""
        if frames:
            self._put(("frames", time.monotonic(), (frames, push, self.assembler is not None)))

    def _await(self, pred, timeout: float, *, resend=None, every: float = 0.5):
        """Read frames until ``pred(frame)``; keep the rest for the stream."""
        deadline = time.monotonic() + timeout
        next_send = time.monotonic() + every
        while True:
            frames = self._read_frames(0.05)
            for i, f in enumerate(frames):
                if pred(f):
                    self._forward(frames[:i + 1])
                    self._pending.extend(frames[i + 1:])
                    return f
                self._handle_side_frame(f, during_handshake=True)
            self._forward(frames)
            now = time.monotonic()
            if now >= deadline or self._halt.is_set():
                return None
            if resend is not None and now >= next_send:
                resend()
                next_send = now + every

    def _command(self, ftype: FrameType, timeout: float = 2.0, **args) -> AckFrame:
        seq = self._send(ftype, **args)
        ack = self._await(lambda f: isinstance(f, AckFrame) and f.cmd_seq == seq
                          and f.cmd_type == ftype, timeout)
        if ack is None:
            raise DeviceNotFound(f"{self.uri}: no answer to {ftype.name} within {timeout:g} s")
        return ack

    def _identify(self) -> StatusFrame:
        self.decoder.reset()
        seqs = set()

        def send():
            seqs.add(self._send(FrameType.IDENTIFY))
        send()
        st = self._await(lambda f: isinstance(f, StatusFrame), self.handshake, resend=send)
        if st is None:
            if self.decoder.stats.last_bad_version is not None:
                raise ProtocolError(
                    f"{self.uri}: device speaks firmware_bridge protocol version "
                    f"{self.decoder.stats.last_bad_version}, this emgpipe speaks "
                    f"{PROTOCOL_VERSION}; flash the matching firmware_bridge sketch")
            heard = self.decoder.stats.bytes_in
            hint = ("it sent bytes that are not firmware_bridge frames: wrong baud rate or "
                    "another sketch?" if heard else "nothing received: is the firmware_bridge "
                    "sketch flashed and the baud rate right?")
            raise DeviceNotFound(f"{self.uri}: no firmware_bridge device answered on "
                                 f"{self.link.describe()} within {self.handshake:g} s ({hint})")
        return st

    # ------------------------------------------------------------------ session
    def _handshake(self) -> None:
        """IDENTIFY, SET_RATE if needed, START. Raises DeviceError subclasses."""
        self._pending.clear()
        self._streaming = False
        st = self._identify()
        first = self.assembler is None
        want = self.rate if first else self.assembler.fs_hz
        if want and st.fs_hz != want:
            ack = self._command(FrameType.SET_RATE, fs_hz=int(want))
            if not ack.ok:
                raise ProtocolError(
                    f"{self.uri}: device refused {want} Hz ({Result(ack.result).name}; it accepts "
                    f"up to {st.max_fs_hz} Hz with {st.n_ch} channels, rates dividing its timer "
                    f"clock; see firmware_bridge/protocol.md)")
            st = self._identify()
            if not first:
                self._put(("restarted", time.monotonic(),
                           "sample rate restored (device counter restarted)"))
        if first:
            n_raw = sum(1 for _, k in st.channels if k == ChannelKind.RAW)
            if self.names and len(self.names) != n_raw:
                raise UsageError(f"--source {self.uri}: names= gives {len(self.names)} name(s) "
                                 f"({','.join(self.names)}) for the device's {n_raw} RAW channel(s)")
            self.assembler = ChunkAssembler(st, source_id=self.uri, include_env=self.env,
                                            env_gain=self.env_gain, names=self.names)
            self.fs = self.assembler.fs
            self.ch_names = self.assembler.ch_names
        elif not self.assembler.same_layout(st):
            raise ProtocolError(
                f"{self.uri}: the device came back with another layout ({st.fs_hz} Hz, "
                f"{st.n_ch} ch) than the stream ({self.assembler.fs_hz} Hz, "
                f"{self.assembler.n_ch_dev} ch)")
        if self._boot_id is not None and st.boot_id != self._boot_id:
            self._put(("restarted", time.monotonic(), "device restarted"))
        self._boot_id = st.boot_id
        self.status = st
        self.device_overruns = st.overruns
        # DATA from before START belongs to an old session (START flushes the
        # device's buffer): only frames after START's ACK feed the stream.
        for f in self._pending:
            self._handle_side_frame(f, during_handshake=True)
        self._forward(self._pending)
        self._pending = []
        ack = self._command(FrameType.START)
        if not ack.ok:
            raise ProtocolError(f"{self.uri}: device refused START ({Result(ack.result).name})")
        self._streaming = True
        self._update_meta()

    def _update_meta(self) -> None:
        st = self.status
        if st is None:
            return
        self.meta.update({
            "device": "MyoWare 2.0 via firmware_bridge",
            "link": self.link.describe(),
            "board": st.board_name,
            "firmware": f"{st.fw_major}.{st.fw_minor}",
            "protocol": PROTOCOL_VERSION,
            "adc_bits": st.adc_bits,
            "vref_v": st.vref_mv / 1000.0,
            "raw_gain": st.raw_gain,
            "uv_per_count": st.uv_per_count,
            "env_gain": self.env_gain,
            "fs": float(st.fs_hz),
            "channels": [f"{k.name if hasattr(k, 'name') else k}{s + 1}" for s, k in st.channels],
            "samples_per_frame": st.samples_per_frame,
            "boot_id": f"{st.boot_id:08x}",
            "haptic": st.has(Flag.HAPTIC),
        })
        # what the stream's columns are: RAW (RAW - REF, EMG) or ENV (the MyoWare's
        # rectified, smoothed envelope, which must not be band-passed: emgpipe.pipeline.signal_of)
        kinds = [ChannelKind(st.channels[i][1]).name.lower() if st.channels[i][1] in ChannelKind._value2member_map_
                 else str(st.channels[i][1]) for i in self.assembler.keep]
        self.meta["channel_kinds"] = kinds
        self.meta["signal"] = "envelope" if kinds and all(k == "env" for k in kinds) else "emg"
        if "env" in kinds and self.meta["signal"] != "envelope" and not getattr(self, "_warned_mixed", False):
            self._warned_mixed = True
            log.warning("%s: the ENV channels come with RAW ones and are filtered as EMG like them "
                        "(leave out env=1 to monitor RAW only)", self.uri)
        self.meta["counters"] = self.counters()

    def counters(self) -> dict:
        """Frame, gap, error and reconnect counters (also in ``meta["counters"]``)."""
        c = dict(self.assembler.counters()) if self.assembler else {}
        d = self.decoder.stats
        c.update({"bad_frames": d.bad_frames, "crc_errors": d.crc, "cobs_errors": d.cobs,
                  "length_errors": d.length + d.short + d.oversize, "bytes_in": d.bytes_in,
                  "disconnects": self.disconnects, "device_overruns": self.device_overruns,
                  "buzz_sent": self.buzz_sent, "buzz_acked": self.buzz_acked,
                  "button_presses": self.button_presses,
                  "protocol_warnings": self.protocol_warnings})
        return c

    # ------------------------------------------------------------------ Source API
    def open(self) -> None:
        if self._opened:
            return
        self._new_queue()          # the handshake already hands frames to the consumer
        self._halt.clear()
        self.link.open()
        try:
            self._handshake()
        except BaseException:
            self.link.shutdown()
            raise
        self._opened = True
        st = self.status
        log.info("%s: %s fw %d.%d, %d Hz, channels %s, %.4g µV/count", self.uri, st.board_name,
                 st.fw_major, st.fw_minor, st.fs_hz, ",".join(self.ch_names), st.uv_per_count)
        self._start_reader(f"bridge-reader {self.uri}")

    def close(self) -> None:
        self._stop_reader(2.0 + self.read_s)
        if self._opened and self.link.is_open:
            try:
                self._send(FrameType.STOP)
            except (LinkLost, DeviceError):
                pass
        self._opened = False
        self._streaming = False
        self.link.shutdown()

    def _handle_side_frame(self, f, *, during_handshake: bool = False):
        """Frames other than DATA; returns True if the session must restart."""
        if isinstance(f, StatusFrame):
            if f.overruns > self.device_overruns:
                log.warning("%s: device buffer overran, %d sample(s) not sent (they show as gaps)",
                            self.uri, f.overruns - self.device_overruns)
            self.device_overruns = f.overruns
            if f.has(Flag.TIMING_FAULT):
                log.warning("%s: device reports a sampling timing fault (rate too high for its "
                            "channels?)", self.uri)
            if not during_handshake and self._streaming:
                if self._boot_id is not None and f.boot_id != self._boot_id:
                    log.warning("%s: device restarted (boot id %08x -> %08x)", self.uri,
                                self._boot_id, f.boot_id)
                    return True
                if not f.has(Flag.STREAMING):
                    log.warning("%s: device stopped streaming by itself; restarting", self.uri)
                    return True
            self.status = f
        elif isinstance(f, AckFrame):
            if f.cmd_type == FrameType.BUZZ:
                if f.ok:
                    self.buzz_acked += 1
                else:
                    log.warning("%s: device refused the buzz (%s)", self.uri,
                                Result(f.result).name if f.result in Result._value2member_map_
                                else f.result)
            elif not f.ok:
                self.protocol_warnings += 1
                log.warning("%s: device answered %s to command type 0x%02x", self.uri,
                            f.result, f.cmd_type)
        elif isinstance(f, (ButtonFrame, DataFrame)):
            pass  # the consumer's (_on_item); DATA before START is left over from a previous session
        else:
            self.protocol_warnings += 1
            log.warning("%s: unexpected %s frame from the device", self.uri, f.type.name)
        return False

    def _on_button(self, f: ButtonFrame) -> None:
        """The wearer pressed the device's button: their answer to the latest cramp alert."""
        self.button_presses += 1
        answer = f.answer
        if answer is None:
            self.protocol_warnings += 1
            log.warning("%s: button frame with unknown press kind %d; ignored", self.uri, f.press)
            return
        log.info("%s: button %s press (%d ms): %s", self.uri, "long" if answer == "cramp" else "short",
                 f.held_ms, answer)
        ev = {"answer": answer, "source": "button", "press": int(f.press), "held_ms": f.held_ms,
              "sample": f.sample}
        for fn in list(self.answer_listeners):
            try:
                fn(ev)
            except Exception:            # a listener must not stop the stream
                log.exception("%s: button listener failed", self.uri)

    # ------------------------------------------------------------------ reader thread
    def _read_link(self) -> bool:
        """Read frames; handle STATUS/ACK here, hand the rest to the consumer.

        A device that restarted or stopped streaming by itself gets the
        handshake again (a failure there is a lost link). True if DATA came.
        """
        frames, self._pending = self._pending, []
        try:
            frames = frames + self._read_frames(self.read_s)
        except LinkLost as exc:
            self._forward(frames, push=self._streaming)
            raise LinkDown(str(exc)) from exc
        if not frames:
            return False
        push = self._streaming
        restart = False
        for f in frames:
            if not isinstance(f, DataFrame) and self._handle_side_frame(f):
                restart = True
        self._forward(frames, push=push)
        if restart:
            try:
                self._handshake()
            except (DeviceError, LinkLost) as exc:
                raise LinkDown(f"device restarted; {exc}") from exc
        return push and any(isinstance(f, DataFrame) for f in frames)

    def _recover(self, reason: str, t_last: float) -> bool:
        self.disconnects += 1
        self._streaming = False
        return super()._recover(reason, t_last)

    def _drop_link(self) -> None:
        self.link.close()

    def _reconnect(self) -> bool:
        if not self.link.is_open:
            self.link.open()
        self._handshake()
        return True

    def _lost_error(self, reason: str, last_err) -> Exception:
        return StreamLost(f"{self.uri}: device lost ({reason}) and not back after "
                          f"{self.reconnect:g} s (last error: {last_err or reason})")

    # ------------------------------------------------------------------ consumer
    def _on_item(self, kind: str, t: float, payload):
        """Frames -> chunks and answers; link items -> the assembler and the link log."""
        asm = self.assembler
        if kind == "frames":
            frames, push, note = payload
            out = []
            data = []        # DATA frames up to the next button press: one pass through the assembler
            for f in frames:
                if note:
                    asm.note_frame_seq(f.seq)
                if isinstance(f, DataFrame):
                    if push:
                        data.append(f)
                elif isinstance(f, ButtonFrame):
                    if data:
                        out.extend(asm.push_frames(data, t))
                        data = []
                    self._on_button(f)
            if data:
                out.extend(asm.push_frames(data, t))
            if out:
                self._deliver(out)
        elif kind == "restarted":
            asm.restarted(payload)
        elif kind == "lost":
            asm.interrupted(f"disconnect ({payload})")
            self._link.lost(t, payload, asm.next_seq)   # logs the warning, tells the listeners
        elif kind == "restored":
            # told with the first chunk after it, whose gap says how many samples were lost
            self._restored = (t, payload["elapsed"])
        elif kind == "fatal":
            self._link.gave_up(t, str(payload), asm.next_seq)
            return payload
        else:
            raise ValueError(f"unknown reader item {kind!r}")
        return None

    def _deliver(self, out: list) -> None:
        """The chunks of one read, merged, with their ADC steps, to the ready queue."""
        self.meta["counters"] = self.counters()
        # each column's ADC step (µV): the quality stage's flat-line test must not
        # call a live 10-bit signal sitting on one code at rest a lead-off
        lsb = {"lsb_uv": tuple(float(x) for x in self.assembler.scale)}
        merged = [c.replace(attrs={**c.attrs, **lsb}) for c in merge_chunks(out)]
        if self._restored is not None:
            t_back, elapsed = self._restored
            self._restored = None
            self._link.restored(t_back, sum(g.n_missing for c in merged for g in c.gaps),
                                elapsed, merged[0].seq)
        self._ready.extend(merged)

    def _assembled(self) -> list:
        return []   # _on_item hands the chunks out as each read's frames are applied


class BridgeSerialSource(BridgeSource):
    """``bridge:PORT`` — MyoWare on an Arduino/ESP32 running firmware_bridge, USB serial.

    Examples
    --------
    >>> src = BridgeSerialSource.from_uri("/dev/ttyACM0", rate="1000", env="1")
    >>> src.link.baud, src.rate, src.env
    (500000, 1000, True)
    """

    scheme = "bridge"
    OPTIONS = {**LIVE, **BRIDGE_OPTIONS}
    KWARGS = {"stall_s": "stall", "reconnect_s": "reconnect", "timeout_s": "handshake",
              "chunk_s": "read_s"}

    def __init__(self, port: str, *, baud: int = DEFAULT_BAUD, **kwargs):
        uri = kwargs.pop("uri", f"bridge:{port}")
        super().__init__(SerialLink(port, baud, name=uri), uri=uri, **kwargs)
        self.port = port

    @classmethod
    def from_uri(cls, target: str, **options) -> "BridgeSerialSource":
        uri = f"bridge:{target}"
        if not target:
            ports = available_ports()
            raise UsageError(f"--source {uri!r}: name the serial port, e.g. bridge:/dev/ttyACM0 "
                             f"({PORT_EXAMPLES}; present now: {', '.join(ports) or 'none'})")
        return cls(target, uri=uri, **cls.options_from_uri(target, options))


class BridgeBleSource(BridgeSource):
    """``bridge-ble:NAME_OR_ADDRESS`` — MyoWare Wireless Shield (ESP32) over BLE.

    An empty target takes the first device advertising the firmware_bridge
    service. ``bleak`` is imported only when the source opens.
    """

    scheme = "bridge-ble"
    OPTIONS = {**BLE, **{k: v for k, v in BRIDGE_OPTIONS.items() if k != "baud"}}
    KWARGS = {"stall_s": "stall", "reconnect_s": "reconnect", "timeout_s": "handshake",
              "chunk_s": "read_s", "scan_s": "scan"}

    def __init__(self, target: str, *, scan: float = 10.0, bleak_module=None, **kwargs):
        uri = kwargs.pop("uri", f"bridge-ble:{target}")
        super().__init__(BleLink(target, name=uri, scan_timeout=scan, bleak_module=bleak_module),
                         uri=uri, **kwargs)
        self.target = target

    @classmethod
    def from_uri(cls, target: str, **options) -> "BridgeBleSource":
        uri = f"bridge-ble:{target}"
        return cls(target, uri=uri, **cls.options_from_uri(target, options))
