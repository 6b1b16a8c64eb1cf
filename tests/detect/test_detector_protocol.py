"""The detector protocol and the split of the cramp detector (issue 14 part 5)."""
import numpy as np

from emgpipe.detect import cramp
from emgpipe.detect.detector import CrampDetector
from emgpipe.detect.protocol import Detector
from emgpipe.detect.settings import CrampSettings


def test_cramp_detector_follows_the_protocol():
    det = CrampDetector(CrampSettings())
    assert isinstance(det, Detector)
    assert det.close(0.0) == [] and det.state == {}
    assert det.answer("calf_left", "cramp", 1.0) == []
    det.note_pops([("calf_left", 0.5)])          # before any features: kept for later


def test_the_old_import_path_still_works():
    assert cramp.CrampDetector is CrampDetector and cramp.CrampSettings is CrampSettings
    assert cramp.band_fraction(1000.0) == 1.0
    assert cramp._Episode((0.0, 0.0, 1.0)).n == 1.0


def test_detect_modules_import_nothing_above_dsp():
    import ast
    from pathlib import Path
    root = Path(cramp.__file__).parent
    for p in root.glob("*.py"):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 2:
                assert (node.module or "").split(".")[0] in ("types", "channels", "dsp", "errors"), (p, node.module)


def test_quiet_stream_is_quiet_through_the_protocol():
    from emgpipe.graph import Pipeline
    from emgpipe.types import Chunk
    x = np.random.default_rng(1).normal(0, 3, (20000, 2))
    det = CrampDetector(CrampSettings())
    p = Pipeline("default", detectors=[det])
    ev = []
    p.events.sink(ev.append)
    p.push(Chunk(x, fs=1000.0, ch_names=("calf_left", "calf_right")))
    p.close()
    p.destroy()
    assert not [e for e in ev if e.kind == "cramp"]
    assert set(det.state) == {"calf_left", "calf_right"}
