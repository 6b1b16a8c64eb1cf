"""``ganglion:NAME_OR_ADDRESS`` - OpenBCI Ganglion (4 ch, 200 Hz) over Bluetooth LE.

``bleak`` is imported only when a Ganglion is opened, so emgpipe works
without it (``pip install 'emgpipe[ble]'``).

How it works (protocols.md §2, §4):

- Discovery: scan for the address (MAC, or the per-host UUID macOS uses),
  else for a name starting with the target, else for any ``Ganglion*`` or
  ``Simblee*`` (the Simblee radio sometimes advertises its own name).
- On connect the board resets (§2.1). The firmware family is read from the
  Software Revision characteristic 0x2A28 (first digit 3 -> firmware 3,
  absolute 18/19-bit MSBs; else firmware 2, delta compression seeded by raw
  packets), notifications on ``...c082`` are started, then ``b`` is written to
  ``...c083`` (start only after ``start_notify`` so no early packet is
  missed, §4.3).
- An asyncio loop runs in a background thread. The notification callback is
  synchronous and only does ``queue.put_nowait((time.monotonic(), bytes))``,
  as bleak recommends (§4.2); decoding happens in :meth:`chunks`.
- Gaps come from packet ids (2 samples per packet; the fw2 raw packet holds
  1). With firmware 2 a lost packet makes every value wrong until the next
  raw packet (about 1 s), so that stretch is reported as a gap too.
- After a disconnect (or ``stall_s`` without data) it rescans for a fresh
  device object (BlueZ forgets the old one, §4.3), reconnects with back-off
  for up to ``reconnect_s``, restarts streaming and reports the wall-clock
  time lost as one gap. Tasks started from callbacks are kept referenced.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import queue
import re
import threading
import time
from typing import Iterator

import numpy as np

from ...errors import DeviceError, DeviceNotFound, StreamLost, UsageError
from . import protocol as gp
from ..live import ChunkAssembler, LiveSource, PacketCounter, cycle_offsets, drain
from ..options import BLE, Option, choice
from ...types import Chunk

log = logging.getLogger(__name__)

_MAC_RE = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$")
_UUID_RE = re.compile(r"^[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$")
#: Extra time allowed for connecting + GATT setup after the scan.
CONNECT_TIMEOUT = 30.0

GAP_LOST = "lost BLE packets"
GAP_LOST_FW2 = "lost BLE packets (firmware 2: values invalid until the next raw packet)"


class GanglionSource(LiveSource):
    """OpenBCI Ganglion over BLE, 4 channels at 200 Hz, in µV.

    Parameters
    ----------
    target : str
        Device address (``AA:BB:CC:DD:EE:FF``, or a macOS UUID), a name or name
        prefix (``Ganglion-1a2b``), or ``""`` for the first Ganglion found.
    firmware : {"auto", 2, 3}
        Packet format; ``auto`` reads characteristic 0x2A28.
    scan_timeout : float
        Seconds to scan for the device.
    reconnect_s : float
        How long to keep trying after the link is lost before giving up.
    stall_s : float
        No notification for this long counts as a lost link.
    chunk_s : float
        How often chunks are cut (what arrived meanwhile).
    scanner, client_factory : optional
        The bleak boundary: an object with ``find_device_by_filter(filter,
        timeout=)`` (default ``bleak.BleakScanner``) and a callable
        ``client_factory(device, disconnected_callback=)`` returning a client
        (default ``bleak.BleakClient``). Tests pass fakes here.

    Examples
    --------
    >>> src = GanglionSource.from_uri("AA:BB:CC:DD:EE:FF", firmware="3")
    >>> src.uri, src.firmware
    ('ganglion:AA:BB:CC:DD:EE:FF', 3)
    """

    scheme = "ganglion"
    OPTIONS = {**BLE, "firmware": Option(choice("auto", 2, 3), "packet format: auto, 2 or 3")}
    #: URI option -> constructor keyword.
    KWARGS = {"scan_s": "scan_timeout", "timeout_s": "connect_timeout"}

    def __init__(self, target: str = "", *, firmware="auto", scan_timeout: float = 10.0,
                 reconnect_s: float = 30.0, stall_s: float = 3.0, chunk_s: float = 0.03,
                 connect_timeout: float = CONNECT_TIMEOUT, scanner=None, client_factory=None):
        super().__init__()
        self.connect_timeout = float(connect_timeout)
        self.target = (target or "").strip()
        self.uri = f"ganglion:{self.target}"
        if firmware not in ("auto", 2, 3):
            raise UsageError(f"{self.uri}: option firmware={firmware!r}: expected auto, 2 or 3")
        self.firmware = firmware
        self.scan_timeout = float(scan_timeout)
        self.reconnect_s = float(reconnect_s)
        self.stall_s = float(stall_s)
        self.chunk_s = float(chunk_s)
        self._scanner = scanner
        self._client_factory = client_factory
        is_addr = bool(_MAC_RE.match(self.target) or _UUID_RE.match(self.target))
        self._address = self.target.upper().replace("-", ":") if _MAC_RE.match(self.target) \
            else self.target.upper() if is_addr else None
        self._loop = None
        self._loop_thread = None
        self._client = None
        self._tasks = set()
        self._closing = False
        self._reconnecting = False
        self._epoch = 0
        self._last_rx = None
        self._down_since = None
        self._q = None

    # ------------------------------------------------------------------ discovery

    def _match(self, device, adv) -> bool:
        name = getattr(adv, "local_name", None) or getattr(device, "name", None) or ""
        if self._address:
            return str(getattr(device, "address", "")).upper().replace("-", ":") == \
                self._address.replace("-", ":")
        if self.target:
            return name.lower().startswith(self.target.lower())
        return name.startswith(gp.NAME_PREFIXES)

    def _not_found(self) -> DeviceNotFound:
        if self._address:
            what = f"address {self.target}"
        elif self.target:
            what = f"a device named {self.target!r}"
        else:
            what = "a device named Ganglion* or Simblee*"
        return DeviceNotFound(
            f"{self.uri}: no Ganglion found ({what}, scanned {self.scan_timeout:g} s): is it "
            f"switched on (blue LED blinking), in range, and not connected to another app?")

    # ------------------------------------------------------------------ loop thread side

    def _on_notify(self, epoch: int, _char, data) -> None:
        # Sync callback: timestamp and queue, nothing else (bleak's advice, §4.2).
        t = time.monotonic()
        self._last_rx = t
        self._down_since = None
        self._q.put_nowait(("data", t, (epoch, bytes(data))))

    def _on_disconnect(self, client) -> None:
        if self._closing or client is not self._client:
            return
        self._link_lost("BLE link lost")

    def _link_lost(self, reason: str) -> None:
        if self._reconnecting or self._closing:
            return
        self._reconnecting = True
        t_lost = self._last_rx if self._last_rx is not None else time.monotonic()
        if self._down_since is None:
            self._down_since = t_lost
        self._q.put_nowait(("lost", t_lost, reason))
        task = self._loop.create_task(self._reconnect(t_lost, reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect(self, on_ready=None) -> dict:
        """Scan, connect, learn the firmware, subscribe, start streaming."""
        device = await self._scanner.find_device_by_filter(self._match, timeout=self.scan_timeout)
        if device is None:
            raise self._not_found()
        client = self._client_factory(device, disconnected_callback=self._on_disconnect)
        await client.connect()
        try:
            revision = None
            if self.firmware == "auto":
                try:
                    revision = bytes(await client.read_gatt_char(gp.SOFTWARE_REVISION_UUID))
                    fw = gp.firmware_major(revision)
                except Exception as exc:  # characteristic missing: current firmware is 3
                    log.warning("%s: cannot read the software revision (%s); assuming firmware 3",
                                self.uri, exc)
                    fw = 3
            else:
                fw = self.firmware
            self._epoch += 1
            self._client = client
            await client.start_notify(gp.NOTIFY_UUID, functools.partial(self._on_notify, self._epoch))
            info = {"firmware": fw, "revision": None if revision is None else
                    revision.decode("ascii", "replace").strip("\x00 "),
                    "address": getattr(device, "address", None), "name": getattr(device, "name", None),
                    "epoch": self._epoch}
            if on_ready is not None:
                on_ready(info)
            # The board resets on connect (§2.1): always (re)start streaming.
            await client.write_gatt_char(gp.WRITE_UUID, gp.COMMAND_START, response=False)
            return info
        except BaseException:
            if self._client is client:
                self._client = None
            try:
                await client.disconnect()
            except Exception:
                pass
            raise

    async def _reconnect(self, t_lost: float, reason: str) -> None:
        old, self._client = self._client, None
        if old is not None:
            try:
                await old.disconnect()
            except Exception:
                pass
        # reconnect_s counts from the last data, across repeated losses, so a
        # board that reconnects but never sends data is eventually given up.
        base = self._down_since
        delays, attempts, last_err = self.backoff_delays(), 0, None
        try:
            while not self._closing:
                if time.monotonic() - base >= self.reconnect_s and (attempts or base < t_lost):
                    break
                attempts += 1
                posted = []

                def ready(info, attempts=attempts, posted=posted):
                    now = time.monotonic()
                    posted.append(now)
                    self._last_rx = now  # a later loss counts from here, not twice
                    self._q.put_nowait(("restored", now, {"elapsed": now - t_lost,
                                                          "attempts": attempts, **info}))
                try:
                    await self._connect(on_ready=ready)
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # bleak errors, not found, OS errors: retry
                    last_err = exc
                    log.debug("%s: reconnect attempt %d failed: %s", self.uri, attempts, exc)
                    if posted:  # subscribed but 'b' failed: the link is lost again
                        t_lost = time.monotonic()
                        self._q.put_nowait(("lost", t_lost, f"restart failed: {exc}"))
                if time.monotonic() - base >= self.reconnect_s:
                    break
                await asyncio.sleep(next(delays))
            if not self._closing:
                self._q.put_nowait(("fatal", time.monotonic(), StreamLost(
                    f"{self.uri}: {reason}; could not reconnect within {self.reconnect_s:g} s "
                    f"(last error: {last_err or 'connected but no data came'})")))
        finally:
            self._reconnecting = False

    async def _shutdown(self) -> None:
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.write_gatt_char(gp.WRITE_UUID, gp.COMMAND_STOP, response=False)
            except Exception:
                pass
            try:
                await client.disconnect()
            except Exception:
                pass

    # ------------------------------------------------------------------ caller side

    def _run(self, coro, timeout: float):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _stop_loop(self) -> None:
        if self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._loop_thread is not None:
            self._loop_thread.join(timeout=2.0)
        if not self._loop.is_running():
            self._loop.close()
        self._loop = self._loop_thread = None

    def open(self) -> None:
        if self._loop is not None:
            return
        if self._scanner is None or self._client_factory is None:
            try:
                import bleak
            except ImportError:
                raise DeviceError(f"{self.uri}: Bluetooth LE needs the 'bleak' package: "
                                  f"pip install 'emgpipe[ble]'") from None
            self._scanner = self._scanner or bleak.BleakScanner
            self._client_factory = self._client_factory or bleak.BleakClient
        self._q = queue.Queue()
        self._closing = False
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self._loop.run_forever, name="ganglion-ble",
                                             daemon=True)
        self._loop_thread.start()
        try:
            info = self._run(self._connect(), self.scan_timeout + self.connect_timeout)
        except BaseException as exc:
            self._closing = True
            try:
                self._run(self._shutdown(), 5.0)
            except Exception:
                pass
            self._stop_loop()
            if isinstance(exc, DeviceError):
                raise
            if isinstance(exc, concurrent.futures.TimeoutError):
                raise DeviceError(f"{self.uri}: connecting timed out") from None
            if isinstance(exc, Exception):
                raise DeviceError(f"{self.uri}: Bluetooth error: {exc}") from None
            raise
        self.fs = gp.FS_BLE
        self.ch_names = tuple(f"ch{i + 1}" for i in range(gp.N_CHANNELS))
        self.meta = {"device": "ganglion", "address": info["address"], "name": info["name"],
                     "firmware": info["firmware"], "software_revision": info["revision"],
                     "fs": self.fs, "uv_per_count": gp.UV_PER_COUNT, "disconnects": [],
                     "lost_samples": 0}
        self._asm = ChunkAssembler(self.fs, self.ch_names, self.uri)
        self._new_link_log()
        self._set_firmware(info["firmware"])
        self._cur_epoch = info["epoch"]
        self._link_down = False
        self._last_data = time.monotonic()
        self._text = bytearray()
        self._unexpected = set()
        log.info("%s: connected to %s (%s), firmware %s", self.uri, info["name"], info["address"],
                 info["revision"] or info["firmware"])

    def _set_firmware(self, fw: int) -> None:
        self._fw = fw
        self.meta["firmware"] = fw
        self._counter = PacketCounter(cycle_offsets(gp.counter_sizes(fw)), rate_hz=gp.FS_BLE)
        self._decoder = gp.Fw2Decoder() if fw == 2 else None

    def close(self) -> None:
        self._closing = True
        if self._loop is not None:
            try:
                self._run(self._shutdown(), 5.0)
            except Exception as exc:
                log.debug("%s: shutdown: %s", self.uri, exc)
            self._stop_loop()

    # ------------------------------------------------------------------ decoding

    def _other_packet(self, pkt: bytes) -> None:
        pid = pkt[0]
        if pid in gp.IMPEDANCE_IDS:
            log.debug("%s: impedance packet %d: %r", self.uri, pid, pkt[1:])
        elif pid in (gp.TEXT_MORE_ID, gp.TEXT_LAST_ID):
            self._text += pkt[1:].rstrip(b"\x00")
            if pid == gp.TEXT_LAST_ID:
                msg = self._text.decode("ascii", "replace").strip()
                self._text = bytearray()
                self.meta["last_message"] = msg
                log.info("%s: board says: %s", self.uri, msg)
        elif pid not in self._unexpected:
            self._unexpected.add(pid)
            log.warning("%s: unexpected packet id %d (length %d) ignored", self.uri, pid, len(pkt))

    def _on_packets(self, batch: list) -> None:
        data = []
        for t, pkt in batch:
            if len(pkt) == gp.PACKET_LEN and pkt[0] <= gp.MAX_DATA_ID and \
                    (self._fw == 2 or pkt[0] < gp.MAX_DATA_ID):
                data.append(pkt)
            elif pkt:
                self._other_packet(pkt)
        if not data:
            return
        t = batch[-1][0]
        prev_end = self._counter.expected_next
        idx = self._counter.unwrap([gp.packet_position(self._fw, p[0]) for p in data], t)
        sizes = self._counter.sizes
        for j, pkt in enumerate(data):
            lost = prev_end is not None and idx[j] > prev_end
            prev_end = int(idx[j] + sizes[gp.packet_position(self._fw, pkt[0])])
            if self._fw == 3:
                counts, reason = gp.decode_fw3(pkt), GAP_LOST
            else:
                if lost:
                    self._decoder.invalidate()
                counts, reason = self._decoder.feed(pkt), GAP_LOST_FW2
                if counts is None:
                    continue
            self._asm.push(idx[j] + np.arange(len(counts)), counts * gp.UV_PER_COUNT, t, reason)

    def chunks(self) -> Iterator[Chunk]:
        """Chunks of what arrived, about every ``chunk_s``; see the module doc."""
        if self._loop is None:
            self.open()
        while not self._stopped:
            fatal, batch = None, []
            for kind, t, payload in drain(self._q, self.chunk_s):
                if kind == "data":
                    epoch, pkt = payload
                    if epoch == self._cur_epoch:
                        batch.append((t, pkt))
                        self._last_data = t
                    continue
                self._on_packets(batch)
                batch = []
                fatal = self._link.apply(kind, t, payload, self._asm) or fatal
                self._link_down = kind != "restored"
                if kind == "restored":  # the board reset on connect: fresh decoder state
                    self._cur_epoch = payload["epoch"]
                    self._set_firmware(payload["firmware"])
                    self._last_data = t
            self._on_packets(batch)
            if not self._link_down and fatal is None and \
                    time.monotonic() - self._last_data > self.stall_s:
                self._link_down = True  # until "lost" arrives from the loop
                self._loop.call_soon_threadsafe(self._link_lost, f"no data for {self.stall_s:g} s")
            self.meta["lost_samples"] = self._asm.n_lost
            yield from self._asm.pop()
            if fatal is not None:
                raise fatal
