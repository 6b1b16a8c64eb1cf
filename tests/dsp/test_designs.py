"""The filter designs kept on disk (emgpipe.dsp._designs) are scipy's, bit for bit."""
import json
import subprocess
import sys

import numpy as np
import pytest
from scipy import integrate, signal, stats

from emgpipe.dsp import _designs


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EMGPIPE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_designs, "_memo", {})
    monkeypatch.setattr(_designs, "_disk", None)
    return tmp_path


def _designs_now():
    return [_designs.butter_sos(2, [20.0, 450.0], "bandpass", 1000.0),
            _designs.butter_sos(2, 20.0, "highpass", 200.0),
            _designs.iirnotch_sos(150.0, 75.0, 1000.0),
            _designs.sosfilt_zi(signal.butter(2, [20, 112.5], "bandpass", fs=250, output="sos")),
            np.array([_designs.expected_max_normal(2)])]


def _scipy():
    return [signal.butter(2, [20.0, 450.0], "bandpass", fs=1000.0, output="sos"),
            signal.butter(2, 20.0, "highpass", fs=200.0, output="sos"),
            signal.tf2sos(*signal.iirnotch(150.0, 75.0, fs=1000.0)),
            signal.sosfilt_zi(signal.butter(2, [20, 112.5], "bandpass", fs=250, output="sos")),
            np.array([integrate.quad(lambda z: 2 * z * stats.norm.pdf(z) * stats.norm.cdf(z), -10, 10)[0]])]


def test_computed_then_read_back_equal_scipy_bit_for_bit(cache, monkeypatch):
    first = _designs_now()
    assert (cache / "designs.json").is_file()
    monkeypatch.setattr(_designs, "_memo", {})       # a new process: from the file
    monkeypatch.setattr(_designs, "_disk", None)
    again = _designs_now()
    for a, b, ref in zip(first, again, _scipy()):
        assert a.tobytes() == ref.tobytes() and b.tobytes() == ref.tobytes()


def test_a_damaged_or_unwritable_cache_is_ignored(cache, monkeypatch):
    (cache / "designs.json").write_text("{not json")
    assert _designs.butter_sos(2, 20.0, "highpass", 200.0).tobytes() == _scipy()[1].tobytes()
    monkeypatch.setattr(_designs, "_memo", {})
    monkeypatch.setattr(_designs, "_disk", None)
    monkeypatch.setenv("EMGPIPE_CACHE_DIR", str(cache / "designs.json" / "nope"))   # cannot be a folder
    assert _designs.iirnotch_sos(50.0, 25.0, 1000.0).tobytes() == signal.tf2sos(
        *signal.iirnotch(50.0, 25.0, fs=1000.0)).tobytes()
    json.loads((cache / "designs.json").read_text())            # rewritten whole, valid


def test_a_second_process_does_not_import_scipy_signal(cache):
    code = ("import sys, numpy as np\n"
            "from emgpipe.graph import Pipeline\n"
            "from emgpipe.types import Chunk\n"
            "p = Pipeline(None, mode='sleep')\n"
            "p.push(Chunk(np.random.default_rng(0).normal(0, 5, (6000, 2)), fs=1000.0, ch_names=('a', 'b')))\n"
            "p.close()\n"
            "print(sorted(m for m in ('scipy.signal', 'scipy.stats', 'scipy.integrate') if m in sys.modules))\n")
    env = {**__import__("os").environ, "EMGPIPE_CACHE_DIR": str(cache)}
    outs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            .stdout.strip() for _ in range(2)]
    assert outs[1] == "[]", outs
