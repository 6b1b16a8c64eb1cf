"""Channel names: which muscle and which leg a channel records (one parser for all).

CONTRACT.md: "names say muscle and side (``calf_left``, ``tib_ant_right``, ...)
and the detector, alerts and report read them with one parser". That parser
is :func:`parse_channel`; the detector (same-leg and same-group rules), the
alerts (which stretch, which leg) and the morning report (leg and muscle
columns) all call it.

A name is split into tokens (non-letters and camelCase separate them; letters
and digits are split: ``GM1`` -> ``gm``, ``1``). A token names

* a leg: ``left``/``l``/``lt``/``lft``, Italian ``sx``/``sin``/``sinistra``,
  Spanish ``izq``/``izquierda``, German ``links``, French ``gauche`` (and the
  right-side words ``right``/``r``/``rt``/``dx``/``des``/``destra``/``der``/
  ``derecha``/``rechts``/``droite``);
* a muscle: full anatomical names and the usual abbreviations of sEMG work
  (SENIAM: ``GM``/``GL`` gastrocnemius medialis/lateralis, ``SOL``, ``TA``,
  ``BF``, ``ST``, ``VL``, ``VM``, ``RF``; ``tib_ant``), with Italian/Spanish
  words (``polpaccio``, ``gemelo``, ``soleo``, ``tibiale``, ``cuadriceps``...).

Long words (4+ letters) also match at the start of a token, and 6+ letters
anywhere in it, so ``calfleft`` and ``leftgastrocnemius`` work. The first
muscle word found wins; a name with words for both legs has no leg.

Examples
--------
>>> parse_channel("tib_ant_left")
ChannelInfo(muscle_group='shin', leg='left', muscle='tibialis_anterior')
>>> parse_channel("soleus_sx")
ChannelInfo(muscle_group='calf', leg='left', muscle='soleus')
>>> parse_channel("ch3")
ChannelInfo(muscle_group=None, leg=None, muscle=None)
"""
from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import NamedTuple

log = logging.getLogger(__name__)

#: The muscle groups a channel can belong to (the alerts have a stretch for each).
GROUPS = ("calf", "shin", "hamstring", "quadriceps", "foot")

#: Leg words (whole tokens).
LEGS: dict[str, tuple[str, ...]] = {
    "left": ("left", "l", "lt", "lft", "sx", "sin", "sn", "sinistra", "sinistro", "izq", "izda", "izdo",
             "izquierda", "izquierdo", "links", "gauche"),
    "right": ("right", "r", "rt", "rgt", "dx", "des", "dex", "destra", "destro", "der", "dcha", "dcho",
              "derecha", "derecho", "rechts", "droite", "droit"),
}

#: Muscle words (whole tokens) -> (group, muscle or None when the word names only the group).
MUSCLE_WORDS: dict[str, tuple[str, str | None]] = {}


def _add(group: str, muscle: str | None, *words: str) -> None:
    for w in words:
        MUSCLE_WORDS[w] = (group, muscle)


_add("calf", None, "calf", "calves", "triceps_surae", "surae", "polpaccio", "pantorrilla", "gemelli",
     "gemelos", "gemelo")
_add("calf", "gastrocnemius", "gastrocnemius", "gastroc", "gastro", "gas", "gastrocnemio", "gastrocnemio",
     "gcm")
_add("calf", "gastrocnemius_medial", "gm", "mg", "gasmed", "gastrocnemius_medialis", "mgas")
_add("calf", "gastrocnemius_lateral", "gl", "lg", "gaslat", "gastrocnemius_lateralis", "lgas")
_add("calf", "soleus", "soleus", "sol", "so", "soleo")
_add("shin", None, "shin", "stinco", "espinilla")
_add("shin", "tibialis_anterior", "tibialis", "tib", "ta", "tibialis_anterior", "tib_ant", "tibant",
     "tibiale", "tibial")
_add("hamstring", None, "hamstring", "hamstrings", "ham", "hams", "ischiocrurali", "isquiotibiales")
_add("hamstring", "biceps_femoris", "biceps_femoris", "bicepsfemoris", "bf", "bic_fem", "bicipite_femorale")
_add("hamstring", "semitendinosus", "semitendinosus", "semitend", "st", "semitendinoso")
_add("hamstring", "semimembranosus", "semimembranosus", "semimem", "sm", "semimembranoso")
_add("quadriceps", None, "quadriceps", "quad", "quads", "quadricipite", "cuadriceps", "quadricep")
_add("quadriceps", "vastus_lateralis", "vl", "vastus_lateralis", "vaslat", "vasto_laterale")
_add("quadriceps", "vastus_medialis", "vm", "vmo", "vastus_medialis", "vasmed", "vasto_mediale")
_add("quadriceps", "vastus", "vastus", "vasto")
_add("quadriceps", "rectus_femoris", "rf", "rectus_femoris", "rectus", "retto_femorale", "recto_femoral")
_add("foot", None, "foot", "feet", "piede", "pie", "plantar", "plantare", "sole_of_foot", "toe", "toes")
_add("foot", "abductor_hallucis", "abductor_hallucis", "hallucis", "ah", "abd_hal", "abh")
_add("foot", "flexor_hallucis_brevis", "fhb", "flexor_hallucis_brevis")
_add("foot", "flexor_digitorum_brevis", "fdb", "flexor_digitorum_brevis")

