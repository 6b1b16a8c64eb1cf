"""Packet-counter unwrapping, gap-aware chunk assembly and link records."""
from __future__ import annotations

import numpy as np
import pytest

from emgpipe.devices.live import ChunkAssembler, LinkLog, PacketCounter, cycle_offsets
from emgpipe.types import Gap


def test_cyton_counter_wraps_and_counts_losses():
    c = PacketCounter(range(257))
    assert c.unwrap([250, 251, 252]).tolist() == [250, 251, 252]
    assert c.unwrap([255, 0, 1, 5]).tolist() == [255, 256, 257, 261]
    assert c.unwrap([5]).tolist() == [517]  # same number again = a whole cycle later
    assert c.expected_next == 518


def test_counter_with_uneven_packet_sizes():
    # Ganglion fw2: raw packet (1 sample) then 100 packets of 2 samples.
    c = PacketCounter(cycle_offsets([1] + [2] * 100))
    assert c.per_cycle == 201
    assert c.unwrap([0, 1, 2, 100, 0, 3]).tolist() == [0, 1, 3, 199, 201, 206]


def test_wrap_guard_restores_whole_lost_cycles_from_the_clock():
    c = PacketCounter(range(257), rate_hz=250.0)
    c.unwrap(np.arange(100), t=0.4)
    # 2.0 s later (500 samples due) the counter has moved only 500 - 256 = 244
    nxt = (100 + 500 - 1 - 256) % 256
    idx = c.unwrap(np.arange(nxt, nxt + 1), t=2.4)
    assert idx.tolist() == [100 + 500 - 1]
    # a normal short gap is not touched
    idx = c.unwrap([(nxt + 4) % 256], t=2.42)
    assert idx.tolist() == [100 + 500 - 1 + 4]


def test_wrap_guard_counts_only_time_spent_listening():
    c = PacketCounter(range(257), rate_hz=250.0)
    c.unwrap(np.arange(100), t=0.4)
    # The reader was not running for 2 s (overloaded host); its next read returns the
    # first 124 buffered packets. Nobody heard a silence, so no cycle was lost.
    idx = c.unwrap(np.arange(100, 224), t=2.4, quiet_s=0.0)
    assert idx.tolist() == list(range(100, 224))
    # 2 s of listening to nothing, then the counter moved 500 - 256: one cycle was lost.
    nxt = (224 + 500 - 256) % 256
    assert c.unwrap([nxt], t=4.4, quiet_s=2.0).tolist() == [224 + 500]


def test_wrap_guard_ignores_a_device_faster_than_real_time():
    c = PacketCounter(range(257), rate_hz=250.0)
    c.unwrap(np.arange(256), t=0.0)
    idx = c.unwrap(np.arange(256), t=0.01)  # 256 packets in 10 ms: an emulator at speed
    assert idx[0] == 256


def test_assembler_gaps_and_segments():
    a = ChunkAssembler(250.0, ("a", "b"), "src")
    a.push([100, 101, 102], np.ones((3, 2)), t=1.0)
    a.push([105, 106], 2 * np.ones((2, 2)), t=1.1)
    chunks = a.pop()
    assert [(c.seq, c.n_samples) for c in chunks] == [(0, 3), (5, 2)]
    assert chunks[0].gaps == () and chunks[1].gaps == (Gap(3, 2, 250.0, "dropped packets"),)
    assert chunks[1].t0 == pytest.approx(1.1 - 1 / 250.0)
    assert a.pop() == []


def test_assembler_epoch_gap_waits_for_data_and_rebases():
    a = ChunkAssembler(200.0, ("x",), "src")
    a.push([7, 8], np.zeros((2, 1)), t=0.0)
    a.pop()
    a.new_epoch(40, "reconnect after 0.2 s")
    assert a.pop() == []                        # a gap alone is not a chunk
    a.push([0, 1, 3], np.zeros((3, 1)), t=1.0)  # the device counter restarted
    c1, c2 = a.pop()
    assert (c1.seq, c1.gaps) == (42, (Gap(2, 40, 200.0, "reconnect after 0.2 s"),))
    assert (c2.seq, c2.gaps) == (45, (Gap(44, 1, 200.0, "dropped packets"),))
    assert a.n_lost == 41


def test_assembler_merges_adjacent_gaps_of_one_reason_and_drops_repeats():
    a = ChunkAssembler(100.0, ("x",), "src")
    a.push([0], np.zeros((1, 1)), t=0.0)
    a.new_epoch(5, "r")
    a.new_epoch(5, "r")
    a.push([9, 9, 10], np.zeros((3, 1)), t=0.1)  # a repeated index is ignored
    (c0, c1) = a.pop()
    assert c1.gaps == (Gap(1, 10, 100.0, "r"),) and c1.seq == 11 and c1.n_samples == 2


def test_link_log_records_and_tells_listeners():
    records, seen = [], []

    def broken(_ev):
        raise RuntimeError("listener bug")

    log = LinkLog("cyton:X", records, [seen.append, broken])
    log.lost(10.0, "read failed", 500)
    log.restored(12.5, 625, 2.5, 500)
    assert [e["event"] for e in seen] == ["disconnect", "reconnect"]
    assert seen[1]["n_missing"] == 625 and seen[1]["elapsed_s"] == 2.5
    assert records == [{"lost_at": seen[0]["time"], "reason": "read failed", "seq": 500,
                        "reconnected_at": seen[1]["time"], "n_missing": 625}]
