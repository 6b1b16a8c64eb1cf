"""Readers stream (issue 15): reading a file in many small blocks gives exactly what
one block gives (chunk invariance), gaps included, whichever chunk length iterates it.

Each small file of tests/io/test_conformance.py (one per format, with lost samples
where the format can record them) is read twice:

- *one-shot*: default block sizes, so the whole file is one block; its ``segments``
  and ``gaps`` are the reference (an in-memory :class:`Recording` built from them);
- *streamed*: block sizes shrunk (text: 7 or 64 lines, EDF: one data record, WFDB:
  40 samples, the clock look-ahead too) so that blocks end everywhere, also
  inside a gap's neighbourhood; iterated without loading the whole file.

The streamed chunks must equal the reference chunks: same ``seq``, same bytes,
same gap announcements, for several chunk lengths and a ``start_s``/``stop_s`` part.
"""
from __future__ import annotations

import numpy as np
import pytest

from emgpipe.io import _gaps, _text, edf, read_recording, wfdb_io
from emgpipe.io.base import Recording, StreamedRecording
from emgpipe.night.edfplus import EdfPlusWriter
from tests.io.test_conformance import MAKERS


def make_edf_plus_d(tmp_path):
    """EDF+D from the night writer: 0.25 s records, record 3 onward starts 0.5 s late."""
    from emgpipe.io.edf import parse_header
    p = tmp_path / "d.edf"
    x = np.column_stack([np.arange(1000.0) % 97, np.arange(1000.0) % 89])
    w = EdfPlusWriter(p, fs=200.0, ch_names=("TA", "GM"), start_wall=1.7e9)
    w.append(x)
    w.annotate(1.0, 0.5, "note")
    w.close()
    raw = bytearray(p.read_bytes())
    h = parse_header(bytes(raw))
    raw[192:236] = b"EDF+D".ljust(44)
    ann = next(k for k, s in enumerate(h.signals) if s.is_annotation)
    at = 2 * sum(s.samples_per_record for s in h.signals[:ann])
    n_rec = (len(raw) - h.header_bytes) // h.record_bytes
    for r in range(3, n_rec):
        a = h.header_bytes + r * h.record_bytes + at
        old = f"+{r * h.record_s:g}".encode()
        new = f"+{r * h.record_s + 0.5:g}".encode()
        assert bytes(raw[a:a + len(old)]) == old and raw[a + len(old)] == 0x14
        tail = bytes(raw[a + len(old):a + len(old) + 40])
        raw[a:a + len(old) + 40] = (new + tail)[:len(old) + 40]
    p.write_bytes(bytes(raw))
    return p


def small_blocks(monkeypatch, lines):
    monkeypatch.setattr(_text, "STREAM_LINES", lines)
    monkeypatch.setattr(edf, "BLOCK_BYTES", 1)          # one data record per block
    monkeypatch.setattr(wfdb_io, "BLOCK_SAMPLES", 80)    # 40 samples of 2 signals
    monkeypatch.setattr(_gaps, "ENVELOPE_S", 0.05)      # short look-ahead: rows held back briefly


def chunk_list(chunks):
    return [(c.seq, c.t0, c.data.tobytes(), tuple(c.gaps)) for c in chunks]


@pytest.fixture(params=sorted(MAKERS) + ["edf+d"])
def small_file(request, tmp_path):
    if request.param == "edf+d":
        return make_edf_plus_d(tmp_path)
    return MAKERS[request.param](tmp_path)[0]


@pytest.mark.parametrize("lines", [7, 64])
def test_streamed_equals_one_shot(small_file, monkeypatch, lines):
    one = read_recording(small_file)
    ref = Recording(path=one.path, fs=one.fs, ch_names=one.ch_names, segments=one.segments,
                    gaps=one.gaps, meta=one.meta)
    assert sum(len(d) for _, d in ref.segments) > 100
    with monkeypatch.context() as m:
        small_blocks(m, lines)
        for chunk_s, start_s, stop_s in ((0.013, 0.0, None), (0.25, 0.0, None), (30.0, 0.0, None),
                                         (0.1, 0.31, 0.93 * ref.duration_s)):
            rec = read_recording(small_file)
            assert isinstance(rec, StreamedRecording) and rec._segments is None
            assert (rec.fs, rec.ch_names) == (ref.fs, ref.ch_names)
            got = chunk_list(rec.iter_chunks(chunk_s, start_s=start_s, stop_s=stop_s))
            want = chunk_list(ref.iter_chunks(chunk_s, start_s=start_s, stop_s=stop_s))
            assert got == want, (chunk_s, start_s, stop_s)
            assert rec._segments is None                 # iterating did not load the file
            if stop_s is None:                           # a whole pass records the gaps
                assert rec._gaps == ref.gaps and rec.n_total == ref.n_total
        # whole-array access built on the small-block stream: same bytes
        rec = read_recording(small_file)
        assert rec.gaps == ref.gaps and rec.n_total == ref.n_total
        assert [(s, d.tobytes()) for s, d in rec.segments] == [(s, d.tobytes()) for s, d in ref.segments]
        assert rec.meta == one.meta


def test_gap_found_across_a_block_boundary(tmp_path, monkeypatch):
    """A time_s jump between the last row of one block and the first of the next."""
    from emgpipe.io.contract_csv import CsvWriter
    p = tmp_path / "b.csv"
    x = np.arange(40.0)[:, None]
    with CsvWriter(p, 100, ["TA"]) as w:
        w.write(x[:7])
        w.write(x[10:], seq=10)
    monkeypatch.setattr(_text, "STREAM_LINES", 7)
    rec = read_recording(p)
    chunks = list(rec.iter_chunks(1.0))
    assert [(c.seq, c.n_samples) for c in chunks] == [(0, 7), (10, 30)]
    assert [(g.seq, g.n_missing) for g in chunks[1].gaps] == [(7, 3)]


def test_duration_hint_without_a_pass(tmp_path, monkeypatch):
    """The progress bar's total comes from the header / last line / file size, not a pass."""
    monkeypatch.setattr(_text, "STREAM_LINES", 50)
    for fmt in sorted(MAKERS):
        (tmp_path / fmt).mkdir()
        path, fs, _, x, _ = MAKERS[fmt](tmp_path / fmt)
        rec = read_recording(path)
        assert rec.duration_hint_s == pytest.approx(len(x) / fs, rel=0.1), fmt
