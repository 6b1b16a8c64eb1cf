"""The rest level that fasciculations are judged against (fasciculations.rest_level).

A muscle held at a low level for minutes (a pedal, standing) teaches the
adaptive baseline its working level; the rest level stays at the lowest
baseline of the last REST_MEMORY_S, so the potentials of that hold are not
taken for fasciculations. It must be causal and the same whatever the chunking.
"""
import numpy as np
import pytest

from emgpipe.detect.channel import _Channel
from emgpipe.detect.fasciculations import rest_level
from emgpipe.detect.settings import REST_BLOCK_S, REST_MEMORY_S, CrampSettings

HOP = 0.125


def _channels(n=2):
    return [_Channel(f"calf_{side}", CrampSettings(), None, None) for side in ("left", "right")[:n]]


def _bases(n_win, rng):
    """Two channels: rest at 2 µV, then a hold that raises the baseline to 5 µV
    for 200 s, then rest again; NaN while warming up, and a 0 (unknown)."""
    t = np.arange(n_win) * HOP
    a = np.where((t > 100) & (t < 300), 5.0, 2.0) + rng.uniform(0, 0.2, n_win)
    b = 3.0 + rng.uniform(0, 0.5, n_win)
    x = np.stack([a, b], axis=1)
    x[:16] = np.nan
    x[500, 1] = 0.0
    return x


def test_rest_level_stays_at_rest_during_a_long_hold():
    rng = np.random.default_rng(1)
    bases = _bases(int(900 / HOP), rng)
    rest = rest_level(_channels(), bases, HOP)
    t = np.arange(len(bases)) * HOP
    assert np.all(rest[:16] == 0.0)                       # baseline not known yet
    hold = (t > 150) & (t < 300)
    # the hold's baseline is ~5 µV, its rest level stays at the ~2 µV before it
    assert np.all(rest[hold, 0] <= 2.2)
    assert np.all(bases[hold, 0] >= 5.0)
    # never above the window's own baseline, and the 0 (unknown) is not a rest level
    known = bases > 0
    assert np.all(rest[known] <= bases[known])
    assert rest[500, 1] > 2.9


def test_rest_level_forgets_after_its_memory():
    """A baseline that stays up longer than REST_MEMORY_S becomes the rest level
    (a new electrode contact, a louder room): then its potentials count again."""
    n = int((REST_MEMORY_S * 3) / HOP)
    bases = np.full((n, 1), 2.0)
    bases[int(100 / HOP):, 0] = 6.0
    rest = rest_level(_channels(1), bases, HOP)
    t = np.arange(n) * HOP
    assert np.all(rest[t < 100 + REST_MEMORY_S - REST_BLOCK_S, 0] == 2.0)
    assert np.all(rest[t > 100 + REST_MEMORY_S + 2 * REST_BLOCK_S, 0] == 6.0)


@pytest.mark.parametrize("sizes", [[1], [7, 1, 80, 3], [240], [13, 0, 2, 500]])
def test_rest_level_is_chunk_invariant(sizes):
    rng = np.random.default_rng(2)
    bases = _bases(int(700 / HOP), rng)
    one = rest_level(_channels(), bases, HOP)
    chs = _channels()
    out, i, k = [], 0, 0
    while i < len(bases):
        n = sizes[k % len(sizes)]
        k += 1
        out.append(rest_level(chs, bases[i:i + n], HOP))
        i += n
    np.testing.assert_array_equal(np.concatenate(out), one)
