"""The comb notch of the mains filter: where the sample rate is a whole multiple
of the mains frequency, one section y[n] = b (x[n] - x[n-N]) + a y[n-N] notches
the fundamental and every harmonic, each as wide as the biquads it replaces."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from emgpipe.dsp import _kernels
from emgpipe.dsp.filters import MainsNotch, MainsNotchSettings
from emgpipe.types import Chunk
from tests.helpers import random_chunks


def _ba(n, b, a):
    num, den = np.zeros(n + 1), np.zeros(n + 1)
    num[0], num[-1] = b, -b
    den[0], den[-1] = 1.0, -a
    return num, den


@pytest.mark.parametrize("fs, f0", [(200.0, 50.0), (250.0, 50.0), (1000.0, 50.0), (4000.0, 50.0), (1200.0, 60.0)])
def test_design_is_scipys_iircomb(fs, f0):
    s = MainsNotchSettings()
    n, b, a = s.design_comb(fs, f0)
    num, den = signal.iircomb(f0, f0 / s.bandwidth_hz, ftype="notch", fs=fs)
    ref_num, ref_den = _ba(n, b, a)
    np.testing.assert_allclose(num, ref_num, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(den, ref_den, rtol=1e-12, atol=1e-15)


def test_no_comb_where_the_rate_is_not_a_multiple_or_harmonics_are_capped():
    s = MainsNotchSettings()
    assert s.design_comb(1000.0, 60.0) is None          # 16.67 samples a period
    assert s.design_comb(250.0, 60.0) is None
    assert s.design_comb(100.0, 50.0) is None           # N = 2
    assert MainsNotchSettings(max_hz=200.0).design_comb(1000.0, 50.0) is None


@pytest.mark.parametrize("fs", [250.0, 1000.0])
def test_every_harmonic_is_notched_as_wide_as_the_biquads(fs):
    s = MainsNotchSettings()
    n, b, a = s.design_comb(fs, 50.0)
    num, den = _ba(n, b, a)
    for k in range(1, int(0.49 * fs / 50) + 1):
        f = k * 50.0
        _, h = signal.freqz(num, den, worN=[f, f - 1.0, f + 1.0, f - 10.0], fs=fs)
        assert abs(h[0]) < 1e-6                               # the line itself
        assert abs(abs(h[1]) - 2 ** -0.5) < 0.02              # -3 dB at +-1 Hz: 2 Hz wide
        assert abs(abs(h[2]) - 2 ** -0.5) < 0.02
        assert abs(h[3]) > 0.99                               # 10 Hz away: passed
    # the same -3 dB points as the biquad of the fundamental
    _, hq = signal.sosfreqz(s.design(fs, 50.0)[:1], worN=[49.0, 51.0], fs=fs)
    assert np.allclose(np.abs(hq), 2 ** -0.5, atol=0.02)


def test_kernel_equals_lfilter_and_the_numpy_fallback():
    rng = np.random.default_rng(5)
    x = rng.normal(0, 10, (5000, 3))
    n, b, a = MainsNotchSettings().design_comb(1000.0, 50.0)
    num, den = _ba(n, b, a)
    ref = signal.lfilter(num, den, x, axis=0)
    zeros = np.zeros((n, 3))
    y, xh, yh = _kernels.comb_notch(x, zeros, zeros, b, a)
    np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-9)
    assert np.array_equal(_kernels._comb_numpy(x, zeros, zeros, b, a), y)
    assert np.array_equal(xh, x[-n:]) and np.array_equal(yh, y[-n:])


@pytest.mark.parametrize("fs", [200.0, 1000.0])
def test_chunked_equals_one_shot_bit_for_bit(fs):
    rng = np.random.default_rng(6)
    t = np.arange(int(6 * fs)) / fs
    x = rng.normal(0, 5, (len(t), 2)) + 30 * np.sin(2 * np.pi * 50 * t)[:, None] + 400.0
    one = MainsNotch(mains_hz=50)(Chunk(x, fs=fs)).data
    notch = MainsNotch(mains_hz=50)
    # pieces shorter and longer than N (4 and 20 samples), some empty
    parts = [notch(c).data for c in random_chunks(x, fs, rng, max_len=int(0.05 * fs))]
    assert np.array_equal(np.concatenate(parts), one)
    assert np.abs(one[int(fs):]).std() < 8          # the 50 Hz line is gone (noise is 5)
