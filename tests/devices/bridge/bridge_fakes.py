"""A fake ``bleak`` module backed by the emulator's DeviceModel (no radio in CI).

Only the surface :class:`emgpipe.devices.bridge.links.BleLink` uses is faked, with
bleak's signatures: ``BleakScanner.find_device_by_filter`` /
``find_device_by_address`` (async classmethods returning a device or None)
and ``BleakClient(device, disconnected_callback=..., timeout=...)`` with
``connect``, ``start_notify(uuid, callback)``, ``write_gatt_char(uuid, data,
response)``, ``disconnect``, ``is_connected`` and ``mtu_size``. Like the
ESP32 sketch, the device sends one frame per notification (split into
MTU - 3 byte pieces when it is longer), keeps
sampling while disconnected and stops streaming to a host that drops.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from emgpipe.devices.bridge.protocol import (BLE_CMD_UUID, BLE_DATA_UUID, BLE_SERVICE_UUID, FrameType,
                                     cobs_decode)


@dataclass
class FakeBLEDevice:
    address: str
    name: str


@dataclass
class FakeAdvertisement:
    local_name: str
    service_uuids: list = field(default_factory=list)


class FakeRadio:
    """The air between the host and one emulated ESP32.

    Attributes
    ----------
    scans, connects : int
        How often the host scanned / connected (reconnects rescan).
    drop_notifications : int
        Lose the next N notifications carrying DATA on the host side (bleak #1343).
    """

    def __init__(self, model, name="EMGBridge-1A2B", address="24:6F:28:AA:1A:2B", mtu=247):
        self.model = model
        self.device = FakeBLEDevice(address, name)
        self.adv = FakeAdvertisement(name, [BLE_SERVICE_UUID])
        self.mtu = mtu
        self.advertising = True
        self.scans = 0
        self.connects = 0
        self.drop_notifications = 0
        self.notifications = 0
        self.client = None
        self.module = self._make_module()

    def drop_link(self):
        """Radio link lost: the client's disconnected_callback runs on its loop."""
        client = self.client
        if client is not None:
            client._loop.call_soon_threadsafe(client._lost)

    def _make_module(self):
        radio = self

        class BleakScanner:
            @classmethod
            async def find_device_by_filter(cls, filterfunc, timeout=10.0, **kwargs):
                radio.scans += 1
                if radio.advertising and filterfunc(radio.device, radio.adv):
                    return radio.device
                await asyncio.sleep(min(timeout, 0.05))
                return None

            @classmethod
            async def find_device_by_address(cls, address, timeout=10.0, **kwargs):
                return await cls.find_device_by_filter(
                    lambda d, ad: d.address.lower() == address.lower(), timeout)

        class BleakClient:
            def __init__(self, device, disconnected_callback=None, *, timeout=30.0, **kwargs):
                assert isinstance(device, FakeBLEDevice), "connect with a scanned device"
                self._cb_disc = disconnected_callback
                self._notify = None
                self._task = None
                self._loop = None
                self.is_connected = False
                self.mtu_size = radio.mtu

            async def connect(self):
                if not radio.advertising:
                    raise OSError("device not reachable")
                self._loop = asyncio.get_running_loop()
                self.is_connected = True
                radio.advertising = False   # a connected peripheral stops advertising
                radio.client = self
                radio.connects += 1

            async def start_notify(self, uuid, callback):
                assert uuid == BLE_DATA_UUID
                if not self.is_connected:
                    raise OSError("Not connected")
                self._notify = callback
                self._task = asyncio.ensure_future(self._produce())

            def _deliver(self, frames):
                # as the ESP32 sketch: one frame per notification, split in MTU - 3 pieces
                # when it does not fit
                room = radio.mtu - 3
                for f in frames:
                    is_data = cobs_decode(f[1:-1])[1] == FrameType.DATA
                    for i in range(0, len(f), room):
                        radio.notifications += 1
                        if is_data and radio.drop_notifications > 0:
                            radio.drop_notifications -= 1
                            continue
                        self._notify(None, bytearray(f[i:i + room]))

            async def _produce(self):
                while self.is_connected:
                    self._deliver(radio.model.poll())
                    await asyncio.sleep(0.005)

            async def write_gatt_char(self, uuid, data, response=None):
                assert uuid == BLE_CMD_UUID
                if not self.is_connected:
                    raise OSError("Not connected")
                if self._notify is not None:
                    self._deliver(radio.model.receive(bytes(data)))

            def _stop(self):
                self.is_connected = False
                if self._task is not None:
                    self._task.cancel()
                with radio.model.lock:
                    radio.model.streaming = False  # the sketch stops streaming to a lost host
                radio.advertising = True
                radio.client = None

            def _lost(self):
                if self.is_connected:
                    self._stop()
                    if self._cb_disc is not None:
                        self._cb_disc(self)

            async def disconnect(self):
                if self.is_connected:
                    self._stop()
                return True

        class Module:
            pass

        mod = Module()
        mod.BleakScanner = BleakScanner
        mod.BleakClient = BleakClient
        return mod
