"""The kernels compiled ahead of time (emgpipe._aot, built by setup.py with
emgpipe/_aot_build.py) give what numba's JIT gives, bit for bit, start
without numba, and are never used when older than the kernels' source or
given arrays they were not compiled for (emgpipe/_compiled.py)."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import emgpipe
from emgpipe import _compiled

NOT_BUILT = ("emgpipe._aot is not built here (setup.py builds it at install; it needs a C compiler): "
             "numba's JIT runs the kernels")
needs_aot = pytest.mark.skipif(_compiled.aot is None, reason=NOT_BUILT)


def test_specs_parse_to_dtype_dimensions_and_scalars():
    assert _compiled.parse("f8[:,::1], i8[::1], i2[:,:,::1], i8, f8, b1") == [
        ("array", np.dtype("f8"), 2), ("array", np.dtype("i8"), 1), ("array", np.dtype("i2"), 3),
        ("int",), ("float",), ("bool",)]
    with pytest.raises(ValueError, match="C-contiguous"):
        _compiled.parse("f8[:,:]")
    with pytest.raises(ValueError, match="not an array"):
        _compiled.parse("c16")


def test_every_kernel_table_parses_and_names_a_numba_function():
    from emgpipe.dsp import _kernels
    from emgpipe.io import _fast
    for mod in (_kernels, _fast):
        for name, specs in mod.AOT_KERNELS.items():
            for spec in ([specs] if isinstance(specs, str) else specs):
                assert _compiled.parse(spec)
            assert callable(getattr(mod, name))


def test_a_checked_kernel_runs_only_on_the_arrays_it_was_compiled_for():
    calls = []

    def compiled_i2(x, n, a):
        calls.append(("i2", x.dtype, n, a))
        return 2

    def compiled_i4(x, n, a):
        calls.append(("i4", x.dtype, n, a))
        return 4

    k = _compiled._checked("k", [(compiled_i2, _compiled.parse("i2[:,::1], i8, f8")),
                                 (compiled_i4, _compiled.parse("i4[:,::1], i8, f8"))])
    assert k(np.zeros((3, 2), np.int16), np.int64(5), 1) == 2
    assert k(np.zeros((3, 2), np.int32), 5, 0.5) == 4
    assert calls == [("i2", np.dtype("i2"), 5, 1.0), ("i4", np.dtype("i4"), 5, 0.5)]
    assert type(calls[0][3]) is float and type(calls[0][2]) is int
    bad = [np.zeros((3, 2)),                              # float64: would be read as int16
           np.zeros((3, 4), np.int16)[:, ::2],            # strided: would be read as contiguous
           np.zeros(6, np.int16),                         # one dimension, not two
           np.zeros((3, 2), np.dtype(">i2")),             # the other byte order
           [[0, 0]]]                                      # not an array
    for x in bad:
        with pytest.raises(TypeError, match="compiled kernel k: no form takes"):
            k(x, 5, 1.0)
    with pytest.raises(TypeError):
        k(np.zeros((3, 2), np.int16), 5.5, 1.0)          # a float for an int
    assert len(calls) == 2


def test_a_module_older_than_the_kernels_is_not_used(monkeypatch):
    stale = types.ModuleType("emgpipe._aot")
    stale.source_key = lambda: _compiled.source_key() ^ 1
    monkeypatch.setitem(sys.modules, "emgpipe._aot", stale)
    monkeypatch.setattr(emgpipe, "_aot", stale, raising=False)
    monkeypatch.delenv("EMGPIPE_KERNELS", raising=False)
    assert _compiled._load_aot() is None
    stale.source_key = _compiled.source_key
    assert _compiled._load_aot() is stale
    monkeypatch.setenv("EMGPIPE_KERNELS", "jit")
    assert _compiled._load_aot() is None


def test_the_source_key_follows_the_kernel_files(tmp_path):
    for rel in _compiled.SOURCES:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes((emgpipe.__path__[0] + "/" + rel).encode())
    key = _compiled.source_key(tmp_path)
    assert 0 <= key < 2 ** 56 and key == _compiled.source_key(tmp_path)
    (tmp_path / _compiled.SOURCES[-1]).write_bytes(b"# changed\n")
    assert _compiled.source_key(tmp_path) != key


# Every compiled kernel on streams as devices send them (the shapes of
# tests/test_prepare_kernels.py) and on an EDF and a BDF file read back: the
# digest of every filtered sample, feature value and event.
DIGEST = r"""
import hashlib, json, sys, tempfile, os
import numpy as np
from emgpipe import sim
from emgpipe.dsp import _kernels as K
from emgpipe.io import _fast
from emgpipe.types import Chunk
from emgpipe.pipeline import build_pipeline
h = hashlib.sha256()
def add(a):
    h.update(np.ascontiguousarray(np.asarray(a, dtype=np.float64)).tobytes())
