"""A Ganglion emulator at the BLE API boundary (in-process; there is no radio).

An OpenBCI Ganglion talks Bluetooth LE, and a BLE peripheral cannot be made in
software without a radio (a second adapter, or an OS peripheral role that bleak
does not offer). So this emulator stands in for bleak's API instead:
:class:`EmulatedScanner` and :class:`EmulatedClient` have the call shapes of
``bleak.BleakScanner.find_device_by_filter`` and ``bleak.BleakClient`` that
:class:`~emgpipe.devices.ganglion.source.GanglionSource` uses, and the
:class:`GanglionEmulator` behind them streams notifications encoded the way the
firmware encodes them (protocols.md §2.4, GAN-FW ``compressData18/19``):

- firmware 3 sends the top 18/19 bits of each 24-bit sample after forcing the
  lowest kept bit to the sign, ring position 0..99 in the packet id;
- firmware 2 sends ``delta = previous - current`` with bit 0 forced to the sign,
  seeded by a raw packet every 201 samples.

It lives in the same process as the source: another program (``emgpipe live``
in another terminal) cannot connect to it, which is why ``emgpipe emulate`` has
no ``ganglion`` device. Use it from Python or in tests; faults on demand:
``drop`` (packet numbers of a connection not delivered), ``disconnect_after`` /
``away_s`` (the link drops and the board is invisible for a while).

Examples
--------
::

    from emgpipe.devices.ganglion.emulator import GanglionEmulator, ble_api
    from emgpipe.devices.ganglion.source import GanglionSource

    board = GanglionEmulator.from_uv(uv)              # (n, 4) µV
    scanner, client = ble_api(board)
    with GanglionSource("Ganglion", scanner=scanner, client_factory=client) as src:
        for chunk in src:
            ...

>>> gp.unpack_fields(pack_fields([1, -1, 0, 0, 0, 0, 0, -2], 18), 18).tolist()
[1, -1, 0, 0, 0, 0, 0, -2]
>>> len(fw3_packets(np.zeros((4, 4), int))), len(fw3_packets(np.zeros((4, 4), int))[0])
(2, 20)
"""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import numpy as np

from . import protocol as gp

#: Largest magnitude of a 24-bit two's-complement count.
FULL_SCALE_COUNTS = 2 ** 23 - 1


# ---------------------------------------------------------------------------- firmware encoders


def pack_fields(fields, bits: int) -> bytes:
    """8 signed fields -> one big-endian bit string of ``bits`` bytes (§2.4)."""
    v = 0
    for f in fields:
        v = (v << bits) | (int(f) & ((1 << bits) - 1))
    return v.to_bytes(bits, "big")


def _force_bit_to_sign(v: int, bit: int) -> int:
    sign = 1 if v < 0 else 0
    return (v & ~(1 << bit)) | (sign << bit)


def fw3_field(v: int, bits: int) -> int:
    """Firmware 3: bit (24-bits) := sign, then arithmetic shift right."""
    shift = 24 - bits
    return _force_bit_to_sign(int(v), shift) >> shift


