"""DATA frames -> :class:`~emgpipe.types.Chunk` with a gap-aware sample counter.

Pure logic (no I/O), shared by the serial and BLE sources.

The device numbers every sample it takes (``first_sample`` of a DATA frame,
u32, wraps). The stream's ``seq`` follows that counter, so a lost frame (CRC
error, dropped BLE notification, device buffer overrun) becomes a jump in
``seq`` announced as a :class:`~emgpipe.types.Gap` on the next chunk, never
filled. After a link loss the same device keeps counting, so the gap is exact;
if the device restarted (new ``boot_id``, or its counter went backwards) the
gap length is estimated from the host clock and says so.
"""
from __future__ import annotations

import logging

import numpy as np

from ...errors import ProtocolError
from ...types import Chunk
from ..boards import MYOWARE_ENV_GAIN
from ..live import ChunkAssembler as SampleAssembler
from .protocol import ChannelKind, DataFrame, StatusFrame

log = logging.getLogger(__name__)

_WRAP = 1 << 32
_HALF = 1 << 31

#: ENV gain of the MyoWare 2.0 (MW-LIB's default pot; see :data:`emgpipe.devices.boards.MYOWARE_ENV_GAIN`).
DEFAULT_ENV_GAIN = MYOWARE_ENV_GAIN

_PREFIX = {ChannelKind.RAW: "raw", ChannelKind.ENV: "env", ChannelKind.RECT: "rect"}


def check_status(status: StatusFrame) -> None:
    """:class:`ProtocolError` for a STATUS frame no stream can be built on (a
    corrupt or foreign device: zero rate, ADC bits, reference or gain)."""
    bad = []
    if not 1 <= int(status.adc_bits) <= 24:
        bad.append(f"ADC bits {status.adc_bits}")
    if status.vref_mv <= 0:
        bad.append(f"reference {status.vref_mv} mV")
    if status.raw_gain <= 0:
        bad.append(f"gain {status.raw_gain}")
    if status.fs_hz <= 0:
        bad.append(f"rate {status.fs_hz} Hz")
    if len(status.channels) != status.n_ch:
        bad.append(f"{status.n_ch} channels but {len(status.channels)} descriptors")
    if bad:
        raise ProtocolError(f"device status is not usable ({', '.join(bad)}); "
                            "check the firmware and the baud rate")


def channel_layout(status: StatusFrame, *, include_env: bool = False,
                   env_gain: float = DEFAULT_ENV_GAIN, names=None):
    """Which device channels become chunk columns, their names and µV scales.

    RAW (RAW - REF) and RECT channels use the RAW gain (200, §3.1); ENV uses
    ``env_gain``. ``names`` renames the RAW channels in order.

    Returns
    -------
    keep : list of int
        Device channel indices kept.
    ch_names : tuple of str
    scale : ndarray
        µV per ADC count for each kept channel.
    """
    check_status(status)
    keep, ch_names, scale = [], [], []
    raw_names = list(names or [])
    for i, (sensor, kind) in enumerate(status.channels):
        if kind == ChannelKind.ENV and not include_env:
            continue
        prefix = _PREFIX.get(kind, f"k{int(kind)}_")
        name = f"{prefix}{sensor + 1}"
        if kind == ChannelKind.RAW and raw_names:
            name = raw_names.pop(0)
        if kind == ChannelKind.ENV:
            s = status.volts_per_count / float(env_gain) * 1e6
        else:
            s = status.uv_per_count
        keep.append(i)
        ch_names.append(name)
        scale.append(s)
    if not keep:
        raise ProtocolError("device reports no RAW channel (channel map: "
                            f"{list(status.channels)}); add ?env=1 to use ENV only")
    if raw_names:
        raise ProtocolError(f"more channel names given than RAW channels ({len(names)} names)")
    return keep, tuple(ch_names), np.asarray(scale, dtype=np.float64)


