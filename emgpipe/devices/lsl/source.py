"""``lsl:STREAM_NAME`` - any Lab Streaming Layer signal stream (needs ``pylsl``, extra ``lsl``).

Resolution
----------
The stream is looked up by its ``name`` for ``timeout`` seconds (default 5);
none found is a one-line :class:`~emgpipe.errors.DeviceNotFound` that lists
the streams that are visible. Text (marker) streams and streams without a
nominal rate are refused: the pipeline needs regularly sampled numbers.

Timestamps and the sample counter
---------------------------------
LSL carries one timestamp per sample; they are kept as sent, mapped to this
host's LSL clock (``proc_clocksync`` only: liblsl's dejitter would smooth a
real loss away). ``chunk.t0`` is the timestamp of the chunk's first sample
(``pylsl.local_clock()``, a steady clock; on Linux and macOS the same clock as
``time.monotonic()``), and ``meta`` records the first and last timestamps and
the clock offset at open.

LSL (TCP) loses no samples in transit, so ``seq`` counts the samples received,
plus the samples a *timestamp jump* says are missing: when two consecutive
samples are more than ``gap_factor / fs`` apart (1.5 sample periods by
default), ``round(dt * fs) - 1`` samples are counted as lost and announced as
a :class:`~emgpipe.types.Gap` on the next chunk. This catches a sender that
dropped data (e.g. a BLE device behind the outlet), an inlet buffer overrun
(``max_buflen`` seconds, 360 by default) and the outage while liblsl
reconnects to a restarted outlet. A sender that stamps each sample with a
jittery host clock (more than half a period of jitter) would show false gaps:
raise ``gap_factor`` for such a stream. A sender whose real rate is a little
off its nominal rate never trips the pairwise test (the jump per sample stays
near one period).

Link loss
---------
The inlet is read on the live sources' reader thread
(:class:`~emgpipe.devices.live.LiveSource`). liblsl reconnects by itself
(``recover=True``), so "reconnecting" is listening: no sample for ``stall_s``
seconds counts as a lost link, listeners in ``link_listeners`` hear
``disconnect``, then ``reconnect`` (with the samples lost, measured from the
timestamps) when data resumes, and iteration ends with
:class:`~emgpipe.errors.StreamLost` after ``reconnect_s`` seconds without data.

Examples
--------
>>> src = LslSource.from_uri("MyoWare", timeout="2")
>>> src.uri, src.timeout, src.gap_factor
('lsl:MyoWare', 2.0, 1.5)
"""
from __future__ import annotations

import logging
import os
import time

import numpy as np

from ...errors import DeviceNotFound, ProtocolError, StreamLost, UsageError
from ..live import LinkDown, LiveSource
from ..options import LIVE, Option, positive
from ...types import Chunk, Gap

log = logging.getLogger(__name__)

#: LSL channel ``unit`` strings (XDF/LSL meta-data conventions) -> µV per unit.
UNIT_TO_UV = {
    "microvolts": 1.0, "microvolt": 1.0, "uv": 1.0, "µv": 1.0, "μv": 1.0,
    "millivolts": 1e3, "millivolt": 1e3, "mv": 1e3,
    "volts": 1e6, "volt": 1e6, "v": 1e6,
    "nanovolts": 1e-3, "nanovolt": 1e-3, "nv": 1e-3,
}
#: Samples asked per pull (about 1 s at 4 kHz).
PULL_MAX = 4096
#: The gap reason shown in events and logs.
GAP_REASON = "timestamp jump (LSL)"


def import_pylsl():
    """``pylsl`` or a one-line :class:`UsageError` saying how to install it.

    liblsl's own log goes to stderr at INFO level; unless the user configured
    liblsl (``LSLAPICFG``), only its fatal errors are shown (our own messages
    say what happens, e.g. "disconnected, reconnecting").
    """
    try:
        import pylsl
    except (ImportError, RuntimeError, OSError) as exc:  # RuntimeError: liblsl not found
        raise UsageError(f"lsl: sources need pylsl with its liblsl ({exc}); install it with "
                         f"'pip install emgpipe[lsl]'") from None
    if not os.environ.get("LSLAPICFG") and hasattr(pylsl, "set_config_content"):
        try:
            pylsl.set_config_content("[log]\nlevel = -3\n")  # loguru: -3 = fatal only
        except Exception:  # older liblsl: keep its default log
            pass
    return pylsl


