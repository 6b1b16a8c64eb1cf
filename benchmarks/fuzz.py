"""Fuzz every packet/frame decoder and every recording reader with generated or mutated input.

    python benchmarks/fuzz.py                 # 10^6 inputs in all (takes hours: readers are ms each)
    python benchmarks/fuzz.py -n 20000        # a quick run
    python benchmarks/fuzz.py -n 5000 --only readers --seed 3 --save-crashers /tmp/crash

Targets (each gets an equal share of ``-n`` unless ``--weights`` says otherwise):

- ``cyton``: byte streams (valid packets, mutated: flipped bytes, junk, truncation, random splits)
  through :class:`~emgpipe.devices.cyton.protocol.PacketParser`, ``decode_packets``, the packet
  counter and the chunk assembler, as the Cyton source does;
- ``ganglion_fw2`` / ``ganglion_fw3``: 20-byte BLE notifications (valid, mutated, random ids)
  routed and decoded as the Ganglion source does (``Fw2Decoder`` / ``decode_fw3``, counter, assembler);
- ``bridge_frame``: byte streams of bridge frames (valid, mutated, arbitrary bodies behind a good
  CRC) through :class:`~emgpipe.devices.bridge.protocol.FrameDecoder`;
- ``bridge_stream``: decoded STATUS/DATA frames (any field values) through the bridge
  :class:`~emgpipe.devices.bridge.stream.ChunkAssembler`;
- ``csv``, ``openbci``, ``brainflow``, ``edf``, ``wfdb``, ``opensignals``: small seed files
  (synthetic, plus the first 16 KB of matching files in ``datasets/sample/`` and ``../shared/data/``)
  mutated (truncation, flipped bytes, junk lines, absurd values 1e30 / 1e300 / 11-digit
  numbers / inf / NaN, duplicated or deleted lines), read with ``read_recording`` and every chunk
  iterated.

An input *passes* when it returns or raises an :class:`~emgpipe.errors.EmgpipeError` whose
message is one line (readers: starting with the file name). Anything else is *unexpected*; an
input running longer than ``--timeout`` seconds (SIGALRM) is a *hang*. Output: inputs per second
per target, exceptions by type, unexpected ones with a reproducer (``--save-crashers DIR``).
Exit status 1 when there was an unexpected exception or a hang.

One process only (the per-input timeout is a POSIX interval timer).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import struct
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emgpipe.errors import EmgpipeError  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
ABSURD = (b"1e30", b"-1e30", b"1e300", b"-1e300", b"12345678901", b"-98765432109", b"inf", b"-inf",
          b"nan", b"NaN", b"1e308", b"99999999999999999999", b"0x1F", b"", b"-", b"1e-320", b"1e6")


class Hang(Exception):
    pass


# --------------------------------------------------------------------------- mutations
def mutate_bytes(rng: random.Random, data: bytes, n_ops: int | None = None) -> bytes:
    """A random mix of byte-level mutations (flips, inserts, deletes, truncation, splices)."""
    b = bytearray(data)
    for _ in range(n_ops if n_ops is not None else rng.randint(1, 4)):
        op = rng.randrange(7)
        if op == 0 and b:                                    # flip bits
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and b:                                  # random byte
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif op == 2:                                        # insert junk
            i = rng.randrange(len(b) + 1)
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif op == 3 and b:                                  # delete a run
            i = rng.randrange(len(b))
            del b[i:i + rng.randint(1, 32)]
        elif op == 4 and b:                                  # truncate
            del b[rng.randrange(len(b) + 1):]
        elif op == 5 and len(b) > 2:                         # duplicate a run
            i = rng.randrange(len(b))
            j = min(len(b), i + rng.randint(1, 64))
            b[j:j] = b[i:j]
        elif op == 6 and b:                                  # special bytes
            i = rng.randrange(len(b))
            b[i:i + 1] = bytes([rng.choice((0x00, 0xFF, 0xA0, 0xC0, 0x7F, 0x80, 0x0A, 0x2C))])
    return bytes(b)


def mutate_text(rng: random.Random, data: bytes) -> bytes:
    """Line-level mutations of a text recording: absurd values, junk lines, line edits."""
    lines = data.split(b"\n")
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(8)
        i = rng.randrange(len(lines))
        if op <= 2:                                          # absurd value in a cell
            for sep in (b",", b"\t", b" "):
                if sep in lines[i]:
                    cells = lines[i].split(sep)
                    k = rng.randrange(len(cells))
                    cells[k] = rng.choice(ABSURD)
                    lines[i] = sep.join(cells)
                    break
        elif op == 3:                                        # a run of absurd rows in one column
            sep = b"\t" if b"\t" in lines[i] else b","
            k = rng.randrange(max(1, lines[i].count(sep) + 1))
            val = rng.choice(ABSURD)
            for j in range(i, min(len(lines), i + rng.randint(2, 50))):
                cells = lines[j].split(sep)
                if k < len(cells):
                    cells[k] = val
                    lines[j] = sep.join(cells)
        elif op == 4:                                        # junk line
            lines.insert(i, rng.choice((b"junk", b"%comment", b"#", b",,,,", b"1,2", b"\xff\xfe",
                                        b"a" * rng.randint(1, 300), b"   ")))
        elif op == 5:
            del lines[i:i + rng.randint(1, 5)]
        elif op == 6:
            lines.insert(i, lines[rng.randrange(len(lines))])
        else:                                                # scale every number on a line
            lines[i] = lines[i].replace(b".", b"e6.", 1) if rng.random() < 0.5 else lines[i] + b"000000"
    out = b"\n".join(lines)
    if rng.random() < 0.3:
        out = mutate_bytes(rng, out, 1)
    return out


def mutate(rng: random.Random, data: bytes, text: bool) -> bytes:
    r = rng.random()
    if text and r < 0.6:
        return mutate_text(rng, data)
    if r < 0.95:
        return mutate_bytes(rng, data)
    return bytes(rng.randrange(256) for _ in range(rng.randint(0, 512)))


# --------------------------------------------------------------------------- decoder targets
def cyton_stream(rng: random.Random) -> bytes:
    from emgpipe.devices.cyton import protocol as cp
    n = rng.randint(0, 40)
    start = rng.randrange(256)
    counts = np.array([[rng.randint(-2 ** 23, 2 ** 23 - 1) for _ in range(8)] for _ in range(n)],
                      dtype=np.int64).reshape(n, 8)
    data = cp.encode_packets([(start + i) % 256 for i in range(n)], counts,
                             stop=rng.randint(cp.STOP_MIN, cp.STOP_MAX)) if n else b""
    return mutate_bytes(rng, data, rng.randint(0, 6)) if rng.random() < 0.9 else data


def splits(rng: random.Random, data: bytes):
    pos = 0
    while pos < len(data):
        k = rng.choice((1, 2, 7, 33, 64, 500))
        yield data[pos:pos + k]
        pos += k


def run_cyton(data: bytes, rng: random.Random) -> None:
    from emgpipe.devices.cyton import protocol as cp
    from emgpipe.devices.live import ChunkAssembler, PacketCounter
    parser = cp.PacketParser()
    counter = PacketCounter(range(257), rate_hz=cp.FS_DONGLE)
    asm = ChunkAssembler(cp.FS_DONGLE, tuple(f"ch{k}" for k in range(8)), "fuzz")
    t = 0.0
    for piece in splits(rng, data):
        pk = parser.feed(piece)
        numbers, counts, stop = cp.decode_packets(pk)
        t += rng.choice((0.0, 0.01, 0.2, 3.0))
        idx = counter.unwrap(numbers.tolist(), t)
        asm.push(idx, counts * cp.uv_per_count(cp.DEFAULT_GAIN), t)
        asm.pop()


def ganglion_packets(rng: random.Random, fw: int) -> list:
    from emgpipe.devices.ganglion import protocol as gp
    out = []
    pid = rng.randrange(1, 201)
    for _ in range(rng.randint(0, 30)):
        r = rng.random()
        if r < 0.6:
            if fw == 2 and rng.random() < 0.1:
                p = bytes([0]) + bytes(rng.randrange(256) for _ in range(19))
            else:
                p = bytes([pid]) + bytes(rng.randrange(256) for _ in range(19))
                pid = pid % (200 if fw == 2 else 199) + 1
        elif r < 0.9:
            p = bytes(rng.randrange(256) for _ in range(20))
        else:
            p = bytes(rng.randrange(256) for _ in range(rng.randint(0, 24)))
        out.append(p)
    return out


def run_ganglion(packets: list, rng: random.Random, fw: int) -> None:
    """The routing of GanglionSource._on_packets, on arbitrary notifications."""
    from emgpipe.devices.ganglion import protocol as gp
    from emgpipe.devices.live import ChunkAssembler, PacketCounter, cycle_offsets
    counter = PacketCounter(cycle_offsets(gp.counter_sizes(fw)), rate_hz=gp.FS_BLE)
    dec = gp.Fw2Decoder() if fw == 2 else None
    asm = ChunkAssembler(gp.FS_BLE, ("a", "b", "c", "d"), "fuzz")
    t = 0.0
    i = 0
    while i < len(packets):
        batch = packets[i:i + rng.randint(1, 8)]
        i += len(batch)
        t += rng.choice((0.0, 0.05, 0.5, 4.0))
        data = [p for p in batch if len(p) == gp.PACKET_LEN and p[0] <= gp.MAX_DATA_ID
                and (fw == 2 or p[0] < gp.MAX_DATA_ID)]
        if not data:
            continue
        prev_end = counter.expected_next
        idx = counter.unwrap([gp.packet_position(fw, p[0]) for p in data], t)
        sizes = counter.sizes
        for j, pkt in enumerate(data):
            lost = prev_end is not None and idx[j] > prev_end
            prev_end = int(idx[j] + sizes[gp.packet_position(fw, pkt[0])])
            if fw == 3:
                counts = gp.decode_fw3(pkt)
            else:
                if lost:
                    dec.invalidate()
                counts = dec.feed(pkt)
                if counts is None:
                    continue
            asm.push(idx[j] + np.arange(len(counts)), counts * gp.UV_PER_COUNT, t)
        asm.pop()


def _status_payload(rng: random.Random, sane: bool) -> bytes:
    if sane:
        n_ch = rng.randint(1, 4)
        v = (1, 0, 1, 10, 5000, 200, rng.choice((250, 500, 1000)), n_ch, 10, 0, 0,
             rng.randrange(2 ** 32), 0, 0, 0, 2000)
        chans = bytes(((k << 4) | rng.choice((1, 1, 1, 2, 3))) for k in range(n_ch))
    else:
        v = tuple(rng.randrange(256) for _ in range(4)) + tuple(rng.randrange(65536) for _ in range(3)) \
            + (rng.randrange(20),) + tuple(rng.randrange(256) for _ in range(3)) \
            + tuple(rng.randrange(2 ** 32) for _ in range(3)) + tuple(rng.randrange(65536) for _ in range(2))
        chans = bytes(rng.randrange(256) for _ in range(v[7]))
    return struct.pack("<BBBBHHHBBBBIIIHH", *v) + chans


def bridge_stream_bytes(rng: random.Random) -> bytes:
    from emgpipe.devices.bridge import protocol as bp
    out = bytearray()
    seq = rng.randrange(65536)
    first = rng.randrange(2 ** 32)
    sane = rng.random() < 0.7
    fs = rng.choice((250, 500, 1000)) if sane else rng.randrange(65536)
    for _ in range(rng.randint(0, 12)):
        r = rng.random()
        if r < 0.15:
            out += bp.encode_frame(bp.FrameType.STATUS, seq, _status_payload(rng, sane))
        elif r < 0.75:
            n_ch = rng.randint(1, 4) if sane else rng.randint(1, 16)
            n_s = rng.randint(1, bp.max_samples_per_frame(n_ch))
            samples = np.array([rng.randint(-32768, 32767) for _ in range(n_ch * n_s)]).reshape(n_s, n_ch)
            out += bp.encode_data(seq, first, fs, samples)
            first = (first + n_s + (rng.randint(1, 50) if rng.random() < 0.1 else 0)) % 2 ** 32
        elif r < 0.85:
            out += bp.encode_button(seq, rng.randrange(4), rng.randrange(65536), rng.randrange(2 ** 32))
        elif r < 0.95:
            out += bp.encode_frame(rng.randrange(256), seq,
                                   bytes(rng.randrange(256) for _ in range(rng.randint(0, 60))))
        else:
            out += bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))
        seq = (seq + 1) % 65536
    data = bytes(out)
    return mutate_bytes(rng, data, rng.randint(1, 4)) if rng.random() < 0.5 else data


def run_bridge_frame(data: bytes, rng: random.Random) -> list:
    from emgpipe.devices.bridge.protocol import FrameDecoder, FrameError
    dec = FrameDecoder()
    frames = []
    for piece in splits(rng, data):
        for f in dec.feed_events(piece):
            if not isinstance(f, FrameError):
                frames.append(f)
    dec.stats.as_dict()
    return frames


def run_bridge_stream(data: bytes, rng: random.Random) -> None:
    """Frames decoded from ``data`` through the bridge ChunkAssembler, as the source uses it."""
    from emgpipe.devices.bridge.protocol import DataFrame, StatusFrame
    from emgpipe.devices.bridge.stream import ChunkAssembler, merge_chunks
    asm = None
    t = 0.0
    chunks = []
    for f in run_bridge_frame(data, rng):
        t += rng.choice((0.0, 0.01, 1.0))
        if isinstance(f, StatusFrame):
            f.board_name
            if asm is None or not asm.same_layout(f):
                asm = ChunkAssembler(f, source_id="fuzz", include_env=rng.random() < 0.3)
            else:
                asm.restarted()
        elif isinstance(f, DataFrame) and asm is not None:
            asm.note_frame_seq(f.seq)
            c = asm.push(f, t)
            if c is not None:
                chunks.append(c)
    merge_chunks(chunks)
    if asm is not None:
        asm.counters()


# --------------------------------------------------------------------------- reader seeds
N_SEED = 400


def _values(n, n_ch, rng):
    t = np.arange(n)
    return np.column_stack([40 * np.sin(t / (5 + k)) + rng.normal(0, 5, n) for k in range(n_ch)])


def synthetic_seeds(tmp: Path) -> dict:
    """One small valid file per format (fmt -> list of (name, bytes[, sidecar bytes]))."""
    import edfio
    import wfdb
    from emgpipe.io.contract_csv import CsvWriter
    rng = np.random.default_rng(0)
    seeds = defaultdict(list)
    x = _values(N_SEED, 2, rng)
    p = tmp / "seed.csv"
    with CsvWriter(p, 1000, ["TA", "GM"], {"mode": "sleep"}) as w:
        w.write(x[:200])
        w.write(x[230:], seq=230)
    seeds["csv"].append(("seed.csv", p.read_bytes(), (tmp / "seed.json").read_bytes()
                         if (tmp / "seed.json").exists() else None))
    names = "Sample Index, EXG Channel 0, EXG Channel 1, Timestamp, Marker Channel, Timestamp (Formatted)"
    rows = [f"{s % 256}, {x[s, 0]:.2f}, {x[s, 1]:.2f}, {1.7e9 + s / 250:.4f}, 0, 00:00:{s / 250:06.3f}"
            for s in range(N_SEED) if not 150 <= s < 170]
    seeds["openbci"].append(("OpenBCI-RAW-seed.txt", (
        "%OpenBCI Raw EXG Data\n%Number of channels = 2\n%Sample Rate = 250 Hz\n"
        "%Board = OpenBCI_GUI$BoardCytonSerial\n" + names + "\n" + "\n".join(rows) + "\n").encode(), None))
    bf = np.zeros((N_SEED, 15))
    bf[:, 0] = np.arange(N_SEED) % 200
    bf[:, 1:3] = x
    bf[:, 13] = 1.7e9 + np.arange(N_SEED) / 200
    p = tmp / "bf.csv"
    np.savetxt(p, bf, fmt="%f", delimiter="\t")
    seeds["brainflow"].append(("BrainFlow-RAW_seed.csv", p.read_bytes(), None))
    p = tmp / "seed.edf"
    edfio.Edf([edfio.EdfSignal(x[:, k], 1000, label=f"EMG {k}", physical_dimension="uV",
                               physical_range=(-200, 200)) for k in range(2)],
              data_record_duration=0.1,
              annotations=[edfio.EdfAnnotation(0.1, None, "lights off")]).write(p)
    seeds["edf"].append(("seed.edf", p.read_bytes(), None))
    p = tmp / "seed.bdf"
    edfio.Bdf([edfio.BdfSignal(x[:, 0], 1000, label="EMG", physical_dimension="uV",
                               physical_range=(-200, 200))], data_record_duration=0.1).write(p) \
        if hasattr(edfio, "Bdf") else None
    if p.exists():
        seeds["edf"].append(("seed.bdf", p.read_bytes(), None))
    y = x.copy()
    y[100:120] = np.nan
    wfdb.wrsamp("seed", fs=500, units=["uV", "uV"], sig_name=["TA", "GM"], p_signal=y,
                fmt=["16", "16"], adc_gain=[100.0, 100.0], baseline=[0, 0], write_dir=str(tmp))
    seeds["wfdb"].append(("seed.hea", (tmp / "seed.hea").read_bytes(), (tmp / "seed.dat").read_bytes()))
    adc = 512 + (np.arange(N_SEED) % 97)
    info = {"00:00:00:00:00:01": {"sensor": ["EMG"], "device": "bitalino_rev",
                                  "column": ["nSeq", "I1", "I2", "O1", "O2", "A1"],
                                  "sampling rate": 1000, "label": ["A1"],
                                  "resolution": [4, 1, 1, 1, 1, 10]}}
    body = "".join(f"{s % 16}\t0\t0\t0\t0\t{adc[s]}\t\n" for s in range(N_SEED) if not 50 <= s < 55)
    seeds["opensignals"].append(("opensignals_seed.txt", ("# OpenSignals Text File Format. Version 1\n# "
                                 + json.dumps(info) + "\n# EndOfHeader\n" + body).encode(), None))
    return seeds


def real_seeds(limit_bytes: int = 16384) -> dict:
    """Heads of real files (cut at a line end): datasets/sample/ and ../shared/data/."""
    from emgpipe.io.registry import sniff
    seeds = defaultdict(list)
    dirs = [ROOT / "datasets" / "sample"] + (sorted(d for d in SHARED.iterdir() if d.is_dir())
                                             if SHARED.is_dir() else [])
    for d in dirs:
        for f in sorted(d.iterdir()):
            if f.suffix.lower() not in (".csv", ".txt") or f.name.endswith(
                    (".labels.csv", ".events.csv", ".cycles.csv")) or f.name.startswith(("LICENSE", "EMG_")):
                continue
            fmt = sniff(f)
            if fmt is None:
                continue
            with open(f, "rb") as fh:
                head = fh.read(limit_bytes)
            head = head[:head.rfind(b"\n") + 1] or head
            side = f.with_suffix(".json")
            seeds[fmt].append((f.name, head, side.read_bytes() if side.is_file() and fmt == "csv" else None))
    return seeds


def run_reader(fmt: str, tmp: Path, name: str, data: bytes, side: bytes | None) -> None:
    from emgpipe.io import read_recording
    for old in tmp.iterdir():
        old.unlink()
    p = tmp / name
    p.write_bytes(data)
    if side is not None:
        (tmp / (Path(name).stem + (".dat" if fmt == "wfdb" else ".json"))).write_bytes(side)
    try:
        rec = read_recording(p)
        for c in rec.iter_chunks(chunk_s=0.25):
            c.data.sum()
        rec.duration_hint_s
    except EmgpipeError as err:
        msg = str(err)
        if "\n" in msg or not (msg.startswith(str(p)) or msg.startswith(p.stem)):
            raise AssertionError(f"error message not one line naming the file: {msg!r}") from err
        raise


# --------------------------------------------------------------------------- runner
READERS = ("csv", "openbci", "brainflow", "edf", "wfdb", "opensignals")
DECODERS = ("cyton", "ganglion_fw2", "ganglion_fw3", "bridge_frame", "bridge_stream")
TARGETS = DECODERS + READERS


class _Timeout:
    def __init__(self, seconds):
        self.seconds = seconds

    def __enter__(self):
        signal.signal(signal.SIGALRM, self._fire)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc):
        signal.setitimer(signal.ITIMER_REAL, 0)

    @staticmethod
    def _fire(signum, frame):
        raise Hang()


def fuzz(n_total: int, targets, seed: int, timeout: float, save: Path | None, out=print) -> dict:
    rng = random.Random(seed)
    tmpdir = tempfile.TemporaryDirectory(prefix="emgpipe-fuzz-")
    tmp = Path(tmpdir.name)
    seeds_dir, work = tmp / "seeds", tmp / "work"
    seeds_dir.mkdir()
    work.mkdir()
    seeds = synthetic_seeds(seeds_dir)
    for fmt, items in real_seeds().items():
        seeds[fmt].extend(items)
    per = max(1, n_total // len(targets))
    report = {}
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("error", RuntimeWarning)       # a numpy warning counts as a crash
    try:
        for target in targets:
            by_type, unexpected, hangs = Counter(), [], 0
            t0 = time.perf_counter()
            for i in range(per):
                r = random.Random(rng.getrandbits(64))
                if target == "cyton":
                    data = cyton_stream(r)
                    call = lambda: run_cyton(data, r)          # noqa: E731
                elif target.startswith("ganglion"):
                    fw = int(target[-1])
                    data = ganglion_packets(r, fw)
                    call = lambda: run_ganglion(data, r, fw)   # noqa: E731
                elif target == "bridge_frame":
                    data = bridge_stream_bytes(r)
                    call = lambda: run_bridge_frame(data, r)   # noqa: E731
                elif target == "bridge_stream":
                    data = bridge_stream_bytes(r)
                    call = lambda: run_bridge_stream(data, r)  # noqa: E731
                else:
                    name, base, side = r.choice(seeds[target])
                    binary = target in ("edf", "wfdb")
                    if target == "wfdb" and r.random() < 0.5:
                        data, side = base, mutate(r, side, False)
                    else:
                        data = mutate(r, base, not binary) if r.random() < 0.97 else base
                    call = lambda: run_reader(target, work, name, data, side)  # noqa: E731
                try:
                    with _Timeout(timeout):
                        call()
                    by_type["ok"] += 1
                except Hang:
                    hangs += 1
                    by_type["HANG"] += 1
                    _save(save, target, i, data, "hang")
                except EmgpipeError as err:
                    by_type[type(err).__name__] += 1
                except Exception as err:                  # noqa: BLE001 - that is what we count
                    key = f"UNEXPECTED {type(err).__name__}"
                    by_type[key] += 1
                    if len(unexpected) < 5:
                        unexpected.append((key, str(err)[:200], traceback.format_exc(limit=-3)))
                    _save(save, target, i, data, type(err).__name__)
            dt = time.perf_counter() - t0
            n_unexp = sum(v for k, v in by_type.items() if k.startswith("UNEXPECTED"))
            report[target] = {"n": per, "s": dt, "per_s": per / dt if dt else 0.0,
                              "by_type": dict(by_type), "unexpected": n_unexp, "hangs": hangs}
            kinds = ", ".join(f"{k} {v}" for k, v in by_type.most_common())
            out(f"{target:14s} {per:9d} inputs {dt:8.1f} s {per / dt if dt else 0:10.0f}/s  "
                f"unexpected {n_unexp}  hangs {hangs}  [{kinds}]")
            for key, msg, tb in unexpected:
                out(f"    {key}: {msg}\n      " + tb.strip().replace("\n", "\n      "))
    finally:
        logging.disable(logging.NOTSET)
        tmpdir.cleanup()
    n = sum(r["n"] for r in report.values())
    s = sum(r["s"] for r in report.values())
    unexp = sum(r["unexpected"] for r in report.values())
    hangs = sum(r["hangs"] for r in report.values())
    out(f"{'TOTAL':14s} {n:9d} inputs {s:8.1f} s {n / s if s else 0:10.0f}/s  unexpected {unexp}  "
        f"hangs {hangs}")
    return report


def _save(save, target, i, data, what):
    if save is None:
        return
    save.mkdir(parents=True, exist_ok=True)
    blob = data if isinstance(data, bytes) else b"\n--packet--\n".join(data)
    (save / f"{target}-{i}-{what}.bin").write_bytes(blob)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=10 ** 6, help="inputs in all, shared equally by targets")
    ap.add_argument("--only", default=None,
                    help="comma list of targets, or 'decoders' / 'readers' (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds per input before a hang")
    ap.add_argument("--save-crashers", type=Path, default=None, metavar="DIR")
    ap.add_argument("--json", type=Path, default=None, help="write the counts here")
    a = ap.parse_args(argv)
    if a.only in (None, "all"):
        targets = TARGETS
    elif a.only == "decoders":
        targets = DECODERS
    elif a.only == "readers":
        targets = READERS
    else:
        targets = tuple(t.strip() for t in a.only.split(","))
        bad = [t for t in targets if t not in TARGETS]
        if bad:
            ap.error(f"unknown target(s) {bad}; known: {', '.join(TARGETS)}")
    print(f"fuzz: {a.n} inputs over {len(targets)} targets, seed {a.seed}, timeout {a.timeout:g} s/input")
    rep = fuzz(a.n, targets, a.seed, a.timeout, a.save_crashers)
    if a.json:
        a.json.write_text(json.dumps(rep, indent=1))
    return 1 if any(r["unexpected"] or r["hangs"] for r in rep.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
