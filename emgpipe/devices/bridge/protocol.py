"""Codec of the firmware_bridge protocol, version 1 (``firmware_bridge/protocol.md``).

Wire format, identical on USB serial and in BLE notifications::

    0x00 | COBS( version u8 | type u8 | seq u16 | payload | crc16 u16 ) | 0x00

All fields little-endian. CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no
reflection, xorout 0, check("123456789") = 0x29B1; protocols.md §5) over
version..payload. COBS is implemented here (a dozen lines, mirrored by
``firmware_bridge/libraries/EmgBridge/src/emgframe.c``) so that the host and the firmware share
one reading of the spec; the ``cobs`` package is only used by the tests as an
independent cross-check.

Examples
--------
>>> frame = encode_command(FrameType.BUZZ, seq=7, duration_ms=250)
>>> dec = FrameDecoder()
>>> [f] = dec.feed(b"junk" + frame)
>>> (f.type.name, f.seq, f.duration_ms, f.strength)
('BUZZ', 7, 250, 255)
>>> dec.stats.bad_frames, dec.stats.cobs   # the junk, isolated by the leading 0x00
(1, 1)
>>> hex(crc16(b"123456789"))
'0x29b1'
"""
from __future__ import annotations

import binascii
import logging
import struct
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

log = logging.getLogger(__name__)

#: Protocol version carried in byte 0 of every frame.
PROTOCOL_VERSION = 1
#: Largest body (header + payload + CRC); < 254 so COBS adds exactly one byte.
MAX_BODY = 250
MAX_ENCODED = MAX_BODY + 1
#: Leading delimiter + encoded body + trailing delimiter.
MAX_WIRE = MAX_ENCODED + 2
HEADER_LEN = 4
CRC_LEN = 2
MIN_BODY = HEADER_LEN + CRC_LEN
DATA_FIXED = 8
STATUS_FIXED = 30
ACK_FIXED = 4
BUTTON_FIXED = 8
#: A press held at least this long is a long press ("cramp"); shorter: "not a cramp".
LONG_PRESS_MS = 1000
#: The firmware's debounce: a level must hold this long to count.
DEBOUNCE_MS = 30
MAX_CHANNELS = 16

#: Default serial baud rate of both sketches: exact (0.0 % error) on a 16 MHz
#: AVR with U2X (ATmega328P datasheet UBRR table, protocols.md §5.1).
DEFAULT_BAUD = 500_000

#: Our own BLE GATT UUIDs (random, fixed for protocol version 1).
BLE_SERVICE_UUID = "d7528d6b-9e4a-4c66-bb1e-3d30e35a1633"
#: Device -> host frames, one whole frame per notification.
BLE_DATA_UUID = "d7528d6c-9e4a-4c66-bb1e-3d30e35a1633"
#: Host -> device commands (write with or without response).
BLE_CMD_UUID = "d7528d6d-9e4a-4c66-bb1e-3d30e35a1633"
#: Advertised name prefix of the ESP32 sketch ("EMGBridge-XXXX").
BLE_NAME_PREFIX = "EMGBridge"


class FrameType(IntEnum):
    DATA = 0x01
    STATUS = 0x02
    ACK = 0x03
    BUTTON = 0x04
    IDENTIFY = 0x81
    START = 0x82
    STOP = 0x83
    SET_RATE = 0x84
    BUZZ = 0x85


class Result(IntEnum):
    OK = 0
    UNKNOWN_COMMAND = 1
    BAD_ARGUMENT = 2
    BAD_LENGTH = 3
    UNSUPPORTED = 4
    BUSY = 5


class Press(IntEnum):
    """BUTTON frame: which press (the wearer's answer to the latest cramp alert)."""

    SHORT = 1   # < 1 s: "not a cramp"
    LONG = 2    # >= 1 s: "cramp"


class ChannelKind(IntEnum):
    RAW = 0   # RAW - REF, signed ADC counts
    ENV = 1   # envelope, ADC counts
    RECT = 2  # rectified, ADC counts


class Board(IntEnum):
    AVR = 1
    ESP32 = 2
    EMULATOR = 0x7F


class Flag(IntEnum):
    STREAMING = 0x01
    BUZZING = 0x02
    USB = 0x04
    BLE = 0x08
    HAPTIC = 0x10
    TIMING_FAULT = 0x20


class Reason(IntEnum):
    BOOT = 0
    IDENTIFY = 1
    PERIODIC = 2
    CONFIG = 3
    START = 4
    STOP = 5


