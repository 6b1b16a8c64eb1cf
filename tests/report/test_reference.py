"""The night's figures beside published reference ranges: the rules, the plain words, and the
sources (every one listed in docs/physiology.md)."""
import re
from pathlib import Path

import pytest

from emgpipe.report.data import NightData, ReportEvent
from emgpipe.report.html import render
from emgpipe.report.reference import (SOURCES, compare, fasciculations_per_minute, leg_movements,
                                      periodic_leg_movements)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "physiology.md"


def night(events, channels=("calf_left", "tib_ant_left"), hours=1.0, mode="sleep", gaps=()):
    return NightData(title="t", name="t", source="s", started_time=None, duration_s=hours * 3600,
                     channels=list(channels), mode=mode, status="replayed", events=list(events), gaps=list(gaps))


def fasc(ch, t, n=1):
    return ReportEvent("fasciculation", ch, t, t + 0.2, t + 1.0, n_potentials=n)


def lm(t, ch="tib_ant_left", d=2.0):
    return ReportEvent("voluntary", ch, t, t + d, t + d + 0.5)


def row(rows, what):
    return [r for r in rows if r.what.startswith(what)]


def test_shin_fasciculations_against_the_healthy_maximum():
    # 2 per minute on the shin (120 potentials in 60 episodes in an hour), 4 per minute above it
    calm = night([fasc("tib_ant_left", 60.0 * k, n=2) for k in range(60)])
    assert fasciculations_per_minute(calm)["tib_ant_left"] == pytest.approx(2.0)
    [shin] = [r for r in row(compare(calm), "Fasciculations") if r.value.startswith("tib_ant_left")]
    assert shin.value == "tib_ant_left: 2.0 per minute (120 per hour)"
    assert shin.verdict == "Within the range reported for healthy adults."
    busy = night([fasc("tib_ant_left", 30.0 * k, n=2) for k in range(120)])
    [shin] = [r for r in row(compare(busy), "Fasciculations") if r.value.startswith("tib_ant_left")]
    assert shin.verdict.startswith("Above the highest rate seen in healthy young adults' shin muscle (3 per minute)")
    # a calf has no published upper limit: said so, whatever the rate
    [calf] = [r for r in row(compare(busy), "Fasciculations") if r.value.startswith("calf_left")]
    assert calf.verdict == "None detected." and "no upper limit" in calf.published
    assert shin.sources == ("fasc-healthy-1994", "desai-swash-1997")


def test_rates_use_the_minutes_of_signal():
    # 30 potentials in an hour with 30 minutes lost: 1 per minute, not 0.5
    n = night([fasc("calf_left", 10.0 * k) for k in range(30)], gaps=[(1800.0, 3600.0, "lost")])
    assert fasciculations_per_minute(n)["calf_left"] == pytest.approx(1.0)


def test_periodic_leg_movements_follow_the_aasm_rules():
    assert periodic_leg_movements([0, 20, 40, 60]) == 4                 # 4 in a series
    assert periodic_leg_movements([0, 20, 40]) == 0                     # 3 are not a series
    assert periodic_leg_movements([0, 20, 40, 60, 160, 180]) == 4       # a gap > 90 s ends it
    assert periodic_leg_movements([0, 3, 6, 9, 12]) == 0                # < 5 s apart: not periodic
    # both legs within 5 s count once; LMs longer than 10 s (or shorter than 0.5 s) are not LMs
    n = night([lm(0), lm(2, "tib_ant_right"), lm(30), lm(60, d=12.0), lm(90), lm(120, d=0.3)],
              channels=("tib_ant_left", "tib_ant_right"))
    assert leg_movements(n) == [0, 30, 90]


def test_leg_movement_index_against_15_per_hour():
    low = night([lm(600.0 + 20 * k) for k in range(10)])              # 10 PLMs in 1 h
    [r] = row(compare(low), "Periodic leg movements")
    assert r.value.startswith("10 per hour periodic (10 in series)")
    assert r.verdict.startswith("Within the range reported for healthy adults: below the 15 per hour")
    high = night([lm(100.0 + 20 * k) for k in range(40)])             # 40 PLMs in 1 h
    [r] = row(compare(high), "Periodic leg movements")
    assert r.verdict.startswith("Above the 15 per hour that sleep clinics use as the threshold.")
    assert r.sources == ("plm-icsd3", "lm-aasm-wasm")
    assert row(compare(night([], mode="awake")), "Periodic leg movements") == []   # awake: not applicable


def test_cramp_frequency_and_length_in_plain_words():
    def cramp(t, d=60.0, label=""):
        return ReportEvent("cramp", "calf_left", t, t + d, t + 5, label=label)
    assert row(compare(night([])), "Cramps")[0].verdict == "No cramp this night."
    one = compare(night([cramp(100), cramp(900, label="not_cramp")]))
    [r] = row(one, "Cramps")
    assert r.value == "1 cramp(s) (and 1 you answered as not a cramp)" and r.verdict.startswith("One cramp.")
    [r] = row(compare(night([cramp(100), cramp(900, d=700.0)])), "Cramps")
    assert r.verdict.startswith("2 cramps in one night: at the frequent end")
    [r] = row(compare(night([cramp(100), cramp(900, d=700.0)])), "Longest cramp")
    assert r.value == "11 min 40 s" and r.verdict.startswith("Longer than the 10 minutes")
    [r] = row(compare(night([cramp(100, d=190.0)])), "Longest cramp")
    assert r.verdict == "Within the range reported for night cramps."


def test_report_cites_its_sources_and_lists_them():
    page = render(night([fasc("calf_left", 5.0), lm(600.0)]))
    table = re.search(r"<h2 id='reference'>.*?</table>", page, re.S).group(0)
    cited = re.findall(r"href='#ref-([\w-]+)'", table)
    listed = re.findall(r"<li id='ref-([\w-]+)'>", page)
    assert set(cited) == set(listed) and len(listed) == len(set(listed)) >= 5
    assert listed[:2] == ["fasc-healthy-1994", "desai-swash-1997"]   # numbered in order of citation
    assert "not a diagnosis" in page and "Within the range reported for healthy adults" in page


def test_every_source_is_in_docs_physiology():
    docs = DOCS.read_text(encoding="utf-8")
    refs = docs[docs.index("## 9. Reference ranges used by the morning report"):]
    for s in SOURCES.values():
        line = next((ln for ln in refs.splitlines() if ln.startswith(f"- **[{s.doc}]**")), None)
        assert line is not None, f"{s.key}: no [{s.doc}] in docs/physiology.md §9"
        assert s.citation.split(".")[0].split(",")[0] in line, (s.key, line)
        assert f"[{s.doc}]" in refs.split("### References")[0], f"{s.key}: not used in the §9 table"
