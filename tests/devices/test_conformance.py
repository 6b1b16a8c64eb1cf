"""One suite over every source (the readers have theirs in tests/io/test_conformance.py).

Each source is opened with channel names given as ``names=`` and read through a
link drop (live devices: unplug/replug, a BLE disconnect, a silent LSL sender).
Checked for all alike:

- the names reach :attr:`Source.ch_names` and every chunk;
- chunks: µV, float64, finite, (n, channels), the source's fs and id; ``seq``
  continues from chunk to chunk except right after an announced gap, which
  ends exactly where the chunk begins (every sample, present or lost, counted once);
- link drops (live devices, all :class:`~emgpipe.devices.live.LiveSource`):
  ``link_listeners`` hear ``disconnect`` then ``reconnect`` with the same
  fields everywhere, the disconnect's ``seq`` is where the gap starts, the
  reconnect's ``n_missing`` is the gap's length, and ``meta["disconnects"]``
  keeps the outage.
"""
from __future__ import annotations

import os
import threading
import uuid

import numpy as np
import pytest

from emgpipe.devices import open_source
from emgpipe.devices.base import Source
from emgpipe.devices.live import LiveSource
from emgpipe.devices.options import ALIASES, LIVE

posix = pytest.mark.skipif(os.name != "posix", reason="the emulators need a POSIX pty")
LINK_EVENT_KEYS = {"event", "source", "reason", "seq", "time", "monotonic"}


def _names(n):
    sides = ("left", "right")
    muscles = ("calf", "tib_ant", "hamstring", "quadriceps", "foot", "soleus", "gastroc_lat",
               "gastroc_med")
    return tuple(f"{muscles[i // 2 % len(muscles)]}{i // 16 or ''}_{sides[i % 2]}" for i in range(n))


# ----------------------------------------------------------------------------- cases
# Each returns (source, drop or None, cleanup); ``drop()`` starts a link loss that ends
# by itself a few tenths of a second later.

def sim_case(tmp_path):
    src = open_source("sim:walk_then_cramp?speed=max&seed=1&duration=20&chunk_s=0.5&names="
                      + ",".join(_names(2)))
    return src, None, lambda: None


def file_case(tmp_path):
    from emgpipe.io.contract_csv import CsvWriter
    p = tmp_path / "rec.csv"
    x = np.random.default_rng(0).normal(0, 20, (3000, 2))
    with CsvWriter(p, 1000, ["a", "b"], {}) as w:
        w.write(x[:1000])
        w.write(x[1100:], seq=1100)                    # 100 samples lost
    return open_source(f"file:{p}?speed=max&names=" + ",".join(_names(2))), None, lambda: None


def cyton_case(tmp_path):
    from emgpipe.devices.cyton.emulator import CytonEmulator
    emu = CytonEmulator(None, speed=10.0).start()
    src = open_source(f"cyton:{emu.port_name}?reconnect_s=5&names=" + ",".join(_names(8)))

    def drop():
        emu.unplug()
        threading.Timer(0.3, emu.replug).start()
    return src, drop, emu.stop


def ganglion_case(tmp_path):
    from emgpipe.devices.ganglion.source import GanglionSource
    from emgpipe.devices.ganglion.emulator import GanglionEmulator, ble_api
    counts = np.random.default_rng(5).integers(-2 ** 21, 2 ** 21, (6000, 4))
    dev = GanglionEmulator(counts, fw=3, bits=19, packets_per_s=2000)
    scanner, client = ble_api(dev)
    src = GanglionSource("Ganglion-1a", scanner=scanner, client_factory=client, scan_timeout=0.5,
                         reconnect_s=5.0)
    src.use_names(_names(4))
    dev.disconnect_after = 150                 # the emulated board drops the link by itself,
    dev.away_s = 0.3                           # after 300 samples, for 0.3 s
    return src, (lambda: None), lambda: None


def bridge_case(tmp_path):
    from emgpipe.devices.bridge.emulator import BridgeEmulator
    emu = BridgeEmulator(None, link=tmp_path / "bridge0", fs=1000, env=False).start()
    src = open_source(f"bridge:{emu.path}?timeout_s=2&names=" + ",".join(_names(1)))

    def drop():
        emu.unplug()
        threading.Timer(0.4, emu.replug, kwargs={"reset": False}).start()
    return src, drop, emu.stop


def bridge_ble_case(tmp_path):
    from emgpipe.devices.bridge.emulator import DeviceModel
    from emgpipe.devices.bridge.source import BridgeBleSource
    from tests.devices.bridge.bridge_fakes import FakeRadio
    radio = FakeRadio(DeviceModel(board="esp32", fs=1000, sensors=1, samples_per_frame=25))
    src = BridgeBleSource("EMGBridge-1A2B", bleak_module=radio.module, scan=0.2, handshake=2.0,
                          names=_names(1))
    return src, radio.drop_link, lambda: None


