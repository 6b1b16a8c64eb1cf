"""Ganglion decoders on hand-built payloads (the emulator's encoders mirror the firmware)."""
from __future__ import annotations

import numpy as np
import pytest

from emgpipe.devices.ganglion import protocol as gp
from emgpipe.devices.ganglion.emulator import fw2_packets, fw3_packets, pack_fields
from tests.devices.openbci_fakes import exact_fw2_counts, fw3_expected


# OpenBCI's published 19-bit "negative" decompression vector (protocols.md §2.4).
DOCS_19BIT_NEG = bytes([
    0b11111111, 0b11111111, 0b10111111, 0b11111111, 0b11101111, 0b11111111, 0b11111100,
    0b11111111, 0b11111111, 0b01011000, 0b00000000, 0b00001011, 0b00111110, 0b00111000,
    0b11100000, 0b00000000, 0b00111111, 0b11110000, 0b00000001])


def test_docs_19bit_negative_vector():
    assert gp.unpack_fields(DOCS_19BIT_NEG, 19).tolist() == \
        [-3, -5, -7, -11, -262139, -198429, -262137, -4095]


@pytest.mark.parametrize("bits", [18, 19])
def test_unpack_inverts_pack_over_the_full_signed_range(bits):
    rng = np.random.default_rng(bits)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1))
    for _ in range(50):
        f = rng.integers(lo, hi, 8)
        assert gp.unpack_fields(pack_fields(f, bits), bits).tolist() == f.tolist()
    edge = [lo, hi - 1, -1, 0, 1, lo + 1, hi - 2, 2]
    assert gp.unpack_fields(pack_fields(edge, bits), bits).tolist() == edge


def test_firmware_major_rule():
    assert gp.firmware_major(b"3.0.2") == 3
    assert gp.firmware_major(bytearray(b"2.0.1\x00")) == 2
    assert gp.firmware_major("4.1") == 3
    assert gp.firmware_major("garbage") == 3


def test_scale_factor():
    assert gp.UV_PER_COUNT == pytest.approx(0.00186995, rel=1e-5)  # §2.5


@pytest.mark.parametrize("bits", [18, 19])
def test_fw3_decodes_the_sent_msbs(bits):
    rng = np.random.default_rng(10 + bits)
    counts = rng.integers(-(2 ** 23), 2 ** 23, (400, 4))
    packets = fw3_packets(counts, bits)
    assert all(len(p) == 20 for p in packets)
    assert [p[0] for p in packets[:3]] == [x + (100 if bits == 19 else 0) for x in (0, 1, 2)]
    got = np.concatenate([gp.decode_fw3(p) for p in packets])
    assert np.array_equal(got, fw3_expected(counts, bits))
    # resolution: within one step of the kept MSBs (64 or 32 counts) plus the sign bit
    assert np.abs(got - counts).max() < 2 * 2 ** (24 - bits)


def test_fw3_exact_for_values_on_the_msb_grid():
    # values whose dropped bits are 0 and whose lowest kept bit equals the sign
    v = np.array([[0, 64 * 2, -64 * 3, 64 * 1000], [-64 * 1, 64 * 4, -64 * 5, 64 * 6]])
    assert np.array_equal(gp.decode_fw3(fw3_packets(v, 18)[0]), v)


@pytest.mark.parametrize("bits", [18, 19])
def test_fw2_exact_when_deltas_carry_their_sign_in_bit0(bits):
    counts = exact_fw2_counts(603, np.random.default_rng(bits), step=2000 if bits == 18 else 4000)
    packets = fw2_packets(counts, bits)
    assert [p[0] for p in packets[:2]] == [0, 1 + (100 if bits == 19 else 0)]
    assert sum(p[0] == 0 for p in packets) == 3 and packets[0][13:] == b"ABCDEFG"
    dec = gp.Fw2Decoder()
    got = np.concatenate([dec.feed(p) for p in packets])
    assert np.array_equal(got, counts)


def test_fw2_error_on_arbitrary_data_is_bounded_by_the_sign_bit_trick():
    rng = np.random.default_rng(7)
    counts = np.cumsum(rng.integers(-1000, 1000, (402, 4)), axis=0)
    dec = gp.Fw2Decoder()
    got = np.concatenate([dec.feed(p) for p in fw2_packets(counts, 19)])
    err = np.abs(got - counts[:len(got)])
    # each delta may be off by one count; errors reset at every raw packet (201 samples)
    assert err[0].max() == 0 and err[201].max() == 0
    assert err.max() <= 200 and err.max() > 0


def test_fw2_needs_a_raw_packet_after_a_loss():
    counts = exact_fw2_counts(402, np.random.default_rng(3))
    packets = fw2_packets(counts, 19)
    dec = gp.Fw2Decoder()
    assert dec.feed(packets[1]) is None           # not seeded yet
    dec.feed(packets[0])
    dec.feed(packets[1])
    dec.invalidate()                              # a packet was lost
    assert dec.feed(packets[3]) is None
    assert not dec.seeded
    raw = dec.feed(packets[101])                  # next cycle's raw packet
    assert raw.shape == (1, 4) and np.array_equal(raw[0], counts[201])
    assert np.array_equal(dec.feed(packets[102]), counts[202:204])


def test_packet_positions_and_sizes():
    assert gp.packet_position(2, 0) == 0 and gp.packet_position(2, 100) == 100
    assert gp.packet_position(2, 101) == 1 and gp.packet_position(2, 200) == 100
    assert gp.packet_position(3, 0) == 0 and gp.packet_position(3, 199) == 99
    assert sum(gp.counter_sizes(2)) == 201 and sum(gp.counter_sizes(3)) == 200
    assert (gp.packet_bits(2, 0), gp.packet_bits(2, 100), gp.packet_bits(2, 101)) == (24, 18, 19)
    assert (gp.packet_bits(3, 99), gp.packet_bits(3, 100)) == (18, 19)