class FrameError(IntEnum):
    """Why the decoder dropped a frame (same codes as ``emgframe.h``)."""

    COBS = -1
    SHORT = -2
    CRC = -3
    VERSION = -4
    TYPE = -5
    LENGTH = -6
    OVERSIZE = -7


_MIN_PAYLOAD = {
    FrameType.DATA: DATA_FIXED, FrameType.STATUS: STATUS_FIXED, FrameType.ACK: ACK_FIXED,
    FrameType.BUTTON: BUTTON_FIXED,
    FrameType.IDENTIFY: 0, FrameType.START: 0, FrameType.STOP: 0,
    FrameType.SET_RATE: 2, FrameType.BUZZ: 3,
}


# --------------------------------------------------------------------------- CRC, COBS

def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (``binascii.crc_hqx`` is the 0x1021 non-reflected CRC)."""
    return binascii.crc_hqx(bytes(data), 0xFFFF)


def cobs_encode(data: bytes) -> bytes:
    """COBS-encode ``data`` (no delimiter).

    >>> cobs_encode(bytes.fromhex("11220033")).hex(" ")
    '03 11 22 02 33'
    """
    out = bytearray(b"\x00")
    code_pos, code = 0, 1
    for b in data:
        if b == 0:
            out[code_pos] = code
            code_pos, code = len(out), 1
            out.append(0)
        else:
            out.append(b)
            code += 1
            if code == 0xFF:
                out[code_pos] = code
                code_pos, code = len(out), 1
                out.append(0)
    out[code_pos] = code
    return bytes(out)


class CobsError(ValueError):
    pass


def cobs_decode(data: bytes) -> bytes:
    """Decode one COBS block sequence (no delimiter). Raises :class:`CobsError`."""
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        i += 1
        if code == 0 or i + code - 1 > n:
            raise CobsError(f"bad COBS code {code} at byte {i - 1}")
        block = data[i:i + code - 1]
        if 0 in block:
            raise CobsError(f"zero byte inside COBS block at byte {i}")
        out += block
        i += code - 1
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)


# --------------------------------------------------------------------------- frames

@dataclass(frozen=True)
class Frame:
    """Any valid frame: header fields and raw payload."""

    type: FrameType
    seq: int
    payload: bytes = b""
    version: int = PROTOCOL_VERSION


@dataclass(frozen=True, eq=False)
class DataFrame(Frame):
    """Batched samples: ``samples`` is int16 (n_samples, n_ch), sample-major."""

    first_sample: int = 0
    fs_hz: int = 0
    samples: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int16))

    @property
    def n_samples(self) -> int:
        return self.samples.shape[0]

    @property
    def n_ch(self) -> int:
        return self.samples.shape[1]


@dataclass(frozen=True)
class StatusFrame(Frame):
    """Device description and counters (reply to IDENTIFY, periodic, on changes)."""

    fw_major: int = 0
    fw_minor: int = 0
    board: int = 0
    adc_bits: int = 10
    vref_mv: int = 5000
    raw_gain: int = 200
    fs_hz: int = 1000
    n_ch: int = 0
    samples_per_frame: int = 0
    flags: int = 0
    reason: int = 0
    boot_id: int = 0
    next_sample: int = 0
    overruns: int = 0
    battery_mv: int = 0
    max_fs_hz: int = 0
    channels: tuple = ()  # of (sensor, ChannelKind)

    @property
    def volts_per_count(self) -> float:
        """ADC volts per count: Vref / (2^bits - 1), as MW-LIB does (protocols.md §3.1)."""
        return self.vref_mv / 1000.0 / ((1 << self.adc_bits) - 1)

    @property
    def uv_per_count(self) -> float:
        """µV at the electrodes per RAW count: ADC volts / RAW gain (200, §3.1)."""
        return self.volts_per_count / self.raw_gain * 1e6

    @property
    def board_name(self) -> str:
        try:
            return Board(self.board).name.lower()
        except ValueError:
            return f"board{self.board}"

    def has(self, flag: Flag) -> bool:
        return bool(self.flags & flag)


@dataclass(frozen=True)
class AckFrame(Frame):
    cmd_type: int = 0
    cmd_seq: int = 0
    result: int = 0

    @property
    def ok(self) -> bool:
        return self.result == Result.OK


@dataclass(frozen=True)
class ButtonFrame(Frame):
    """A debounced press of the device's button (device -> host, type 0x04).

    ``press``: :class:`Press` (1 short, 2 long); ``button``: which button (0);
    ``held_ms``: how long it was held (a long press is sent once it reaches
    1 s, while still held); ``sample``: the device's sample index then.
    """

    press: int = 0
    button: int = 0
    held_ms: int = 0
    sample: int = 0

    @property
    def answer(self) -> str | None:
        """``"not_cramp"`` (short press), ``"cramp"`` (long press) or None (unknown press kind)."""
        return {Press.SHORT: "not_cramp", Press.LONG: "cramp"}.get(self.press)


@dataclass(frozen=True)
class CommandFrame(Frame):
    """A host -> device command (decoded by the emulator / firmware)."""

    fs_hz: int = 0
    duration_ms: int = 0
    strength: int = 0


def _body(ftype: int, seq: int, payload: bytes) -> bytes:
    head = struct.pack("<BBH", PROTOCOL_VERSION, int(ftype), seq & 0xFFFF) + payload
    return head + struct.pack("<H", crc16(head))


def encode_frame(ftype: int, seq: int, payload: bytes = b"") -> bytes:
    """Wire bytes of one frame: ``00 COBS(body) 00``."""
    body = _body(ftype, seq, payload)
    if len(body) > MAX_BODY:
        raise ValueError(f"frame body of {len(body)} bytes exceeds {MAX_BODY}")
    return b"\x00" + cobs_encode(body) + b"\x00"


def max_samples_per_frame(n_ch: int) -> int:
    """Most samples one DATA frame can carry for ``n_ch`` channels."""
    if not 1 <= n_ch <= MAX_CHANNELS:
        raise ValueError(f"n_ch must be 1..{MAX_CHANNELS}, got {n_ch}")
    return min(255, (MAX_BODY - MIN_BODY - DATA_FIXED) // (2 * n_ch))


def encode_data(seq: int, first_sample: int, fs_hz: int, samples) -> bytes:
    """DATA frame from int16 counts shaped (n_samples, n_ch)."""
    a = np.asarray(samples)
    if a.ndim != 2 or a.shape[0] < 1 or not 1 <= a.shape[1] <= MAX_CHANNELS:
        raise ValueError(f"samples must be (n>=1, 1..{MAX_CHANNELS}), got {a.shape}")
    if a.shape[0] > max_samples_per_frame(a.shape[1]):
        raise ValueError(f"{a.shape[0]} samples x {a.shape[1]} ch do not fit one frame")
    payload = struct.pack("<IHBB", first_sample & 0xFFFFFFFF, fs_hz, a.shape[1], a.shape[0])
    payload += a.astype("<i2").tobytes()
    return encode_frame(FrameType.DATA, seq, payload)


def channel_byte(sensor: int, kind: int) -> int:
    return ((sensor & 0x0F) << 4) | (int(kind) & 0x0F)


def encode_status(st: StatusFrame) -> bytes:
    if len(st.channels) != st.n_ch:
        raise ValueError("status channels must list n_ch descriptors")
    payload = struct.pack(
        "<BBBBHHHBBBBIIIHH", st.fw_major, st.fw_minor, st.board, st.adc_bits, st.vref_mv,
        st.raw_gain, st.fs_hz, st.n_ch, st.samples_per_frame, st.flags, st.reason,
        st.boot_id & 0xFFFFFFFF, st.next_sample & 0xFFFFFFFF, st.overruns & 0xFFFFFFFF,
        st.battery_mv, st.max_fs_hz)
    payload += bytes(channel_byte(s, k) for s, k in st.channels)
    return encode_frame(FrameType.STATUS, st.seq, payload)


def encode_ack(seq: int, cmd_type: int, cmd_seq: int, result: int) -> bytes:
    return encode_frame(FrameType.ACK, seq, struct.pack("<BHB", cmd_type, cmd_seq & 0xFFFF, result))


def encode_button(seq: int, press: int, held_ms: int, sample: int, button: int = 0) -> bytes:
    """BUTTON frame (device -> host): a debounced short or long press."""
    return encode_frame(FrameType.BUTTON, seq, struct.pack("<BBHI", int(press), button,
                                                            min(int(held_ms), 0xFFFF),
                                                            sample & 0xFFFFFFFF))


def encode_command(ftype: int, seq: int, *, fs_hz: int = 0, duration_ms: int = 0,
                   strength: int = 255) -> bytes:
    """Host -> device command frame (IDENTIFY, START, STOP, SET_RATE, BUZZ)."""
    ftype = FrameType(ftype)
    if ftype == FrameType.SET_RATE:
        payload = struct.pack("<H", fs_hz)
    elif ftype == FrameType.BUZZ:
        payload = struct.pack("<HB", duration_ms, strength)
    elif ftype in (FrameType.IDENTIFY, FrameType.START, FrameType.STOP):
        payload = b""
    else:
        raise ValueError(f"{ftype.name} is not a command")
    return encode_frame(ftype, seq, payload)


def parse_body(body: bytes):
    """Validate and parse one decoded body; returns a frame or a :class:`FrameError`."""
    n = len(body)
    if n < MIN_BODY:
        return FrameError.SHORT
    if crc16(body[:-CRC_LEN]) != struct.unpack_from("<H", body, n - CRC_LEN)[0]:
        return FrameError.CRC
    if body[0] != PROTOCOL_VERSION:
        return FrameError.VERSION
    try:
        ftype = FrameType(body[1])
    except ValueError:
        return FrameError.TYPE
    seq = struct.unpack_from("<H", body, 2)[0]
    payload = bytes(body[HEADER_LEN:n - CRC_LEN])
    plen = len(payload)
    if plen < _MIN_PAYLOAD[ftype]:
        return FrameError.LENGTH
    if ftype == FrameType.DATA:
        first, fs_hz, n_ch, n_s = struct.unpack_from("<IHBB", payload)
        if not 1 <= n_ch <= MAX_CHANNELS or n_s == 0 or plen != DATA_FIXED + 2 * n_ch * n_s:
            return FrameError.LENGTH
        samples = np.frombuffer(payload, "<i2", offset=DATA_FIXED).reshape(n_s, n_ch)
        return DataFrame(ftype, seq, payload, first_sample=first, fs_hz=fs_hz,
                         samples=samples.astype(np.int16))
    if ftype == FrameType.STATUS:
        v = struct.unpack_from("<BBBBHHHBBBBIIIHH", payload)
        n_ch = v[7]
        if n_ch > MAX_CHANNELS or plen < STATUS_FIXED + n_ch:
            return FrameError.LENGTH
        chans = []
        for b in payload[STATUS_FIXED:STATUS_FIXED + n_ch]:
            try:
                kind = ChannelKind(b & 0x0F)
            except ValueError:
                kind = b & 0x0F
            chans.append((b >> 4, kind))
        names = ("fw_major", "fw_minor", "board", "adc_bits", "vref_mv", "raw_gain", "fs_hz",
                 "n_ch", "samples_per_frame", "flags", "reason", "boot_id", "next_sample",
                 "overruns", "battery_mv", "max_fs_hz")
        return StatusFrame(ftype, seq, payload, channels=tuple(chans), **dict(zip(names, v)))
    if ftype == FrameType.ACK:
        cmd_type, cmd_seq, result = struct.unpack_from("<BHB", payload)
        return AckFrame(ftype, seq, payload, cmd_type=cmd_type, cmd_seq=cmd_seq, result=result)
    if ftype == FrameType.BUTTON:
        press, button, held, sample = struct.unpack_from("<BBHI", payload)
        return ButtonFrame(ftype, seq, payload, press=press, button=button, held_ms=held, sample=sample)
    extra = {}
    if ftype == FrameType.SET_RATE:
        extra["fs_hz"] = struct.unpack_from("<H", payload)[0]
    elif ftype == FrameType.BUZZ:
        extra["duration_ms"], extra["strength"] = struct.unpack_from("<HB", payload)
    return CommandFrame(ftype, seq, payload, **extra)


# --------------------------------------------------------------------------- button

class ButtonDebouncer:
    """The firmware's button debouncer (``emg_button_update`` in ``emgframe.c``), in Python.

    ``update(pressed, now_ms)`` with the button's level (True = pressed: the
    pin reads LOW with its pull-up) returns ``(Press.SHORT, held_ms)`` when a
    press shorter than :data:`LONG_PRESS_MS` is released, ``(Press.LONG,
    held_ms)`` once a press has been held that long (while still held, once
    per press), else None. A level counts once it held :data:`DEBOUNCE_MS`.

    >>> b = ButtonDebouncer()
    >>> [b.update(p, t) for p, t in ((1, 0), (0, 5), (1, 8), (1, 40), (0, 300), (0, 340))]
    [None, None, None, None, None, (<Press.SHORT: 1>, 292)]
    """

    def __init__(self):
        self.raw = self.stable = self.long_sent = 0
        self.raw_ms = self.down_ms = 0

    def update(self, pressed, now_ms: int):
        level = 1 if pressed else 0
        now_ms &= 0xFFFFFFFF
        if level != self.raw:
            self.raw, self.raw_ms = level, now_ms
        if self.raw != self.stable and (now_ms - self.raw_ms) % (1 << 32) >= DEBOUNCE_MS:
            self.stable = self.raw
            if self.stable:
                self.down_ms, self.long_sent = self.raw_ms, 0
            elif not self.long_sent:
                return Press.SHORT, min(0xFFFF, (self.raw_ms - self.down_ms) % (1 << 32))
        if self.stable and not self.long_sent and (now_ms - self.down_ms) % (1 << 32) >= LONG_PRESS_MS:
            self.long_sent = 1
            return Press.LONG, min(0xFFFF, (now_ms - self.down_ms) % (1 << 32))
        return None


# --------------------------------------------------------------------------- streaming decoder

@dataclass
class DecoderStats:
    """What a :class:`FrameDecoder` saw. ``bad_frames`` sums the error counts."""

    frames: int = 0
    bytes_in: int = 0
    cobs: int = 0
    short: int = 0
    crc: int = 0
    version: int = 0
    type: int = 0
    length: int = 0
    oversize: int = 0
    last_bad_version: int | None = None

    @property
    def bad_frames(self) -> int:
        return (self.cobs + self.short + self.crc + self.version + self.type + self.length
                + self.oversize)

    def as_dict(self) -> dict:
        d = {k: getattr(self, k) for k in ("frames", "bytes_in", "cobs", "short", "crc", "version",
                                           "type", "length", "oversize")}
        d["bad_frames"] = self.bad_frames
        return d


class FrameDecoder:
    """Splits a byte stream on 0x00, decodes and validates frames.

    ``feed(data)`` returns the valid frames completed by ``data``; bad ones are
    counted in :attr:`stats` (and in :attr:`errors`, the codes in order) and
    dropped. Junk between frames costs at most the frame it touches: the next
    0x00 resynchronises. Mirrors ``emg_decoder_feed`` in ``emgframe.c`` byte
    for byte (checked on the shared test vectors).

    Parameters
    ----------
    max_encoded : int
        Longest encoded frame accepted; longer runs are dropped as OVERSIZE.
    keep_errors : int
        How many recent error codes to keep in :attr:`errors`.
    """

    def __init__(self, max_encoded: int = MAX_ENCODED, keep_errors: int = 64):
        self.max_encoded = max_encoded
        self.keep_errors = keep_errors
        self.stats = DecoderStats()
        self.errors: list[FrameError] = []
        self._buf = bytearray()
        self._discarding = False

    def reset(self) -> None:
        """Forget a partial frame (e.g. after reopening the port)."""
        self._buf.clear()
        self._discarding = False

    def _error(self, err: FrameError, body: bytes | None = None) -> None:
        name = err.name.lower()
        setattr(self.stats, name, getattr(self.stats, name) + 1)
        if err == FrameError.VERSION and body:
            self.stats.last_bad_version = body[0]
        self.errors.append(err)
        del self.errors[:-self.keep_errors]
        log.debug("dropped a bad frame: %s", err.name)

    def feed(self, data: bytes) -> list:
        """Valid frames completed by ``data`` (bad ones counted and dropped)."""
        return [e for e in self.feed_events(data) if not isinstance(e, FrameError)]

    def feed_events(self, data: bytes) -> list:
        """Like :meth:`feed` but bad frames appear in order as :class:`FrameError`."""
        out = []
        self.stats.bytes_in += len(data)
        start = 0
        while True:
            z = data.find(b"\x00", start)
            chunk = data[start:] if z < 0 else data[start:z]
            if not self._discarding:
                self._buf += chunk
                if len(self._buf) > self.max_encoded:
                    self._discarding = True
                    self._buf.clear()
            if z < 0:
                return out
            start = z + 1
            if self._discarding:
                self._discarding = False
                self._error(FrameError.OVERSIZE)
                out.append(FrameError.OVERSIZE)
                continue
            seg = bytes(self._buf)
            self._buf.clear()
            if not seg:
                continue
            try:
                body = cobs_decode(seg)
            except CobsError:
                self._error(FrameError.COBS)
                out.append(FrameError.COBS)
                continue
            res = parse_body(body)
            if isinstance(res, FrameError):
                self._error(res, body)
            else:
                self.stats.frames += 1
            out.append(res)
