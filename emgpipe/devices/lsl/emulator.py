"""An LSL outlet streaming a recording or a simulation (needs ``pylsl``, extra ``lsl``).

:class:`LslEmulator` opens a real Lab Streaming Layer outlet (type ``EMG``,
float32, channel labels and ``microvolts`` in its description) and pushes a
signal at its nominal rate (x ``speed``) from a thread, so any LSL inlet -
``emgpipe live --source lsl:NAME`` in another terminal, or an
:class:`~emgpipe.devices.lsl.source.LslSource` in the same process - reads it
like a device. ``emgpipe emulate lsl`` runs it on a simulator scenario.

The signal is an ``(n, channels)`` array in µV (a recording, looped) or a
callable ``signal(start, n) -> (n, channels)`` µV (the convention of the other
emulators, e.g. :class:`emgpipe.commands.emulate.ScenarioSignal`), or None
(zeros). Each sample is stamped with its sample time, ``t0 + k / fs`` on the
LSL clock, whatever the ``speed``: a faster-than-real-time sender still carries
the sample clock the source counts by.

Faults on demand: :meth:`LslEmulator.pause` makes the sender silent for a
while; the samples due meanwhile are never sent, so the stream resumes with a
timestamp jump (what a sender losing its device looks like).

Examples
--------
::

    with LslEmulator("MyEMG", x, fs=500, ch_names=("calf_left", "calf_right")):
        ...                                  # emgpipe live --source lsl:MyEMG
"""
from __future__ import annotations

import threading
from typing import Callable

import numpy as np

from ...errors import UsageError

#: How often the sender wakes to push what is due (s).
PUSH_EVERY_S = 0.02


def _pylsl():
    try:
        import pylsl
    except ImportError as exc:
        raise UsageError("the LSL emulator needs pylsl: pip install 'emgpipe[lsl]'") from exc
    return pylsl


class LslEmulator:
    """An LSL outlet named ``name`` sending ``signal`` at ``fs`` Hz x ``speed``.

    Parameters
    ----------
    name : str
        The stream's name (``lsl:NAME`` finds it).
    signal : array, callable or None
        ``(n, channels)`` µV (looped), ``signal(start, n)`` µV, or None (zeros).
    fs : float
        Nominal rate.
    n_channels : int, optional
        Default: the array's columns, else ``len(ch_names)``, else 2.
    ch_names : sequence of str, optional
        Channel labels in the stream's description (default ``ch1, ch2, ...``).
    speed : float
        Sample clock factor (1 = real time).
    source_id : str, optional
        LSL source id (default ``emgpipe-emulator-<name>``).
    """

    def __init__(self, name: str, signal=None, *, fs: float = 250.0, n_channels: int | None = None,
                 ch_names=None, speed: float = 1.0, source_id: str | None = None):
        if not fs > 0:
            raise ValueError(f"fs must be positive, got {fs}")
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed}")
        if n_channels is None:
            n_channels = (np.shape(signal)[1] if isinstance(signal, np.ndarray)
                          else len(ch_names) if ch_names else 2)
        self.name, self.fs, self.speed, self.n_channels = name, float(fs), float(speed), int(n_channels)
        self.ch_names = tuple(ch_names) if ch_names else tuple(f"ch{i + 1}"
                                                                for i in range(self.n_channels))
        if len(self.ch_names) != self.n_channels:
            raise ValueError(f"{len(self.ch_names)} channel name(s) for {self.n_channels} channel(s)")
        self._signal = self._as_callable(signal)
        self.source_id = source_id or f"emgpipe-emulator-{name}"
        self.sent = 0            # samples pushed
        self.lost = 0            # samples skipped by pause()
        self._outlet = None
        self._pylsl = None
        self._thread = None
        self._stop = threading.Event()
        self._pause_until = 0.0
        self._t0 = 0.0
        self._next = 0           # index of the next sample due

    def _as_callable(self, signal) -> Callable:
        n_ch = self.n_channels
        if signal is None:
            return lambda start, n: np.zeros((n, n_ch))
        if callable(signal):
            return signal
        x = np.asarray(signal, dtype=float)
        if x.ndim != 2 or x.shape[1] != n_ch or not len(x):
            raise ValueError(f"signal must be (n, {n_ch}) samples, got shape {x.shape}")
        return lambda start, n: x[(start + np.arange(n)) % len(x)]

    def start(self) -> "LslEmulator":
        pylsl = self._pylsl = _pylsl()
        info = pylsl.StreamInfo(self.name, "EMG", self.n_channels, self.fs, "float32",
                                self.source_id)
        chans = info.desc().append_child("channels")
        for label in self.ch_names:
            c = chans.append_child("channel")
            c.append_child_value("label", label)
            c.append_child_value("unit", "microvolts")
            c.append_child_value("type", "EMG")
        self._outlet = pylsl.StreamOutlet(info)
        self._t0 = pylsl.local_clock()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"lsl-emulator-{self.name}",
                                        daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        clock, rate = self._pylsl.local_clock, self.fs * self.speed
        while not self._stop.wait(PUSH_EVERY_S):
            now = clock()
            due = int((now - self._t0) * rate)
            if due <= self._next:
                continue
            if now < self._pause_until:            # silent: these samples are lost
                self.lost += due - self._next
                self._next = due
                continue
            k = np.arange(self._next, due)
            x = np.asarray(self._signal(self._next, len(k)), dtype=np.float32)
            self._outlet.push_chunk(x.tolist(), (self._t0 + k / self.fs).tolist())
            self.sent += len(k)
            self._next = due

    def pause(self, seconds: float = 0.8) -> None:
        """Send nothing for ``seconds`` (wall time); the samples due meanwhile are lost."""
        self._pause_until = self._pylsl.local_clock() + float(seconds)

    def stop(self) -> None:
        """Stop sending and close the outlet (inlets then see the stream go away)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._outlet = None

    def __enter__(self) -> "LslEmulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
