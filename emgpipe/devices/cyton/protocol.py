"""OpenBCI Cyton serial protocol: pure functions, no I/O.

Every fact comes from ``docs/protocols.md`` §1 (which cites the
OpenBCI docs, the Cyton firmware v3 and BrainFlow).

Limits worth knowing
--------------------
**Over the USB dongle the Cyton streams at 250 Hz at most** (§1.7: the docs say
so and firmware v3 forces 250 Hz when ``b`` arrives over the radio). Nyquist is
therefore 125 Hz and most surface-EMG power (20-450 Hz) is aliased or lost;
higher rates need the WiFi shield or the SD card. With the Daisy board the
16-channel rate over the dongle is **125 Hz** (§1.8).

Examples
--------
>>> channel_command(1, gain=24, srb2=False)
b'x1060100X'
>>> round(uv_per_count(24), 7)
0.0223517
"""
from __future__ import annotations

import re

import numpy as np

from ..boards import CYTON, CYTON_DAISY

#: Serial link (§1.1).
BAUD = 115200
#: End of every text reply (§1.2).
EOT = b"$$$"
#: Packet framing as seen through the dongle (§1.5).
PACKET_LEN = 33
HEADER = 0xA0
STOP_MIN, STOP_MAX = 0xC0, 0xC6
N_CHANNELS = CYTON.n_channels
#: Packets per second over the dongle (§1.7); Daisy rows come at half (§1.8).
FS_DONGLE = CYTON.fs
FS_DAISY = CYTON_DAISY.fs
#: ADS1299 reference: V/count = 4.5 / gain / (2^23 - 1) (§1.6).
VREF = CYTON.vref_v
FULL_SCALE_COUNTS = CYTON.full_scale_counts
#: Gain codes of the ``x`` command (§1.4) and the reset default (gain 24).
GAIN_CODES = {1: "0", 2: "1", 4: "2", 6: "3", 8: "4", 12: "5", 24: "6"}
GAINS_BY_CODE = {v: k for k, v in GAIN_CODES.items()}
DEFAULT_GAIN = int(CYTON.gain)
#: Channel characters of ``x`` commands: 1-8, then Daisy 9-16 = QWERTYUI (§1.4).
CHANNEL_CHARS = "12345678QWERTYUI"
#: The dongle's reply when the board is off (§1.2).
BOARD_OFF_REPLY = b"Failure: Communications timeout - Device failed to poll host$$$"

COMMAND_RESET = b"v"
COMMAND_DEFAULTS = b"d"
COMMAND_START = b"b"
COMMAND_STOP = b"s"
COMMAND_DAISY_OFF = b"c"
COMMAND_DAISY_ON = b"C"


def uv_per_count(gain) -> np.ndarray | float:
    """Microvolts per ADC count at ``gain`` (scalar or array), §1.6."""
    out = VREF / np.asarray(gain, dtype=np.float64) / FULL_SCALE_COUNTS * 1e6
    return float(out) if out.ndim == 0 else out


def channel_command(channel: int, gain: int = DEFAULT_GAIN, *, power_on: bool = True,
                    input_type: int = 0, bias: bool = True, srb2: bool = False,
                    srb1: bool = False) -> bytes:
    """The 9-byte ``x CH PWR GAIN INPUT BIAS SRB2 SRB1 X`` command (§1.4).

    The EMG default (OpenBCI EMG tutorial, §1.4) is bipolar: SRB2 off, normal
    input, bias included, so channel 1 at gain 24 is ``x1060100X``.
    """
    if not 1 <= channel <= len(CHANNEL_CHARS):
        raise ValueError(f"channel must be 1..{len(CHANNEL_CHARS)}, got {channel}")
    if gain not in GAIN_CODES:
        raise ValueError(f"gain must be one of {sorted(GAIN_CODES)}, got {gain}")
    if not 0 <= input_type <= 7:
        raise ValueError(f"input type must be 0..7, got {input_type}")
    s = "x{}{}{}{}{}{}{}X".format(CHANNEL_CHARS[channel - 1], 0 if power_on else 1,
                                  GAIN_CODES[gain], input_type, int(bias), int(srb2), int(srb1))
    return s.encode("ascii")


def parse_channel_command(cmd: bytes) -> dict:
    """Inverse of :func:`channel_command` (used by the emulator).

    Raises ``ValueError`` with the firmware's own failure text (§1.4).
    """
    if len(cmd) < 9:
        raise ValueError("Failure: too few chars")
    if len(cmd) > 9:
        raise ValueError("Failure: Err: too many chars")
    if cmd[8:9] != b"X":
        raise ValueError("Failure: 9th char not X")
    s = cmd.decode("ascii", "replace")
    ch = CHANNEL_CHARS.find(s[1])
    if ch < 0 or s[3] not in GAINS_BY_CODE or not all(c in "01234567" for c in s[2] + s[4:8]):
        raise ValueError("Failure: invalid channel settings")
    return {"channel": ch + 1, "power_on": s[2] == "0", "gain": GAINS_BY_CODE[s[3]],
            "input_type": int(s[4]), "bias": s[5] == "1", "srb2": s[6] == "1", "srb1": s[7] == "1"}


