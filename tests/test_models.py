import os
import subprocess
import sys
import textwrap

import pytest

from emgpipe.errors import ConfigError
from emgpipe.models import available_models, load_model


def test_default_model_has_physical_parameters():
    m = load_model("default")
    assert m.tag == f"default@{m.version}"
    f = m.section("filters")
    assert f["bandpass_low_hz"] == 20.0 and f["mains_hz"] == "auto"
    assert "default" in available_models()


def test_model_by_path_and_extends(tmp_path):
    p = tmp_path / "mine.toml"
    p.write_text(textwrap.dedent("""
        [model]
        name = "mine"
        version = "3"
        extends = "default"
        [windows]
        length_s = 0.5
    """))
    m = load_model(str(p))
    assert m.tag == "mine@3"
    assert m.section("windows")["length_s"] == 0.5
    assert m.section("filters")["bandpass_low_hz"] == 20.0   # inherited


def test_bad_models(tmp_path):
    with pytest.raises(ConfigError, match="unknown model"):
        load_model("nope")
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\n")
    with pytest.raises(ConfigError, match="bad.toml: not valid TOML"):
        load_model(str(bad))
    nover = tmp_path / "nover.toml"
    nover.write_text("[model]\nname='x'\n")
    with pytest.raises(ConfigError, match="needs name and version"):
        load_model(str(nover))


@pytest.mark.slow
def test_installed_package_finds_models_without_source_tree(tmp_path):
    """A non-editable install (wheel) loads models/ from site-packages."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    target = tmp_path / "site"
    # EMGPIPE_AOT=0: not the ~45 s of compiling the kernels ahead of time (tests/test_aot.py
    # and .ci/run check that build); this test is about the models' packaging
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
                        "--quiet", "--target", str(target), repo],
                       capture_output=True, text=True, timeout=300, env={**os.environ, "EMGPIPE_AOT": "0"})
    if r.returncode != 0:
        pytest.skip(f"pip could not build the package here: {r.stderr.strip().splitlines()[-1:]}")
    code = ("import emgpipe.models as m, emgpipe; "
            "assert 'site' in emgpipe.__file__, emgpipe.__file__; "
            "print(m.load_model('default').tag, m.available_models())")
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path), env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("default@")
