"""Device front ends: what an amplifier/ADC does to the electrode signal.

The simulator synthesises at ``S = fs * k >= 2000`` Hz (:func:`synth_rate`),
then a device model filters, decimates by ``k``, clips and quantises.
Everything is causal and carries its state from frame to frame, and every
filter is designed from the rates at hand (never for a fixed rate).

========== ======= ===============================================================
device     fs      model
========== ======= ===============================================================
raw        1-4 kHz lab sEMG amplifier: 2nd-order Butterworth high-pass at 10 Hz and
                   band limit 500 Hz (SENIAM/ISEK: HP 5-20 Hz, LP ~500 Hz,
                   physiology.md §4), Kaiser-window FIR anti-alias (60 dB) before
                   decimation, range ±5 mV (assumption U), no DC.
cyton      250     OpenBCI Cyton, ADS1299: DC-coupled (electrode offsets of tens
                   of mV, as in the OpenBCI GUI sample of datasets/README.md), sinc3
                   decimation filter (ADS1299 datasheet: -3 dB at 0.262 fDR, nulls
                   at multiples of fDR, so 125-500 Hz partly aliases), range
                   ±187.5 mV and 0.02235 µV/count at gain 24 (protocols.md §1.4,
                   §1.6), 250 Hz over the dongle (§1.7).
ganglion   200     OpenBCI Ganglion behind MyoWare RAW outputs, the set-up of the
                   MI-OpenBCI files of datasets/README.md (no drift, offsets ~10 µV):
                   20 Hz high-pass of the MyoWare band-pass (protocols.md §3.1,
                   corner assumed), MCP3912 sinc3 decimation (assumption U, the
                   MCP3912 is also a sinc-filtered delta-sigma ADC), range
                   ±15.7 mV and 0.06 µV steps (fw3 19-bit values, protocols.md
                   §2.4-2.5), 200 Hz over BLE (§2.2); higher noise (5-12 µV RMS
                   at rest in the MI-OpenBCI Ganglion+MyoWare files).
myoware_env any    MyoWare 2.0 ENV output read by a microcontroller ADC: band-pass
                   20-450 Hz, full-wave rectification, envelope low-pass
                   (protocols.md §3.1: amplifier -> band-pass -> rectifier ->
                   envelope detector; the time constant was not found, 2nd-order
                   3 Hz here, assumption U), values in µV at the electrodes
                   (ENV / ENV gain), 0.48 µV steps (10-bit 5 V ADC / gain 10200,
                   protocols.md §3.1-3.2), saturating at 1 mV (gain pot set for
                   the maximal contraction, §3.1). Single fasciculation
                   potentials vanish in it.
========== ======= ===============================================================
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import signal

from ..devices.boards import BRIDGE_AVR, CYTON, GANGLION, MYOWARE_ENV_GAIN

#: Minimum synthesis rate (physiology.md §4/§6: synthesise at >= 2 kHz, then decimate).
MIN_SYNTH_HZ = 2000


@dataclass(frozen=True)
class Device:
    """Static facts of a device model (see module table)."""

    name: str
    default_fs: int
    fixed_fs: bool
    dc_coupled: bool
    hp_hz: float | None
    lp_hz: float
    decimator: str  # "fir" or "sinc3"
    range_uv: float
    lsb_uv: float
    noise_uv: tuple  # (low, high) RMS at rest, drawn per channel
    envelope: bool = False
    env_hz: float = 3.0
    description: str = ""
    #: an analog band limit (lp_hz) before the ADC; sinc-filtered ADCs have none
    analog_lp: bool = True


DEVICES = {
    "raw": Device("raw", 1000, False, False, 10.0, 500.0, "fir", 5000.0, 0.01, (1.5, 4.0),
                  description="raw sEMG amplifier, 1-4 kHz"),
    # Rates, ranges and steps from the board table (emgpipe.devices.boards), rounded as
    # this model always had them (steps to 4 significant digits, the Ganglion's range to
    # whole µV), so simulated recordings, and the benchmark set's hashes, stay the same.
    "cyton": Device("cyton", int(CYTON.fs), True, True, None, 500.0, "sinc3", CYTON.range_uv(),
                    round(CYTON.uv_per_count(), 5), (2.0, 5.0),
                    description=f"{CYTON.label}, {CYTON.fs:g} Hz", analog_lp=False),
    "ganglion": Device("ganglion", int(GANGLION.fs), True, False, 20.0, 500.0, "sinc3",
                       float(int(GANGLION.range_uv())), 0.06, (4.0, 10.0),
                       description="OpenBCI Ganglion (MCP3912) with MyoWare RAW, over BLE, "
                                   f"{GANGLION.fs:g} Hz", analog_lp=False),
    "myoware_env": Device("myoware_env", int(BRIDGE_AVR.fs), False, False, 20.0, 450.0, "fir", 1000.0,
                          round(BRIDGE_AVR.volts_per_count() / MYOWARE_ENV_GAIN * 1e6, 2), (2.0, 4.0),
                          envelope=True, description="MyoWare 2.0 ENV (rectified, smoothed envelope)"),
}


def synth_rate(fs: int) -> tuple[int, int]:
    """Synthesis rate ``S`` and decimation factor ``k`` (``S = k * fs >= 2000``)."""
    k = max(1, math.ceil(MIN_SYNTH_HZ / fs))
    return fs * k, k


def check_fs(device: str, fs) -> int:
    """Validate ``fs`` for ``device`` (None -> the device's default); returns an int."""
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r} (known: {', '.join(DEVICES)})")
    dev = DEVICES[device]
    if fs is None:
        return dev.default_fs
    if float(fs) != int(fs) or int(fs) <= 0:
        raise ValueError(f"fs must be a positive whole number of Hz, got {fs!r}")
    fs = int(fs)
    if dev.fixed_fs and fs != dev.default_fs:
        raise ValueError(f"device {device} streams at {dev.default_fs} Hz, not {fs} Hz")
    if device == "raw" and not 1000 <= fs <= 4000:
        raise ValueError(f"raw sEMG is simulated at 1000-4000 Hz, not {fs} Hz "
                         f"(use device cyton for 250 Hz, ganglion for 200 Hz)")
    if device == "myoware_env" and not 100 <= fs <= 4000:
        raise ValueError(f"myoware_env is simulated at 100-4000 Hz, not {fs} Hz")
    return fs


