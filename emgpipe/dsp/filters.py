"""Causal IIR filters designed from the stream's sample rate.

* :class:`BandPass` - Butterworth band-pass (or high-pass), default 20 Hz to
  ``min(450 Hz, 0.45 fs)``: SENIAM/De Luca recommend HP 20 Hz and LP ~450-500 Hz
  for sEMG (physiology.md §4); the 0.45 fs cap keeps the design valid down to
  the Ganglion's 200 Hz (LP 90 Hz) and Cyton's 250 Hz (LP 112.5 Hz).
* :class:`MainsNotch` - IIR notches at 50 or 60 Hz and every harmonic below
  Nyquist, choosing 50 vs 60 Hz from the signal itself unless forced: one comb
  notch where the rate is a whole multiple of the mains frequency (50 Hz at
  200 Hz, 250 Hz, 1, 2 or 4 kHz), else a biquad per harmonic.

All run ``scipy.signal.sosfilt`` (a compiled equivalent, :mod:`._kernels`) with
persistent ``zi`` initialised from the first sample (``sosfilt_zi * x0``), so a
chunked run equals a one-shot run. The designs are scipy's (``butter``,
``iirnotch``, ``sosfilt_zi``), kept on disk by :mod:`._designs` so that a
replay does not import scipy.signal (0.7 s and 75 MB) once they are known.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from ..types import Chunk
from . import _designs, _kernels
from .stateful import Stateful

log = logging.getLogger(__name__)


def _initial_zi(sos: np.ndarray, x0: np.ndarray) -> np.ndarray:
    """(n_sections, 2, n_channels) state as if ``x0`` had been applied forever."""
    return _designs.sosfilt_zi(sos)[:, :, None] * x0[None, None, :]


def _sosfilt(sos, x, zi):
    if len(sos) == 0:
        return x.copy(), zi
    return _kernels.sosfilt(sos, x, zi)


def _empty_out(settings, chunk):
    return chunk


# --------------------------------------------------------------------- band-pass

@dataclass(frozen=True)
class BandPassSettings:
    """Band-pass spec in physical units.

    ``high_hz`` is capped at ``high_frac * fs``; ``high_hz=None`` gives a
    high-pass only. ``order`` is the Butterworth prototype order (a band-pass
    has twice as many poles).
    """

    low_hz: float = 20.0
    high_hz: float | None = 450.0
    order: int = 2
    high_frac: float = 0.45

    def design(self, fs: float) -> np.ndarray:
        nyq = fs / 2.0
        if not 0 < self.low_hz < nyq:
            from ..errors import ConfigError
            raise ConfigError(f"model [filters] bandpass_low_hz = {self.low_hz:g}: expected a number above 0 "
                              f"and below this stream's Nyquist frequency ({nyq:g} Hz at {fs:g} Hz)")
        high = None if self.high_hz is None else min(self.high_hz, self.high_frac * fs)
        if high is not None and high <= self.low_hz:
            high = None
        if high is None:
            return _designs.butter_sos(self.order, self.low_hz, "highpass", fs)
        return _designs.butter_sos(self.order, [self.low_hz, high], "bandpass", fs)


@dataclass
class SosState:
    sos: np.ndarray
    zi: np.ndarray


def _sos_init(design):
    def init(settings, chunk: Chunk) -> SosState:
        sos = design(settings, chunk.fs)
        return SosState(sos, _initial_zi(sos, chunk.data[0]))
    return init


def _sos_step(settings, state: SosState, chunk: Chunk):
    if chunk.n_samples == 0:
        return state, chunk
    y, state.zi = _sosfilt(state.sos, chunk.data, state.zi)
    return state, chunk.replace(data=y)


class BandPass(Stateful):
    """Causal Butterworth band-pass designed from ``chunk.fs``.

    Examples
    --------
    >>> import numpy as np
    >>> from emgpipe.types import Chunk
    >>> x = np.random.default_rng(0).normal(size=(2000, 1)) + 500.0   # DC offset
    >>> y = BandPass()(Chunk(x, fs=1000.0))
    >>> bool(abs(y.data[1000:].mean()) < 1.0)
    True
    """

    def __init__(self, settings: BandPassSettings | None = None, **kw):
        settings = settings or BandPassSettings(**kw)
        super().__init__(settings, _sos_init(lambda s, fs: s.design(fs)), _sos_step, _empty_out)


# --------------------------------------------------------------------- mains notch

@dataclass(frozen=True)
class MainsNotchSettings:
    """Mains notch spec.

    Parameters
    ----------
    mains_hz : "auto", 50 or 60
    bandwidth_hz : float
        -3 dB width of every notch. A constant width (not a constant Q) keeps
        the high harmonics as narrow as the fundamental: 19 notches of 2 Hz at
        2 kHz remove ~4 % of a white spectrum, constant Q = 30 would remove 30 %.
    decide_s : float
        ``"auto"`` looks at this much signal (2 s: 0.5 Hz resolution, enough
        to separate the line from its 4-6 Hz neighbours) to choose. Until then
        both notch sets run in cascade; afterwards only the chosen one (which
        has been running from the first sample, so there is no switching
        transient).
    max_hz : float or None
        Highest harmonic notched (None: every harmonic below Nyquist).
    min_prominence : float
        ``"auto"`` picks 50 or 60 Hz (the more prominent) only if its lines
        stand this many times above their neighbourhood (see
        :func:`mains_prominence`); otherwise no hum stands out (battery-powered
        recordings often have none) and both notch sets stay on.
    """

    mains_hz: str | int = "auto"
    bandwidth_hz: float = 2.0
    decide_s: float = 2.0
    max_hz: float | None = None
    min_prominence: float = 10.0

    def design_comb(self, fs: float, f0: float) -> tuple | None:
        """The comb notch at ``f0`` and all its harmonics (and 0 Hz and, where
        it is one, Nyquist) as ``(N, b, a)`` of ``y[n] = b (x[n] - x[n-N]) +
        a y[n-N]``, N = fs / f0: scipy's ``iircomb(f0, f0 / bandwidth_hz, "notch",
        fs=fs)`` in closed form (Orfanidis, Introduction to Signal Processing,
        eqs. 11.5.1-11.5.3), every notch ``bandwidth_hz`` wide at -3 dB as the
        biquads of :meth:`design`, for two multiplies a sample instead of five
        per harmonic (at 1 kHz, 50 Hz: nine biquads). None where ``fs / f0`` is
        not a whole number (60 Hz at 1 kHz), below 3, or ``max_hz`` limits the
        harmonics: :meth:`design`'s biquads there."""
        if self.max_hz is not None or f0 <= 0:
            return None
        n = int(round(fs / f0))
        if n < 3 or abs(fs / n - f0) > 1e-9 * f0:
            return None
        beta = math.tan(math.pi * self.bandwidth_hz / (2.0 * f0))
        return n, 1.0 / (1.0 + beta), (1.0 - beta) / (1.0 + beta)

    def design(self, fs: float, f0: float) -> np.ndarray:
        nyq = fs / 2.0
        top = nyq * 0.98 if self.max_hz is None else min(self.max_hz, nyq * 0.98)
        sections = []
        k = 1
        while k * f0 < top:
            sections.append(_designs.iirnotch_sos(k * f0, k * f0 / self.bandwidth_hz, fs))
            k += 1
        return np.vstack(sections) if sections else np.zeros((0, 6))


