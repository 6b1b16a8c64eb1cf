"""One table of board facts: rates, ADCs, gains, scale factors, channel counts, counters.

Read by the device sources and emulators (``cyton``, ``ganglion``, ``bridge``),
the recording readers (:mod:`emgpipe.io.openbci_txt`, :mod:`emgpipe.io.brainflow_csv`)
and the simulator's device models (:mod:`emgpipe.sim.devices`), so that a fact
lives in one place (BrainFlow keeps its ``brainflow_boards.cpp`` for the same
reason). The § numbers are those of the device protocol notes (protocols.md:
OpenBCI docs, the Cyton and Ganglion firmware, BrainFlow, MW-LIB).

Examples
--------
>>> round(CYTON.uv_per_count(), 7), CYTON.range_uv()
(0.0223517, 187500.0)
>>> CYTON_DAISY.fs, CYTON_DAISY.n_channels, GANGLION.fs, GANGLION.n_channels
(125.0, 16, 200.0, 4)
>>> round(BRIDGE_AVR.uv_per_count(), 2)
24.44
>>> board("ganglion") is GANGLION
True
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Board:
    """Static facts of one board (as emgpipe reads it: over its usual link).

    Attributes
    ----------
    name : str
        Key of :data:`BOARDS`.
    label : str
        Human-readable description.
    fs : float
        Samples per second over the link emgpipe uses.
    n_channels : int
        Signal (EXG / EMG) channels.
    adc : str
    adc_bits : int
    vref_v : float
        ADC reference, volts.
    gain : float
        Default gain between the electrodes and the ADC.
    bipolar : bool
        Two's-complement ADC (full scale ``2**(bits-1) - 1`` counts on each
        side) rather than unipolar (``2**bits - 1`` counts from 0 V).
    counter_modulo : int or None
        Cycle of the device's sample / packet counter as it appears in files.
    gui_board : str
        The OpenBCI GUI's name of the board (``%Board = OpenBCI_GUI$Board...``).
    """

    name: str
    label: str
    fs: float
    n_channels: int
    adc: str
    adc_bits: int
    vref_v: float
    gain: float
    bipolar: bool = True
    counter_modulo: int | None = None
    gui_board: str = ""

    @property
    def full_scale_counts(self) -> int:
        return 2 ** (self.adc_bits - 1) - 1 if self.bipolar else 2 ** self.adc_bits - 1

    def volts_per_count(self) -> float:
        """ADC volts per count (before the gain)."""
        return self.vref_v / self.full_scale_counts

    def uv_per_count(self, gain: float | None = None) -> float:
        """Microvolts at the electrodes per ADC count at ``gain`` (default: :attr:`gain`)."""
        return self.vref_v / float(self.gain if gain is None else gain) / self.full_scale_counts * 1e6

    def range_uv(self, gain: float | None = None) -> float:
        """Input range at the electrodes, ± µV (a unipolar ADC: 0 to this)."""
        return self.vref_v / float(self.gain if gain is None else gain) * 1e6

    def default_names(self) -> tuple:
        """``("ch1", "ch2", ...)``: the names a source gives before ``names=``."""
        return tuple(f"ch{i + 1}" for i in range(self.n_channels))


#: OpenBCI Cyton: ADS1299, 24-bit, Vref 4.5 V, PGA gain 24 after a reset (§1.4, §1.6);
#: over the USB dongle 250 Hz at most (§1.7); one-byte sample counter (§1.5).
CYTON = Board("cyton", "OpenBCI Cyton (ADS1299) over the USB dongle", 250.0, 8, "ADS1299", 24,
              4.5, 24, counter_modulo=256, gui_board="Cyton")
#: Cyton + Daisy: 16 channels, rows at half the dongle's rate (§1.8).
CYTON_DAISY = Board("cyton_daisy", "OpenBCI Cyton + Daisy over the USB dongle", 125.0, 16,
                    "ADS1299", 24, 4.5, 24, counter_modulo=256, gui_board="CytonDaisy")
#: OpenBCI Ganglion: MCP3912, reconstructed 24-bit values, Vref 1.2 V, gain 1.5 x 51
#: (§2.5, BrainFlow ``eeg_scale``); 200 Hz over BLE (§2.1).
GANGLION = Board("ganglion", "OpenBCI Ganglion (MCP3912) over BLE", 200.0, 4, "MCP3912", 24, 1.2,
                 1.5 * 51, gui_board="Ganglion")
#: MyoWare 2.0 RAW (RAW - REF, gain 200, §3.1) on an Arduino Uno/Nano: 10-bit ADC on
#: the 5 V AVcc reference (§3.2), 1 kHz by default (firmware_bridge).
BRIDGE_AVR = Board("bridge_avr", "MyoWare 2.0 on an Arduino Uno/Nano (firmware_bridge)", 1000.0, 1,
                   "ATmega328P", 10, 5.0, 200, bipolar=False)
#: MyoWare 2.0 Wireless Shield (ESP32): 12-bit ADC, 3.3 V (MW-LIB), 1 kHz by default.
BRIDGE_ESP32 = Board("bridge_esp32", "MyoWare 2.0 Wireless Shield (ESP32, firmware_bridge)", 1000.0,
                     1, "ESP32", 12, 3.3, 200, bipolar=False)

#: MyoWare 2.0 ENV gain: 200 x (1 + R_pot / 1 kOhm); MW-LIB's default pot setting
#: R = 50 kOhm gives 10 200 (§3.1). Depends on the wearer's pot: ENV in µV is approximate.
MYOWARE_ENV_GAIN = 200 * (1 + 50)

BOARDS = {b.name: b for b in (CYTON, CYTON_DAISY, GANGLION, BRIDGE_AVR, BRIDGE_ESP32)}


def board(name: str) -> Board:
    """The :class:`Board` called ``name`` (a ``KeyError`` names the known ones)."""
    try:
        return BOARDS[name]
    except KeyError:
        raise KeyError(f"unknown board {name!r} (known: {', '.join(BOARDS)})") from None