_FIRMWARE_RE = re.compile(r"Firmware:\s*(v[0-9][0-9.]*)")


def parse_banner(text: str) -> dict:
    """Facts from the reply to ``v`` (§1.2): firmware, daisy, board-off.

    Parse for keywords, not exact wording (firmware versions differ).
    """
    m = _FIRMWARE_RE.search(text)
    return {"firmware": m.group(1) if m else None,
            "daisy": "Daisy ADS1299" in text,
            "board_off": "Failure" in text,
            "text": text}


def int24_to_int(b: np.ndarray) -> np.ndarray:
    """Big-endian 24-bit two's complement (…, 3) uint8 -> int32 (§1.6)."""
    b = np.asarray(b, dtype=np.int32)
    v = (b[..., 0] << 16) | (b[..., 1] << 8) | b[..., 2]
    return np.where(v & 0x800000, v - (1 << 24), v).astype(np.int32)


def int_to_int24(v) -> np.ndarray:
    """int (…) -> (…, 3) uint8 big-endian two's complement (clipped to 24 bits)."""
    v = np.clip(np.asarray(v, dtype=np.int64), -(1 << 23), (1 << 23) - 1) & 0xFFFFFF
    return np.stack([(v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF], axis=-1).astype(np.uint8)


def encode_packets(sample_numbers, counts, stop: int = STOP_MIN, aux=None) -> bytes:
    """Build 33-byte packets as the dongle delivers them (§1.5).

    Parameters
    ----------
    sample_numbers : (n,) int
        Packet counters (taken mod 256).
    counts : (n, 8) int
        ADC counts, channel 1 first.
    stop : int
        Footer byte 0xC0..0xC6.
    aux : (n, 6) uint8, optional
        Aux bytes (zeros by default).
    """
    counts = np.asarray(counts).reshape(-1, N_CHANNELS)
    n = counts.shape[0]
    p = np.zeros((n, PACKET_LEN), dtype=np.uint8)
    p[:, 0] = HEADER
    p[:, 1] = np.asarray(sample_numbers, dtype=np.int64) % 256
    p[:, 2:26] = int_to_int24(counts).reshape(n, 24)
    if aux is not None:
        p[:, 26:32] = np.asarray(aux, dtype=np.uint8).reshape(n, 6)
    p[:, 32] = stop
    return p.tobytes()


def decode_packets(packets: np.ndarray):
    """(n, 33) uint8 packets -> (sample_numbers (n,), counts (n, 8) int32, stop (n,))."""
    p = np.asarray(packets, dtype=np.uint8).reshape(-1, PACKET_LEN)
    counts = int24_to_int(p[:, 2:26].reshape(-1, N_CHANNELS, 3))
    return p[:, 1].astype(np.int64), counts, p[:, 32].copy()


class PacketParser:
    """Find 33-byte packets in a byte stream and resync after junk (§1.5).

    Rule: scan for 0xA0; accept the 33 bytes from there only if byte 33 is a
    stop byte 0xC0..0xC6, else drop one byte and rescan. Bytes may arrive in
    any split; an incomplete tail waits for the next :meth:`feed`.

    Attributes
    ----------
    n_junk : int
        Bytes skipped so far while resyncing.

    Examples
    --------
    >>> pkt = encode_packets([7], [[1, -1, 0, 0, 0, 0, 0, 0]])
    >>> p = PacketParser()
    >>> out = p.feed(b"junk" + pkt[:10])
    >>> out.shape, p.n_junk
    ((0, 33), 4)
    >>> decode_packets(p.feed(pkt[10:]))[1][0, :2].tolist()
    [1, -1]
    """

    def __init__(self):
        self._buf = bytearray()
        self.n_junk = 0
        self.n_packets = 0

    def reset(self) -> None:
        self._buf.clear()

    def feed(self, data: bytes) -> np.ndarray:
        """Add bytes; return the complete packets found, shape (n, 33) uint8."""
        buf = self._buf
        buf += data
        starts = []
        pos, n = 0, len(buf)
        while True:
            i = buf.find(HEADER, pos)
            if i < 0:
                self.n_junk += n - pos
                pos = n
                break
            if i + PACKET_LEN > n:
                self.n_junk += i - pos
                pos = i
                break
            if STOP_MIN <= buf[i + PACKET_LEN - 1] <= STOP_MAX:
                self.n_junk += i - pos
                starts.append(i)
                pos = i + PACKET_LEN
            else:
                self.n_junk += i + 1 - pos
                pos = i + 1
        if starts:
            arr = np.frombuffer(bytes(buf), dtype=np.uint8)
            idx = np.asarray(starts)[:, None] + np.arange(PACKET_LEN)
            out = arr[idx]
        else:
            out = np.zeros((0, PACKET_LEN), dtype=np.uint8)
        del buf[:pos]
        self.n_packets += len(starts)
        return out
