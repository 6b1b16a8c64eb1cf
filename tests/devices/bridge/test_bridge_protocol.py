"""The Python codec: CRC, COBS, frames, the streaming decoder, and the committed vectors."""
from __future__ import annotations

import importlib.util
import os
import random

import numpy as np
import pytest

from emgpipe.devices.bridge import protocol as P
from emgpipe.devices.bridge.protocol import FrameDecoder, FrameError, FrameType

from tests.bridge.bridge_helpers import FW, VECTORS


def _make_vectors_module():
    spec = importlib.util.spec_from_file_location("make_vectors", FW / "tools" / "make_vectors.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_crc_is_ccitt_false():
    # Check value of CRC-16/CCITT-FALSE from the reveng catalogue (protocols.md §5);
    # XMODEM (init 0) would give 0x31C3.
    assert P.crc16(b"123456789") == 0x29B1
    assert P.crc16(b"") == 0xFFFF


@pytest.mark.parametrize("raw,enc", [("00", "0101"), ("11220033", "0311220233"),
                                     ("11000000", "0211010101"), ("", "01")])
def test_cobs_published_vectors(raw, enc):
    # protocols.md §5 (npm cobs README examples)
    assert P.cobs_encode(bytes.fromhex(raw)).hex() == enc
    assert P.cobs_decode(bytes.fromhex(enc)).hex() == raw


def test_cobs_matches_the_cobs_package():
    cobs = pytest.importorskip("cobs.cobs")
    rng = random.Random(1)
    for n in list(range(0, 300)) + [508, 509, 510]:
        data = bytes(rng.choice((0, 0, rng.getrandbits(8))) if n % 2 else rng.getrandbits(8) | 1
                     for _ in range(n))
        ours = P.cobs_encode(data)
        assert P.cobs_decode(ours) == data
        assert cobs.decode(ours) == data
        assert P.cobs_decode(cobs.encode(data)) == data
        if n < 254:  # for a 254-byte run the two libraries may differ by a final code byte
            assert ours == cobs.encode(data)


@pytest.mark.parametrize("bad", ["05112233", "0311", "ff41"])
def test_cobs_rejects_codes_past_the_end(bad):
    with pytest.raises(P.CobsError):
        P.cobs_decode(bytes.fromhex(bad))


def test_every_frame_type_round_trips():
    rng = np.random.default_rng(0)
    samples = rng.integers(-32768, 32768, size=(P.max_samples_per_frame(4), 4)).astype(np.int16)
    st = P.StatusFrame(FrameType.STATUS, 65535, fw_major=1, fw_minor=2, board=2, adc_bits=12,
                       vref_mv=3300, raw_gain=200, fs_hz=1000, n_ch=2, samples_per_frame=25,
                       flags=0x1D, reason=4, boot_id=0xFFFFFFFF, next_sample=2**32 - 1,
                       overruns=7, battery_mv=3700, max_fs_hz=2000,
                       channels=((0, P.ChannelKind.RAW), (1, P.ChannelKind.ENV)))
    wire = (P.encode_data(513, 2**32 - 5, 4000, samples) + P.encode_status(st)
            + P.encode_ack(9, FrameType.BUZZ, 300, P.Result.UNSUPPORTED)
            + P.encode_command(FrameType.SET_RATE, 1, fs_hz=2000)
            + P.encode_command(FrameType.BUZZ, 2, duration_ms=1500, strength=128)
            + P.encode_command(FrameType.IDENTIFY, 3))
    d, s, a, r, b, i = FrameDecoder().feed(wire)
    assert (d.seq, d.first_sample, d.fs_hz) == (513, 2**32 - 5, 4000)
    np.testing.assert_array_equal(d.samples, samples)
    for name in ("boot_id", "next_sample", "channels", "battery_mv", "flags", "adc_bits"):
        assert getattr(s, name) == getattr(st, name)
    assert s.uv_per_count == pytest.approx(3.3 / 4095 / 200 * 1e6)
    assert (a.cmd_type, a.cmd_seq, a.result, a.ok) == (FrameType.BUZZ, 300, 4, False)
    assert (r.type, r.fs_hz) == (FrameType.SET_RATE, 2000)
    assert (b.duration_ms, b.strength) == (1500, 128)
    assert i.type == FrameType.IDENTIFY


def test_scaling_follows_the_myoware_gain():
    # µV/count = Vref / (2^bits - 1) / 200 * 1e6 (MW-LIB RAW gain 200, protocols.md §3.1)
    avr = P.StatusFrame(FrameType.STATUS, 0, adc_bits=10, vref_mv=5000, raw_gain=200)
    esp = P.StatusFrame(FrameType.STATUS, 0, adc_bits=12, vref_mv=3300, raw_gain=200)
    assert avr.uv_per_count == pytest.approx(24.4379, rel=1e-5)
    assert esp.uv_per_count == pytest.approx(4.02930, rel=1e-5)


def test_encoder_refuses_what_the_spec_forbids():
    with pytest.raises(ValueError):
        P.encode_data(0, 0, 1000, np.zeros((P.max_samples_per_frame(2) + 1, 2)))
    with pytest.raises(ValueError):
        P.encode_data(0, 0, 1000, np.zeros((1, 17)))
    with pytest.raises(ValueError):
        P.encode_command(FrameType.DATA, 0)
    assert len(P.encode_data(0, 0, 1000, np.zeros((P.max_samples_per_frame(4), 4)))) <= P.MAX_WIRE


def _random_splits(data: bytes, rng: random.Random) -> list:
    cuts = sorted(rng.randint(0, len(data)) for _ in range(rng.randint(0, 12)))
    parts, prev = [], 0
    for c in cuts + [len(data)]:
        parts.append(data[prev:c])  # includes empty parts
        prev = c
    return parts


def test_decoder_is_chunking_invariant(vectors):
    rng = random.Random(7)
    for case in vectors["streams"]:
        data = bytes.fromhex(case["hex"]) if case["hex"] != "-" else b""
        ref = FrameDecoder().feed_events(data)
        for _ in range(5):
            dec = FrameDecoder()
            got = [e for part in _random_splits(data, rng) for e in dec.feed_events(part)]
            assert [repr(e) for e in got] == [repr(e) for e in ref], case["name"]
        dec = FrameDecoder()
        bytewise = [e for i in range(len(data)) for e in dec.feed_events(data[i:i + 1])]
        assert [repr(e) for e in bytewise] == [repr(e) for e in ref], case["name"]


def test_python_decoder_reproduces_the_committed_vectors(vectors):
    mv = _make_vectors_module()
    for case in vectors["streams"]:
        dec = FrameDecoder()
        events = [mv.event_line(e) for e in dec.feed_events(bytes.fromhex(case["hex"]))]
        assert events == case["events"], case["name"]
        assert dec.stats.as_dict() == case["stats"], case["name"]


def test_vectors_are_up_to_date():
    mv = _make_vectors_module()
    assert mv.render() == VECTORS.read_text(), \
        "firmware_bridge/test_vectors.json is stale: run firmware_bridge/tools/make_vectors.py"


def test_corruption_cases_cost_only_the_frames_they_touch(vectors):
    by_name = {c["name"]: c for c in vectors["streams"]}
    expect = {  # (good frames, first error) decided from the spec, not from the decoder
        "junk_isolated": (2, FrameError.COBS),
        "junk_glued": (2, None),
        "crc_mismatch": (1, FrameError.CRC),
        "truncated": (1, None),
        "missing_delimiter": (1, None),
        "oversize": (1, FrameError.OVERSIZE),
        "bad_version": (1, FrameError.VERSION),
        "unknown_type": (1, FrameError.TYPE),
        "bad_length": (1, FrameError.LENGTH),
        "short": (1, FrameError.SHORT),
        "cobs_invalid": (1, FrameError.COBS),
        "bit_flips": (1, None),
    }
    for name, (n_good, first_err) in expect.items():
        dec = FrameDecoder()
        frames = dec.feed(bytes.fromhex(by_name[name]["hex"]))
        assert len(frames) == n_good, name
        assert dec.stats.bad_frames >= 1, name
        if first_err is not None:
            assert dec.errors[0] == first_err, name
    dec = FrameDecoder()
    dec.feed(bytes.fromhex(by_name["bad_version"]["hex"]))
    assert dec.stats.last_bad_version == 2


def test_every_single_bit_flip_is_caught():
    frame = P.encode_data(3, 30, 1000, np.arange(20, dtype=np.int16).reshape(10, 2))
    for pos in range(1, len(frame) - 1):
        for bit in range(8):
            b = bytearray(frame)
            b[pos] ^= 1 << bit
            dec = FrameDecoder()
            frames = dec.feed(bytes(b) + frame)
            # the flipped copy never decodes as data; the intact copy always does
            assert len(frames) == 1 and frames[0].first_sample == 30, (pos, bit)


def test_decoder_survives_random_noise():
    rng = random.Random(3)
    good = P.encode_data(1, 10, 1000, np.ones((5, 2), np.int16))
    dec = FrameDecoder()
    n_good = 0
    for _ in range(200):
        noise = os.urandom(rng.randint(0, 400))
        n_good += len([f for f in dec.feed(noise + good) if f.type == FrameType.DATA
                       and f.first_sample == 10])
    assert n_good == 200  # the frame's leading 0x00 isolates whatever noise came before
