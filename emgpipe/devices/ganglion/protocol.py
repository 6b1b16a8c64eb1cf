"""OpenBCI Ganglion BLE protocol: pure decoders, no I/O.

Facts from ``docs/protocols.md`` §2 (OpenBCI docs, Ganglion
firmware 2.0.1 and 3.x, BrainFlow ``ganglion_native``).

Each 20-byte notification starts with a packet id (§2.3):

========  ===========================================  ================================
id        firmware 2 (delta compression)               firmware 3 (absolute MSBs)
========  ===========================================  ================================
0         raw: 4 x 24-bit samples (1 sample), seeds    18-bit packet, ring position 0
1-100     18-bit deltas, 2 samples                     1-99: 18-bit, 2 samples
101-200   19-bit deltas, 2 samples                     100-199: 19-bit, 2 samples
201-205   impedance (ASCII ohms + 'Z')                 same
206/207   text, more follows / last part               same
========  ===========================================  ================================

The 8 fields (sample A ch1-4, sample B ch1-4) are one big-endian bit string
(§2.4). Firmware 2 sends ``delta = previous - current``; a lost packet makes
every value wrong until the next raw packet (about once a second). Firmware 3
sends the top 18/19 bits of each sample, so a loss costs only its 2 samples.
Over BLE the Ganglion runs at 200 Hz (100 notifications/s x 2 samples, §2.1).

Not verified on hardware (§2.6): where the firmware-3 id counter wraps. We
assume ring positions 0..99 (ids 0..99 or 100..199), 2 samples each; if a
board wrapped elsewhere, every wrap would show up as a small spurious gap.

Examples
--------
>>> unpack_fields(bytes(19), 19).tolist()
[0, 0, 0, 0, 0, 0, 0, 0]
>>> firmware_major(b"3.0.2"), firmware_major("2.0.1")
(3, 2)
"""
from __future__ import annotations

import logging

import numpy as np

from ..boards import GANGLION

log = logging.getLogger(__name__)

#: GATT (§2.1).
SERVICE_UUID = "0000fe84-0000-1000-8000-00805f9b34fb"
NOTIFY_UUID = "2d30c082-f39f-4ce6-923f-3484ea480596"
WRITE_UUID = "2d30c083-f39f-4ce6-923f-3484ea480596"
DISCONNECT_UUID = "2d30c084-f39f-4ce6-923f-3484ea480596"
SOFTWARE_REVISION_UUID = "00002a28-0000-1000-8000-00805f9b34fb"
#: Advertised names (§2.1: BrainFlow matches these prefixes).
NAME_PREFIXES = ("Ganglion", "Simblee")
#: Commands (§2.2).
COMMAND_START = b"b"
COMMAND_STOP = b"s"
#: Stream facts (§2.1, §2.5).
PACKET_LEN = 20
N_CHANNELS = GANGLION.n_channels
FS_BLE = GANGLION.fs
#: µV per count of the reconstructed 24-bit value: MCP3912 Vref 1.2 V, gain
#: 1.5 x 51 (§2.5, BrainFlow ``eeg_scale``; the old docs' ``*`` is a typo).
UV_PER_COUNT = GANGLION.uv_per_count()
#: Packet id ranges (§2.3).
MAX_DATA_ID = 200
IMPEDANCE_IDS = range(201, 206)
TEXT_MORE_ID, TEXT_LAST_ID = 206, 207


def firmware_major(revision) -> int:
    """Firmware family (2 or 3) from the 0x2A28 software revision string.

    BrainFlow's rule (§2.3): first character ``'3'`` means firmware 3, else 2.
    Newer majors are treated as 3; an unreadable string defaults to 3 (the
    current firmware) with a warning.
    """
    if isinstance(revision, (bytes, bytearray)):
        revision = bytes(revision).decode("ascii", "replace")
    s = str(revision).strip().strip("\x00")
    head = s.split(".", 1)[0]
    if head.isdigit():
        return 3 if int(head) >= 3 else 2
    log.warning("Ganglion software revision %r not understood; assuming firmware 3", s)
    return 3


def unpack_fields(payload: bytes, bits: int) -> np.ndarray:
    """The 8 signed ``bits``-wide fields of a big-endian bit string (§2.4).

    Ordinary n-bit two's complement (MSB = sign). ``payload`` is the packet
    without its id byte; only the first ``bits`` bytes are used.
    """
    if bits not in (18, 19):
        raise ValueError(f"field width must be 18 or 19 bits, got {bits}")
    if len(payload) < bits:
        raise ValueError(f"{bits}-bit packet needs {bits} payload bytes, got {len(payload)}")
    v = int.from_bytes(bytes(payload[:bits]), "big")
    total = 8 * bits
    mask, sign = (1 << bits) - 1, 1 << (bits - 1)
    out = []
    for i in range(8):
        f = (v >> (total - bits * (i + 1))) & mask
        out.append(f - (1 << bits) if f & sign else f)
    return np.asarray(out, dtype=np.int64)


def packet_bits(fw: int, pid: int) -> int:
    """18 or 19 for a compressed data packet id (0 = fw2 raw -> 24)."""
    if fw == 2:
        if pid == 0:
            return 24
        return 18 if pid <= 100 else 19
    return 18 if pid < 100 else 19


def packet_position(fw: int, pid: int) -> int:
    """Position of a data packet id within one counter cycle."""
    if fw == 2:
        return pid if pid <= 100 else pid - 100
    return pid % 100


def counter_sizes(fw: int) -> list:
    """Samples carried at each counter position (fw2: raw=1 then 100x2; fw3: 100x2)."""
    return [1] + [2] * 100 if fw == 2 else [2] * 100


def decode_fw3(packet: bytes) -> np.ndarray:
    """Firmware 3 data packet -> (2, 4) int 24-bit counts (value = field << 6 or 5)."""
    pid = packet[0]
    bits = packet_bits(3, pid)
    return (unpack_fields(packet[1:], bits) << (24 - bits)).reshape(2, N_CHANNELS)


def decode_raw(packet: bytes) -> np.ndarray:
    """Firmware 2 raw packet (id 0) -> (1, 4) int: 4 x 24-bit signed big-endian."""
    b = np.frombuffer(bytes(packet[1:13]), dtype=np.uint8).astype(np.int64).reshape(4, 3)
    v = (b[:, 0] << 16) | (b[:, 1] << 8) | b[:, 2]
    return np.where(v & 0x800000, v - (1 << 24), v).reshape(1, N_CHANNELS)


def decode_fw2_deltas(packet: bytes) -> np.ndarray:
    """Firmware 2 delta packet -> (2, 4) deltas ``previous - current``."""
    return unpack_fields(packet[1:], packet_bits(2, packet[0])).reshape(2, N_CHANNELS)


class Fw2Decoder:
    """Firmware 2 delta decompression (§2.4, BrainFlow ``decompress_firmware_2``).

    ``sample_A = last - delta_A; sample_B = sample_A - delta_B; last = sample_B``;
    a raw packet (id 0) sets ``last``. After :meth:`invalidate` (a lost packet)
    delta packets decode to ``None`` until the next raw packet.
    """

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self._last = None

    invalidate = reset

    @property
    def seeded(self) -> bool:
        return self._last is not None

    def feed(self, packet: bytes):
        """(k, 4) int counts for one data packet, or ``None`` when not seeded."""
        if packet[0] == 0:
            out = decode_raw(packet)
            self._last = out[0].copy()
            return out
        if self._last is None:
            return None
        d = decode_fw2_deltas(packet)
        a = self._last - d[0]
        b = a - d[1]
        self._last = b
        return np.stack([a, b])