def device_for_fs(fs) -> str:
    """Default device for a rate given alone: 250 -> cyton, 200 -> ganglion, else raw."""
    return {250: "cyton", 200: "ganglion"}.get(int(fs) if fs is not None else 0, "raw")


def _fir_decimator(fs: int, S: int, cutoff: float) -> np.ndarray:
    """Kaiser-window low-pass for decimating S -> fs: 60 dB stop band from fs/2.

    The length is ``2 k q + 1`` so that its linear-phase delay is a whole
    number ``q`` of output samples, which the renderer removes: labels and
    samples then share one time base.
    """
    k = S // fs
    width = max(0.5 * fs - cutoff, 0.05 * fs)
    numtaps, beta = signal.kaiserord(60.0, width / (0.5 * S))
    q = max(1, math.ceil((numtaps - 1) / (2 * k)))
    return signal.firwin(2 * k * q + 1, cutoff, window=("kaiser", beta), fs=S)


def _sinc3(k: int) -> np.ndarray:
    """Sinc^3 decimation filter for ratio k (boxcar of k convolved three times)."""
    box = np.ones(k) / k
    return np.convolve(np.convolve(box, box), box)


class FrontEnd:
    """Stateful device chain from synthesis rate to the device rate.

    Parameters
    ----------
    device : Device
    fs : int
        Output rate.
    n_channels : int
    """

    def __init__(self, device: Device, fs: int, n_channels: int):
        self.device = device
        self.fs = fs
        self.S, self.k = synth_rate(fs)
        S = self.S
        c = n_channels
        nyq = 0.5 * S
        lp = min(device.lp_hz, 0.45 * fs if self.k > 1 else device.lp_hz, 0.9 * nyq)
        sos = []
        if device.hp_hz:
            sos.append(signal.butter(2, device.hp_hz, "highpass", fs=S, output="sos"))
        if device.analog_lp:
            sos.append(signal.butter(4, lp, "lowpass", fs=S, output="sos"))
        self.sos = np.concatenate(sos) if sos else None
        self.zi = np.zeros((self.sos.shape[0], 2, c)) if self.sos is not None else None
        if device.envelope:
            self.env_sos = signal.butter(2, device.env_hz, "lowpass", fs=S, output="sos")
            self.env_zi = np.zeros((self.env_sos.shape[0], 2, c))
        if self.k == 1:
            self.h = np.array([1.0])
        elif device.decimator == "sinc3":
            self.h = _sinc3(self.k)
        else:
            self.h = _fir_decimator(fs, S, 0.45 * fs)
        self.hist = np.zeros((len(self.h) - 1, c))
        #: output samples of delay of the (linear-phase) decimation filter, removed by the renderer
        self.delay = int(round((len(self.h) - 1) / 2 / self.k))

    def noise_gain(self) -> float:
        """RMS at the output per unit RMS of white noise at the synthesis rate (measured)."""
        probe = FrontEnd(self.device, self.fs, 1)
        probe.device = Device(**{**probe.device.__dict__, "envelope": False})
        x = np.random.default_rng(12345).standard_normal((int(4 * self.S), 1))
        y = probe._linear(x)
        return float(np.std(y[len(y) // 4:]))

    def _linear(self, x: np.ndarray) -> np.ndarray:
        if self.sos is not None:
            x, self.zi = signal.sosfilt(self.sos, x, axis=0, zi=self.zi)
        if getattr(self.device, "envelope", False):
            x, self.env_zi = signal.sosfilt(self.env_sos, np.abs(x), axis=0, zi=self.env_zi)
        L = len(self.h)
        if L == 1:
            return x
        xx = np.concatenate([self.hist, x], axis=0)
        self.hist = xx[-(L - 1):]
        win = sliding_window_view(xx, L, axis=0)[self.k - 1::self.k]  # (F, c, L)
        return win @ self.h[::-1]

    def process(self, x: np.ndarray) -> np.ndarray:
        """Filter and decimate one frame (length a multiple of ``k``) -> device samples."""
        y = self._linear(x)
        d = self.device
        y = np.clip(y, 0.0 if d.envelope else -d.range_uv, d.range_uv)
        if d.lsb_uv:
            y = np.round(y / d.lsb_uv) * d.lsb_uv
        return y
