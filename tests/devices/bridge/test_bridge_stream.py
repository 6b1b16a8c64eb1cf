"""ChunkAssembler: device sample counter -> stream seq, gaps, scaling, channel layout."""
from __future__ import annotations

import numpy as np
import pytest

from emgpipe.devices.bridge.protocol import ChannelKind, DataFrame, FrameType, StatusFrame
from emgpipe.devices.bridge.stream import DEFAULT_ENV_GAIN, ChunkAssembler, merge_chunks
from emgpipe.errors import ProtocolError

RAW, ENV = ChannelKind.RAW, ChannelKind.ENV


def status(channels=((0, RAW),), fs=1000, bits=10, vref=5000):
    return StatusFrame(FrameType.STATUS, 0, adc_bits=bits, vref_mv=vref, raw_gain=200, fs_hz=fs,
                       n_ch=len(channels), channels=tuple(channels))


def frame(seq, first, counts, fs=1000):
    a = np.asarray(counts, dtype=np.int16)
    if a.ndim == 1:
        a = a[:, None]
    return DataFrame(FrameType.DATA, seq, first_sample=first % 2**32, fs_hz=fs, samples=a)


def test_contiguous_frames_have_contiguous_seq_and_scaled_values():
    asm = ChunkAssembler(status())
    counts = np.arange(-20, 20).reshape(4, 10)
    chunks = [asm.push(frame(i, 7000 + 10 * i, counts[i]), t=1.0 + i / 100) for i in range(4)]
    assert [c.seq for c in chunks] == [0, 10, 20, 30]
    assert not any(c.gaps for c in chunks)
    uv = 5.0 / 1023 / 200 * 1e6
    np.testing.assert_allclose(np.concatenate([c.data for c in chunks])[:, 0],
                               counts.ravel() * uv, rtol=1e-12)
    assert chunks[0].units == "uV" and chunks[0].ch_names == ("raw1",)


def test_dropped_frames_become_exact_gaps():
    asm = ChunkAssembler(status())
    firsts = [0, 10, 40, 50, 80]  # frames of 10 samples: 20..39 and 60..79 never arrived
    out = [asm.push(frame(i, f, np.zeros(10)), t=float(i)) for i, f in enumerate(firsts)]
    assert [c.seq for c in out] == firsts
    gaps = [g for c in out for g in c.gaps]
    assert [(g.seq, g.n_missing) for g in gaps] == [(20, 20), (60, 20)]
    assert asm.gap_samples == 40 and asm.gaps == 2
    assert all(g.reason == "dropped frames" for g in gaps)


def test_counter_wrap_across_2_pow_32():
    asm = ChunkAssembler(status())
    start = 2**32 - 25
    offsets = [0, 10, 20, 40, 50]  # the frame at 30 (= 2^32 + 5) is lost
    out = [asm.push(frame(i, start + off, np.zeros(10)), t=i) for i, off in enumerate(offsets)]
    assert [c.seq for c in out] == [0, 10, 20, 40, 50]
    assert [(g.seq, g.n_missing) for c in out for g in c.gaps] == [(30, 10)]


def test_frame_sequence_counts_lost_frames_across_wrap():
    asm = ChunkAssembler(status())
    for seq in (65533, 65534, 1, 2, 5):
        asm.note_frame_seq(seq)
    assert asm.lost_frames == 2 + 2  # 65535, 0, then 3, 4


def test_link_loss_with_the_same_device_gives_an_exact_gap():
    asm = ChunkAssembler(status())
    asm.push(frame(0, 500, np.zeros(10)), t=1.0)
    asm.interrupted("disconnect (serial unplugged)")
    c = asm.push(frame(1, 1510, np.zeros(10)), t=99.0)  # host clock is irrelevant here
    assert c.seq == 1010
    (g,) = c.gaps
    assert (g.seq, g.n_missing) == (10, 1000) and g.reason.startswith("disconnect")


def test_device_restart_estimates_the_gap_from_the_host_clock():
    asm = ChunkAssembler(status())
    asm.push(frame(0, 90_000, np.zeros(10)), t=10.0)
    asm.interrupted("disconnect")
    asm.restarted()
    c = asm.push(frame(0, 50, np.zeros(10)), t=12.51)  # 2.51 s later, counter back near 0
    (g,) = c.gaps
    assert g.n_missing == 2500 and "estimated" in g.reason
    assert c.seq == 10 + 2500
    nxt = asm.push(frame(1, 60, np.zeros(10)), t=12.52)
    assert nxt.seq == c.next_seq and not nxt.gaps


def test_counter_going_backwards_is_treated_as_a_restart():
    asm = ChunkAssembler(status())
    asm.push(frame(0, 1000, np.zeros(10)), t=5.0)
    c = asm.push(frame(1, 0, np.zeros(10)), t=5.5)
    assert asm.restarts == 1
    assert c.seq >= 10 and c.gaps[0].n_missing == 490


