"""GanglionSource through the Ganglion emulator at the bleak API boundary.

There is no Bluetooth radio in the test environment: the emulator's scanner and
client (:mod:`emgpipe.devices.ganglion.emulator`) replace bleak's
BleakScanner/BleakClient with the same call shapes, serve the 0x2A28 software
revision, and push firmware-2 or firmware-3 notification payloads built by
encoders that mirror the firmware, with lost packets and a disconnect on demand.
"""
from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from emgpipe.errors import DeviceNotFound, StreamLost, UsageError
from emgpipe.devices.ganglion import protocol as gp
from emgpipe.devices import open_source
from emgpipe.devices.ganglion.source import GanglionSource
from emgpipe.devices.ganglion.emulator import GanglionEmulator, ble_api
from tests.devices.openbci_fakes import assemble, collect, exact_fw2_counts, fw3_expected


def _source(*devices, target="", **kw):
    scanner, client = ble_api(*devices)
    kw.setdefault("scan_timeout", 0.5)
    src = GanglionSource(target, scanner=scanner, client_factory=client, **kw)
    return src, scanner


def _counts(n, seed):
    return np.random.default_rng(seed).integers(-2 ** 21, 2 ** 21, (n, 4))


def test_firmware3_stream_in_microvolts():
    counts = _counts(2000, 1)
    dev = GanglionEmulator(counts, fw=3, bits=19)
    src, _ = _source(dev)
    with src:
        assert (src.fs, src.ch_names) == (200.0, ("ch1", "ch2", "ch3", "ch4"))
        assert src.meta["firmware"] == 3 and src.meta["software_revision"] == "3.0.2"
        seqs, data, gaps = assemble(collect(src, 1200))
    assert dev.commands[0] == gp.COMMAND_START and dev.commands[-1] == gp.COMMAND_STOP
    assert gaps == [] and np.array_equal(seqs, np.arange(len(seqs)))
    want = fw3_expected(counts[:len(seqs)], 19) * gp.UV_PER_COUNT
    assert np.allclose(data, want, rtol=0, atol=1e-12)


def test_emulator_from_microvolts_gives_them_back():
    """GanglionEmulator.from_uv: µV in, the same µV out of the source (within what the
    19-bit firmware-3 packets keep: the 5 low bits go and the lowest kept one carries the
    sign, so within 2**6 counts)."""
    x = np.random.default_rng(11).normal(0.0, 300.0, (800, 4))
    dev = GanglionEmulator.from_uv(x, packets_per_s=2000)
    src, _ = _source(dev)
    with src:
        seqs, data, gaps = assemble(collect(src, 400))
    assert gaps == []
    assert np.abs(data - x[seqs]).max() <= 2 ** 6 * gp.UV_PER_COUNT
    assert GanglionEmulator.from_uv(x).packets_per_s == gp.FS_BLE / 2   # real time by default

def test_firmware3_lost_packets_cost_two_samples_each():
    dev = GanglionEmulator(_counts(1000, 2), fw=3, bits=18)
    dev.drop = {5, 6, 120}   # packet 120 is in the second id cycle (wrap at 100)
    src, _ = _source(dev)
    with src:
        seqs, data, gaps = assemble(collect(src, 700))
    assert [(g.seq, g.n_missing) for g in gaps] == [(10, 4), (240, 2)]
    assert all(g.reason == "lost BLE packets" for g in gaps)
    want = fw3_expected(dev.counts[seqs], 18) * gp.UV_PER_COUNT
    assert np.allclose(data, want, rtol=0, atol=1e-12)


def test_firmware2_selected_from_revision_and_decoded_exactly():
    counts = exact_fw2_counts(1206, np.random.default_rng(3))
    dev = GanglionEmulator(counts, fw=2, bits=19)
    src, _ = _source(dev, firmware="auto")
    with src:
        assert src.meta["firmware"] == 2
        seqs, data, gaps = assemble(collect(src, 800))
    assert gaps == []
    assert np.allclose(data, counts[seqs] * gp.UV_PER_COUNT, rtol=0, atol=1e-12)


def test_firmware2_loss_is_a_gap_until_the_next_raw_packet():
    counts = exact_fw2_counts(1206, np.random.default_rng(4))
    dev = GanglionEmulator(counts, fw=2, bits=18)
    dev.drop = {10}          # packet 10 = id 10 = samples 19, 20
    src, _ = _source(dev)
    with src:
        seqs, data, gaps = assemble(collect(src, 600))
    # samples 19..200 are lost or undecodable; the raw packet at sample 201 reseeds
    assert [(g.seq, g.n_missing) for g in gaps] == [(19, 182)]
    assert "raw packet" in gaps[0].reason
    assert np.allclose(data, counts[seqs] * gp.UV_PER_COUNT, rtol=0, atol=1e-12)


