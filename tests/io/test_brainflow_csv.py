"""BrainFlow CSV: board sniffing by column count, counter gaps, errors (synthetic files)."""
from __future__ import annotations

import numpy as np
import pytest

from emgpipe.errors import BadData, BadHeader, UsageError
from emgpipe.io.brainflow_csv import BOARDS, board_by_name, parse_header, read


def bf_rows(board: str, n: int, *, keep=None, fs=None, seed=0, counter=None, per_packet=1):
    """BrainFlow rows (samples x num_rows) for ``board``; EXG = sample number + channel/10."""
    b = BOARDS[board]
    fs = fs or b.fs
    seq = np.arange(n)
    keep = np.ones(n, bool) if keep is None else keep
    rows = np.zeros((n, b.num_rows))
    cyc = b.modulo or 200
    rows[:, b.package] = (seq // per_packet) % cyc if counter is None else counter
    for k, e in enumerate(b.exg):
        rows[:, e] = seq + k / 10
    rng = np.random.default_rng(seed)
    rows[:, b.timestamp] = 1_695_328_123.0 + seq / fs + rng.uniform(0, 0.02, n)
    return rows[keep]


def write_bf(path, rows, sep="\t"):
    with open(path, "w") as f:
        np.savetxt(f, rows, fmt="%f", delimiter=sep)


def test_parse_header_by_columns():
    for n, name in [(24, "cyton"), (32, "cyton_daisy"), (15, "ganglion"), (25, "ganglion_wifi")]:
        b, d, cands = parse_header("\t".join(["0.0"] * n))
        assert b.name == name and d == "\t" and cands[0] == name
    b, d, _ = parse_header(",".join(["0.0"] * 24))
    assert d == "," and b.name == "cyton"
    b, _, cands = parse_header("\t".join(["0.0"] * 32), board="synthetic")
    assert b.name == "synthetic" and cands == ("synthetic",)
    with pytest.raises(BadHeader, match="7 columns: not a BrainFlow board layout"):
        parse_header("\t".join(["0.0"] * 7), path="x.csv")
    with pytest.raises(BadHeader, match="24 columns, but a BrainFlow ganglion file has 15"):
        parse_header("\t".join(["0.0"] * 24), board="ganglion", path="x.csv")
    with pytest.raises(UsageError, match="unknown BrainFlow board"):
        board_by_name("muse")
    assert board_by_name("CYTON_DAISY_BOARD").name == "cyton_daisy" and board_by_name(46).fs == 200


@pytest.mark.parametrize("board, n_ch, fs", [("cyton", 8, 250), ("cyton_daisy", 16, 125),
                                             ("ganglion", 4, 200)])
def test_read_boards(tmp_path, board, n_ch, fs):
    p = tmp_path / "BrainFlow-RAW.csv"
    write_bf(p, bf_rows(board, 600))
    rec = read(p)
    assert rec.fs == fs and rec.ch_names == tuple(f"EXG Channel {k}" for k in range(n_ch))
    assert rec.n_total == 600 and rec.gaps == [] and rec.meta["board"] == board
    np.testing.assert_allclose(rec.to_array()[:, 1], np.arange(600) + 0.1)


def test_ambiguous_32_columns_resolved_by_timestamps(tmp_path):
    p = tmp_path / "synth.csv"
    write_bf(p, bf_rows("synthetic", 1000))
    rec = read(p)
    assert rec.meta["board"] == "synthetic" and rec.fs == 250
    assert rec.meta["board_from"] == "columns+timestamps"
    assert read(p, board="cyton_daisy").fs == 125         # the caller decides


def test_cyton_losses_and_wrap(tmp_path):
    keep = np.ones(800, bool)
    keep[250:260] = False            # across the 255 -> 0 wrap
    keep[400:656] = False            # one whole counter cycle: only the clock shows it
    p = tmp_path / "loss.csv"
    write_bf(p, bf_rows("cyton", 800, keep=keep))
    rec = read(p)
    assert [(g.seq, g.n_missing) for g in rec.gaps] == [(250, 10), (400, 256)]
    np.testing.assert_allclose(rec.to_array()[keep, 0], np.flatnonzero(keep))


def test_ganglion_two_samples_per_packet(tmp_path):
    """BrainFlow's Ganglion writes the packet id on both samples of a packet."""
    keep = np.ones(400, bool)
    keep[100:106] = False            # 3 packets = 6 samples
    p = tmp_path / "g.csv"
    write_bf(p, bf_rows("ganglion", 400, keep=keep, per_packet=2))
    rec = read(p)
    assert [(g.seq, g.n_missing) for g in rec.gaps] == [(100, 6)]


def test_comma_fallback_and_option_errors(tmp_path):
    p = tmp_path / "c.csv"
    write_bf(p, bf_rows("cyton", 50), sep=",")
    assert read(p).n_total == 50
    with pytest.raises(UsageError, match="mode"):
        read(p, mode="sleep")


def test_errors(tmp_path, problem):
    p = tmp_path / "bf.csv"
    p.write_text("")
    with pytest.raises(BadData) as e:
        read(p)
    assert problem(e, p) == "file is empty"
    rows = bf_rows("ganglion", 5)
    lines = ["\t".join(f"{v:f}" for v in r) for r in rows]
    bad = list(lines)
    bad[2] = bad[2].replace("2.000000", "abc", 1)
    p.write_text("\n".join(bad) + "\n")
    with pytest.raises(BadData) as e:
        read(p)
    assert problem(e, p) == "line 3: column 'package_num' is not a number ('abc')"
    bad = list(lines)
    f = bad[3].split("\t")
    f[2] = "inf"
    bad[3] = "\t".join(f)
    p.write_text("\n".join(bad) + "\n")
    with pytest.raises(BadData) as e:
        read(p)
    assert problem(e, p) == "line 4: channel 'EXG Channel 1' is inf (not a finite number)"
    bad = list(lines)
    bad[1] = "\t".join(bad[1].split("\t")[:9])
    p.write_text("\n".join(bad) + "\n")
    with pytest.raises(BadData) as e:
        read(p)
    assert problem(e, p) == "line 2: expected 15 fields, found 9"
    p.write_text("\n".join(lines) + "\n" + lines[0][:20])            # cut mid-row
    rec = read(p)
    assert rec.n_total == 5 and rec.meta["dropped_last_line"] == 6
    p.write_text("package\t" + "\t".join(["x"] * 14) + "\n")
    with pytest.raises(BadData, match="line 1: column 'package_num' is not a number"):
        read(p)