def _dft_power(x: np.ndarray, fs: float, freqs) -> np.ndarray:
    """Hann-windowed power at arbitrary frequencies, summed over channels."""
    n = len(x)
    xw = (x - x.mean(axis=0)) * np.hanning(n)[:, None]
    t = np.arange(n) / fs
    e = np.exp(-2j * np.pi * np.outer(freqs, t))          # (F, n)
    return (np.abs(e @ xw) ** 2).sum(axis=1)


def mains_prominence(x: np.ndarray, fs: float, f0: float, n_harmonics: int = 3) -> float:
    """How far mains lines at ``f0`` (and its first harmonics below 0.48 fs)
    stand above the spectrum 4-6 Hz on either side: the line-to-neighbours
    power ratio, the largest over the
    fundamental and its harmonics (hum may be a pure fundamental, or mostly
    harmonics when the amplifier rejects the fundamental). A mains line is
    narrow, sEMG is broadband: ~1 means no hum, >= 10 a clear line. Measured
    on the real recordings of datasets/README.md: 60 Hz hum in the OpenBCI GUI
    sample gives ~6x10^4; the files without hum stay at or below 5.5."""
    lines = [k * f0 for k in range(1, n_harmonics + 1) if k * f0 + 6 < 0.5 * fs]
    if not lines:
        return 0.0
    offsets = np.array([-6.0, -5.0, -4.0, 4.0, 5.0, 6.0])
    freqs = np.concatenate([[f] + list(f + offsets) for f in lines])
    p = _dft_power(x, fs, freqs).reshape(len(lines), 1 + len(offsets))
    ratio = p[:, 0] / np.maximum(p[:, 1:].mean(axis=1), 1e-30)
    return float(np.max(ratio))


@dataclass
class CombState:
    """A comb notch (:meth:`MainsNotchSettings.design_comb`) and its last N inputs and outputs."""
    b: float
    a: float
    xh: np.ndarray
    yh: np.ndarray


