"""Muscle and side from channel names; stretch prompts in plain words."""
import pytest

from emgpipe.alerts.prompts import limb_key, make_alert, muscle_of, side_of, stretch_prompt
from emgpipe.sim.scenarios import LAYOUTS
from tests.alerts.alert_helpers import cramp


@pytest.mark.parametrize("name, muscle, side", [
    ("calf_left", "calf", "left"),
    ("gastrocnemius_medial_right", "calf", "right"),
    ("Soleus R", "calf", "right"),
    ("EMG_LG", "calf", None),               # isometric_elderly: lateral gastrocnemius
    ("hamstring_left", "hamstring", "left"),
    ("biceps_femoris_l", "hamstring", "left"),
    ("SemitendinosusRight", "hamstring", "right"),
    ("EMG_BF", "hamstring", None),
    ("tibialis_anterior_right", "shin", "right"),
    ("shin L", "shin", "left"),
    ("EMG_TA", "shin", None),
    ("foot_right", "foot", "right"),
    ("abductor_hallucis_lt", "foot", "left"),
    ("EMG_VL", "quadriceps", None),
    ("ch3", None, None),
    ("EXG Channel 0", None, None),
])
def test_channel_names(name, muscle, side):
    assert muscle_of(name) == muscle
    assert side_of(name) == side


def test_every_simulator_channel_gets_its_muscle():
    for layout in LAYOUTS.values():
        for name, role, leg in layout:
            assert muscle_of(name) == {"calf": "calf", "tibialis": "shin"}[role], name
            assert side_of(name) == leg


def test_prompts_are_plain_words_per_muscle():
    calf = stretch_prompt("calf_left")
    assert calf.startswith("Calf cramp (left): stand facing a wall")
    assert "heel down" in calf and "pull your toes toward you" in calf and "30 s" in calf
    assert stretch_prompt("semitendinosus_right").startswith("Hamstring cramp (right): ")
    assert "point your toes away" in stretch_prompt("tibialis_anterior_left")
    assert "pull your toes up" in stretch_prompt("flexor_hallucis_right")
    generic = stretch_prompt("ch7")
    assert generic.startswith("Cramp on ch7: gently stretch")
    # no jargon left in what the user reads
    for ch in ("calf_left", "hamstring_left", "shin_left", "foot_left"):
        text = stretch_prompt(ch).lower()
        assert not any(w in text for w in ("gastrocnemius", "dorsiflex", "plantarflex", "emg"))


def test_same_limb_shares_a_key_other_leg_does_not():
    assert limb_key("soleus_right") == limb_key("gastrocnemius_medial_right")
    assert limb_key("calf_left") != limb_key("calf_right")
    assert limb_key("calf_left") != limb_key("hamstring_left")
    assert limb_key("EMG_LG") != limb_key("EMG_MG")   # no side: cannot tell legs apart


def test_alert_json_has_no_nan():
    import json
    a = make_alert(cramp(), "onset")
    d = a.to_dict()
    assert d["headline"] == "Calf cramp (left) - stretch now" and d["elapsed_s"] == 1.5
    json.dumps(d, allow_nan=False)
    from dataclasses import replace
    json.dumps(replace(a, peak_uv=float("nan")).to_dict(), allow_nan=False)
