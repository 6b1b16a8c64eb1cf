#!/usr/bin/env python3
"""Turn a recording (µV at the electrodes) into avrsim's ADC input rows.

Each row is 6 little-endian uint16 millivolts, the voltages on the Uno's A0..A5 as the
bridge_avr pin table wires two MyoWare 2.0 sensors: sensor 1 RAW/REF/ENV on A0/A1/A2,
sensor 2 on A3/A4/A5. RAW = REF + µV x 200 (the MyoWare's RAW gain) around REF = 2.5 V
(mid-supply at 5 V); ENV = a 100 ms mean of the rectified signal x 10200 (MW-LIB's default
ENV gain, the bridge source's env_gain). Values are clipped to 0-5 V like the real outputs.

    python firmware_bridge/tests/simavr/make_adc.py walk.csv walk.u16 [--start S] [--end S]

walk.csv: the recording CSV of emgpipe (``time_s,<ch>,<ch>``; ``emgpipe simulate`` writes
one), one or two channels. Its rate must be the firmware's (1000 Hz by default).
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

REF_MV = 2500
RAW_GAIN = 200
ENV_GAIN = 10200
ENV_WINDOW = 100          # samples: 100 ms at 1 kHz


def adc_rows(uv: np.ndarray) -> np.ndarray:
    """(n, 1 or 2) µV -> (n, 6) uint16 mV on A0..A5."""
    uv = np.asarray(uv, dtype=np.float64)
    if uv.ndim == 1:
        uv = uv[:, None]
    if uv.shape[1] not in (1, 2):
        raise ValueError(f"one or two channels, got {uv.shape[1]}")
    rows = np.full((len(uv), 6), float(REF_MV))
    for sensor in range(uv.shape[1]):
        x = uv[:, sensor]
        env = np.convolve(np.abs(x), np.ones(ENV_WINDOW) / ENV_WINDOW)[:len(x)]
        rows[:, 3 * sensor] = REF_MV + x * RAW_GAIN / 1000
        rows[:, 3 * sensor + 2] = env * ENV_GAIN / 1000
    return np.clip(np.round(rows), 0, 5000).astype("<u2")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv")
    ap.add_argument("out")
    ap.add_argument("--start", type=float, default=0.0, help="first second to take")
    ap.add_argument("--end", type=float, default=None, help="last second to take")
    args = ap.parse_args(argv)
    data = np.loadtxt(args.csv, delimiter=",", skiprows=1, ndmin=2)
    t = data[:, 0]
    keep = (t >= args.start) & (t < (args.end if args.end is not None else np.inf))
    rows = adc_rows(data[keep, 1:])
    rows.tofile(args.out)
    fs = 1.0 / np.median(np.diff(t)) if len(t) > 1 else 0
    print(f"{args.out}: {len(rows)} rows ({len(rows) / fs:.1f} s at {fs:g} Hz), "
          f"{data.shape[1] - 1} sensor(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
