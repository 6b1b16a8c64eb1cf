"""Byte transports of the bridge: USB serial (pyserial) and BLE (bleak, lazy).

A link moves raw protocol bytes; it knows nothing of frames. ``read`` returns
what arrived (``b""`` on timeout) and raises :class:`LinkLost` when the
device went away; ``open`` raises a one-line :class:`~emgpipe.errors.DeviceError`
that names the device and the fix.
"""
from __future__ import annotations

import asyncio
import logging
import queue
import re
import threading

from ...errors import DeviceError, DeviceNotFound
from ..serialport import open_serial, port_error
from .protocol import BLE_CMD_UUID, BLE_DATA_UUID, BLE_NAME_PREFIX, BLE_SERVICE_UUID

log = logging.getLogger(__name__)


class LinkLost(Exception):
    """The transport failed mid-stream (unplug, BLE disconnect, I/O error)."""


# --------------------------------------------------------------------------- serial

#: The programs that typically hold a bridge's port, and its boards' USB-serial drivers
#: (for :func:`~emgpipe.devices.serialport.port_error`'s hints).
PORT_HINTS = {"others": "the Arduino Serial Monitor or another emgpipe",
              "driver": "CH340/FTDI/CP210x USB"}


class SerialLink:
    """pyserial transport (8-N-1, no flow control).

    Parameters
    ----------
    port : str
        ``COM3``, ``/dev/ttyACM0``, ``/dev/tty.usbmodem1101``, a symlink...
    baud : int
        500000 by default (exact on 16 MHz AVR, protocols.md §5.1).
    name : str
        Prefix of error messages (the source URI).
    """

    def __init__(self, port: str, baud: int, *, name: str = ""):
        self.port = port
        self.baud = int(baud)
        self.name = name or f"bridge:{port}"
        self._ser = None
        self._wlock = threading.Lock()

    def describe(self) -> str:
        return f"{self.port} @ {self.baud} baud"

    def open(self) -> None:
        import serial
        self._ser = open_serial(self.port, self.name, self.baud, 0.05, write_timeout=1.0,
                                **PORT_HINTS)
        try:
            self._ser.reset_input_buffer()
        except (serial.SerialException, OSError) as exc:
            self.close()
            raise port_error(self.name, self.port, exc, **PORT_HINTS) from exc

    @property
    def is_open(self) -> bool:
        return self._ser is not None

    def read(self, timeout: float) -> bytes:
        import serial
        ser = self._ser
        if ser is None:
            raise LinkLost("port closed")
        try:
            n = ser.in_waiting
            if n:
                return ser.read(n)
            ser.timeout = timeout
            first = ser.read(1)
            if not first:
                return b""
            n = ser.in_waiting
            return first + (ser.read(n) if n else b"")
        except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
            # TypeError/AttributeError: pyserial internals after the fd vanished.
            raise LinkLost(f"serial read failed: {exc}") from exc

    def write(self, data: bytes) -> None:
        import serial
        with self._wlock:
            ser = self._ser
            if ser is None:
                raise LinkLost("port closed")
            try:
                ser.write(data)
                ser.flush()
            except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
                raise LinkLost(f"serial write failed: {exc}") from exc

    def close(self) -> None:
        with self._wlock:
            ser, self._ser = self._ser, None
        if ser is not None:
            try:
                ser.close()
            except Exception:  # closing a vanished port may fail; nothing to release
                pass

    shutdown = close


# --------------------------------------------------------------------------- BLE

_MAC = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$")
_CB_UUID = re.compile(r"^[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}$")
_LOST = object()


def is_ble_address(target: str) -> bool:
    """A MAC address (Linux/Windows) or a CoreBluetooth UUID (macOS)."""
    return bool(_MAC.match(target) or _CB_UUID.match(target))


