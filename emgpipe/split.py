"""A max-speed replay in two processes: the front of the graph in a child, the rest here.

A replay of a file is a chain of stages, each needing the one before: reading the
file, the quality checks, the band-pass and notches, the window features, the
detectors. Their arithmetic is fixed (the events must stay bit for bit), and a
split over two *threads* lost to the hand-offs (docs/benchmarks-speed.md), so
the second core works as a pipeline stage in another *process*::

    child:  read ─▶ quality ─▶ filters [─▶ window features] ─┐ per chunk: its span and gaps,
                                                              │ quality events, pops, filtered
    parent:                  (Pipeline.push_back) ◀───────────┘ samples [or window features]
            [window features ─▶] detectors ─▶ events ─▶ sinks (events file)

The parent runs the same :class:`~emgpipe.graph.Pipeline` as an in-process
replay, with its sinks, through :meth:`~emgpipe.graph.Pipeline.push_back`: per
chunk the quality events, then the pops handed to the detectors, then the
detectors' events; at the end the quality stage's closing events (sent by the
child), then the detectors'. Same events, same order.

Where the child's part ends (:func:`choose_cut`): after the filters at 1 kHz, after
the window features at 250 Hz (where the detectors' share is larger).

Transfer: the filtered samples (or the window features' arrays, pickle protocol
5 out of band) go through a ring of :data:`N_SLOTS` chunk-sized slots of shared
memory; a semaphore counts the free ones, so the child is at most that many
chunks ahead and memory stays flat. The rest (a few small objects per chunk) is
pickled through a pipe.

Failures: an exception in the child (a reader's error mid-file, a bad value)
travels to the parent with its type, message and attributes, after the chunks
before it; the parent raises it where an in-process replay would have, so the
events written before it stay written and the error line and exit code are the
same. A child that dies ends the pipe (the parent raises :class:`ChildDied`,
never hangs); Ctrl-C stops the parent, which ends the child (the child ignores
SIGINT); a child whose parent is gone stops.

Start method: ``fork`` on Linux when this process runs no other thread (the
child starts at once and inherits the opened recording and the model),
``spawn`` elsewhere (macOS, Windows: the child imports emgpipe and opens the
file itself).
"""
from __future__ import annotations

import importlib
import logging
import multiprocessing as mp
import os
import pickle
import signal
import sys
import threading
import traceback
from dataclasses import dataclass

import numpy as np

from ._compiled import aot as _aot

log = logging.getLogger(__name__)

#: Chunks the child may be ahead of the parent (slots of the shared ring).
N_SLOTS = 4
#: Below this many samples (all channels together) a replay stays in one process.
#: With the kernels compiled ahead of time (emgpipe/_compiled.py) the break-even
#: is between 2.4 M and 4.8 M (the 20-min two-channel night 0.58 s in one process,
#: 0.63 s in two; 40 min 0.79 / 0.73 s; 1 h 1.76 / 1.21 s), so from 5 M: ~42 min
#: of two 1 kHz channels or of eight at 250 Hz. With numba's JIT each process
#: starts ~0.6 s later and the break-even was ~7 M (1 h of either: +-0.1 s, a
#: clear gain from ~14 M), so from 10 M: ~1.4 h (docs/benchmarks-speed.md,
#: "Two processes").
MIN_SAMPLES = 5_000_000 if _aot is not None else 10_000_000
#: The environment variable that forces the number of processes (1 or 2) when
#: ``--processes`` is not given.
ENV = "EMGPIPE_REPLAY_PROCESSES"

CUT_FILTERED, CUT_FEATURES = "filtered", "features"

#: Below this many samples per window hop, the child computes the window features too.
FEATURES_BELOW_SAMPLES_PER_HOP = 64