def _chain(settings: MainsNotchSettings, fs: float, f0: float, x0: np.ndarray) -> list:
    """The notch stages of ``f0`` (a comb where the rate allows, else biquads),
    in their steady state for a signal that has been ``x0`` forever."""
    comb = settings.design_comb(fs, f0)
    if comb is not None:
        n, b, a = comb
        return [CombState(b, a, np.repeat(np.asarray(x0, dtype=np.float64)[None, :], n, axis=0),
                          np.zeros((n, len(x0))))]
    sos = settings.design(fs, f0)
    return [SosState(sos, _initial_zi(sos, x0))]


def _run_chain(chain: list, x: np.ndarray) -> np.ndarray:
    for st in chain:
        if isinstance(st, CombState):
            x, st.xh, st.yh = _kernels.comb_notch(x, st.xh, st.yh, st.b, st.a)
        else:
            x, st.zi = _sosfilt(st.sos, x, st.zi)
    return x


@dataclass
class NotchState:
    chains: dict  # name -> list of CombState / SosState; "50", "60", "both" while deciding
    chosen: str | None
    buffer: list
    n_seen: int
    n_decide: int
    ratio: float = float("nan")


def _notch_init(settings: MainsNotchSettings, chunk: Chunk) -> NotchState:
    fs, x0 = chunk.fs, chunk.data[0]
    if settings.mains_hz != "auto":
        f0 = int(settings.mains_hz)
        if f0 not in (50, 60):
            raise ValueError(f"mains_hz must be 'auto', 50 or 60, got {settings.mains_hz!r}")
        return NotchState({str(f0): _chain(settings, fs, f0, x0)}, str(f0), [], 0, 0)
    chains = {"50": _chain(settings, fs, 50, x0), "60": _chain(settings, fs, 60, x0),
              "both": _chain(settings, fs, 50, x0) + _chain(settings, fs, 60, x0)}
    return NotchState(chains, None, [], 0, max(int(round(settings.decide_s * fs)), 16))


def _notch_step(settings: MainsNotchSettings, st: NotchState, chunk: Chunk):
    x = chunk.data
    if len(x) == 0:
        return st, chunk
    if st.chosen is not None:
        return st, chunk.replace(data=_run_chain(st.chains[st.chosen], x))
    # Still deciding: split the chunk at the decision sample.
    k = min(len(x), st.n_decide - st.n_seen)
    outs = {}
    for name, c in st.chains.items():
        outs[name] = _run_chain(c, x[:k])
    st.buffer.append(x[:k])
    st.n_seen += k
    y = outs["both"]
    if st.n_seen >= st.n_decide:
        buf = np.concatenate(st.buffer)
        p50, p60 = mains_prominence(buf, chunk.fs, 50.0), mains_prominence(buf, chunk.fs, 60.0)
        st.ratio = max(p50, p60)
        if st.ratio >= settings.min_prominence:
            st.chosen = "60" if p60 > p50 else "50"
        else:
            st.chosen = "both"
        log.info("mains: %s (line prominence 50 Hz %.1f, 60 Hz %.1f) for %s",
                 "no hum stands out, notching both" if st.chosen == "both" else st.chosen + " Hz",
                 p50, p60, chunk.source_id)
        st.chains = {st.chosen: st.chains[st.chosen]}
        st.buffer = []
        if k < len(x):
            y = np.concatenate([y, _run_chain(st.chains[st.chosen], x[k:])])
    return st, chunk.replace(data=y)


class MainsNotch(Stateful):
    """Causal notches at the mains frequency and its harmonics below Nyquist.

    ``mains_hz`` (after the decision) is available as :attr:`mains_hz`.

    Examples
    --------
    >>> import numpy as np
    >>> from emgpipe.types import Chunk
    >>> fs = 1000.0
    >>> t = np.arange(4000) / fs
    >>> x = 50 * np.sin(2 * np.pi * 60 * t)[:, None] + np.random.default_rng(1).normal(size=(4000, 1))
    >>> notch = MainsNotch()
    >>> y = notch(Chunk(x, fs=fs))
    >>> notch.mains_hz, bool(np.std(y.data[2000:]) < 3)
    (60, True)
    """

    def __init__(self, settings: MainsNotchSettings | None = None, **kw):
        settings = settings or MainsNotchSettings(**kw)
        super().__init__(settings, _notch_init, _notch_step, _empty_out)

    @property
    def mains_hz(self) -> int | None:
        """50 or 60 once decided; None while deciding or if neither stands out."""
        if self.state is None or self.state.chosen in (None, "both"):
            return None
        return int(self.state.chosen)

    @property
    def decided(self) -> bool:
        return self.state is not None and self.state.chosen is not None


class Cascade:
    """Apply callables ``chunk -> chunk`` in order."""

    def __init__(self, *steps):
        self.steps = list(steps)

    def __call__(self, chunk: Chunk) -> Chunk:
        for s in self.steps:
            chunk = s(chunk)
        return chunk

    def reset(self):
        for s in self.steps:
            s.reset()