class LslSource(LiveSource):
    """Inlet for a Lab Streaming Layer stream found by name.

    Parameters
    ----------
    name : str
        The stream's ``name`` (as shown by LabRecorder).
    timeout : float
        Seconds to look for the stream and to open it.
    gap_factor : float
        A timestamp step above ``gap_factor / fs`` between two samples is a
        gap (see the module doc).
    stall_s : float
        No sample for this long counts as a lost link.
    reconnect_s : float
        Give up (StreamLost) after this long without data.
    scale : float, optional
        µV per stream unit; default from the channels' ``unit`` meta-data
        (µV when absent).
    max_buflen : float
        Seconds of data liblsl buffers for a slow reader; beyond that the
        oldest are dropped (seen here as a gap).
    read_s : float
        Longest wait for data per iteration step.
    """

    scheme = "lsl"
    OPTIONS = {**LIVE, "gap_factor": Option(positive, "timestamp step, in sample periods, that is a gap"),
               "scale": Option(positive, "µV per stream unit (default: from the channels' unit)"),
               "max_buflen": Option(positive, "seconds liblsl buffers for a slow reader")}
    #: URI option -> constructor keyword.
    KWARGS = {"timeout_s": "timeout", "chunk_s": "read_s"}
    #: liblsl reconnects by itself: a "reconnection attempt" is one read of up to
    #: ``read_s``, so the attempts follow each other without a pause.
    BACKOFF = (0.0,)

    def __init__(self, name: str, *, timeout: float = 5.0, gap_factor: float = 1.5,
                 stall_s: float = 3.0, reconnect_s: float = 30.0, scale: float | None = None,
                 max_buflen: float = 360.0, read_s: float = 0.05):
        super().__init__()
        if not name:
            raise UsageError("lsl: needs a stream name, e.g. lsl:OpenBCI_EMG")
        self.name = name
        self.uri = f"lsl:{name}"
        self.timeout = float(timeout)
        self.gap_factor = float(gap_factor)
        if self.gap_factor <= 1.0:
            raise UsageError(f"{self.uri}: option gap_factor={gap_factor!r}: must be > 1")
        self.stall_s = float(stall_s)
        self.reconnect_s = float(reconnect_s)
        self.scale = None if scale is None else float(scale)
        self.max_buflen = float(max_buflen)
        self.read_s = float(read_s)
        self._inlet = None

    # ------------------------------------------------------------------ open / close

    def _resolve(self, pylsl):
        found = pylsl.resolve_byprop("name", self.name, minimum=1, timeout=self.timeout)
        if not found:
            seen = sorted({f"{i.name()} ({i.type()}, {i.channel_count()} ch)"
                           for i in pylsl.resolve_streams(wait_time=min(1.0, self.timeout))})
            hint = ("streams visible: " + ", ".join(seen)) if seen else (
                "no LSL streams visible at all: is the sender running, on this network?")
            raise DeviceNotFound(f"{self.uri}: no LSL stream named {self.name!r} found within "
                                 f"{self.timeout:g} s; {hint}")
        if len(found) > 1:
            log.warning("%s: %d streams share this name; using the one from %s (%s)", self.uri,
                        len(found), found[0].hostname(), found[0].source_id())
        return found[0]

    def _check(self, pylsl, info) -> None:
        if info.channel_format() in (pylsl.cf_string, getattr(pylsl, "cf_undefined", -1)):
            raise ProtocolError(f"{self.uri}: the stream carries text (markers), not a signal")
        if not info.nominal_srate() > 0:
            raise ProtocolError(f"{self.uri}: the stream has no regular sampling rate "
                                f"(nominal_srate = 0); emgpipe needs a sampled EMG stream")

    def _channels(self, info) -> tuple[tuple, list]:
        """Channel names and units from ``desc/channels/channel`` (XDF conventions)."""
        n = info.channel_count()
        names, units = [], []
        ch = info.desc().child("channels").child("channel")
        for _ in range(n):
            if ch.empty():
                break
            names.append(ch.child_value("label").strip())
            units.append(ch.child_value("unit").strip())
            ch = ch.next_sibling()
        if len(names) != n or any(not s for s in names) or len(set(names)) != n:
            names = [f"ch{i + 1}" for i in range(n)]
        units += [""] * (n - len(units))
        return tuple(names), units

    def _scales(self, units: list) -> np.ndarray:
        if self.scale is not None:
            return np.full(len(units), self.scale)
        out = []
        for u in units:
            k = UNIT_TO_UV.get(u.lower())
            if k is None:
                if u:
                    log.warning("%s: unknown channel unit %r; values taken as µV (use "
                                "?scale=F for µV per unit)", self.uri, u)
                k = 1.0
            out.append(k)
        return np.asarray(out)

    def open(self) -> None:
        if self._inlet is not None:
            return
        pylsl = import_pylsl()
        info = self._resolve(pylsl)
        self._check(pylsl, info)
        inlet = pylsl.StreamInlet(info, max_buflen=max(1, int(round(self.max_buflen))),
                                  recover=True, processing_flags=pylsl.proc_clocksync)
        try:
            full = inlet.info(timeout=self.timeout)   # with the desc() meta-data
            inlet.open_stream(timeout=self.timeout)
            offset = inlet.time_correction(timeout=self.timeout)
        except Exception as exc:  # pylsl's TimeoutError / LostError
            inlet.close_stream()
            raise DeviceNotFound(f"{self.uri}: found the stream but could not open it within "
                                 f"{self.timeout:g} s ({type(exc).__name__}: {exc})") from None
        self._inlet = inlet
        self.fs = float(full.nominal_srate())
        self.ch_names, units = self._channels(full)
        self._uv = self._scales(units)
        dtype = {pylsl.cf_float32: np.float32, pylsl.cf_double64: np.float64,
                 pylsl.cf_int8: np.int8, pylsl.cf_int16: np.int16, pylsl.cf_int32: np.int32,
                 getattr(pylsl, "cf_int64", -7): np.int64}[full.channel_format()]
        self._buf = np.zeros((PULL_MAX, len(self.ch_names)), dtype=dtype)
        self.meta = {
            "device": "lsl", "name": full.name(), "type": full.type(),
            "source_id": full.source_id(), "hostname": full.hostname(), "fs": self.fs,
            "channel_format": np.dtype(dtype).name, "units": units,
            "uv_per_unit": self._uv.tolist(),
            "clock": "LSL local_clock (steady), sender stamps mapped by time correction",
            "time_correction_s": float(offset), "first_timestamp": None, "last_timestamp": None,
            "gap_rule": f"timestamp step > {self.gap_factor:g}/fs",
            "disconnects": [], "lost_samples": 0,
        }
        self._new_link_log()
        self._next_seq = 0
        self._last_ts = None
        self._held = None          # data read by a "reconnection attempt", queued next
        self._restored = None      # (monotonic, elapsed s) of a resumption not yet told
        log.info("%s: %d channels at %g Hz from %s", self.uri, len(self.ch_names), self.fs,
                 full.hostname())
        self._new_queue()
        self._start_reader(f"lsl-reader {self.name}")

    def close(self) -> None:
        self._stop_reader(2.0 + self.read_s)
        inlet, self._inlet = self._inlet, None
        if inlet is not None:
            try:
                inlet.close_stream()
            except Exception:
                pass

    # ------------------------------------------------------------------ reading

    def _pull(self) -> tuple[np.ndarray, np.ndarray]:
        """Whatever is buffered; waits up to ``read_s`` for the first sample.

        ``pull_chunk`` with a timeout waits for a *full* buffer, so wait with
        ``pull_sample`` and then take the rest without waiting.
        """
        _, ts = self._inlet.pull_chunk(timeout=0.0, max_samples=PULL_MAX, dest_obj=self._buf)
        if len(ts):
            return self._buf[:len(ts)].astype(np.float64), np.asarray(ts, dtype=np.float64)
        sample, t = self._inlet.pull_sample(timeout=self.read_s)
        if sample is None:
            return np.zeros((0, len(self.ch_names))), np.zeros(0)
        _, ts = self._inlet.pull_chunk(timeout=0.0, max_samples=PULL_MAX - 1, dest_obj=self._buf)
        data = np.vstack([np.asarray(sample, dtype=np.float64)[None, :],
                          self._buf[:len(ts)].astype(np.float64)])
        return data, np.concatenate([[t], np.asarray(ts, dtype=np.float64)])

    def missing_before(self, ts: np.ndarray) -> np.ndarray:
        """Samples lost before each sample of ``ts``, from the timestamp steps."""
        prev = np.concatenate([[ts[0] if self._last_ts is None else self._last_ts], ts[:-1]])
        dt = ts - prev
        miss = np.where(dt > self.gap_factor / self.fs, np.rint(dt * self.fs) - 1, 0)
        return np.maximum(miss, 0).astype(np.int64)

    def _chunks_of(self, data: np.ndarray, ts: np.ndarray) -> list:
        miss = self.missing_before(ts)
        out = []
        cuts = np.concatenate([[0], np.flatnonzero(miss[1:]) + 1, [len(ts)]])
        for a, b in zip(cuts[:-1], cuts[1:]):
            attrs = {}
            if miss[a]:
                g = Gap(self._next_seq, int(miss[a]), self.fs, GAP_REASON)
                attrs["gaps"] = (g,)
                self._next_seq += g.n_missing
                self.meta["lost_samples"] += g.n_missing
            out.append(Chunk(data[a:b] * self._uv, fs=self.fs, t0=float(ts[a]), seq=self._next_seq,
                             ch_names=self.ch_names, source_id=self.uri, attrs=attrs))
            self._next_seq += b - a
        self._last_ts = float(ts[-1])
        if self.meta["first_timestamp"] is None:
            self.meta["first_timestamp"] = float(ts[0])
        self.meta["last_timestamp"] = self._last_ts
        return out

    # ------------------------------------------------------------------ reader thread

    def _read_link(self) -> bool:
        if self._held is not None:
            (data, ts), self._held = self._held, None
        else:
            data, ts = self._pull()
        if not len(ts):
            return False
        self._put(("data", time.monotonic(), (data, ts)))
        return True

    def _reconnect(self) -> bool:
        """Listen for ``read_s``: data means the sender (or liblsl's reconnection) is back."""
        data, ts = self._pull()
        if not len(ts):
            raise LinkDown("no data")
        self._held = (data, ts)
        return True

    def _lost_error(self, reason: str, last_err) -> Exception:
        silent = time.monotonic() - (self._down_since or time.monotonic())
        return StreamLost(f"{self.uri}: no data for {silent:.0f} s; the sender stopped or the "
                          f"network is down")

    # ------------------------------------------------------------------ consumer

    def _on_item(self, kind: str, t: float, payload):
        if kind == "data":
            chunks = self._chunks_of(*payload)
            if self._restored is not None:
                t_back, elapsed = self._restored
                self._restored = None
                lost = chunks[0].gaps[0].n_missing if chunks[0].gaps else 0
                self._link.restored(t_back, lost, elapsed, chunks[0].seq - lost)
            self._ready.extend(chunks)
        elif kind == "lost":
            self._link.lost(t, payload, self._next_seq)
        elif kind == "restored":
            # told with the first chunk after it, whose gap (from the timestamps) is the loss
            self._restored = (t, payload["elapsed"])
        elif kind == "fatal":
            self._link.gave_up(t, "no data", self._next_seq)
            return payload
        else:
            raise ValueError(f"unknown reader item {kind!r}")
        return None

    def _assembled(self) -> list:
        return []   # _on_item hands the chunks out
