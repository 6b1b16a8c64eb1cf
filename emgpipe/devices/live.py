"""What the live device sources share: counters, chunk assembly, link log, the base class.

- :class:`PacketCounter` turns a device's wrapping packet counter into a
  running sample index that counts lost samples (DESIGN: "the sample counter
  is the truth").
- :class:`ChunkAssembler` turns indexed samples into contiguous
  :class:`~emgpipe.types.Chunk` objects whose ``attrs["gaps"]`` report every
  loss, and starts a new "epoch" after a reconnect (the device counter
  restarts; the lost wall-clock time becomes a gap).
- :class:`LinkLog` records disconnects/reconnects in ``meta["disconnects"]``
  and tells listeners (e.g. the night logger).
- :class:`LiveSource`: the base of every live device source (options with the
  same names everywhere, link listeners, reconnect back-off, and the reader
  thread: one implementation of "read on a thread, assemble on the consumer's").
"""
from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from typing import Iterable, Iterator

import numpy as np

from ..errors import DeviceError, StreamLost
from ..types import Chunk, Gap
from .base import Source
from .options import LIVE, parse_options

log = logging.getLogger(__name__)

#: Items a reader thread may queue ahead of a slow consumer (~10 min at 20 ms reads).
QUEUE_ITEMS = 30000

#: A shortfall of this fraction of one counter cycle between the wall clock and
#: the counter marks a loss longer than one wrap (see PacketCounter.unwrap).
WRAP_GUARD_FRACTION = 0.75


class PacketCounter:
    """Unwrap a modular packet counter into absolute sample indices.

    Parameters
    ----------
    offsets : sequence of int
        ``offsets[p]`` is the index, within one counter cycle, of the first
        sample carried by the packet at counter position ``p``;
        ``offsets[-1]`` is the number of samples per cycle. The Cyton counter
        (one sample per packet, wraps 255 -> 0, protocols.md §1.5) is
        ``range(257)``; the Ganglion firmware 2 cycle (raw packet of 1 sample
        then 100 packets of 2, §2.3) is ``[0, 1, 3, ..., 201]``.
    rate_hz : float, optional
        Nominal samples per second; enables the wrap guard below.

    Notes
    -----
    A counter only tells losses modulo one cycle. Losing a whole cycle or more
    (about 1 s on both boards) would look like a small gap. The *wrap guard*
    compares, per batch of packets read together, the samples the counter
    accounts for with the time the link was silent before it (``quiet_s``,
    else the wall-clock time since the previous batch): if the counter falls
    short by more than 3/4 of a cycle, the missing whole cycles are added at
    the largest jump in the batch. This assumes the transport
    does not hold data back for longer than that (true for the dongle's serial
    port and the OS buffers in front of it); a device running *faster* than
    real time (the emulator) never triggers it.

    Examples
    --------
    >>> c = PacketCounter(range(257))
    >>> c.unwrap([254, 255, 0, 3]).tolist()
    [254, 255, 256, 259]
    >>> c.expected_next
    260
    """

    def __init__(self, offsets: Iterable[int], rate_hz: float | None = None):
        self.offsets = np.asarray(list(offsets), dtype=np.int64)
        if self.offsets.ndim != 1 or len(self.offsets) < 2 or np.any(np.diff(self.offsets) <= 0):
            raise ValueError("offsets must be strictly increasing with at least 2 entries")
        self.n_positions = len(self.offsets) - 1
        self.per_cycle = int(self.offsets[-1])
        self.sizes = np.diff(self.offsets)
        self.rate_hz = rate_hz
        self.reset()

    def reset(self) -> None:
        """Forget the history (a new connection restarts the device counter)."""
        self._cycle = 0
        self._last_pos = None
        self._t_prev = None
        self.expected_next = None

    def unwrap(self, positions, t: float | None = None,
               quiet_s: float | None = None) -> np.ndarray:
        """Absolute index of the first sample of each packet.

        Parameters
        ----------
        positions : sequence of int
            Counter positions (0 .. n_positions-1) in arrival order.
        t : float, optional
            Host monotonic arrival time of this batch (for the wrap guard).
        quiet_s : float, optional
            Seconds the reader actually listened and heard nothing right
            before this batch. When given, the wrap guard uses it instead of
            the time since the previous batch: time in which the host was not
            reading (overloaded, swapping) is no evidence of loss, since the
            bytes wait in OS buffers and one read returns only part of them.
        """
        pos = np.asarray(positions, dtype=np.int64).reshape(-1)
        if pos.size and (pos.min() < 0 or pos.max() >= self.n_positions):
            raise ValueError(f"counter position out of range 0..{self.n_positions - 1}")
        out = np.empty(pos.size, dtype=np.int64)
        start_next = self.expected_next
        cycle, last = self._cycle, self._last_pos
        for i, p in enumerate(pos.tolist()):
            if last is not None and p <= last:
                cycle += 1
            out[i] = cycle * self.per_cycle + self.offsets[p]
            last = p
        if pos.size:
            self._cycle, self._last_pos = cycle, last
            end = int(out[-1] + self.sizes[pos[-1]])
            if quiet_s is None and t is not None and self._t_prev is not None:
                quiet_s = t - self._t_prev
            if self.rate_hz and quiet_s is not None and start_next is not None:
                end += self._guard(out, pos, start_next, end, quiet_s)
            self.expected_next = end
        if t is not None:
            self._t_prev = t
        return out

    def _guard(self, out, pos, start_next, end, elapsed) -> int:
        expected = elapsed * self.rate_hz
        accounted = end - start_next
        short = expected - accounted
        if short <= WRAP_GUARD_FRACTION * self.per_cycle:
            return 0
        k = int(round(short / self.per_cycle))
        if k <= 0:
            return 0
        prev_end = np.concatenate(([start_next], out[:-1] + self.sizes[pos[:-1]]))
        j = int(np.argmax(out - prev_end))
        out[j:] += k * self.per_cycle
        self._cycle += k
        log.warning("packet counter: %.2f s without data but only %d samples accounted for; "
                    "assuming %d whole counter cycle(s) (%d samples) were lost",
                    elapsed, accounted, k, k * self.per_cycle)
        return k * self.per_cycle


