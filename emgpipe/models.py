"""Detector parameter files (``models/*.toml``) loaded into frozen settings.

Models are found by name among the installed ``emgpipe._models`` package data
(the repository's ``models/`` folder), or by path to a ``.toml`` file. Every
model has ``[model] name`` and ``version``; the events file and the night log
record ``name@version``.
"""
from __future__ import annotations

import importlib.resources
import logging
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from .errors import ConfigError

log = logging.getLogger(__name__)

#: Model names that were modes (models/awake.toml, sleep.toml: the default
#: model under another name). Awake/sleep is the mode now, expressed once
#: (``--mode``); these names still load the default model, with a warning.
RETIRED = ("awake", "sleep")


@dataclass(frozen=True)
class Model:
    name: str
    version: str
    path: str
    params: MappingProxyType = field(repr=False, default_factory=lambda: MappingProxyType({}))

    @property
    def tag(self) -> str:
        return f"{self.name}@{self.version}"

    def section(self, name: str) -> dict:
        return dict(self.params.get(name, {}))


def _models_root():
    """Installed: the ``emgpipe._models`` package data. Running from a source
    checkout without installing: the repository's ``models/`` folder."""
    try:
        return importlib.resources.files("emgpipe._models")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "models"


def available_models() -> list[str]:
    root = _models_root()
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_model(name_or_path: str | os.PathLike | None = None) -> Model:
    """Load a model by name (``default``...) or path.

    A model may say ``extends = "default"`` in its ``[model]`` table to
    inherit every section it does not override.

    >>> load_model("default").tag.startswith("default@")
    True
    """
    ref = "default" if name_or_path is None else os.fspath(name_or_path)
    if ref in RETIRED:
        log.warning("--model %s: the mode is no longer a model (use --mode %s); using the default model",
                    ref, ref)
        ref = "default"
    if ref.endswith(".toml") or os.sep in ref or "/" in ref:
        path = Path(ref)
        if not path.is_file():
            raise ConfigError(f"--model {ref}: no such model file")
        text, where = path.read_text(encoding="utf-8"), str(path)
    else:
        res = _models_root() / f"{ref}.toml"
        if not res.is_file():
            raise ConfigError(f"--model {ref}: unknown model (available: {', '.join(available_models())})")
        text, where = res.read_text(encoding="utf-8"), f"models/{ref}.toml"
    try:
        params = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{where}: not valid TOML ({err})") from None
    meta = params.get("model", {})
    if not meta.get("name") or not meta.get("version"):
        raise ConfigError(f"{where}: [model] needs name and version")
    parent = meta.get("extends")
    if parent:
        if parent == meta["name"]:
            raise ConfigError(f"{where}: model extends itself")
        params = _merge(dict(load_model(parent).params), params)
        params["model"] = meta
    validate_model(params, where)
    return Model(meta["name"], str(meta["version"]), where, MappingProxyType(params))


# ---------------------------------------------------------------------- validation
#: [model] keys and [filters] / [windows] keys (the other sections are checked
#: against the fields of the settings dataclasses they feed).
_MODEL_KEYS = {"name": str, "version": (str, int, float), "extends": str, "description": str}
#: key -> (type, lower bound, lower bound excluded?, what is expected)
_POS, _NONNEG = (0.0, True), (0.0, False)
_FILTERS = {"bandpass_low_hz": (float, *_POS), "bandpass_high_hz": (float, *_POS),
            "bandpass_order": (int, 1.0, False), "notch_bandwidth_hz": (float, *_POS),
            "mains_decide_s": (float, *_POS), "mains_min_prominence": (float, *_POS)}
_WINDOWS = {"length_s": (float, *_POS), "hop_s": (float, *_POS)}
#: durations and thresholds that must be above 0 in [quality] (a window, a
#: minimum duration of 0 would flag every window / never finish an episode)
_QUALITY_POSITIVE = ("window_s", "flat_s", "mains_min_s", "min_artifact_s", "clip_min_run",
                     "pop_hold_s", "pop_pre_s", "pop_lobe_s", "pop_event_s", "clip_fraction")
_DETECTOR_POSITIVE = ("baseline_down_s", "baseline_up_s", "decision_s", "evidence_window_s",
                      "precursor_s", "fasc_tonic_s", "series_context_s", "hold_context_s")


_ANNOTATIONS = {"float": float, "int": int, "str": str, "tuple": tuple, "bool": bool}


def _settings_fields(cls) -> dict:
    """field name -> its annotated type (float, int, str, tuple), so that every
    field a settings dataclass gains is checked with the right type."""
    from dataclasses import fields
    out = {}
    for f in fields(cls):
        name = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "float")
        out[f.name] = _ANNOTATIONS.get(name.split("[")[0].split(" ")[0], float)
    return out


def _expect(kind, lo=None, lo_open=False) -> str:
    what = {int: "a whole number", float: "a number", str: "a string", tuple: "a list"}.get(kind, "a value")
    if lo is not None:
        what += " above 0" if (lo_open and lo == 0) else f" of at least {lo:g}"
    return what


def _shown(v) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    return repr(v) if isinstance(v, str) else str(v)