def choose_cut(fs: float, hop_s: float) -> str:
    """Where the child's part ends: after the filters (it sends the ``"filtered"``
    samples) or, at a low sample rate, after the window ``"features"``.

    The child reads, runs the quality stage and filters; the parent runs the
    window features and the detectors. The detectors' work goes with the
    windows (8 a second per channel), the rest with the samples: at 1 kHz (125
    samples a hop) the samples' work dominates, and the cut after the filters
    gives the two processes the closest shares; at 250 Hz (31 samples a hop)
    the detectors' does, and the window features move to the child
    (docs/benchmarks-speed.md, "Two processes").

    >>> choose_cut(1000.0, 0.125), choose_cut(250.0, 0.125)
    ('filtered', 'features')
    """
    return CUT_FEATURES if fs * hop_s < FEATURES_BELOW_SAMPLES_PER_HOP else CUT_FILTERED


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def wanted(processes: int | None, rec, speed: float | None) -> bool:
    """Whether a replay of ``rec`` runs in two processes.

    ``processes``: 1 or 2 to force it (``--processes``), None for automatic (the
    :data:`ENV` environment variable, else two when this machine has two cores
    or more and the recording, by its reader's duration hint, is long enough to
    pay: :data:`MIN_SAMPLES`). Never for a paced replay (``speed`` not None), nor
    in a daemonic process (a Dask worker's, which may not have children).
    """
    if speed is not None or mp.current_process().daemon:
        return False
    if processes is None:
        env = os.environ.get(ENV, "").strip()
        processes = int(env) if env in ("1", "2") else None
    if processes is not None:
        return processes >= 2
    return _cores() >= 2 and rec.duration_hint_s * rec.fs * len(rec.ch_names) >= MIN_SAMPLES


#: glibc's malloc options (``mallopt``) and the values the two processes use.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD, _TRIM_THRESHOLD = 32 << 20, 64 << 20


def _tune_malloc() -> None:
    """Keep chunk-sized arrays (0.1-2 MB) on the heap in both processes (glibc only).

    glibc serves a large allocation with its own ``mmap`` and gives the pages
    back when it is freed, unless a freed block already raised its threshold.
    An in-process replay raises it with the reader's first large blocks; the
    parent of a two-process replay never reads and kept mapping and faulting in
    fresh pages for every chunk's arrays (280,000 page faults, 0.6 s of system
    time, on the 8-h night). Fixed thresholds (mmap above 32 MB, the heap's top
    trimmed above 64 MB) make them reuse the heap, as in process.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return
    except (ValueError, OSError):
        return
    import ctypes
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
        libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    except (OSError, AttributeError):
        pass


def context():
    """``fork`` on Linux when no other thread runs (the child then inherits the opened
    recording), ``spawn`` elsewhere."""
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return mp.get_context("fork")
    return mp.get_context("spawn")


@dataclass(frozen=True)
class _Job:
    """What the child needs to rebuild the front of the graph (picklable for spawn)."""

    path: str
    fmt: str | None
    model_ref: object          # the model's name or path (spawn reloads it)
    signal: str
    cut: str
    chunk_s: float
    log_level: int
    log_format: str | None
    features: tuple | None = None   # the window features to compute (None: all the model's)


# ----------------------------------------------------------------------------- errors

def _pack_error(err: BaseException) -> tuple:
    """An exception as ``(type name, message, pickled state or None, traceback text)``."""
    cls = type(err)
    try:
        state = pickle.dumps((cls.__module__, cls.__qualname__, err.args, dict(getattr(err, "__dict__", {}))))
    except Exception:
        state = None
    return cls.__name__, str(err), state, traceback.format_exc()


def _unpack_error(packed: tuple) -> BaseException:
    """The child's exception, rebuilt: same type, ``args`` and attributes (so the same
    message and exit code), its traceback as a note (shown with ``--debug``)."""
    name, text, state, tb = packed
    err = None
    if state is not None:
        try:
            module, qualname, args, attrs = pickle.loads(state)
            cls = importlib.import_module(module)
            for part in qualname.split("."):
                cls = getattr(cls, part)
            if isinstance(cls, type) and issubclass(cls, BaseException):
                err = cls.__new__(cls, *args)    # not __init__: its arguments may not be args
                err.args = args
                err.__dict__.update(attrs)
                if str(err) != text:
                    err = None
        except Exception:
            err = None
    if err is None:                               # same name and message at least
        err = type(name, (Exception,), {})(text)
    err.add_note(f"(raised in the replay's reading process)\n{tb.rstrip()}")
    return err


class ChildDied(RuntimeError):
    """The child process ended without saying why (killed, out of memory)."""


# ----------------------------------------------------------------------------- child

def _front_main(job: _Job, conn, ring, free, rec=None, model=None) -> None:
    """The child: read ``rec`` (or open ``job.path``), run the front, send each chunk."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)        # Ctrl-C: the parent ends us
    if rec is None:                                      # spawn: nothing inherited
        logging.basicConfig(level=job.log_level, format=job.log_format or logging.BASIC_FORMAT)
        _tune_malloc()
    try:
        _front(job, conn, ring, free, rec, model)
    except (BrokenPipeError, ConnectionResetError, EOFError):
        pass                                             # the parent is gone: nothing to tell
    finally:
        conn.close()