class ChunkAssembler:
    """Turns DATA frames into chunks; tracks device counters and gaps.

    Parameters
    ----------
    status : StatusFrame
        The device's description (fs, channel map, ADC scaling).
    source_id : str
    include_env, env_gain, names
        See :func:`channel_layout`.

    Examples
    --------
    >>> import numpy as np
    >>> from emgpipe.devices.bridge.protocol import StatusFrame, DataFrame, FrameType, ChannelKind
    >>> st = StatusFrame(FrameType.STATUS, 0, fs_hz=1000, n_ch=1, channels=((0, ChannelKind.RAW),))
    >>> asm = ChunkAssembler(st)
    >>> f = lambda seq, first: DataFrame(FrameType.DATA, seq, first_sample=first, fs_hz=1000,
    ...                                  samples=np.ones((10, 1), np.int16))
    >>> a = asm.push(f(0, 500), t=1.0); b = asm.push(f(2, 520), t=1.02)  # frame 1 lost
    >>> for seq in (0, 2): asm.note_frame_seq(seq)
    >>> (a.seq, b.seq, b.gaps[0].n_missing, asm.lost_frames)
    (0, 20, 10, 1)
    """

    def __init__(self, status: StatusFrame, *, source_id: str = "", include_env: bool = False,
                 env_gain: float = DEFAULT_ENV_GAIN, names=None):
        self.source_id = source_id
        self.fs_hz = int(status.fs_hz)
        self.fs = float(status.fs_hz)
        self.n_ch_dev = int(status.n_ch)
        self.channels = tuple(status.channels)
        self.keep, self.ch_names, self.scale = channel_layout(
            status, include_env=include_env, env_gain=env_gain, names=names)
        #: The chunk assembler every live source uses (seq, gaps, chunks).
        self._asm = SampleAssembler(self.fs, self.ch_names, source_id)
        self._next_dev: int | None = None    # device index expected next (mod 2^32)
        self._dev: int = 0                   # the same, unwrapped (the assembler's index)
        self._last_t: float | None = None    # arrival time of the last DATA frame
        self._interrupted: str | None = None  # reason of a link loss / restart
        self._exact = True                   # device counter still comparable?
        self._frame_seq: int | None = None
        # counters
        self.frames = 0
        self.samples = 0
        self.gaps = 0
        self.gap_samples = 0
        self.lost_frames = 0
        self.bad_layout = 0
        self.restarts = 0

    @property
    def next_seq(self) -> int:
        """Stream index of the next sample (where a loss starts)."""
        return self._asm.next_seq

    # ----------------------------------------------------------- layout checks
    def same_layout(self, status: StatusFrame) -> bool:
        return int(status.fs_hz) == self.fs_hz and tuple(status.channels) == self.channels

    # ----------------------------------------------------------- events
    def note_frame_seq(self, seq: int) -> None:
        """Count device frames lost in transit from the frame counter (any type)."""
        if self._frame_seq is not None:
            missing = (seq - self._frame_seq) % 65536
            if 0 < missing < 32768:
                self.lost_frames += missing
        self._frame_seq = (seq + 1) % 65536

    def interrupted(self, reason: str) -> None:
        """The link was lost (the device may still be counting)."""
        if self._interrupted is None:
            self._interrupted = reason
        self._frame_seq = None

    def restarted(self, reason: str = "device restarted") -> None:
        """The device's sample counter restarted (reboot, rate change)."""
        self._interrupted = reason if self._interrupted is None else self._interrupted
        self._exact = False
        self._frame_seq = None
        self.restarts += 1

    # ----------------------------------------------------------- data
    def push(self, frame: DataFrame, t: float) -> Chunk | None:
        """Chunk of one DATA frame received at host monotonic time ``t``.

        The device's u32 counter is unwrapped into the index the shared
        :class:`~emgpipe.devices.live.ChunkAssembler` turns into ``seq`` and gaps;
        when the counter is not comparable (restart) the outage is estimated
        from the host clock and the assembler starts a new epoch.
        """
        chunks = self.push_frames((frame,), t)
        return chunks[0] if chunks else None

    def push_frames(self, frames, t: float) -> list:
        """Chunks of the DATA frames of one read, all received at host time ``t``.

        The same samples, ``seq`` and gaps as :meth:`push` frame by frame followed
        by :func:`merge_chunks`, in one pass through the assembler: a serial read
        at 4 kHz brings tens of frames, and a chunk per frame cost ~0.3 ms each.
        One difference: a merged chunk's ``t0`` is taken from its last sample
        (which arrived at ``t``), as for every other device, not from its first frame.
        """
        pend_start: list = []    # device index of each pending frame's first sample
        pend_n: list = []
        pend_raw: list = []      # its ADC codes
        pend_reason = None

        def flush():
            if not pend_n:
                return
            n = np.asarray(pend_n, dtype=np.int64)
            ends = np.cumsum(n)
            # each sample's device index: its frame's first index plus its place in the frame
            idx = np.arange(int(ends[-1]), dtype=np.int64) + np.repeat(
                np.asarray(pend_start, dtype=np.int64) - (ends - n), n)
            raw = np.concatenate(pend_raw) if len(pend_raw) > 1 else pend_raw[0]
            # the read's last sample was taken one period before it arrived
            self._asm.push(idx, raw[:, self.keep].astype(np.float64) * self.scale,
                           t - 1.0 / self.fs, pend_reason)
            pend_start.clear()
            pend_n.clear()
            pend_raw.clear()

        for frame in frames:
            if frame.fs_hz != self.fs_hz or frame.n_ch != self.n_ch_dev:
                self.bad_layout += 1
                log.warning("%s: DATA frame with %d Hz x %d ch does not match the device status "
                            "(%d Hz x %d ch); dropped", self.source_id, frame.fs_hz, frame.n_ch,
                            self.fs_hz, self.n_ch_dev)
                continue
            n = frame.n_samples
            first = frame.first_sample
            reason = self._interrupted or "dropped frames"
            if self._next_dev is not None:
                delta = (first - self._next_dev) % _WRAP
                if self._exact and delta < _HALF:
                    self._dev += delta
                else:
                    # Counter not comparable: estimate the outage from the host clock.
                    reason = self._interrupted or "device restarted"
                    if self._exact:  # counter went backwards without a known restart
                        self.restarts += 1
                    est = 0
                    if self._last_t is not None:
                        est = max(0, int(round((t - self._last_t) * self.fs)) - n)
                    if not est:
                        log.info("%s: %s, no samples missing by the host clock", self.source_id, reason)
                    flush()
                    self._asm.new_epoch(est, f"{reason}; length estimated from the host clock")
            if reason != pend_reason:
                flush()
                pend_reason = reason
            self._interrupted = None
            self._exact = True
            self._next_dev = (first + n) % _WRAP
            self._last_t = t
            self.frames += 1
            self.samples += n
            pend_start.append(self._dev)
            pend_n.append(n)
            pend_raw.append(frame.samples)
            self._dev += n
        flush()
        chunks = self._asm.pop()
        for chunk in chunks:
            for gap in chunk.gaps:
                self.gaps += 1
                self.gap_samples += gap.n_missing
                log.warning("%s: %d sample(s) lost before sample %d (%s)", self.source_id,
                            gap.n_missing, chunk.seq, gap.reason)
        return chunks

    def counters(self) -> dict:
        return {"frames": self.frames, "samples": self.samples, "gaps": self.gaps,
                "gap_samples": self.gap_samples, "lost_frames": self.lost_frames,
                "bad_layout": self.bad_layout, "restarts": self.restarts}


def merge_chunks(chunks: list) -> list:
    """Join consecutive contiguous chunks (no gap between them) into one."""
    out: list = []
    run: list = []

    def flush():
        if not run:
            return
        if len(run) == 1:
            out.append(run[0])
        else:
            first = run[0]
            out.append(first.replace(data=np.concatenate([c.data for c in run])))
        run.clear()

    for c in chunks:
        if run and (c.gaps or c.seq != run[-1].next_seq):
            flush()
        run.append(c)
    flush()
    return out
