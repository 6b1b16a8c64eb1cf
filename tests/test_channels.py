"""Issue 14: one channel-name parser (muscle group, leg, muscle) for the detector,
the alerts and the report."""
from __future__ import annotations

import pytest

from emgpipe.alerts.prompts import make_alert, muscle_of, side_of, stretch_prompt
from emgpipe.channels import GROUPS, ChannelInfo, leg_of, muscle_group, parse_channel
from emgpipe.report.data import ReportEvent
from emgpipe.sim.scenarios import LAYOUTS
from tests.alerts.alert_helpers import cramp

TABLE = [
    # name                          group         leg      muscle
    ("calf_left",                   "calf",       "left",  None),
    ("calf_right",                  "calf",       "right", None),
    ("tib_ant_left",                "shin",       "left",  "tibialis_anterior"),   # issue 14
    ("soleus_sx",                   "calf",       "left",  "soleus"),              # issue 14
    ("soleus_dx",                   "calf",       "right", "soleus"),
    ("tibialis_anterior_right",     "shin",       "right", "tibialis_anterior"),
    ("TA_izq",                      "shin",       "left",  "tibialis_anterior"),
    ("ta_der",                      "shin",       "right", "tibialis_anterior"),
    ("gastrocnemius_medial_right",  "calf",       "right", "gastrocnemius_medial"),
    ("GM_L",                        "calf",       "left",  "gastrocnemius_medial"),
    ("gl_rt",                       "calf",       "right", "gastrocnemius_lateral"),
    ("EMG_LG",                      "calf",       None,    "gastrocnemius_lateral"),
    ("SOL_lt",                      "calf",       "left",  "soleus"),
    ("Soleus R",                    "calf",       "right", "soleus"),
    ("CalfLeft",                    "calf",       "left",  None),
    ("calfleft",                    "calf",       "left",  None),
    ("polpaccio_sinistro",          "calf",       "left",  None),
    ("gemelo_derecho",              "calf",       "right", None),
    ("hamstring_left",              "hamstring",  "left",  None),
    ("biceps_femoris_l",            "hamstring",  "left",  "biceps_femoris"),
    ("BF_r",                        "hamstring",  "right", "biceps_femoris"),
    ("SemitendinosusRight",         "hamstring",  "right", "semitendinosus"),
    ("EMG_BF",                      "hamstring",  None,    "biceps_femoris"),
    ("quadriceps_left",             "quadriceps", "left",  None),
    ("vastus_lateralis_r",          "quadriceps", "right", "vastus_lateralis"),
    ("EMG_VL",                      "quadriceps", None,    "vastus_lateralis"),
    ("RF_sx",                       "quadriceps", "left",  "rectus_femoris"),
    ("cuadriceps_der",              "quadriceps", "right", None),
    ("foot_right",                  "foot",       "right", None),
    ("abductor_hallucis_lt",        "foot",       "left",  "abductor_hallucis"),
    ("AH_L",                        "foot",       "left",  "abductor_hallucis"),
    ("shin L",                      "shin",       "left",  None),
    ("GM1_R",                       "calf",       "right", "gastrocnemius_medial"),
    ("calf_left_right",             "calf",       None,    None),                  # both legs: unknown
    ("ch3",                         None,         None,    None),
    ("EXG Channel 0",               None,         None,    None),
    ("raw1",                        None,         None,    None),
    ("left",                        None,         "left",  None),
]


@pytest.mark.parametrize("name, group, leg, muscle", TABLE)
def test_parse_channel(name, group, leg, muscle):
    info = parse_channel(name)
    assert info == ChannelInfo(group, leg, muscle)
    assert info.muscle_group in GROUPS + (None,)
    assert (muscle_group(name), leg_of(name)) == (group, leg)


@pytest.mark.parametrize("name, group, leg, muscle", TABLE)
def test_alerts_and_report_read_names_with_the_same_parser(name, group, leg, muscle):
    assert (muscle_of(name), side_of(name)) == (group, leg)
    alert = make_alert(cramp(name))
    assert (alert.muscle, alert.side) == (group, leg)
    ev = ReportEvent("cramp", name, 0.0, 10.0, 4.0)
    assert ev.leg == (leg or "?") and ev.muscle == (group or name)


def test_the_issue_names_get_their_stretch():
    assert stretch_prompt("tib_ant_left").startswith("Shin cramp (left): point your toes")
    assert stretch_prompt("soleus_sx").startswith("Calf cramp (left): stand facing a wall")
    assert stretch_prompt("vastus_lateralis_r").startswith("Front-of-thigh cramp (right)")


def test_every_simulator_channel_is_parsed():
    for layout in LAYOUTS.values():
        for name, role, leg in layout:
            assert parse_channel(name) == (
                {"calf": "calf", "tibialis": "shin"}[role], leg, parse_channel(name).muscle), name


def test_the_detector_reads_names_with_the_same_parser():
    """The detector's same-leg and cross-talk rules use parse_channel: tib_ant_left is the
    left shin, soleus_sx the left calf (the detector's own parser found neither)."""
    import numpy as np

    from emgpipe.detect.cramp import CrampDetector, CrampSettings
    from emgpipe.dsp.features import Features, compute_features_segment

    names = ("tib_ant_left", "soleus_sx", "calf_right")
    fs = 1000.0
    x = np.random.default_rng(0).normal(0, 3, (4000, 3))
    vals = compute_features_segment(x, 250, 125, fs)
    n = len(vals["rms"])
    det = CrampDetector(CrampSettings())
    det.update(Features(vals, np.arange(n) * 125, fs, 250, 125, names))
    assert [c.leg for c in det._ch] == ["left", "left", "right"]
    assert det._same_leg.tolist() == [[True, True, False], [True, True, False], [False, False, True]]
    s = CrampSettings()
    # shin vs calf on the same leg: antagonists (crosstalk_frac_other), not one muscle's heads
    assert det._xt_frac[0, 1] == s.crosstalk_frac_other and det._xt_frac[1, 2] == s.crosstalk_frac