def _front(job: _Job, conn, ring, free, rec, model) -> None:
    from .graph import front_units, mains_of
    part = None
    try:
        if rec is None:
            from .io import read_recording
            from .models import load_model
            rec = read_recording(job.path, fmt=job.fmt)
            model = load_model(job.model_ref)
        filters, quality, window_features = front_units(model, job.signal, job.features)
        slots = np.frombuffer(ring, dtype=np.float64).reshape(N_SLOTS, -1)
        parent = mp.parent_process()
        k = 0
        end_s = 0.0
        for chunk in rec.iter_chunks(chunk_s=job.chunk_s):
            end_s = max(end_s, chunk.end_s)
            head = (chunk.seq, chunk.n_samples, chunk.t0, dict(chunk.attrs), chunk.source_id)
            slot = k % N_SLOTS
            k += 1
            while not free.acquire(timeout=1.0):        # the parent is behind, or gone
                if parent is not None and not parent.is_alive():
                    return
            events = quality(chunk)
            part = (head, events, quality.pops, slot)    # sent with an error in the filters
            filtered = filters(chunk)
            if job.cut == CUT_FEATURES:
                features = _pack(window_features(filtered), slots[slot])
            else:
                features = None
                _put(slots[slot], filtered.data)
            conn.send(("chunk", head, events, quality.pops, slot, features))
            part = None                                  # (an error in the reader comes next)
        conn.send(("end", quality.close(end_s), mains_of(filters), rec.learned()))
    except (BrokenPipeError, ConnectionResetError):
        raise
    except BaseException as err:
        packed = _pack_error(err)
        try:
            conn.send(("error", part, packed))
        except (BrokenPipeError, ConnectionResetError):
            raise
        except Exception:                  # something in it does not pickle: the message at least
            conn.send(("error", None, packed[:2] + (None, packed[3])))


def _put(slot: np.ndarray, data: np.ndarray) -> None:
    """Samples into a slot of the ring, row by row (C order)."""
    slot[:data.size].reshape(data.shape)[...] = data


def _pack(obj, slot: np.ndarray) -> tuple:
    """``obj`` (window features) pickled with its arrays' bytes in ``slot`` (pickle
    protocol 5, out of band), so the pipe carries only a few hundred bytes and the
    child can run :data:`N_SLOTS` chunks ahead; ``(pickle, sizes)``, or ``(pickle,
    None)`` with the arrays in band when they do not fit the slot."""
    buffers = []
    data = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    raws = [b.raw() for b in buffers]
    sizes = [r.nbytes for r in raws]
    room = slot.view(np.uint8)
    if sum(sizes) > room.size:
        return pickle.dumps(obj, protocol=5), None
    at = 0
    for r, n in zip(raws, sizes):
        room[at:at + n] = np.frombuffer(r, dtype=np.uint8)
        at += n
    return data, sizes


def _unpack(packed: tuple, slot: np.ndarray):
    """What :func:`_pack` put in ``slot``, its arrays copied out (the slot is reused)."""
    data, sizes = packed
    if sizes is None:
        return pickle.loads(data)
    room = slot.view(np.uint8)
    offsets = np.cumsum([0] + sizes)
    return pickle.loads(data, buffers=[bytearray(room[a:b]) for a, b in zip(offsets[:-1], offsets[1:])])


# ----------------------------------------------------------------------------- parent