@pytest.mark.parametrize("fw", [2, 3])
def test_disconnect_rescans_reconnects_and_restarts_streaming(fw):
    counts = exact_fw2_counts(4000, np.random.default_rng(5)) if fw == 2 else _counts(4000, 5)
    dev = GanglionEmulator(counts, fw=fw, bits=19, packets_per_s=2000)
    dev.disconnect_after = 150
    dev.away_s = 0.3
    events = []
    src, scanner = _source(dev, target="Ganglion-1a", reconnect_s=5.0)
    src.link_listeners.append(events.append)
    with src:
        seqs, data, gaps = assemble(collect(src, 900))
        disc = src.meta["disconnects"]
    assert scanner.scans >= 2 and dev.connections == 2
    assert dev.commands.count(gp.COMMAND_START) == 2      # 'b' again after the reset
    assert [e["event"] for e in events] == ["disconnect", "reconnect"]
    assert len(gaps) == 1 and gaps[0].reason.startswith("reconnect")
    g = gaps[0]
    assert 0.3 * 200 <= g.n_missing <= 3.0 * 200
    assert g.n_missing == round(events[1]["elapsed_s"] * 200) == disc[0]["n_missing"]
    assert disc[0]["reason"] == "BLE link lost"
    # data after the gap is the board's signal from where the new stream started
    after = seqs >= g.seq + g.n_missing
    i0 = dev.stream_starts[-1]
    got = data[after][:300]
    want = counts[i0:i0 + len(got)]
    if fw == 3:
        want = fw3_expected(want, 19)
    assert np.allclose(got, want * gp.UV_PER_COUNT, rtol=0, atol=1e-12)


def test_gives_up_when_the_board_does_not_come_back():
    dev = GanglionEmulator(_counts(3000, 6), fw=3, packets_per_s=2000)
    dev.disconnect_after = 50
    dev.away_s = 60.0
    src, _ = _source(dev, reconnect_s=0.3, scan_timeout=0.1)
    with src:
        with pytest.raises(StreamLost, match="could not reconnect within 0.3 s"):
            collect(src, 10 ** 6, timeout=5.0)
        assert src.meta["disconnects"][0]["reconnected_at"] is None


def test_silence_counts_as_a_lost_link():
    dev = GanglionEmulator(_counts(600, 7), fw=3, packets_per_s=2000)
    src, _ = _source(dev, stall_s=0.2, reconnect_s=0.2, scan_timeout=0.05)
    with src:
        t0 = time.monotonic()
        with pytest.raises(StreamLost, match="connected but no data came"):
            collect(src, 10 ** 6, timeout=5.0)   # the board runs dry after 600 samples
        assert time.monotonic() - t0 < 3.0
        assert dev.finished and dev.connections >= 2   # reconnecting alone did not help
        assert src.meta["disconnects"][0]["reason"] == "no data for 0.2 s"


def test_no_ganglion_found_names_what_was_searched():
    other = GanglionEmulator(_counts(10, 8), name="Ganglion-ffff", address="AA:BB:CC:DD:EE:FF")
    src, _ = _source(other, target="Ganglion-1a2b", scan_timeout=0.1)
    with pytest.raises(DeviceNotFound, match="no Ganglion found \\(a device named 'Ganglion-1a2b'"):
        src.open()
    src, _ = _source(other, target="11:22:33:44:55:66", scan_timeout=0.1)
    with pytest.raises(DeviceNotFound, match="address 11:22:33:44:55:66"):
        src.open()


def test_discovery_by_address_and_by_simblee_name():
    a = GanglionEmulator(_counts(400, 9), name="Simblee", address="AA:BB:CC:DD:EE:0A")
    b = GanglionEmulator(_counts(400, 10), name="Ganglion-2", address="AA:BB:CC:DD:EE:0B")
    src, _ = _source(b, a, target="aa:bb:cc:dd:ee:0a")
    with src:
        collect(src, 20)
        assert src.meta["address"] == "AA:BB:CC:DD:EE:0A"
    src, _ = _source(a)
    with src:
        assert src.meta["name"] == "Simblee"


def test_uri_options():
    src = open_source("ganglion:Ganglion-1a2b?firmware=2&reconnect_s=12")
    assert (src.target, src.firmware, src.reconnect_s) == ("Ganglion-1a2b", 2, 12.0)
    with pytest.raises(UsageError, match="firmware"):
        open_source("ganglion:?firmware=5")
    with pytest.raises(UsageError, match="unknown option"):
        open_source("ganglion:?gain=24")


def test_emgpipe_imports_without_bleak():
    code = ("import sys; sys.modules['bleak'] = None\n"
            "import emgpipe, emgpipe.devices.ganglion.source, emgpipe.devices.cyton.source\n"
            "from emgpipe.devices import open_source\n"
            "src = open_source('ganglion:Ganglion')\n"
            "try:\n    src.open()\nexcept Exception as e:\n    print(type(e).__name__, e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("DeviceError ganglion:Ganglion: Bluetooth LE needs the 'bleak'")
