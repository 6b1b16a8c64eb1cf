"""Detector parameter files (``models/*.toml``) loaded into frozen settings.

Models are found by name among the installed ``emgpipe._models`` package data
(the repository's ``models/`` folder), or by path to a ``.toml`` file. Every
model has ``[model] name`` and ``version``; the events file and the night log
record ``name@version``.
"""
from __future__ import annotations

import importlib.resources
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from .errors import ConfigError


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
    """Load a model by name (``default``, ``sleep``, ``awake``...) or path.

    A model may say ``extends = "default"`` in its ``[model]`` table to
    inherit every section it does not override.

    >>> load_model("default").tag.startswith("default@")
    True
    """
    ref = "default" if name_or_path is None else os.fspath(name_or_path)
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
    return Model(meta["name"], str(meta["version"]), where, MappingProxyType(params))