def lsl_case(tmp_path):
    pytest.importorskip("pylsl", reason="pylsl (extra 'lsl') is not installed")
    from emgpipe.devices.lsl.emulator import LslEmulator
    name = f"emgpipe-conf-{uuid.uuid4().hex[:10]}"
    sender = LslEmulator(name, None, fs=250.0, n_channels=2).start()   # silent for 0.8 s on drop
    src = open_source(f"lsl:{name}?timeout_s=3&stall_s=0.3&reconnect_s=5&names="
                      + ",".join(_names(2)))
    return src, sender.pause, sender.stop


CASES = {"sim": sim_case, "file": file_case, "cyton": posix(cyton_case), "ganglion": ganglion_case,
         "bridge": posix(bridge_case), "bridge-ble": bridge_ble_case, "lsl": lsl_case}


@pytest.fixture(params=sorted(CASES))
def case(request, tmp_path):
    if request.param in ("cyton", "bridge") and os.name != "posix":
        pytest.skip("the emulators need a POSIX pty")
    src, drop, cleanup = CASES[request.param](tmp_path)
    yield request.param, src, drop
    cleanup()


# ----------------------------------------------------------------------------- checks

def read(src, drop, timeout=20.0, before=200, after=100):
    """Chunks until ``before`` samples, then ``drop()``, then until a gap and ``after``
    samples past it (sources without a link: to the end, or ``before + after``)."""
    out, got, dropped, after_gap = [], 0, False, -1
    timer = threading.Timer(timeout, src.stop)
    timer.start()
    try:
        for c in src:
            out.append(c)
            got += c.n_samples
            if c.gaps and after_gap < 0:
                after_gap = 0
            if after_gap >= 0:
                after_gap += c.n_samples
            if drop is None:
                if got >= 4 * (before + after):
                    break
                continue
            if got >= before and not dropped:
                dropped = True
                drop()
            if after_gap >= after:
                break
    finally:
        timer.cancel()
    return out


def check_chunks(src, chunks, names):
    assert chunks, "no chunk"
    expected = chunks[0].seq
    gaps = []
    for c in chunks:
        assert c.ch_names == names and c.fs == src.fs and c.units == "uV"
        assert c.source_id == src.uri
        assert c.data.dtype == np.float64 and c.data.shape == (c.n_samples, len(names))
        assert np.isfinite(c.data).all() and np.isfinite(c.t0)
        missing = sum(g.n_missing for g in c.gaps)
        if c.gaps:
            assert c.gaps[0].seq == expected, (c.gaps, expected)
            assert all(g.fs == src.fs and g.reason for g in c.gaps)
        assert c.seq == expected + missing, (c.seq, expected, missing)
        gaps.extend(c.gaps)
        expected = c.next_seq
    return gaps


def test_source_conformance(case):
    kind, src, drop = case
    assert isinstance(src, Source)
    live = isinstance(src, LiveSource)
    assert live == (kind not in ("sim", "file"))
    heard = []
    if live:
        src.link_listeners.append(heard.append)
    with src:
        names = src.ch_names
        assert names == _names(len(names)) and src.fs > 0
        chunks = read(src, drop if live else None)
        meta = dict(src.meta)
    gaps = check_chunks(src, chunks, names)
    if not live:
        return
    assert [h["event"] for h in heard] == ["disconnect", "reconnect"], heard
    lost, back = heard
    assert LINK_EVENT_KEYS <= set(lost) and LINK_EVENT_KEYS | {"n_missing", "elapsed_s"} <= set(back)
    assert lost["source"] == back["source"] == src.uri and lost["reason"]
    (gap,) = [g for g in gaps if g.seq == lost["seq"]]
    assert back["n_missing"] == gap.n_missing > 0 and back["elapsed_s"] > 0
    (rec,) = meta["disconnects"]
    assert rec["n_missing"] == gap.n_missing and rec["reconnected_at"] is not None


@pytest.mark.parametrize("scheme", ["cyton", "ganglion", "bridge", "bridge-ble", "lsl"])
def test_live_sources_share_the_option_names(scheme):
    """The shared options have one name everywhere (the older names are aliases), and
    every source takes names=."""
    from emgpipe.devices import BACKENDS
    import importlib
    mod, cls = BACKENDS[scheme].split(":")
    klass = getattr(importlib.import_module(f"emgpipe.devices.{mod}"), cls)
    assert issubclass(klass, LiveSource)
    assert set(LIVE) <= set(klass.OPTIONS)
    assert not set(ALIASES) & set(klass.OPTIONS)
    target = "/dev/ttyX" if scheme in ("cyton", "bridge") else "X"
    src = open_source(f"{scheme}:{target}?stall_s=2&reconnect_s=9&timeout_s=3&chunk_s=0.05"
                      f"&names=calf_left")
    assert src.uri == f"{scheme}:{target}"
