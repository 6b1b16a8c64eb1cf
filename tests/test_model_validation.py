"""Issue 14: model files (and the alerts config) are validated against the settings they
feed: an unknown key, a wrong type or an impossible value is one line naming the file,
the key and what is expected."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from emgpipe.alerts.config import load_config
from emgpipe.errors import ConfigError
from emgpipe.models import available_models, load_model

HEAD = '[model]\nname = "mine"\nversion = "1"\nextends = "default"\n'


def _model(tmp_path, body: str):
    p = tmp_path / "mine.toml"
    p.write_text(HEAD + textwrap.dedent(body))
    return p


@pytest.mark.parametrize("body, match", [
    ("[detector]\non_ration = 3.0\n", r"\[detector\] on_ration: unknown key \(did you mean 'on_ratio'\?\)"),
    ("[quality]\nflat_vu = 0.1\n", r"\[quality\] flat_vu: unknown key \(did you mean 'flat_uv'\?\)"),
    ("[windows]\nlenght_s = 0.5\n", r"\[windows\] lenght_s: unknown key \(did you mean 'length_s'\?\)"),
    ("[filters]\nbandpass_lo_hz = 10\n", r"\[filters\] bandpass_lo_hz: unknown key"),
    ("[features]\nspike = 5\n", r"\[features\] spike: unknown key"),
    ("[detectors]\non_ratio = 3.0\n", r"\[detectors\]: unknown section"),
    ("[detector.sleep]\nmin_s_sleep = 9\n", r"\[detector.sleep\]: unknown table \(a model holds one set of "
                                            r"parameters; the mode is chosen with --mode\)"),
    ("[detector]\nanswer_keep = 2.5\n", r"\[detector\] answer_keep = 2.5: expected a whole number"),
    ("[quality]\nclip_min_run = 1.5\n", r"\[quality\] clip_min_run = 1.5: expected a whole number"),
    ("[detector]\non_ratio = \"high\"\n", r"\[detector\] on_ratio = 'high': expected a number"),
    ("[detector]\nevidence_fasc = 2.5\n", r"\[detector\] evidence_fasc = 2.5: expected a whole number"),
    ("[detector]\nmin_s = -1\n", r"\[detector\] min_s = -1: expected a number of at least 0"),
    ("[windows]\nlength_s = 0\n", r"\[windows\] length_s = 0: expected a number above 0"),
    ("[windows]\nlength_s = 0.2\nhop_s = 0.5\n", r"\[windows\] hop_s = 0.5: expected at most length_s"),
    ("[quality]\nflat_s = 0\n", r"\[quality\] flat_s = 0: expected a number above 0"),
    ("[quality]\nwindow_s = true\n", r"\[quality\] window_s = true: expected a number"),
    ("[filters]\nmains_hz = 55\n", r'\[filters\] mains_hz = 55: expected "auto", 50 or 60'),
    ("[filters]\nbandpass_order = 2.5\n", r"\[filters\] bandpass_order = 2.5: expected a whole number"),
    ("[filters]\nbandpass_low_hz = 500.0\n", r"bandpass_high_hz = 450.0: expected a number above"),
    ("[features]\nnames = [\"rms\", \"rmss\"]\n", r"\[features\] names: unknown feature 'rmss'"),
])
def test_bad_model_is_one_line_naming_file_key_and_expectation(tmp_path, body, match):
    p = _model(tmp_path, body)
    with pytest.raises(ConfigError, match=match) as ei:
        load_model(str(p))
    msg = str(ei.value)
    assert msg.startswith(str(p)) and "\n" not in msg


def test_installed_models_are_valid():
    for name in available_models():
        load_model(name)


def test_mode_is_not_a_model(caplog):
    """Awake/sleep is expressed once, by the mode: no awake/sleep model files, no
    per-mode detector tables; the old model names load the default model, with a warning."""
    assert "awake" not in available_models() and "sleep" not in available_models()
    with caplog.at_level("WARNING", logger="emgpipe.models"):
        assert load_model("sleep").tag == load_model("default").tag
    assert "use --mode sleep" in caplog.text


def _sections():
    """(section, settings dataclass) of every model section checked against settings."""
    from emgpipe.detect.cramp import CrampSettings
    from emgpipe.detect.quality import QualitySettings
    from emgpipe.dsp.features import FeatureSettings
    return (("detector", CrampSettings), ("quality", QualitySettings), ("features", FeatureSettings))


def test_every_settings_field_is_type_checked(tmp_path):
    """Every key of every section: a wrong type is one line naming the file, the key and
    what is expected (a field added to a settings class is covered without a new rule)."""
    from dataclasses import fields
    n = 0
    for section, cls in _sections():
        for f in fields(cls):
            p = _model(tmp_path, f'[{section}]\n{f.name} = "x"\n')
            with pytest.raises(ConfigError, match=rf"^{p}: \[{section}\] {f.name} = 'x': expected ") as ei:
                load_model(str(p))
            assert "\n" not in str(ei.value)
            n += 1
    for section, keys in (("filters", ("bandpass_low_hz", "bandpass_high_hz", "bandpass_order",
                                       "notch_bandwidth_hz", "mains_decide_s", "mains_min_prominence",
                                       "mains_hz")),
                          ("windows", ("length_s", "hop_s"))):
        for key in keys:
            p = _model(tmp_path, f'[{section}]\n{key} = "x"\n')
            with pytest.raises(ConfigError, match=rf"^{p}: \[{section}\] {key} = 'x': expected "):
                load_model(str(p))
            n += 1
    assert n > 80


def test_cli_reports_a_bad_model_in_one_line_without_traceback(tmp_path):
    p = _model(tmp_path, "[detector]\non_ratio = \"high\"\n")
    r = subprocess.run([sys.executable, "-m", "emgpipe", "simulate", "--list"], capture_output=True, text=True)
    assert r.returncode == 0
    rec = tmp_path / "r.csv"
    r = subprocess.run([sys.executable, "-m", "emgpipe", "simulate", "walk_then_cramp", "--out", str(rec),
                        "--duration", "10"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-m", "emgpipe", "replay", str(rec), "--events-out",
                        str(tmp_path / "o.csv"), "--model", str(p)], capture_output=True, text=True)
    assert r.returncode == 1, r.stderr                      # was a traceback and exit 70
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "on_ratio = 'high': expected a number" in r.stderr and str(p) in r.stderr


@pytest.mark.parametrize("body, match", [
    ('[sound]\nvolume = "loud"\n', r"\[sound\] volume = 'loud': expected a number from 0 to 1"),
    ("[sound]\nvolume = 3\n", r"\[sound\] volume = 3: expected a number from 0 to 1"),
    ("[haptic]\nms = 0\n", r"\[haptic\] ms = 0: expected a whole number from 1 to 5000"),
    ('[desktop]\nurgency = "loud"\n', r"\[desktop\] urgency = 'loud': expected \"low\""),
    ('[webhook]\nurl = "example.org"\n', r"\[webhook\] url = 'example.org': expected an http"),
    ("[command]\nargv = 3\n", r"\[command\] argv = 3: expected a command"),
    ("[terminal]\nbell = 1\n", r"\[terminal\] bell = 1: expected true or false"),
])
def test_bad_alerts_config_values_are_one_line(tmp_path, body, match):
    p = tmp_path / "alerts.toml"
    p.write_text(body)
    with pytest.raises(ConfigError, match=match) as ei:
        load_config(p)
    assert str(ei.value).startswith(str(p)) and "\n" not in str(ei.value)