def cycle_offsets(sizes: Iterable[int]) -> list:
    """``offsets`` for :class:`PacketCounter` from samples per counter position."""
    out = [0]
    for s in sizes:
        out.append(out[-1] + int(s))
    return out


class ChunkAssembler:
    """Collect indexed samples and cut them into contiguous chunks with gaps.

    ``push(indices, values)`` takes device sample indices (from
    :class:`PacketCounter`, monotonic within one connection); a jump in the
    indices becomes a :class:`~emgpipe.types.Gap`. ``new_epoch(n_missing)``
    after a reconnect re-bases the indices (the device counter restarted) and
    records the wall-clock loss. ``pop()`` returns the finished chunks; gaps
    not yet followed by a sample stay pending and are attached to the next
    chunk (a gap always ends right before its chunk's first sample).

    Examples
    --------
    >>> import numpy as np
    >>> a = ChunkAssembler(250.0, ("ch1",), "demo")
    >>> a.push([10, 11, 14], np.ones((3, 1)), t=1.0)
    >>> [(c.seq, c.n_samples, c.gaps) for c in a.pop()]  # doctest: +NORMALIZE_WHITESPACE
    [(0, 2, ()), (4, 1, (Gap(seq=2, n_missing=2, fs=250.0, reason='dropped packets'),))]
    """

    def __init__(self, fs: float, ch_names: tuple, source_id: str, units: str = "uV"):
        self.fs = float(fs)
        self.ch_names = tuple(ch_names)
        self.source_id = source_id
        self.units = units
        self.next_seq = 0          # seq of the next sample to come
        self._base = None          # device index of seq 0 in this epoch
        self._gaps = []            # pending gaps (not yet followed by a sample)
        self._segments = []        # [seq0, [arrays], t_last, gaps]
        self.n_lost = 0

    def _add_gap(self, n: int, reason: str) -> None:
        if n <= 0:
            return
        if self._gaps and self._gaps[-1].seq + self._gaps[-1].n_missing == self.next_seq \
                and self._gaps[-1].reason == reason:
            g = self._gaps.pop()
            self._gaps.append(Gap(g.seq, g.n_missing + n, self.fs, reason))
        else:
            self._gaps.append(Gap(self.next_seq, n, self.fs, reason))
        self.next_seq += n
        self.n_lost += n

    def new_epoch(self, n_missing: int, reason: str) -> None:
        """The device restarted its counter; ``n_missing`` samples were lost."""
        self._base = None
        self._add_gap(int(n_missing), reason)

    def push(self, indices, values, t: float, reason: str = "dropped packets") -> None:
        """Add samples ``values[i]`` at device index ``indices[i]`` (increasing)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        values = np.asarray(values, dtype=np.float64)
        if idx.size == 0:
            return
        if values.shape != (idx.size, len(self.ch_names)):
            raise ValueError(f"values shape {values.shape} != ({idx.size}, {len(self.ch_names)})")
        if self._base is None:
            self._base = int(idx[0]) - self.next_seq
        seqs = idx - self._base
        keep = np.concatenate(([seqs[0] >= self.next_seq], np.diff(seqs) > 0))
        if not keep.all():
            log.warning("%s: %d out-of-order sample(s) ignored", self.source_id, int((~keep).sum()))
            seqs, values = seqs[keep], values[keep]
            if seqs.size == 0:
                return
        breaks = np.flatnonzero(np.diff(seqs) != 1) + 1
        for a, b in zip(np.concatenate(([0], breaks)), np.concatenate((breaks, [seqs.size]))):
            s0 = int(seqs[a])
            if s0 > self.next_seq:
                self._add_gap(s0 - self.next_seq, reason)
            if self._gaps or not self._segments:
                self._segments.append([s0, [], t, tuple(self._gaps)])
                self._gaps = []
            seg = self._segments[-1]
            seg[1].append(values[a:b])
            seg[2] = t
            self.next_seq = s0 + int(b - a)

    def pop(self) -> list:
        """The chunks completed since the last call (possibly none)."""
        out = []
        for seq0, parts, t_last, gaps in self._segments:
            data = np.concatenate(parts) if len(parts) > 1 else parts[0]
            n = data.shape[0]
            out.append(Chunk(data, fs=self.fs, t0=t_last - (n - 1) / self.fs, seq=seq0,
                             ch_names=self.ch_names, units=self.units, source_id=self.source_id,
                             attrs={"gaps": gaps} if gaps else {}))
        self._segments = []
        return out


class LinkLog:
    """Disconnect/reconnect records for ``meta["disconnects"]`` and listeners.

    Each listener is called with a dict: ``event`` (``"disconnect"``,
    ``"reconnect"`` or ``"gave_up"``), ``source``, ``reason``, ``seq`` (stream
    sample index where the loss starts), ``time`` (wall clock, s since the
    epoch), ``monotonic``, and for reconnects ``n_missing`` and ``elapsed_s``.
    Listener errors are logged, never raised into the stream.
    """

    def __init__(self, source_id: str, records: list, listeners: list):
        self.source_id = source_id
        self.records = records
        self.listeners = listeners
        self._open = None

    def _tell(self, event: dict) -> None:
        for fn in list(self.listeners):
            try:
                fn(dict(event))
            except Exception:  # a broken listener must not stop acquisition
                log.exception("%s: link listener %r failed", self.source_id, fn)

    def _event(self, kind: str, t_mono: float, reason: str, seq: int, **extra) -> dict:
        wall = time.time() - (time.monotonic() - t_mono)
        return {"event": kind, "source": self.source_id, "reason": reason, "seq": int(seq),
                "time": wall, "monotonic": t_mono, **extra}

    def lost(self, t_mono: float, reason: str, seq: int) -> None:
        ev = self._event("disconnect", t_mono, reason, seq)
        log.warning("%s: connection lost (%s); reconnecting", self.source_id, reason)
        self._open = {"lost_at": ev["time"], "reason": reason, "seq": int(seq),
                      "reconnected_at": None, "n_missing": None}
        self.records.append(self._open)
        self._tell(ev)

    def restored(self, t_mono: float, n_missing: int, elapsed_s: float, seq: int) -> None:
        reason = self._open["reason"] if self._open else "reconnect"
        ev = self._event("reconnect", t_mono, reason, seq, n_missing=int(n_missing),
                         elapsed_s=float(elapsed_s))
        log.warning("%s: reconnected after %.1f s (%d samples lost)", self.source_id, elapsed_s,
                    n_missing)
        if self._open is not None:
            self._open.update(reconnected_at=ev["time"], n_missing=int(n_missing))
            self._open = None
        self._tell(ev)

    def gave_up(self, t_mono: float, reason: str, seq: int) -> None:
        self._tell(self._event("gave_up", t_mono, reason, seq))

    def apply(self, kind: str, t_mono: float, payload, asm: ChunkAssembler):
        """Apply a reader's ``lost``/``restored``/``fatal`` item to ``asm``.

        ``restored`` carries ``{"elapsed": s}`` (from the last data to the
        restart); it becomes one gap of ``round(elapsed * fs)`` samples.
        Returns the exception of a ``fatal`` item (to raise once the chunks
        already assembled have been handed out), else None.
        """
        if kind == "lost":
            self.lost(t_mono, payload, asm.next_seq)
        elif kind == "restored":
            elapsed = payload["elapsed"]
            n_missing = int(round(elapsed * asm.fs))
            self.restored(t_mono, n_missing, elapsed, asm.next_seq)
            asm.new_epoch(n_missing, f"reconnect after {elapsed:.1f} s")
        elif kind == "fatal":
            self.gave_up(t_mono, str(payload), asm.next_seq)
            return payload
        else:
            raise ValueError(f"unknown link item {kind!r}")
        return None


def drain(q, timeout: float) -> list:
    """Everything in queue ``q``: wait up to ``timeout`` for the first item."""
    items = []
    try:
        items.append(q.get(timeout=timeout))
    except queue.Empty:
        return items
    while True:
        try:
            items.append(q.get_nowait())
        except queue.Empty:
            return items


class LinkDown(Exception):
    """Raised by :meth:`LiveSource._read_link` when the transport failed (the reason)."""


def backoff(schedule) -> Iterator[float]:
    """The delays between reconnection attempts: ``schedule``, then its last value forever."""
    yield from schedule
    while True:
        yield schedule[-1]


class LiveSource(Source):
    """What every live device source shares (Cyton, Ganglion, bridge, LSL).

    - **Options** with the same names everywhere: ``OPTIONS`` (name ->
      :class:`~emgpipe.devices.options.Option`, starting from
      :data:`~emgpipe.devices.options.LIVE`) parsed by one parser in
      :meth:`from_uri`; ``KWARGS`` maps an option to the constructor keyword
      where they differ.
    - **Link reporting**: ``link_listeners`` (callables told about
      ``disconnect`` / ``reconnect`` / ``gave_up``, see :class:`LinkLog`) and
      ``meta["disconnects"]``, through :meth:`_new_link_log`.
    - **Reconnect back-off**: :data:`BACKOFF`, one schedule for every device
      (:meth:`backoff_delays`).
    - **Channel names**: ``names=`` through :meth:`Source.use_names` (the
      bridge names its RAW channels itself).
    - **The reader thread** (:meth:`_start_reader`, used by the Cyton, the
      firmware bridge and the LSL inlet): one thread per source calls the subclass's
      :meth:`_read_link` (one read of the transport; it queues what it read,
      stamped with its arrival time, with :meth:`_put`) until
      :meth:`_stop_reader`. Silence for ``stall_s`` (counted as listening
      time, see :meth:`_reader`) or a :class:`LinkDown` starts
      :meth:`_recover`: ``lost``, back-off over :meth:`_reconnect`, then
      ``restored`` or ``fatal``, queued behind the data read before. The
      consumer's :meth:`chunks` (the caller's thread) drains the queue in
      order through :meth:`_on_item` and :meth:`_assembled`, so the chunk
      assembly and the link log are touched by one thread only, in arrival
      order. Finished chunks wait in a deque: a consumer that stops iterating
      and calls :meth:`chunks` again loses nothing. The Ganglion is read by
      bleak's notification callbacks on its BLE event loop's thread, which
      queue the same items for the same assembly, link log and back-off.

    A source using the reader thread sets ``read_s``, ``stall_s`` and
    ``reconnect_s`` and implements :meth:`_read_link`, :meth:`_reconnect`,
    :meth:`_drop_link` and :meth:`_on_item` (or ``_on_data``).
    """

    OPTIONS: dict = LIVE
    KWARGS: dict = {}
    #: Seconds between reconnection attempts (the last value repeats).
    BACKOFF = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)

    def __init__(self):
        super().__init__()
        #: Callables told about disconnects/reconnects (see :class:`LinkLog`).
        self.link_listeners: list = []
        self.backoff = tuple(self.BACKOFF)
        self._halt = threading.Event()       # set: the reader thread must end
        self._thread: threading.Thread | None = None
        self._q: queue.Queue | None = None   # reader -> consumer: (kind, monotonic t, payload)
        self._ready: collections.deque = collections.deque()   # chunks not yet handed out
        self._fatal: BaseException | None = None
        self._down_since: float | None = None  # last data before the current outage
        self._rx_t = 0.0                     # monotonic time of the last data read
        self._quiet_s = 0.0                  # listening time without data since then

    @classmethod
    def options_from_uri(cls, target: str, options: dict) -> dict:
        """Constructor keywords from URI / command-line ``options`` (one parser, one set of names)."""
        opts = parse_options(f"{cls.scheme}:{target}", options, cls.OPTIONS)
        return {cls.KWARGS.get(k, k): v for k, v in opts.items()}

    @classmethod
    def from_uri(cls, target: str, **options) -> "LiveSource":
        return cls(target, **cls.options_from_uri(target, options))

    def _new_link_log(self) -> "LinkLog":
        """A :class:`LinkLog` writing to ``meta["disconnects"]`` and telling ``link_listeners``."""
        self._link = LinkLog(self.uri, self.meta.setdefault("disconnects", []), self.link_listeners)
        return self._link

    def backoff_delays(self) -> Iterator[float]:
        """Delays between reconnection attempts (:data:`BACKOFF`, last value repeats)."""
        return backoff(self.backoff)

    # ------------------------------------------------------------------ reader thread
    #: Errors of one reconnection attempt that mean "try again" (DeviceError and
    #: OSError cover pyserial's SerialException and the device's own errors).
    RECONNECT_ERRORS: tuple = (DeviceError, OSError, LinkDown)

    def _new_queue(self) -> None:
        """A fresh reader -> consumer queue (at open, before the first read)."""
        self._q = queue.Queue(maxsize=QUEUE_ITEMS)
        self._ready = collections.deque()
        self._fatal = None
        self._down_since = None

    def _start_reader(self, name: str) -> None:
        """Start the reader thread (after the connection is set up)."""
        if self._q is None:
            self._new_queue()
        self._halt.clear()
        self._thread = threading.Thread(target=self._reader, name=name, daemon=True)
        self._thread.start()

    def _stop_reader(self, timeout: float) -> None:
        """Ask the reader thread to end and wait up to ``timeout`` seconds for it."""
        self._halt.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=timeout)

    @property
    def reading(self) -> bool:
        """True from the reader's start to :meth:`_stop_reader`."""
        return self._thread is not None

    def _put(self, item: tuple) -> None:
        """Queue ``(kind, monotonic t, payload)`` for the consumer (reader thread).

        Blocks while the queue is full (lossless; the device's own buffers
        then fill, and their overflow comes out as gaps), until halted.
        """
        while not self._halt.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return
            except queue.Full:
                log.warning("%s: consumer is not keeping up; reader waiting", self.uri)

    def _reader(self) -> None:
        """The reader thread: :meth:`_read_link` until halted, recovering lost links.

        Silence is measured as *listening* time (``_quiet_s``): the summed
        duration of the reads that returned nothing since the last data, each
        counted for at most ``2 * read_s``. A read that took longer, or time
        spent between reads, means this thread was not running (overloaded
        host, swapping, a long GIL hold), and meanwhile the device's bytes
        wait in the OS buffers: that is no evidence of a silent link. The
        stall test uses it, and so can the packet counter's wrap guard (the
        Cyton passes it along with its bytes), so neither invents a lost link
        or lost counter cycles when the host, not the device, paused.
        """
        self._rx_t, self._quiet_s = time.monotonic(), 0.0
        while not self._halt.is_set():
            t_read = time.monotonic()
            try:
                got = self._read_link()
            except LinkDown as exc:
                if self._halt.is_set():
                    break
                if not self._recover(str(exc), self._rx_t):
                    break
                self._rx_t, self._quiet_s = time.monotonic(), 0.0
                continue
            except Exception as exc:  # a bug or an unusable device: end the stream, loudly
                if not self._halt.is_set():
                    log.exception("%s: reader failed", self.uri)
                    self._put(("fatal", time.monotonic(), exc))
                break
            now = time.monotonic()
            if got:
                self._rx_t, self._quiet_s = now, 0.0
                self._down_since = None
                continue
            self._quiet_s += min(now - t_read, 2 * self.read_s)
            if self._quiet_s >= self.stall_s:
                if not self._recover(f"no data for {self.stall_s:g} s", self._rx_t):
                    break
                self._rx_t, self._quiet_s = time.monotonic(), 0.0

    def _recover(self, reason: str, t_last: float) -> bool:
        """Reconnect with back-off (reader thread); False if given up or halted.

        Queues ``("lost", t_last, reason)``, then ``("restored", t,
        {"elapsed", "attempts"})`` or ``("fatal", t, exception)``.
        ``reconnect_s`` counts from the last data, across repeated losses: a
        device that reconnects but never sends data is eventually given up.
        """
        if self._down_since is None:
            self._down_since = t_last
        base = self._down_since
        self._put(("lost", t_last, reason))
        self._drop_link()
        delays, attempts, last_err = self.backoff_delays(), 0, None
        while not self._halt.is_set():
            if time.monotonic() - base >= self.reconnect_s and (attempts or base < t_last):
                break
            attempts += 1
            try:
                if not self._reconnect():  # halted meanwhile
                    return False
                now = time.monotonic()
                self._put(("restored", now, {"elapsed": now - t_last, "attempts": attempts}))
                return True
            except self.RECONNECT_ERRORS as exc:
                last_err = exc
                log.debug("%s: reconnect attempt %d failed: %s", self.uri, attempts, exc)
                self._drop_link()
            if time.monotonic() - base >= self.reconnect_s:
                break
            self._halt.wait(next(delays))
        if not self._halt.is_set():
            self._put(("fatal", time.monotonic(), self._lost_error(reason, last_err)))
        return False

    def _lost_error(self, reason: str, last_err) -> Exception:
        """The exception iteration ends with when reconnecting failed for ``reconnect_s``."""
        return StreamLost(f"{self.uri}: {reason}; could not reconnect within {self.reconnect_s:g} s "
                          f"(last error: {last_err or 'connected but no data came'})")

    def _read_link(self) -> bool:
        """One read of the transport (reader thread); True if data came.

        Queue what was read with :meth:`_put`; raise :class:`LinkDown` when the
        transport failed.
        """
        raise NotImplementedError

    def _reconnect(self) -> bool:
        """Reopen the transport and restart streaming (reader thread).

        Raise one of :data:`RECONNECT_ERRORS` to try again later; return False
        if halted meanwhile (leaving the transport closed), else True.
        """
        raise NotImplementedError

    def _drop_link(self) -> None:
        """Close the lost transport (reader thread); must not raise."""

    def _on_item(self, kind: str, t: float, payload):
        """Apply one queued item (consumer thread); return the exception of a ``fatal``.

        ``data`` goes to ``_on_data(t, *payload)``; ``lost`` / ``restored`` /
        ``fatal`` to the link log and the chunk assembler ``_asm``
        (:meth:`LinkLog.apply`).
        """
        if kind == "data":
            self._on_data(t, *payload)
            return None
        return self._link.apply(kind, t, payload, self._asm)

    def _assembled(self) -> list:
        """Chunks finished by the items applied (consumer thread)."""
        return self._asm.pop()

    def _wait_s(self) -> float:
        """Longest wait for the reader's next item."""
        return max(self.read_s, 0.01) * 2

    def chunks(self) -> Iterator[Chunk]:
        """Chunks as the reader thread delivers them (about every ``read_s``).

        Ends when :meth:`stop` is called; raises the
        :class:`~emgpipe.errors.StreamLost` of a link that did not come back,
        after the chunks read before it.
        """
        if not self.reading:
            self.open()
        while not self._stopped:
            while self._ready:
                yield self._ready.popleft()
            if self._fatal is not None:
                exc, self._fatal = self._fatal, None
                raise exc
            for kind, t, payload in drain(self._q, self._wait_s()):
                fatal = self._on_item(kind, t, payload)
                if fatal is not None and self._fatal is None:
                    self._fatal = fatal
            self._ready.extend(self._assembled())