for scen, device, fs, n_ch, step, mode in [
        ("walk_then_cramp", "cyton", 250, 8, 50, "awake"),
        ("night_plm_only", "ganglion", 200, 4, 20, "sleep"),
        ("walk_then_cramp", "raw", 1000, 2, 100, "awake"),
        ("walk_then_cramp", "raw", 1000, 1, 100, "awake"),
        ("stairs", "raw", 1000, 3, 100, "awake"),
        ("walk_then_cramp", "myoware_env", 250, 2, 50, "awake"),
        ("artifact_torture", "cyton", 250, 2, 50, "awake"),
        ("fasciculation_storm", "raw", 2000, 2, 200, "sleep")]:
    s = sim.make(scen, fs=fs, device=device, duration=15)
    x = np.concatenate([d for _, d in s.segments(10.0)])
    x = np.tile(x, (1, -(-n_ch // x.shape[1])))[:, :n_ch]
    names = tuple(f"{s.ch_names[k % len(s.ch_names)]}_{k}" for k in range(n_ch))
    p = build_pipeline(None, mode=mode, signal="envelope" if device == "myoware_env" else "emg")
    events = []
    p.events.sink(events.append)
    for i in range(0, len(x), step):
        c = Chunk(x[i:i + step], fs=float(fs), seq=i, ch_names=names, source_id=scen)
        add(p.filters(c).data)
        p.push(c)
    p.close()
    p.destroy()
    for e in events:
        h.update(repr((e.kind, e.channel, e.start_s, e.end_s, e.alert_s, e.peak_uv, e.confidence)).encode())
# the two kernels no stream shape calls, and the readers' kernels
rng = np.random.default_rng(3)
ax = np.abs(rng.normal(size=(4000, 3)))
add(K.spike_counts(ax, np.full((70, 3), 1.5), 100, 50))
# the streams compute the detector's features only: every feature, spectra and pair terms too
from emgpipe.dsp.features import compute_features_segment
xs = rng.normal(0, 10, size=(4000, 3))
add(K.block_sums(xs, 50, 80, 0.5, 0.5))
add(K.block_sums(xs, 50, 80, 0.5, 0.5, pairs=False))
for v in compute_features_segment(xs, 100, 50, 1000.0).values():
    add(v)
tab = K.mains_table(250, 1000.0)[:4]
add(K.quality_stats(rng.normal(size=(3000, 2)), 250, 12, tab))
for dt in (np.int16, np.int32):
    dig = rng.integers(-30000, 30000, size=(7, 60)).astype(dt)
    add(_fast.calibrate(dig, [0, 30], 30, [1.5, -2.0], [0.25, 0.5], [1.0, 1e-3], [True, False]))
add([_fast.all_within(rng.normal(size=(500, 2)), 3.0), _fast.all_within(rng.normal(size=(500, 2)), 30.0)])
from emgpipe.pipeline import kernel_backend
print(json.dumps({"digest": h.hexdigest(), "aot": K.aot is not None, "numba": "numba" in sys.modules,
                  "backend": kernel_backend()}))
"""


def _digests(*kernels: str | None) -> list[dict]:
    """The DIGEST run once per entry of ``kernels`` (None: as installed), side by side."""
    procs = []
    for k in kernels:
        env = {n: v for n, v in os.environ.items() if n != "EMGPIPE_KERNELS"}
        if k:
            env["EMGPIPE_KERNELS"] = k
        procs.append(subprocess.Popen([sys.executable, "-c", DIGEST], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, env=env))
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr[-2000:]
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


@needs_aot
def test_ahead_of_time_kernels_equal_numba_jit_bit_for_bit():
    aot, jit = _digests(None, "jit")
    assert aot["aot"] and not aot["numba"], "the default run should use emgpipe._aot, without numba"
    assert not jit["aot"] and jit["numba"]
    assert aot["digest"] == jit["digest"]
    assert aot["backend"] == "ahead of time" and jit["backend"] == "numba JIT"


@needs_aot
def test_a_replay_starts_without_numba_or_llvm(tmp_path):
    sample = Path(emgpipe.__path__[0]).parent / "datasets" / "sample" / "night_plm_only.csv"
    if not sample.exists():
        pytest.skip(f"{sample} is not here (an installed copy without the source tree)")
    code = (
        "import sys\n"
        "from emgpipe.cli import main\n"
        "try:\n    main(['replay', sys.argv[1], '--events-out', sys.argv[2], '--no-progress'])\n"
        "except SystemExit:\n    pass\n"
        "print([m for m in ('numba', 'llvmlite') if m in sys.modules])\n")
    out = subprocess.run([sys.executable, "-c", code, str(sample), str(tmp_path / "ev.csv")], capture_output=True,
                         text=True, env={k: v for k, v in os.environ.items() if k != "EMGPIPE_KERNELS"})
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr
    assert (tmp_path / "ev.csv").read_text().count("\n") > 1


def test_the_key_is_a_digest_of_the_sources():
    h = hashlib.sha256()
    for rel in _compiled.SOURCES:
        with open(os.path.join(emgpipe.__path__[0], rel), "rb") as f:
            h.update(f.read())
    assert _compiled.source_key() == int.from_bytes(h.digest()[:7], "little")