#: Words that name nothing on their own but tell a two-word name apart.
_PAIRS = {("biceps", "femoris"): "biceps_femoris", ("biceps", "fem"): "bic_fem",
          ("tib", "ant"): "tib_ant", ("tibialis", "anterior"): "tibialis_anterior",
          ("rectus", "femoris"): "rectus_femoris", ("triceps", "surae"): "triceps_surae",
          ("vastus", "lateralis"): "vastus_lateralis", ("vastus", "medialis"): "vastus_medialis",
          ("gastrocnemius", "medialis"): "gastrocnemius_medialis",
          ("gastrocnemius", "medial"): "gastrocnemius_medialis",
          ("gastrocnemius", "lateralis"): "gastrocnemius_lateralis",
          ("gastrocnemius", "lateral"): "gastrocnemius_lateralis",
          ("gastroc", "med"): "gastrocnemius_medialis", ("gastroc", "lat"): "gastrocnemius_lateralis",
          ("gas", "med"): "gastrocnemius_medialis", ("gas", "lat"): "gastrocnemius_lateralis",
          ("abductor", "hallucis"): "abductor_hallucis", ("abd", "hal"): "abd_hal",
          ("flexor", "hallucis"): "flexor_hallucis_brevis", ("flexor", "digitorum"): "flexor_digitorum_brevis",
          ("bicipite", "femorale"): "bicipite_femorale", ("vasto", "laterale"): "vasto_laterale",
          ("vasto", "mediale"): "vasto_mediale", ("retto", "femorale"): "retto_femorale",
          ("recto", "femoral"): "recto_femoral"}


class ChannelInfo(NamedTuple):
    """What a channel name says: ``muscle_group`` (one of :data:`GROUPS` or None),
    ``leg`` (``"left"``, ``"right"`` or None) and ``muscle`` (the specific muscle,
    e.g. ``"soleus"``, ``"tibialis_anterior"``, or None when the name gives only the group)."""

    muscle_group: str | None
    leg: str | None
    muscle: str | None


def tokens(name: str) -> list[str]:
    """Lower-case tokens of a channel name: ``"CalfLeft2"`` -> ``["calf", "left", "2"]``."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(name))
    spaced = re.sub(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])", " ", spaced)
    return [t for t in re.split(r"[^a-z0-9]+", spaced.lower()) if t]


def _muscle(toks: list[str]) -> tuple[str, str | None] | None:
    for a, b in zip(toks, toks[1:]):                   # two-word names first (biceps femoris)
        w = _PAIRS.get((a, b))
        if w is not None:
            return MUSCLE_WORDS[w]
    for t in toks:                                     # whole words
        if t in MUSCLE_WORDS:
            return MUSCLE_WORDS[t]
    for t in toks:                                     # long words inside a token
        for w, hit in MUSCLE_WORDS.items():
            if "_" in w or len(w) < 4:
                continue
            if t.startswith(w) or (len(w) >= 6 and w in t):
                return hit
    return None


def _leg(toks: list[str]) -> str | None:
    found = {leg for leg, words in LEGS.items() if any(t in words for t in toks)}
    if not found:   # glued words: "calfleft", "leftcalf", "gastrocsx" is too short to trust
        found = {leg for leg, words in LEGS.items()
                 if any(len(w) >= 4 and w in t for w in words for t in toks)}
    return found.pop() if len(found) == 1 else None


@lru_cache(maxsize=1024)
def parse_channel(name: str) -> ChannelInfo:
    """Muscle group, leg and muscle of a channel name (see the module docstring)."""
    toks = tokens(name)
    hit = _muscle(toks)
    group, muscle = hit if hit is not None else (None, None)
    return ChannelInfo(group, _leg(toks), muscle)


def muscle_group(name: str) -> str | None:
    """``parse_channel(name).muscle_group``."""
    return parse_channel(name).muscle_group


def leg_of(name: str) -> str | None:
    """``parse_channel(name).leg``."""
    return parse_channel(name).leg


def profile_for_stream(profile, ch_names, where: str = "the calibration profile") -> dict | None:
    """The detector's calibration for a stream: ``{channel: {"rest_uv", "mvc_uv"}}``.

    ``profile`` may be a :class:`emgpipe.calibration.Profile`, the JSON content
    of a profile file (``{"channels": {...}, "fs": ..., ...}``) or the
    per-channel dict itself; live, night, replay and calibrate all hand the
    detector this per-channel form. Only the stream's channels are kept. When
    none of them is in the profile, a one-line warning names ``where`` (the
    file) and both sets of channels, and None is returned (the detector runs
    uncalibrated).

    >>> profile_for_stream({"version": 1, "channels": {"calf_left": {"rest_uv": 2, "mvc_uv": 300}}},
    ...                    ("calf_left", "calf_right"))
    {'calf_left': {'rest_uv': 2, 'mvc_uv': 300}}
    """
    if profile is None:
        return None
    if hasattr(profile, "detector_profile"):
        chans = profile.detector_profile()
    elif isinstance(profile, dict) and isinstance(profile.get("channels"), dict):
        chans = profile["channels"]
    else:
        chans = profile
    chans = {str(k): dict(v) for k, v in dict(chans).items() if isinstance(v, dict)}
    names = [str(n) for n in ch_names]
    out = {n: chans[n] for n in names if n in chans}
    if not out:
        log.warning("%s: calibration profile not used: its channels (%s) are none of the stream's (%s)",
                    where, ", ".join(chans) or "none", ", ".join(names))
        return None
    missing = [n for n in names if n not in out]
    if missing:
        log.info("%s: no calibration for %s (uncalibrated)", where, ", ".join(missing))
    return out