class Front:
    """The child process running the front of the graph over one recording.

    :func:`start` it as early as possible (it reads while the parent builds its
    pipeline), then :meth:`run` the parent's pipeline over what it sends;
    :meth:`stop` (also called by :meth:`run`) ends it whatever happened.
    """

    def __init__(self, rec, model, model_ref, signal_kind: str, fmt: str | None = None,
                 features: tuple | None = None):
        from .devices.base import max_speed_chunk_s
        from .graph import features_from_model
        self.rec = rec
        n_ch = len(rec.ch_names)
        chunk_s = max_speed_chunk_s(rec.fs, n_ch)
        self.cut = choose_cut(rec.fs, features_from_model(model).settings.window.hop_s)
        ctx = context()
        fork = ctx.get_start_method() == "fork"
        _tune_malloc()                  # (a forked child inherits it)
        root = logging.getLogger()
        fmt_log = root.handlers[0].formatter._fmt if root.handlers and root.handlers[0].formatter else None
        job = _Job(str(rec.path), fmt, model_ref, signal_kind, self.cut, chunk_s, root.level, fmt_log,
                   features)
        self.features = features
        # a slot: a chunk's filtered samples, or its window features' arrays
        n_max = max(1, int(round(chunk_s * rec.fs)))
        self.ring = ctx.RawArray("d", N_SLOTS * n_max * n_ch)
        self.free = ctx.Semaphore(N_SLOTS)
        recv, send = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_front_main, name="emgpipe-replay-front", daemon=True,
                                args=(job, send, self.ring, self.free, rec if fork else None,
                                      model if fork else None))
        self.proc.start()
        send.close()                    # ours closed: the child's end closing is EOF here
        self.conn = recv
        self._ended = False

    def _recv(self):
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            self.proc.join(5.0)
            code = self.proc.exitcode
            why = (f"killed by signal {-code}" if code is not None and code < 0
                   else f"exit code {code}")
            raise ChildDied(f"{self.rec.path}: the replay's reading process ended ({why}) "
                            f"before the end of the recording") from None

    def run(self, pipe, progress=None):
        """Run ``pipe`` (its sinks connected) over the child's chunks, close it and
        return the :class:`~emgpipe.pipeline.RunResult` an in-process
        :func:`~emgpipe.pipeline.run_recording` would give."""
        from .pipeline import collect, finish_result, warm_back
        from .types import Chunk
        if pipe.feature_names != self.features:
            raise ValueError(f"the replay's front computes the window features {self.features}, "
                             f"its pipeline's detectors read {pipe.feature_names}")
        rec = self.rec
        fs, names, n_ch = rec.fs, rec.ch_names, len(rec.ch_names)
        slots = np.frombuffer(self.ring, dtype=np.float64).reshape(N_SLOTS, -1)
        announced, final = collect(pipe)

        def chunk_in(slot, head):
            seq, n, t0, attrs, sid = head
            return Chunk(slots[slot, :n * n_ch].reshape(n, n_ch), fs=fs, t0=t0, seq=seq,
                         ch_names=names, units=rec.units, source_id=sid, attrs=attrs)

        def push(head, events, pops, slot, features=None, filtered=True):
            if features is not None:
                features = _unpack(features, slots[slot])
            filtered = chunk_in(slot, head) if filtered and features is None else None
            seq, n, _, attrs, _ = head
            end_s = (seq + n) / fs                        # Chunk.end_s
            pipe.push_back((end_s, n, tuple(attrs.get("gaps", ()))), events, pops, filtered=filtered,
                           features=features)
            return end_s
        try:
            if not self.conn.poll(0):           # nothing to do yet: load this side's kernels
                warm_back(pipe, fs, n_ch)
            while True:
                msg = self._recv()
                if msg[0] == "chunk":
                    end_s = push(*msg[1:])
                    self.free.release()           # the slot's samples are not looked at again
                    if progress is not None:
                        progress(end_s)
                elif msg[0] == "error":
                    _, part, packed = msg
                    if part is not None:         # the chunk's gaps and pops were checked, then it failed
                        push(*part, filtered=False)
                    raise _unpack_error(packed)
                else:
                    _, closing, mains_hz, facts = msg
                    self._ended = True
                    break
        finally:
            self.stop()
        pipe.close(quality_closing=closing)
        rec.learn(facts)
        return finish_result(pipe, announced, final, mains_hz)

    def stop(self) -> None:
        """End the child (if it has sent everything, let it exit first) and close the pipe."""
        proc = self.proc
        if self._ended:
            proc.join(2.0)
        if proc.is_alive():
            proc.terminate()
            proc.join(2.0)
            if proc.is_alive():
                proc.kill()
                proc.join()
        self.conn.close()


def start(rec, model, model_ref, signal_kind: str, fmt: str | None = None,
          features="default") -> Front:
    """Start the child for ``rec`` (opened, header read), computing the window
    ``features`` the parent's pipeline computes (its ``feature_names``;
    ``"default"``: :func:`~emgpipe.pipeline.replay_features`, those of
    :func:`~emgpipe.pipeline.build_pipeline`); see :class:`Front`."""
    if features == "default":
        from .pipeline import replay_features
        features = replay_features(model)
    return Front(rec, model, model_ref, signal_kind, fmt, features)
