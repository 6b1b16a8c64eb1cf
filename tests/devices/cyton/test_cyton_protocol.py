"""Cyton packet format, scaling, channel commands and the resyncing parser."""
from __future__ import annotations

import numpy as np
import pytest

from emgpipe.devices.cyton import protocol as cp


def test_uv_per_count_matches_the_documented_table():
    # protocols.md §1.6 [DERIVED] table of µV/count per gain.
    table = {24: 0.0223517, 12: 0.0447035, 8: 0.0670552, 6: 0.0894070, 4: 0.134110,
             2: 0.268221, 1: 0.536442}
    for gain, uv in table.items():
        assert cp.uv_per_count(gain) == pytest.approx(uv, rel=5e-6)  # table has 6 digits
    assert np.allclose(cp.uv_per_count(np.array([24, 1])), [table[24], table[1]], rtol=2e-6)


@pytest.mark.parametrize("value", [0, 1, -1, 2 ** 23 - 1, -(2 ** 23), 12345, -654321])
def test_int24_round_trip_and_sign(value):
    b = cp.int_to_int24(value)
    assert cp.int24_to_int(b[None])[0] == value
    if value == -1:
        assert b.tolist() == [0xFF, 0xFF, 0xFF]


def test_int24_matches_the_documented_formula():
    rng = np.random.default_rng(1)
    raw = rng.integers(0, 256, (500, 3))
    v = (raw[:, 0] << 16) | (raw[:, 1] << 8) | raw[:, 2]
    expected = np.where(v & 0x800000, v - (1 << 24), v)
    assert np.array_equal(cp.int24_to_int(raw.astype(np.uint8)), expected)


def test_channel_commands_for_emg_and_daisy():
    assert cp.channel_command(1) == b"x1060100X"            # gain 24, SRB2 off (bipolar)
    assert cp.channel_command(8, 12) == b"x8050100X"
    assert cp.channel_command(9, 1, srb2=True) == b"xQ000110X"
    assert cp.channel_command(16, 24, power_on=False, bias=False) == b"xI160000X"
    with pytest.raises(ValueError):
        cp.channel_command(17)
    with pytest.raises(ValueError):
        cp.channel_command(1, gain=3)


def test_parse_channel_command_inverts_and_reports_firmware_failures():
    st = cp.parse_channel_command(cp.channel_command(11, 6, srb2=True))
    assert st == {"channel": 11, "power_on": True, "gain": 6, "input_type": 0, "bias": True,
                  "srb2": True, "srb1": False}
    with pytest.raises(ValueError, match="9th char not X"):
        cp.parse_channel_command(b"x1060100Y")
    with pytest.raises(ValueError, match="too few"):
        cp.parse_channel_command(b"x106")


def test_banner_facts():
    off = cp.parse_banner(cp.BOARD_OFF_REPLY.decode())
    assert off["board_off"] and not off["daisy"]
    on = cp.parse_banner("OpenBCI V3 8-16 channel\nOn Board ADS1299 Device ID: 0x3E\n"
                         "On Daisy ADS1299 Device ID: 0x3E\nLIS3DH Device ID: 0x33\n"
                         "Firmware: v3.1.2\n$$$")
    assert on["daisy"] and on["firmware"] == "v3.1.2" and not on["board_off"]


def _stream(n, seed=0):
    rng = np.random.default_rng(seed)
    counts = rng.integers(-(2 ** 23), 2 ** 23, (n, 8))
    return counts, cp.encode_packets(np.arange(n), counts)


def test_encode_decode_round_trip():
    counts, data = _stream(300)
    assert len(data) == 300 * cp.PACKET_LEN
    pk = np.frombuffer(data, np.uint8).reshape(-1, 33)
    assert (pk[:, 0] == 0xA0).all() and (pk[:, 32] == 0xC0).all()
    nums, got, stop = cp.decode_packets(pk)
    assert nums.tolist() == [i % 256 for i in range(300)]
    assert np.array_equal(got, counts)


def test_parser_is_split_invariant():
    counts, data = _stream(200, seed=2)
    rng = np.random.default_rng(3)
    for _ in range(5):
        p = cp.PacketParser()
        cuts = np.sort(rng.integers(0, len(data), 40))
        parts = [data[a:b] for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(data)])]
        got = np.concatenate([p.feed(x) for x in parts])
        assert np.array_equal(cp.decode_packets(got)[1], counts)
        assert p.n_junk == 0


def test_parser_resyncs_after_junk_including_false_headers():
    counts, data = _stream(50, seed=4)
    pk = [data[i * 33:(i + 1) * 33] for i in range(50)]
    junk = [b"\x00\x13", b"\xa0\xa0\x01", bytes([0xA0]) + bytes(40) + b"\xc0", b"\xc0\xc6"]
    stream = b"".join(pk[i] + (junk[i % 4] if i % 7 == 3 else b"") for i in range(50))
    stream = b"\xa0garbage" + stream + b"\xa0\x05"  # junk before, dangling header after
    p = cp.PacketParser()
    got = p.feed(stream)
    assert np.array_equal(cp.decode_packets(got)[1], counts)
    assert p.n_junk >= 8


def test_parser_rejects_bad_stop_byte_and_rescans():
    counts, data = _stream(3, seed=5)
    bad = bytearray(data[:33])
    bad[32] = 0xB0                     # not a stop byte: drop one byte, rescan
    p = cp.PacketParser()
    got = p.feed(bytes(bad) + data[33:])
    assert np.array_equal(cp.decode_packets(got)[1], counts[1:])
    assert p.n_junk == 33


def test_parser_accepts_every_stop_byte_c0_to_c6():
    counts = np.zeros((7, 8), int)
    data = b"".join(cp.encode_packets([i], counts[i:i + 1], stop=0xC0 + i) for i in range(7))
    got = cp.PacketParser().feed(data)
    assert cp.decode_packets(got)[2].tolist() == list(range(0xC0, 0xC7))