def _check(where: str, section: str, key: str, value, kind, lo=None, lo_open=False) -> None:
    bad = False
    if kind is float:
        bad = isinstance(value, bool) or not isinstance(value, (int, float)) or value != value
    elif kind is int:
        bad = isinstance(value, bool) or not isinstance(value, int)
    elif kind is str:
        bad = not isinstance(value, str)
    elif kind is tuple:
        bad = not isinstance(value, list)
    if not bad and lo is not None and kind in (int, float):
        bad = value <= lo if lo_open else value < lo
    if bad:
        raise ConfigError(f"{where}: [{section}] {key} = {_shown(value)}: expected {_expect(kind, lo, lo_open)}")


def _unknown(where: str, section: str, key: str, known) -> ConfigError:
    import difflib
    near = difflib.get_close_matches(key, list(known), n=1)
    hint = f"did you mean {near[0]!r}?" if near else f"known: {', '.join(sorted(known))}"
    return ConfigError(f"{where}: [{section}] {key}: unknown key ({hint})")


def validate_model(params: dict, where: str) -> None:
    """Check every key of a model against the settings it sets (MNE's ``_check_option`` habit).

    Sections: ``[model]``, ``[filters]`` (BandPassSettings / MainsNotchSettings
    as :func:`emgpipe.graph.filters_from_model` reads them), ``[windows]``,
    ``[quality]`` (:class:`~emgpipe.detect.quality.QualitySettings`),
    ``[detector]`` (:class:`~emgpipe.detect.cramp.CrampSettings`; no per-mode
    tables: the mode is not a model setting) and ``[features]``
    (:class:`~emgpipe.dsp.features.FeatureSettings`). An unknown section or key,
    a wrong type or an impossible value (a zero or negative window or duration,
    a negative threshold) raises :class:`ConfigError` naming the file, the key
    and what is expected. (A band above the stream's Nyquist frequency can only
    be checked when the stream's rate is known: the band-pass caps it.)
    """
    from .detect.cramp import CrampSettings          # imported here: models.py sits below them
    from .detect.quality import QualitySettings
    from .dsp.features import ALL_FEATURES, FeatureSettings

    def table(section):
        v = params.get(section, {})
        if not isinstance(v, dict):
            raise ConfigError(f"{where}: {section} must be a [{section}] table")
        return v

    sections = ("model", "filters", "windows", "quality", "detector", "features")
    for key in params:
        if key not in sections:
            raise ConfigError(f"{where}: [{key}]: unknown section (known: {', '.join(sections)})")
    for key, value in table("model").items():
        if key not in _MODEL_KEYS:
            raise _unknown(where, "model", key, _MODEL_KEYS)
        if not isinstance(value, _MODEL_KEYS[key]) or isinstance(value, bool):
            raise ConfigError(f"{where}: [model] {key} = {_shown(value)}: expected a string")
    filt = table("filters")
    for key, value in filt.items():
        if key == "mains_hz":
            if value not in ("auto", 50, 60) or isinstance(value, bool):
                raise ConfigError(f'{where}: [filters] mains_hz = {_shown(value)}: expected "auto", 50 or 60')
            continue
        if key not in _FILTERS:
            raise _unknown(where, "filters", key, list(_FILTERS) + ["mains_hz"])
        _check(where, "filters", key, value, *_FILTERS[key])
    if isinstance(filt.get("bandpass_low_hz"), (int, float)) and isinstance(filt.get("bandpass_high_hz"),
                                                                           (int, float)):
        if not filt["bandpass_high_hz"] > filt["bandpass_low_hz"]:
            raise ConfigError(f"{where}: [filters] bandpass_high_hz = {filt['bandpass_high_hz']}: expected a "
                              f"number above bandpass_low_hz ({filt['bandpass_low_hz']})")
    win = table("windows")
    for key, value in win.items():
        if key not in _WINDOWS:
            raise _unknown(where, "windows", key, _WINDOWS)
        _check(where, "windows", key, value, *_WINDOWS[key])
    if isinstance(win.get("length_s"), (int, float)) and isinstance(win.get("hop_s"), (int, float)):
        if win["hop_s"] > win["length_s"]:
            raise ConfigError(f"{where}: [windows] hop_s = {win['hop_s']}: expected at most length_s "
                              f"({win['length_s']}): samples between windows would be skipped")
    for section, cls, positive in (("quality", QualitySettings, _QUALITY_POSITIVE),
                                   ("detector", CrampSettings, _DETECTOR_POSITIVE)):
        known = _settings_fields(cls)
        for key, value in table(section).items():
            if isinstance(value, dict):
                # a [detector.sleep] table: awake/sleep is the mode (--mode), not a model section
                raise ConfigError(f"{where}: [{section}.{key}]: unknown table (a model holds one set of "
                                  f"parameters; the mode is chosen with --mode)")
            if key not in known:
                raise _unknown(where, section, key, known)
            _check(where, section, key, value, known[key], 0.0, key in positive)
    feat = table("features")
    known = _settings_fields(FeatureSettings)
    for key, value in feat.items():
        if key not in known:
            raise _unknown(where, "features", key, known)
        if key == "names":
            _check(where, "features", key, value, tuple)
            bad = [v for v in value if v not in ALL_FEATURES]
            if bad:
                raise ConfigError(f"{where}: [features] names: unknown feature {bad[0]!r} "
                                  f"(known: {', '.join(ALL_FEATURES)})")
        else:
            _check(where, "features", key, value, float, 0.0, False)
