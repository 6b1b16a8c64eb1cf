"""lsl: source against a real local outlet (liblsl ships in the pylsl wheel; no network needed)."""
from __future__ import annotations

import threading
import time
import uuid

import numpy as np
import pytest

from emgpipe.errors import DeviceNotFound, ProtocolError, StreamLost, UsageError
from emgpipe.devices import open_source
from emgpipe.devices.lsl.source import LslSource

pylsl = pytest.importorskip("pylsl", reason="pylsl (extra 'lsl') is not installed")

FS = 250.0


def make_outlet(name, n_ch=2, unit="millivolts", fmt="float32", srate=FS, labels=("calf_l", "calf_r")):
    info = pylsl.StreamInfo(name, "EMG", n_ch, srate, fmt, f"test-{name}")
    chans = info.desc().append_child("channels")
    for lab in labels[:n_ch]:
        c = chans.append_child("channel")
        c.append_child_value("label", lab)
        c.append_child_value("unit", unit)
    return pylsl.StreamOutlet(info)


def read_until(src, n_samples, limit_s=5.0):
    out, got, t_end = [], 0, time.monotonic() + limit_s
    for chunk in src:
        out.append(chunk)
        got += chunk.n_samples
        if got >= n_samples or time.monotonic() > t_end:
            break
    return out


@pytest.fixture
def name():
    return f"emgpipe-test-{uuid.uuid4().hex[:10]}"


def test_samples_scaling_timestamps_and_gaps(name):
    outlet = make_outlet(name)
    src = open_source(f"lsl:{name}?timeout=3&stall_s=2&reconnect_s=4")
    with src:
        assert src.ch_names == ("calf_l", "calf_r") and src.fs == FS
        assert src.meta["uv_per_unit"] == [1000.0, 1000.0]
        rng = np.random.default_rng(1)
        x = rng.standard_normal((160, 2)).astype(np.float32)
        t0 = pylsl.local_clock()
        ts = t0 + np.arange(160) / FS
        keep = np.r_[0:100, 110:160]            # samples 100..109 never sent
        for a in range(0, len(keep), 25):        # several pushes, each with its own stamps
            idx = keep[a:a + 25]
            outlet.push_chunk(x[idx].tolist(), ts[idx].tolist())
        chunks = read_until(src, len(keep))
    seqs = np.concatenate([c.seq + np.arange(c.n_samples) for c in chunks])
    data = np.concatenate([c.data for c in chunks])
    np.testing.assert_array_equal(seqs, keep)
    np.testing.assert_allclose(data, x[keep].astype(np.float64) * 1000.0, rtol=1e-6)
    gaps = [g for c in chunks for g in c.gaps]
    assert [(g.seq, g.n_missing) for g in gaps] == [(100, 10)]
    after = next(c for c in chunks if c.gaps)
    assert after.seq == 110
    # t0 is the sender's timestamp of the chunk's first sample (clock offset ~0 locally)
    off = src.meta["time_correction_s"]
    assert chunks[0].t0 == pytest.approx(ts[0] + off, abs=1e-6)
    assert after.t0 == pytest.approx(ts[110] + off, abs=1e-6)
    assert src.meta["lost_samples"] == 10
    assert src.meta["first_timestamp"] == pytest.approx(ts[0] + off, abs=1e-6)


def test_jitter_below_the_threshold_is_not_a_gap(name):
    outlet = make_outlet(name, unit="microvolts")
    with LslSource(name, timeout=3, stall_s=2, reconnect_s=4) as src:
        t0 = pylsl.local_clock()
        jitter = np.random.default_rng(2).uniform(-0.2, 0.2, 200) / FS   # ±0.2 period
        ts = t0 + np.arange(200) / FS + jitter
        outlet.push_chunk(np.ones((200, 2)).tolist(), ts.tolist())
        chunks = read_until(src, 200)
    assert sum(c.n_samples for c in chunks) == 200
    assert not any(c.gaps for c in chunks)
    assert chunks[-1].next_seq == 200


