"""prepare_kernels() leaves nothing to compile for a stream: after it, live-like
sessions of every device variant (many small chunks, awake and asleep, gaps and
pops) run without one new compiled specialisation. Otherwise the first session
after an install compiles mid-stream while the device's samples queue up, and
its first alert comes seconds late (seen with the Uno firmware in simavr). With
numba's JIT (``EMGPIPE_KERNELS=jit``): the kernels built ahead of time
(emgpipe._aot) compile nothing at run time."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CODE = """
import json
from emgpipe.dsp import _kernels as K
import numpy as np
from emgpipe import sim
from emgpipe.types import Chunk
from emgpipe.pipeline import build_pipeline, prepare_kernels

if K.numba is None:
    print(json.dumps("no numba")); raise SystemExit

def compiled():
    return {n: sorted(map(str, f.signatures)) for n, f in vars(K).items()
            if hasattr(f, "signatures") and hasattr(f, "py_func")}

prepare_kernels()
before = compiled()
runs = []
# (scenario, simulated device, rate, channels as the device sends them, samples per chunk, mode)
for scen, device, fs, n_ch, step, mode in [
        ("walk_then_cramp", "cyton", 250, 8, 5, "awake"),        # Cyton over its dongle
        ("night_plm_only", "ganglion", 200, 4, 2, "sleep"),      # Ganglion over BLE
        ("walk_then_cramp", "raw", 1000, 2, 10, "awake"),        # the bridge's RAW outputs
        ("walk_then_cramp", "raw", 1000, 1, 10, "awake"),
        ("stairs", "raw", 1000, 3, 10, "awake"),
        ("walk_then_cramp", "myoware_env", 250, 2, 10, "awake"),  # its ENV outputs
        ("restless_night", "raw", 1000, 4, 10, "sleep"),
        ("artifact_torture", "cyton", 250, 2, 5, "awake"),       # pops, saturation, gaps
        ("fasciculation_storm", "raw", 2000, 2, 20, "sleep")]:
    sim_ = sim.make(scen, fs=fs, device=device, duration=20)
    x = np.concatenate([d for _, d in sim_.segments(10.0)])
    x = np.tile(x, (1, -(-n_ch // x.shape[1])))[:, :n_ch]
    names = tuple(f"{sim_.ch_names[k % len(sim_.ch_names)]}_{k}" for k in range(n_ch))
    p = build_pipeline(None, mode=mode, signal="envelope" if device == "myoware_env" else "emg")
    p.events.sink(lambda e: None)
    for i in range(0, len(x), step):
        p.push(Chunk(x[i:i + step], fs=float(fs), seq=i, ch_names=names, source_id=scen))
    p.close()
    p.destroy()
    runs.append((scen, n_ch, float(fs), len(x)))
after = compiled()
print(json.dumps({"before": before, "after": after, "runs": runs}))
"""


def test_after_prepare_kernels_no_stream_compiles_anything(tmp_path):
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True,
                         cwd=tmp_path, env={**os.environ, "EMGPIPE_KERNELS": "jit"}).stdout.strip().splitlines()[-1]
    got = json.loads(out)
    if got == "no numba":
        pytest.skip("numba is not installed")
    assert all(n > 0 for *_, n in got["runs"]), got["runs"]
    assert {(ch, fs) for _, ch, fs, _ in got["runs"]} >= {(8, 250.0), (4, 200.0), (2, 1000.0)}
    new = {k: sorted(set(v) - set(got["before"].get(k, []))) for k, v in got["after"].items()}
    new = {k: v for k, v in new.items() if v}
    assert not new, f"compiled during the streams, not by prepare_kernels: {new}"
    assert any(got["before"].values())
