#!/usr/bin/env python3
"""Generate firmware_bridge/test_vectors.json from the Python codec.

The vectors are committed; the test suite checks that (1) regenerating gives
the same file, (2) the C core (emgframe.c, built with gcc) builds the same
bytes and decodes every stream to the same events as the Python decoder.

Usage::

    python firmware_bridge/tools/make_vectors.py          # rewrite the file
    python firmware_bridge/tools/make_vectors.py --check  # exit 1 if stale

Event lines use the text format of firmware_bridge/tests/harness.c.
"""
from __future__ import annotations

import argparse
import json
import random
import struct
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emgpipe.devices.bridge import protocol as P  # noqa: E402

OUT = ROOT / "firmware_bridge" / "test_vectors.json"

STATUS_FIELDS = ("fw_major", "fw_minor", "board", "adc_bits", "vref_mv", "raw_gain", "fs_hz",
                 "n_ch", "samples_per_frame", "flags", "reason", "boot_id", "next_sample",
                 "overruns", "battery_mv", "max_fs_hz")


def status_args(st: P.StatusFrame) -> str:
    vals = [getattr(st, k) for k in STATUS_FIELDS]
    vals += [P.channel_byte(s, k) for s, k in st.channels]
    return " ".join(str(int(v)) for v in vals)


def event_line(ev) -> str:
    """One decoder event in the harness's text format."""
    if isinstance(ev, P.FrameError):
        return f"error {int(ev)}"
    if isinstance(ev, P.DataFrame):
        vals = " ".join(str(int(v)) for v in ev.samples.ravel())
        return f"data {ev.seq} {ev.first_sample} {ev.fs_hz} {ev.n_ch} {ev.n_samples} {vals}"
    if isinstance(ev, P.StatusFrame):
        return f"status {ev.seq} {status_args(ev)}"
    if isinstance(ev, P.AckFrame):
        return f"ack {ev.seq} {ev.cmd_type} {ev.cmd_seq} {ev.result}"
    if isinstance(ev, P.ButtonFrame):
        return f"button {ev.seq} {ev.press} {ev.button} {ev.held_ms} {ev.sample}"
    return f"cmd {int(ev.type)} {ev.seq} {ev.fs_hz} {ev.duration_ms} {ev.strength}"


def raw_frame(body_wo_crc: bytes, crc_delta: int = 0, lead: bool = True) -> bytes:
    """A frame from an arbitrary body (to make invalid ones the encoder refuses)."""
    crc = (P.crc16(body_wo_crc) + crc_delta) & 0xFFFF
    enc = P.cobs_encode(body_wo_crc + struct.pack("<H", crc))
    return (b"\x00" if lead else b"") + enc + b"\x00"


def _status(seq=0, board=P.Board.AVR, bits=10, vref=5000, fs=1000, chans=((0, 0), (0, 1)),
            **kw) -> P.StatusFrame:
    return P.StatusFrame(P.FrameType.STATUS, seq, fw_major=1, fw_minor=0, board=int(board),
                         adc_bits=bits, vref_mv=vref, raw_gain=200, fs_hz=fs, n_ch=len(chans),
                         samples_per_frame=10, flags=0x15, reason=1, boot_id=0xDEADBEEF,
                         next_sample=123456, overruns=3, battery_mv=0, max_fs_hz=2564,
                         channels=tuple(chans), **kw)