def test_stall_disconnect_and_reconnect_reported(name):
    outlet = make_outlet(name)
    heard = []
    with LslSource(name, timeout=3, stall_s=0.3, reconnect_s=5) as src:
        src.link_listeners.append(heard.append)
        t0 = pylsl.local_clock()
        outlet.push_chunk(np.zeros((50, 2)).tolist(), (t0 + np.arange(50) / FS).tolist())
        it = iter(src)
        got = 0
        while got < 50:
            got += next(it).n_samples
        later = t0 + 1.0                    # 1 s after the first sample: 200 samples missing
        resume = threading.Timer(0.6, outlet.push_chunk,   # > stall_s without data meanwhile
                                 (np.zeros((10, 2)).tolist(), (later + np.arange(10) / FS).tolist()))
        resume.start()
        chunk = next(it)
        resume.join()
    assert [h["event"] for h in heard] == ["disconnect", "reconnect"]
    assert heard[1]["n_missing"] == 200 and chunk.seq == 250
    assert src.meta["disconnects"][0]["n_missing"] == 200


def test_gives_up_after_reconnect_s(name):
    outlet = make_outlet(name)  # noqa: F841 (kept alive, never pushes)
    with LslSource(name, timeout=3, stall_s=0.1, reconnect_s=0.3) as src:
        with pytest.raises(StreamLost, match=f"lsl:{name}: no data"):
            next(iter(src))


def test_missing_stream_is_one_line_device_not_found(name):
    t = time.monotonic()
    with pytest.raises(DeviceNotFound) as err:
        LslSource(name, timeout=0.2).open()
    msg = str(err.value)
    assert msg.startswith(f"lsl:{name}: no LSL stream named") and "\n" not in msg
    assert time.monotonic() - t < 3


def test_marker_stream_is_refused(name):
    info = pylsl.StreamInfo(name, "Markers", 1, pylsl.IRREGULAR_RATE, "string", f"m-{name}")
    outlet = pylsl.StreamOutlet(info)  # noqa: F841 (kept alive)
    with pytest.raises(ProtocolError, match="text"):
        LslSource(name, timeout=3).open()


def test_uri_options_are_checked():
    with pytest.raises(UsageError, match="unknown option 'bogus'"):
        open_source("lsl:X?bogus=1")
    with pytest.raises(UsageError, match="gap_factor"):
        open_source("lsl:X?gap_factor=0.5")
    with pytest.raises(UsageError, match="needs a stream name"):
        open_source("lsl:")
    assert open_source("lsl:X?speed=3").uri == "lsl:X"   # speed is meaningless live: ignored


def test_emulator_streams_a_recording_with_its_names_in_microvolts(name):
    """LslEmulator: an (n, channels) µV recording, looped, read back by the source as sent
    (float32), with the channel labels and units of the stream's description."""
    from emgpipe.devices.lsl.emulator import LslEmulator
    x = np.random.default_rng(4).normal(0.0, 50.0, (300, 2))
    with LslEmulator(name, x, fs=FS, ch_names=("calf_left", "calf_right"), speed=4.0) as emu:
        with LslSource(name, timeout=3, stall_s=2, reconnect_s=4) as src:
            assert src.ch_names == ("calf_left", "calf_right") and src.fs == FS
            assert src.meta["uv_per_unit"] == [1.0, 1.0]
            chunks = read_until(src, 450)
    seqs = np.concatenate([c.seq + np.arange(c.n_samples) for c in chunks])
    data = np.concatenate([c.data for c in chunks])
    assert not any(c.gaps for c in chunks) and emu.lost == 0
    first = round((chunks[0].t0 - src.meta["time_correction_s"] - emu._t0) * FS)  # joined late
    np.testing.assert_allclose(data, x[(first + seqs) % len(x)].astype(np.float32), rtol=1e-6)
    with pytest.raises(ValueError, match="3 channel name"):
        LslEmulator(name, x, ch_names=("a", "b", "c"))
