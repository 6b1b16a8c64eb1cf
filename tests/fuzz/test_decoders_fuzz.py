"""Property tests: every packet/frame decoder takes any bytes without an unexpected
exception, and valid input round-trips (Cyton packets, Ganglion fw2/fw3, bridge frames)."""
from __future__ import annotations

import random

import numpy as np
from hypothesis import given, strategies as st

from benchmarks.fuzz import run_bridge_frame, run_bridge_stream, run_cyton, run_ganglion
from emgpipe.devices.bridge import protocol as bp
from emgpipe.devices.bridge.stream import ChunkAssembler as BridgeAssembler
from emgpipe.errors import ProtocolError
from emgpipe.devices.cyton import protocol as cp
from emgpipe.devices.ganglion import protocol as gp

seeds = st.integers(0, 2 ** 32 - 1)


@given(st.binary(max_size=2000), seeds)
def test_cyton_any_bytes(data, seed):
    run_cyton(data, random.Random(seed))


@given(st.lists(st.lists(st.integers(-2 ** 23, 2 ** 23 - 1), min_size=8, max_size=8), max_size=20),
       st.integers(0, 255), st.binary(max_size=40), seeds)
def test_cyton_roundtrip_after_junk(counts, start, junk, seed):
    counts = np.array(counts, dtype=np.int64).reshape(-1, 8)
    nums = [(start + i) % 256 for i in range(len(counts))]
    pkts = cp.encode_packets(nums, counts) if len(counts) else b""
    parser = cp.PacketParser()
    parser.feed(junk.replace(bytes([cp.HEADER]), b"\x00"))  # junk without a packet start
    rng = random.Random(seed)
    got, pos = [], 0
    while pos < len(pkts):
        k = rng.randint(1, 70)
        got.append(parser.feed(pkts[pos:pos + k]))
        pos += k
    out = np.concatenate(got) if got else np.zeros((0, 33), np.uint8)
    n, c, _ = cp.decode_packets(out)
    assert n.tolist() == nums and np.array_equal(c, counts)


@given(st.lists(st.binary(min_size=0, max_size=24), max_size=40), seeds, st.sampled_from((2, 3)))
def test_ganglion_any_packets(packets, seed, fw):
    run_ganglion(packets, random.Random(seed), fw)


@given(st.binary(min_size=20, max_size=20))
def test_ganglion_fw3_any_data_packet(pkt):
    pkt = bytes([pkt[0] % 199 + 1]) + pkt[1:]
    out = gp.decode_fw3(pkt)
    assert out.shape == (2, 4) and np.all(np.abs(out) < 2 ** 23)


@given(st.lists(st.lists(st.integers(-2 ** 18, 2 ** 18 - 1), min_size=8, max_size=8), min_size=1,
                max_size=5))
def test_ganglion_fw2_delta_roundtrip(deltas):
    dec = gp.Fw2Decoder()
    raw = bytes([0]) + (1000).to_bytes(3, "big", signed=True) * 4 + bytes(7)
    last = dec.feed(raw)[0].copy()
    for k, d in enumerate(deltas):
        v = 0
        for x in d:
            v = (v << 19) | (x & (2 ** 19 - 1))
        pkt = bytes([101 + k]) + v.to_bytes(19, "big")
        a, b = dec.feed(pkt)
        assert np.array_equal(a, last - np.array(d[:4])) and np.array_equal(b, a - np.array(d[4:]))
        last = b


@given(st.binary(max_size=1500), seeds)
def test_bridge_decoder_any_bytes(data, seed):
    run_bridge_frame(data, random.Random(seed))
    run_bridge_stream(data, random.Random(seed))


@given(st.integers(0, 255), st.integers(0, 65535), st.binary(max_size=bp.MAX_BODY - bp.MIN_BODY), seeds)
def test_bridge_any_body_behind_a_good_crc(ftype, seq, payload, seed):
    """A frame with a valid CRC and any type/payload decodes or is counted as bad, never raises."""
    run_bridge_stream(bp.encode_frame(ftype, seq, payload) * 2, random.Random(seed))


@given(st.integers(1, 4), st.lists(st.integers(-32768, 32767), min_size=1, max_size=60),
       st.integers(0, 2 ** 32 - 1), st.integers(0, 65535))
def test_bridge_data_roundtrip(n_ch, vals, first, seq):
    n_s = max(1, len(vals) // n_ch)
    x = np.resize(np.array(vals), (n_s, n_ch))
    frames = bp.FrameDecoder().feed(bp.encode_data(seq, first, 1000, x))
    assert len(frames) == 1
    f = frames[0]
    assert (f.seq, f.first_sample, f.fs_hz) == (seq, first, 1000) and np.array_equal(f.samples, x)


@given(st.integers(0, 255), st.integers(0, 65535), st.integers(0, 65535), st.integers(0, 65535),
       st.integers(0, 16))
def test_bridge_status_any_values(adc_bits, vref, gain, fs, n_ch):
    st_ = bp.StatusFrame(bp.FrameType.STATUS, 0, adc_bits=adc_bits, vref_mv=vref, raw_gain=gain,
                         fs_hz=fs, n_ch=n_ch, channels=tuple((k, bp.ChannelKind.RAW) for k in range(n_ch)))
    try:
        asm = BridgeAssembler(st_)
    except ProtocolError as err:
        assert "\n" not in str(err)
        return
    assert np.all(np.isfinite(asm.scale)) and asm.fs > 0