class BleLink:
    """bleak transport: notifications on :data:`BLE_DATA_UUID`, writes to :data:`BLE_CMD_UUID`.

    bleak runs on one private event loop in a daemon thread (bleak wants a
    single loop for the life of the program). The notification callback is
    synchronous and only queues ``(bytes)``, as bleak's own queue example
    does (protocols.md §4.2). Each open rescans for a fresh ``BLEDevice`` (a
    BlueZ device object vanishes after a disconnect, §4.3).

    Parameters
    ----------
    target : str
        Advertised name (``EMGBridge-1A2B``), address, or ``""`` for the
        first device advertising our service.
    bleak_module : module, optional
        Replaces ``import bleak`` (tests inject a fake here).
    """

    def __init__(self, target: str, *, name: str = "", scan_timeout: float = 10.0,
                 connect_timeout: float = 20.0, bleak_module=None):
        self.target = target
        self.name = name or f"bridge-ble:{target}"
        self.scan_timeout = float(scan_timeout)
        self.connect_timeout = float(connect_timeout)
        self._bleak = bleak_module
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client = None
        self._q: queue.Queue = queue.Queue()
        self.address = None
        self.mtu = None

    def describe(self) -> str:
        return f"BLE {self.address or self.target or '<any ' + BLE_NAME_PREFIX + '>'}"

    # -------------------------------------------------------------- loop
    def _ensure_loop(self):
        if self._loop is None:
            loop = asyncio.new_event_loop()
            t = threading.Thread(target=loop.run_forever, name="emgpipe-ble", daemon=True)
            t.start()
            self._loop, self._thread = loop, t
        return self._loop

    def _run(self, coro, timeout: float):
        fut = asyncio.run_coroutine_threadsafe(coro, self._ensure_loop())
        try:
            return fut.result(timeout)
        except TimeoutError:
            fut.cancel()
            raise

    def _module(self):
        if self._bleak is None:
            try:
                import bleak
            except ImportError as exc:
                raise DeviceError(f"{self.name}: BLE needs the 'bleak' package "
                                  f"(pip install 'emgpipe[ble]')") from exc
            self._bleak = bleak
        return self._bleak

    # -------------------------------------------------------------- callbacks (loop thread)
    def _on_notify(self, _char, data) -> None:
        # Notifications are consecutive pieces of the frame byte stream (the
        # device splits a frame longer than MTU - 3); every frame starts with
        # 0x00, so a lost piece costs only its frame.
        self._q.put_nowait(bytes(data))

    def _on_disconnect(self, client) -> None:
        if client is self._client:
            self._q.put_nowait(_LOST)

    # -------------------------------------------------------------- API
    async def _aopen(self):
        bleak = self._module()
        Scanner = bleak.BleakScanner
        if is_ble_address(self.target):
            dev = await Scanner.find_device_by_address(self.target, timeout=self.scan_timeout)
        elif self.target:
            want = self.target

            def match(d, ad):
                return want in (getattr(ad, "local_name", None), getattr(d, "name", None))
            dev = await Scanner.find_device_by_filter(match, timeout=self.scan_timeout)
        else:
            def match(d, ad):
                uuids = [u.lower() for u in (getattr(ad, "service_uuids", None) or ())]
                return BLE_SERVICE_UUID in uuids
            dev = await Scanner.find_device_by_filter(match, timeout=self.scan_timeout,
                                                      service_uuids=[BLE_SERVICE_UUID])
        if dev is None:
            what = f"named/addressed {self.target!r}" if self.target else \
                f"advertising the firmware_bridge service ({BLE_NAME_PREFIX}-XXXX)"
            raise DeviceNotFound(f"{self.name}: no BLE device {what} found in a "
                                 f"{self.scan_timeout:g} s scan (powered? Bluetooth on? "
                                 f"already connected to another host?)")
        client = bleak.BleakClient(dev, disconnected_callback=self._on_disconnect,
                                   timeout=self.connect_timeout)
        self._client = client
        await client.connect()
        await client.start_notify(BLE_DATA_UUID, self._on_notify)
        self.address = getattr(dev, "address", None)
        self.mtu = getattr(client, "mtu_size", None)

    def open(self) -> None:
        self._q = queue.Queue()
        try:
            self._run(self._aopen(), self.scan_timeout + self.connect_timeout + 5.0)
        except DeviceError:
            self.close()
            raise
        except TimeoutError as exc:
            self.close()
            raise DeviceNotFound(f"{self.name}: BLE scan/connect timed out") from exc
        except Exception as exc:  # BleakError, OSError, adapter missing...
            self.close()
            raise DeviceNotFound(f"{self.name}: BLE connect failed: {exc}") from exc
        log.info("%s: connected to %s (MTU %s)", self.name, self.address, self.mtu)

    @property
    def is_open(self) -> bool:
        return self._client is not None

    def read(self, timeout: float) -> bytes:
        if self._client is None:
            raise LinkLost("not connected")
        parts = []
        try:
            item = self._q.get(timeout=timeout)
        except queue.Empty:
            return b""
        while True:
            if item is _LOST:
                raise LinkLost("BLE link lost")
            parts.append(item)
            try:
                item = self._q.get_nowait()
            except queue.Empty:
                return b"".join(parts)

    def write(self, data: bytes) -> None:
        client = self._client
        if client is None:
            raise LinkLost("not connected")
        try:
            self._run(client.write_gatt_char(BLE_CMD_UUID, bytes(data), response=True), 5.0)
        except Exception as exc:  # BleakError, timeout, disconnected mid-write
            raise LinkLost(f"BLE write failed: {exc}") from exc

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._loop is not None:
            try:
                self._run(client.disconnect(), 5.0)
            except Exception as exc:  # already gone: nothing to release
                log.debug("%s: disconnect: %s", self.name, exc)

    def shutdown(self) -> None:
        self.close()
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(2.0)
            if not loop.is_running():
                loop.close()