def build_vectors() -> dict:
    rng = random.Random(20240501)
    nrng = np.random.default_rng(20240501)
    T = P.FrameType

    def samples(n, c, lo=-512, hi=511):
        return nrng.integers(lo, hi + 1, size=(n, c)).astype(np.int16)

    # ---------------------------------------------------------------- CRC
    crc_inputs = [b"123456789", b"", b"\x00", b"\xff" * 4] + \
        [bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64))) for _ in range(6)]
    crc = [{"hex": d.hex() or "-", "crc": P.crc16(d)} for d in crc_inputs]

    # ---------------------------------------------------------------- COBS
    raws = [b"", b"\x00", b"\x00\x00", b"\x11\x22\x00\x33", b"\x11\x00\x00\x00",
            b"\x11\x22\x33\x44", bytes(range(1, 254)), bytes(range(1, 255)),
            bytes(range(1, 256)), bytes(range(256)) + bytes(range(256))[::-1]]
    raws += [bytes(rng.choice((0, rng.getrandbits(8))) for _ in range(rng.randint(1, 300)))
             for _ in range(6)]
    cobs = [{"raw": r.hex() or "-", "encoded": P.cobs_encode(r).hex()} for r in raws]
    cobs_invalid = ["05112233", "0311", "ff" + "41" * 10]

    # ---------------------------------------------------------------- builders
    builds = []

    def add_data(name, seq, first, fs, arr):
        vals = " ".join(str(int(v)) for v in arr.ravel())
        cmd = f"data {seq} {first} {fs} {arr.shape[1]} {arr.shape[0]} {vals}"
        builds.append({"name": name, "cmd": cmd,
                       "wire": P.encode_data(seq, first, fs, arr).hex()})

    add_data("data_1ch_1", 0, 0, 1000, samples(1, 1))
    add_data("data_2ch_10", 513, 70000, 1000, samples(10, 2))
    add_data("data_4ch_max", 65535, 0xFFFFFFFF, 1000, samples(P.max_samples_per_frame(4), 4))
    add_data("data_extremes", 7, 1, 4000,
             np.array([[-32768, 32767], [0, -1], [255, -256], [1, 0]], np.int16))
    add_data("data_esp32_2ch_25", 42, 4_000_000_000, 1000, samples(25, 2, 0, 4095))
    for name, st in (("status_avr", _status(seq=3)),
                     ("status_esp32", _status(seq=9, board=P.Board.ESP32, bits=12, vref=3300,
                                              chans=((0, 0), (0, 1)))),
                     ("status_avr_2sensors", _status(seq=65535, chans=((0, 0), (0, 1), (1, 0),
                                                                       (1, 1))))):
        builds.append({"name": name, "cmd": f"status {st.seq} {status_args(st)}",
                       "wire": P.encode_status(st).hex()})
    builds.append({"name": "ack", "cmd": "ack 17 133 4660 0",
                   "wire": P.encode_ack(17, 0x85, 4660, 0).hex()})
    for name, press, held, sample in (("button_short", P.Press.SHORT, 180, 123456),
                                      ("button_long", P.Press.LONG, 1000, 2**32 - 1)):
        builds.append({"name": name, "cmd": f"button 77 {int(press)} 0 {held} {sample}",
                       "wire": P.encode_button(77, press, held, sample).hex()})
    for name, ft, a16, a8, kw in (("identify", T.IDENTIFY, 0, 0, {}),
                                  ("start", T.START, 0, 0, {}),
                                  ("stop", T.STOP, 0, 0, {}),
                                  ("set_rate", T.SET_RATE, 2000, 0, {"fs_hz": 2000}),
                                  ("buzz", T.BUZZ, 300, 200,
                                   {"duration_ms": 300, "strength": 200})):
        builds.append({"name": f"cmd_{name}", "cmd": f"cmd {int(ft)} 258 {a16} {a8}",
                       "wire": P.encode_command(ft, 258, **kw).hex()})

    # ---------------------------------------------------------------- streams
    def data(seq, first, n=10, c=2, fs=1000):
        return P.encode_data(seq, first, fs, samples(n, c))

    def flip(frame: bytes, pos: int, bit: int) -> bytes:
        b = bytearray(frame)
        b[pos] ^= 1 << bit
        return bytes(b)

    streams = []

    def add_stream(name, description, stream: bytes):
        dec = P.FrameDecoder()
        events = [event_line(e) for e in dec.feed_events(stream)]
        streams.append({"name": name, "description": description, "hex": stream.hex() or "-",
                        "events": events, "stats": dec.stats.as_dict()})

    st = _status()
    add_stream("clean", "status, three data frames, an ack and every command back to back",
               P.encode_status(st) + data(1, 0) + data(2, 10) + data(3, 20)
               + P.encode_ack(4, 0x85, 9, 0)
               + b"".join(P.encode_command(t, 9 + i, fs_hz=500, duration_ms=100)
                          for i, t in enumerate((T.IDENTIFY, T.START, T.STOP, T.SET_RATE, T.BUZZ))))
    add_stream("empty_frames", "runs of delimiters are ignored",
               b"\x00\x00\x00" + data(0, 0) + b"\x00\x00" + data(1, 10))
    add_stream("junk_isolated", "junk between two frames, isolated by their delimiters",
               data(0, 0) + b"\x13\x37hello\r\nets Jun  8 2016 rst:0x1" + data(1, 10))
    f1 = data(1, 10)
    add_stream("junk_glued", "junk right before a frame that lost its leading delimiter: "
               "that frame is lost, the next one resyncs",
               data(0, 0) + b"garbage" + f1[1:] + data(2, 20))
    base = data(5, 50)
    flips = b"".join(flip(base, pos, bit) for pos, bit in ((3, 0), (12, 7), (30, 3),
                                                           (len(base) - 3, 5)))
    add_stream("bit_flips", "single bit flips in four copies of a frame, then the intact frame",
               flips + base)
    body = struct.pack("<BBHIHBB", 1, T.DATA, 6, 60, 1000, 1, 2) + struct.pack("<2h", 100, -100)
    add_stream("crc_mismatch", "valid COBS, CRC off by one, then a good frame",
               raw_frame(body, crc_delta=1) + data(7, 70))
    full = data(8, 80)
    add_stream("truncated", "a frame cut short (tail and delimiter lost), then a good frame",
               full[:-6] + data(9, 90))
    a, b = data(10, 100), data(11, 110)
    add_stream("missing_delimiter", "two frames with the delimiters between them lost merge into "
               "one bad frame; the next one is fine", a[:-1] + b[1:] + data(12, 120))
    add_stream("oversize", "300 bytes without a delimiter are dropped as one oversize frame",
               b"\x00" + b"\x41" * 300 + data(13, 130))
    pad = bytes(i % 7 for i in range(245))  # IDENTIFY payloads may be extended
    body250 = struct.pack("<BBH", 1, T.IDENTIFY, 14) + pad[:244]   # + CRC = 250 bytes
    body251 = struct.pack("<BBH", 1, T.IDENTIFY, 15) + pad          # + CRC = 251 bytes
    add_stream("max_body", "a 250-byte body decodes; a 251-byte one is oversize; the largest "
               "DATA frame (4 ch x 29 samples) decodes",
               raw_frame(body250) + raw_frame(body251)
               + data(16, 150, n=P.max_samples_per_frame(4), c=4))
    add_stream("seq_wrap", "frame seq 65534 -> 1 and first_sample across 2^32",
               data(65534, 2**32 - 20) + data(65535, 2**32 - 10) + data(0, 0) + data(1, 10))
    add_stream("dropped_frames", "frames 2 and 5 never arrived (seq and sample index jump)",
               data(0, 0) + data(1, 10) + data(3, 30) + data(4, 40) + data(6, 60))
    add_stream("bad_version", "a well-formed frame of protocol version 2, then a good one",
               raw_frame(struct.pack("<BBH", 2, T.IDENTIFY, 1)) + data(17, 160))
    add_stream("unknown_type", "type 0x42 is not defined",
               raw_frame(struct.pack("<BBH", 1, 0x42, 1) + b"xyz") + data(18, 170))
    bad_len = struct.pack("<BBHIHBB", 1, T.DATA, 18, 180, 1000, 2, 3) + samples(2, 2).tobytes()
    add_stream("bad_length", "DATA claiming 3 samples with 2, a short STATUS, a short BUZZ",
               raw_frame(bad_len) + raw_frame(struct.pack("<BBH", 1, T.STATUS, 19) + b"\x01" * 10)
               + raw_frame(struct.pack("<BBHB", 1, T.BUZZ, 20, 5)) + data(21, 210))
    add_stream("short", "bodies shorter than header + CRC",
               b"\x00\x02\x01\x00" + b"\x00\x04\x01\x81\x05\x00" + data(22, 220))
    add_stream("cobs_invalid", "a COBS code pointing past the end of the frame",
               b"\x00\x05\x11\x22\x00" + data(23, 230))
    add_stream("status_extended", "a STATUS with 6 extra trailing bytes (fields a later minor "
               "revision may append) is accepted",
               raw_frame(P.cobs_decode(P.encode_status(_status(seq=24))[1:-1])[:-2]
                         + b"\xaa" * 6) + data(25, 250))
    add_stream("no_leading_delimiter", "frames sent as COBS + 0x00 only (no leading 0x00) decode",
               data(26, 260)[1:] + data(27, 270)[1:])
    add_stream("button", "a short press between two data frames, a long press, a BUTTON frame one "
               "byte short (bad length)",
               data(30, 300) + P.encode_button(31, P.Press.SHORT, 240, 305) + data(32, 310)
               + P.encode_button(33, P.Press.LONG, 1000, 1320)
               + raw_frame(struct.pack("<BBHBBH", 1, T.BUTTON, 34, 1, 0, 100) + b"\x01\x02\x03")
               + data(35, 320))
    esp = P.encode_status(_status(seq=28, board=P.Board.ESP32, bits=12, vref=3300))
    add_stream("esp32_session", "an ESP32 status then 12-bit ENV values up to 4095",
               esp + P.encode_data(29, 0, 1000, samples(25, 2, 0, 4095)))

    return {
        "protocol_version": P.PROTOCOL_VERSION,
        "generated_by": "firmware_bridge/tools/make_vectors.py",
        "crc_variant": "CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, refin false, refout false, "
                       "xorout 0x0000, check 0x29B1",
        "error_codes": {e.name: int(e) for e in P.FrameError},
        "crc": crc,
        "cobs": cobs,
        "cobs_invalid": cobs_invalid,
        "builds": builds,
        "streams": streams,
    }


def render() -> str:
    return json.dumps(build_vectors(), indent=1) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the committed file is stale")
    args = ap.parse_args(argv)
    text = render()
    if args.check:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} is stale: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