def fw3_packets(counts: np.ndarray, bits: int = 19) -> list:
    """(n, 4) 24-bit counts (n even) -> firmware-3 notifications (ring 0..99)."""
    out = []
    for k in range(len(counts) // 2):
        ring = k % 100
        pid = ring + (100 if bits == 19 else 0)
        fields = [fw3_field(v, bits) for v in np.concatenate([counts[2 * k], counts[2 * k + 1]])]
        payload = pack_fields(fields, bits)
        if bits == 18:
            payload += b"\x00"  # accelerometer/aux byte
        out.append(bytes([pid]) + payload)
    return out


def fw2_packets(counts: np.ndarray, bits: int = 19) -> list:
    """(n, 4) counts -> firmware-2 notifications, ``n = 1 + 200k`` per cycle of 201."""
    out, last, ring = [], None, 0
    i = 0
    while i < len(counts):
        c = i % 201
        if c == 0:
            raw = b"".join(int(v & 0xFFFFFF).to_bytes(3, "big") for v in counts[i])
            out.append(b"\x00" + raw + b"ABCDEFG")
            last, ring, i = counts[i].astype(np.int64), 1, i + 1
            continue
        if i + 1 >= len(counts):
            break
        deltas = []
        for cur in (counts[i], counts[i + 1]):
            d = last - cur.astype(np.int64)
            deltas.extend(_force_bit_to_sign(int(x), 0) for x in d)
            last = cur.astype(np.int64)
        pid = ring + (100 if bits == 19 else 0)
        payload = pack_fields(deltas, bits) + (b"\x00" if bits == 18 else b"")
        out.append(bytes([pid]) + payload)
        ring += 1
        i += 2
    return out


def counts_from_uv(uv) -> np.ndarray:
    """(n, 4) µV -> 24-bit counts (:data:`~.protocol.UV_PER_COUNT`), clipped to full scale."""
    c = np.rint(np.asarray(uv, dtype=float) / gp.UV_PER_COUNT)
    return np.clip(c, -FULL_SCALE_COUNTS, FULL_SCALE_COUNTS).astype(np.int64)


# ---------------------------------------------------------------------------- the board


class GanglionEmulator:
    """A Ganglion that :class:`EmulatedScanner` finds and :class:`EmulatedClient` streams.

    ``counts`` (n, 4) is the signal in 24-bit ADC counts (:meth:`from_uv` takes
    µV); each connection restarts the firmware cycle (the real board resets on
    connect, §2.1) and continues from where the last one stopped; ``finished``
    is set when the signal is used up. Faults: ``drop`` (packet numbers of this
    connection not delivered), ``disconnect_after`` (packets sent before the
    link drops; the board is then invisible for ``away_s``), ``available =
    False`` (out of range).

    What the host did is kept: ``commands`` written, ``connections`` made,
    ``stream_starts`` (sample pointer at each ``b``), ``ptr`` (samples sent).
    """

    def __init__(self, counts, *, fw: int = 3, bits: int = 19, name="Ganglion-1a2b",
                 address="AA:BB:CC:DD:EE:01", revision=None, packets_per_s: float = 4000.0):
        self.counts = np.asarray(counts, dtype=np.int64)
        self.fw, self.bits = fw, bits
        self.revision = revision if revision is not None else (b"3.0.2" if fw == 3 else b"2.0.1")
        self.ble_device = SimpleNamespace(name=name, address=address)
        self.name = name
        self.packets_per_s = packets_per_s
        self.available = True
        self.drop = set()
        self.disconnect_after = None
        self.away_s = 0.2
        self.ptr = 0
        self.commands = []
        self.connections = 0
        self.stream_starts = []   # sample pointer at each 'b'
        self.finished = False

    @classmethod
    def from_uv(cls, uv, **kwargs) -> "GanglionEmulator":
        """A board streaming ``uv`` ((n, 4) µV) at the real rate unless ``packets_per_s``
        says otherwise (100 notifications/s = 200 Hz, §2.1)."""
        kwargs.setdefault("packets_per_s", gp.FS_BLE / 2)
        return cls(counts_from_uv(uv), **kwargs)

    def packets(self):
        """(samples consumed after each packet, payload) for a new connection."""
        rest = self.counts[self.ptr:]
        if self.fw == 3:
            pk = fw3_packets(rest[:len(rest) // 2 * 2], self.bits)
            sizes = [2] * len(pk)
        else:
            pk = fw2_packets(rest, self.bits)
            sizes = [1 if p[0] == 0 else 2 for p in pk]
        return list(zip(np.cumsum(sizes).tolist(), pk))


class EmulatedScanner:
    """Stands in for ``bleak.BleakScanner`` (``find_device_by_filter``)."""

    def __init__(self, *devices):
        self.devices = list(devices)
        self.scans = 0

    async def find_device_by_filter(self, filterfunc, timeout=10.0, **_):
        self.scans += 1
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for dev in self.devices:
                adv = SimpleNamespace(local_name=dev.name)
                if dev.available and filterfunc(dev.ble_device, adv):
                    return dev.ble_device
            if asyncio.get_running_loop().time() >= deadline:
                return None
            await asyncio.sleep(0.02)


class EmulatedClient:
    """Stands in for ``bleak.BleakClient`` for one :class:`GanglionEmulator`."""

    def __init__(self, scanner: EmulatedScanner, device, disconnected_callback=None, **_):
        self.peripheral = next(d for d in scanner.devices if d.ble_device is device)
        self._disconnected_callback = disconnected_callback
        self.is_connected = False
        self._callback = None
        self._task = None   # keep a reference to the streaming task

    async def connect(self):
        if not self.peripheral.available:
            raise OSError("Device with address ... could not be found")
        self.is_connected = True
        self.peripheral.connections += 1

    async def read_gatt_char(self, uuid):
        if uuid != gp.SOFTWARE_REVISION_UUID:
            raise OSError(f"characteristic {uuid} not found")
        return bytearray(self.peripheral.revision)

    async def start_notify(self, uuid, callback):
        if uuid != gp.NOTIFY_UUID:
            raise OSError(f"characteristic {uuid} does not notify")
        if not self.is_connected:
            raise OSError("Not connected")
        self._callback = callback

    async def write_gatt_char(self, uuid, data, response=None):
        if uuid != gp.WRITE_UUID:
            raise OSError(f"characteristic {uuid} is not writable")
        self.peripheral.commands.append(bytes(data))
        if bytes(data) == gp.COMMAND_START and self._task is None:
            self.peripheral.stream_starts.append(self.peripheral.ptr)
            self._task = asyncio.get_running_loop().create_task(self._stream())
        elif bytes(data) == gp.COMMAND_STOP and self._task is not None:
            self._task.cancel()

    async def disconnect(self):
        if self._task is not None:
            self._task.cancel()
        was = self.is_connected
        self.is_connected = False
        if was and self._disconnected_callback:
            self._disconnected_callback(self)

    async def _stream(self):
        dev = self.peripheral
        char = SimpleNamespace(uuid=gp.NOTIFY_UUID)
        base = dev.ptr
        interval = 1.0 / dev.packets_per_s
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for k, (used, payload) in enumerate(dev.packets()):
            if not self.is_connected:
                return
            if dev.disconnect_after is not None and k >= dev.disconnect_after:
                dev.disconnect_after = None
                dev.available = False
                loop.call_later(dev.away_s, setattr, dev, "available", True)
                self.is_connected = False
                if self._disconnected_callback:
                    self._disconnected_callback(self)
                return
            dev.ptr = base + used
            if k not in dev.drop:
                self._callback(char, bytearray(payload))
            delay = t0 + (k + 1) * interval - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        dev.finished = True


def ble_api(*devices):
    """``(scanner, client_factory)`` for ``GanglionSource(scanner=..., client_factory=...)``
    (or, as ``bleak.BleakScanner`` / ``bleak.BleakClient``, for a whole program)."""
    scanner = EmulatedScanner(*devices)
    return scanner, lambda device, **kw: EmulatedClient(scanner, device, **kw)
