"""Test helpers: stream collection, Ganglion firmware encoders, a fake bleak boundary.

The encoders mirror the Ganglion firmware (protocols.md §2.4 and GAN-FW
``compressData18/19``): firmware 3 sends the top 18/19 bits of each 24-bit
sample after forcing the lowest kept bit to the sign; firmware 2 sends
``delta = previous - current`` with bit 0 forced to the sign, seeded by a raw
packet every 201 samples. There is no Bluetooth radio in the test
environment, so :class:`FakeScanner` / :class:`FakeClient` stand in for
``bleak.BleakScanner`` / ``bleak.BleakClient`` with the same call shapes.
"""
from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

import numpy as np

from emgpipe.devices.ganglion import protocol as gp


def random_uv(n: int, n_ch: int, seed: int = 0, scale: float = 200.0) -> np.ndarray:
    """Random µV samples (well within full scale at every gain)."""
    return np.random.default_rng(seed).normal(0.0, scale, (n, n_ch))


def collect(src, n_samples: int, timeout: float = 10.0, on_chunk=None, until=None) -> list:
    """Chunks from ``src`` until ``n_samples`` samples (not counting gaps) arrived.

    ``on_chunk(chunk, total)`` runs after each chunk (to inject faults);
    ``until(chunks)``, if given, must also be true before collection stops
    (wait for an effect, not for a sample count that a lagging consumer may
    reach before the effect). A stuck source is stopped after ``timeout`` s
    so the test fails, not hangs.
    """
    out, got = [], 0
    timer = threading.Timer(timeout, src.stop)
    timer.start()
    try:
        for chunk in src:
            out.append(chunk)
            got += chunk.n_samples
            if on_chunk is not None:
                on_chunk(chunk, got)
            if got >= n_samples and (until is None or until(out)):
                break
    finally:
        timer.cancel()
    assert got >= n_samples, f"only {got} of {n_samples} samples within {timeout} s"
    assert until is None or until(out), f"condition not met within {timeout} s"
    return out


def samples_after_gap(chunks) -> int:
    """Samples received after the first gap (-1 while there is none)."""
    for i, c in enumerate(chunks):
        if c.gaps:
            return sum(x.n_samples for x in chunks[i:])
    return -1


def assemble(chunks) -> tuple:
    """(seq of every sample, stacked data, all gaps); checks chunk/gap continuity."""
    seqs, data, gaps, nxt = [], [], [], 0  # a fresh source starts at seq 0
    for c in chunks:
        missing = sum(g.n_missing for g in c.gaps)
        if c.gaps:
            assert c.gaps[0].seq == nxt, (c.gaps, nxt)
        assert c.seq == nxt + missing, (c, nxt, missing)
        seqs.append(c.seq + np.arange(c.n_samples))
        data.append(c.data)
        gaps.extend(c.gaps)
        nxt = c.next_seq
    return np.concatenate(seqs), np.concatenate(data), gaps


def pack_fields(fields, bits: int) -> bytes:
    """8 signed fields -> one big-endian bit string of ``bits`` bytes."""
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


def fw3_expected(counts: np.ndarray, bits: int = 19) -> np.ndarray:
    """What a correct fw3 decoder returns: the sent field shifted back."""
    shift = 24 - bits
    return np.vectorize(lambda v: fw3_field(v, bits) << shift)(counts)


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


def exact_fw2_counts(n: int, rng, step: int = 3000) -> np.ndarray:
    """Counts whose fw2 deltas already have bit0 == sign, so fw2 decodes exactly."""
    d = rng.integers(-step, step, size=(n, 4))
    d = np.where(d >= 0, d & ~1, d | 1)  # positive even, negative odd
    start = rng.integers(-100000, 100000, size=(1, 4))
    return start - np.cumsum(np.vstack([np.zeros((1, 4), int), d[1:]]), axis=0)


# ---------------------------------------------------------------------------- fake bleak


class FakeGanglion:
    """A Ganglion the fake scanner can find and the fake client can stream from.

    ``counts`` (n, 4) is the signal; each connection restarts the firmware
    cycle (the real board resets on connect) and continues from where the
    last one stopped. Faults: ``drop`` (packet numbers of this connection not
    delivered), ``disconnect_after`` (packets sent before the link drops;
    the board is then invisible for ``away_s``).
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


class FakeScanner:
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


class FakeClient:
    """Stands in for ``bleak.BleakClient`` for one :class:`FakeGanglion`."""

    def __init__(self, scanner: FakeScanner, device, disconnected_callback=None, **_):
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
        assert uuid == gp.SOFTWARE_REVISION_UUID
        return bytearray(self.peripheral.revision)

    async def start_notify(self, uuid, callback):
        assert uuid == gp.NOTIFY_UUID
        if not self.is_connected:
            raise OSError("Not connected")
        self._callback = callback

    async def write_gatt_char(self, uuid, data, response=None):
        assert uuid == gp.WRITE_UUID
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
                self._disconnected_callback(self)
                return
            dev.ptr = base + used
            if k not in dev.drop:
                self._callback(char, bytearray(payload))
            delay = t0 + (k + 1) * interval - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        dev.finished = True


def fake_bleak(*devices):
    """(scanner, client_factory) for GanglionSource(scanner=..., client_factory=...)."""
    scanner = FakeScanner(*devices)
    return scanner, lambda device, **kw: FakeClient(scanner, device, **kw)
