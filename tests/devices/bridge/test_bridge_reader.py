"""Issue 14: the bridge reads on the live sources' one reader thread (LiveSource), like
the Cyton and the LSL inlet, while its button answers still reach the listeners on the consumer's thread."""
from __future__ import annotations

import threading

from emgpipe.devices.bridge.source import BridgeSerialSource
from emgpipe.devices.cyton.source import CytonSource
from emgpipe.devices.live import LiveSource
from emgpipe.devices.lsl.source import LslSource
from tests.devices.bridge.bridge_helpers import collect

FAST = {"backoff": (0.05, 0.1, 0.2), "handshake": 2.0}


def test_bridge_reads_on_the_shared_reader_thread(emulator):
    emu = emulator(fs=1000, sensors=1, env=False, speed=5.0)
    src = BridgeSerialSource(emu.path, **FAST)
    src.open()
    readers, heard = set(), []
    read = src.link.read

    def spy(timeout):
        readers.add(threading.current_thread().name)
        return read(timeout)
    src.link.read = spy
    src.answer_listeners.append(lambda ev: heard.append((ev["answer"], threading.current_thread())))
    try:
        collect(src, 200)
        emu.press_button()
        collect(src, 10**9, until=lambda _: heard)
        assert src.reading
    finally:
        src.close()
    assert not src.reading
    assert readers == {f"bridge-reader {src.uri}"}                     # not the consumer's thread
    assert heard == [("not_cramp", threading.current_thread())]        # answers: consumer's thread
    for cls in (BridgeSerialSource, CytonSource, LslSource):           # one implementation
        assert cls._reader is LiveSource._reader and cls.chunks is LiveSource.chunks
        assert cls._recover.__qualname__ in ("LiveSource._recover", "BridgeSource._recover")