def test_frames_not_matching_the_status_are_dropped_and_counted():
    asm = ChunkAssembler(status())
    assert asm.push(frame(0, 0, np.zeros(10), fs=2000), t=0) is None
    assert asm.push(frame(0, 0, np.zeros((10, 2))), t=0) is None
    assert asm.bad_layout == 2


def test_env_channels_are_optional_and_scaled_with_the_env_gain():
    st = status(channels=((0, RAW), (0, ENV), (1, RAW), (1, ENV)), bits=12, vref=3300)
    raw_only = ChunkAssembler(st, names=("calf_l", "calf_r"))
    assert raw_only.ch_names == ("calf_l", "calf_r")
    both = ChunkAssembler(st, include_env=True)
    assert both.ch_names == ("raw1", "env1", "raw2", "env2")
    c = both.push(frame(0, 0, [[100, 2000, -100, 4095]]), t=0)
    vpc = 3.3 / 4095
    raw_uv, env_uv = vpc / 200 * 1e6, vpc / DEFAULT_ENV_GAIN * 1e6
    assert DEFAULT_ENV_GAIN == 10200  # MW-LIB's default pot (50 kOhm): 200 x (1 + 50)
    np.testing.assert_allclose(c.data[0], [100 * raw_uv, 2000 * env_uv, -100 * raw_uv,
                                           4095 * env_uv])
    c2 = raw_only.push(frame(0, 0, [[100, 2000, -100, 4095]]), t=0)
    np.testing.assert_allclose(c2.data[0], [100 * vpc / 200 * 1e6, -100 * vpc / 200 * 1e6])


def test_bad_layouts_are_refused():
    with pytest.raises(ProtocolError):
        ChunkAssembler(status(channels=((0, ENV),)))
    with pytest.raises(ProtocolError):
        ChunkAssembler(status(), names=("a", "b"))


def test_merge_joins_only_contiguous_chunks():
    asm = ChunkAssembler(status())
    chunks = [asm.push(frame(i, f, np.full(10, i)), t=i) for i, f in enumerate([0, 10, 30, 40])]
    merged = merge_chunks(chunks)
    assert [(c.seq, c.n_samples, len(c.gaps)) for c in merged] == [(0, 20, 0), (30, 20, 1)]
    np.testing.assert_array_equal(np.concatenate([c.data for c in merged]),
                                  np.concatenate([c.data for c in chunks]))


@pytest.mark.parametrize("split", [1, 3, 7, 64])
def test_frames_of_one_read_at_once_equal_frame_by_frame(split):
    """push_frames (one pass per read) gives the samples, seq and gaps of push() frame by
    frame followed by merge_chunks, whatever the reads: with lost frames, a counter wrap,
    a restart (counter backwards), a link loss and a frame of another layout among them."""
    rng = np.random.default_rng(5)
    st = status(channels=((0, RAW), (1, ENV)))
    frames, first = [], 2**32 - 95
    for i in range(60):
        n = int(rng.integers(1, 20))
        if i in (7, 8, 30):                        # lost in transit
            first += n
            continue
        if i == 41:                                # rebooted: the counter starts again
            first = 3
        counts = rng.integers(-500, 500, size=(n, 2))
        frames.append(frame(i, first, counts))
        first += n
    frames.insert(20, frame(99, 0, np.zeros((4, 3)), fs=500))   # wrong layout: dropped by both

    def run(batches):
        asm = ChunkAssembler(st, include_env=True)
        out = []
        for k, (t, batch) in enumerate(batches):
            if k == 5:
                asm.interrupted("disconnect (test)")
            out.append(batch(asm, t))
        return asm, out

    times = [1.0 + 0.05 * (j // split) for j in range(len(frames))]
    one = [(times[j], lambda a, t, f=f: [c for c in [a.push(f, t)] if c is not None])
           for j, f in enumerate(frames)]
    reads = [(times[j], lambda a, t, fs=frames[j:j + split]: a.push_frames(fs, t))
             for j in range(0, len(frames), split)]
    asm1, out1 = run(one)
    asm2, out2 = run(reads)
    ref = merge_chunks([c for cs in out1 for c in cs])
    got = [c for cs in out2 for c in cs]
    shape = lambda cs: [(c.seq, c.n_samples, c.gaps) for c in cs]
    assert shape(merge_chunks(got)) == shape(ref) and len(ref) >= 3
    if split == 1:
        assert shape(got) == [(c.seq, c.n_samples, c.gaps) for cs in out1 for c in cs]
    np.testing.assert_array_equal(np.concatenate([c.data for c in got]),
                                  np.concatenate([c.data for c in ref]))
    assert [(g.seq, g.n_missing, g.reason) for c in got for g in c.gaps] == \
        [(g.seq, g.n_missing, g.reason) for c in ref for g in c.gaps]
    assert asm1.counters() == asm2.counters()
    assert asm1.counters()["gap_samples"] > 0 and asm1.counters()["restarts"] == 1
