"""The night's figures beside published reference ranges, in plain words, with sources.

Three figures a person with night cramps asks about: how many fasciculations
(twitches) per minute, how many (periodic) leg movements per hour, and how many
cramps. Each comes with what published studies found and the source; the sources
are listed in docs/physiology.md ("Reference ranges used by the morning report"),
and a test checks that every source here is listed there.

Limits, said in the report too: the studies measured other people, with other
equipment and rules (a 2-minute surface recording of resting muscles awake; a
sleep laboratory's scoring over hours asleep); emgpipe's counts come from its own
detector over the whole recording. A figure outside a range is a reason to look
again, never a diagnosis.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..channels import parse_channel


@dataclass(frozen=True)
class Source:
    key: str
    citation: str
    used_for: str
    doc: str            # its label in docs/physiology.md §9 ("R1", ...)


SOURCES = {s.key: s for s in (
    Source("fasc-healthy-1994",
           "Fasciculation potentials in foot and leg muscles of healthy young adults. "
           "Electroencephalogr Clin Neurophysiol 1994;93(3):163-168. doi:10.1016/0168-5597(94)90036-1 "
           "(PMID 7515791)",
           "50 healthy adults aged 18-25, surface electrodes, 2-minute recordings at rest, potentials of at "
           "least 50 µV counted: fasciculations in a foot muscle of every subject; in the shin muscle "
           "(tibialis anterior) never more than 3 per minute; in calf and foot muscles counts varied widely "
           "from day to day (a foot muscle occasionally over 100 per minute)", "R1"),
    Source("desai-swash-1997",
           "Desai J, Swash M. Fasciculations: what do we know of their significance? "
           "J Neurol Sci 1997;152 Suppl 1:S43-S48",
           "fasciculations are seen in healthy people (occasionally, after exercise, and as persistent "
           "benign fasciculations) as well as in nerve and motor-neuron disorders", "R2"),
    Source("plm-icsd3",
           "American Academy of Sleep Medicine, International Classification of Sleep Disorders, 3rd ed. "
           "(2014), periodic limb movement disorder criteria, as summarised in J Thorac Dis "
           "2021;13(11):6476-6494, Table 1 (PMC8662505)",
           "a periodic limb movement index above 15 per hour of sleep in adults (above 5 in children) is "
           "the threshold for periodic limb movement disorder; the cut-off has been called arbitrary, and "
           "the index varies from night to night", "R3"),
    Source("lm-aasm-wasm",
           "Berry RB et al., The AASM Manual for the Scoring of Sleep and Associated Events, v2.5 (2018); "
           "Ferri R et al., WASM standards for recording and scoring leg movements, Sleep Med (2016); "
           "as tabulated in PMC9619152, Table 3",
           "a leg movement lasts 0.5-10 s; periodic leg movements are series of at least 4 with 5-90 s "
           "from one onset to the next; movements of both legs less than 5 s apart count once", "R4"),
    Source("naylor-young-1994",
           "Naylor JR, Young JB. A general population survey of rest cramps. Age Ageing 1994;23(5):418-420",
           "37% of a general-practice population had rest cramps, mostly at night (73%); most sufferers had "
           "them infrequently, 40% more than three times a week and 6% at least once every day or night; "
           "an episode lasted 9 minutes on average", "R5"),
    Source("grandner-winkelman-2017",
           "Grandner MA, Winkelman JW. Nocturnal leg cramps: prevalence and associations with demographics, "
           "sleep disturbance symptoms, medical conditions, and cardiometabolic risk factors. "
           "PLoS One 2017;12(6):e0178465. doi:10.1371/journal.pone.0178465",
           "US adults (NHANES): 24-25% reported mild and 6% moderate-to-severe leg cramps while trying to "
           "sleep in the past month; more with age", "R6"),
    Source("hallegraeff-2017",
           "Hallegraeff J et al. Criteria in diagnosing nocturnal leg cramps: a systematic review. "
           "BMC Fam Pract 2017;18:29",
           "a night cramp lasts from seconds to at most 10 minutes", "R7"),
)}

#: Highest fasciculation rate (per minute) seen in the healthy shin muscle (fasc-healthy-1994).
SHIN_FASC_MAX_PER_MIN = 3.0
#: Periodic limb movement index above which adults meet the PLMD threshold (plm-icsd3).
PLMI_ADULT = 15.0
#: AASM leg movement duration and periodic series rules (lm-aasm-wasm).
LM_MIN_S, LM_MAX_S = 0.5, 10.0
PLM_MIN_GAP_S, PLM_MAX_GAP_S, PLM_MIN_RUN = 5.0, 90.0, 4
BILATERAL_S = 5.0
#: Longest night cramp by definition (hallegraeff-2017).
CRAMP_MAX_S = 600.0


@dataclass
class Comparison:
    """One row of the report's reference table."""

    what: str          # the measure
    value: str         # this recording's figure
    published: str     # what the sources found
    verdict: str       # plain words
    sources: tuple     # keys of SOURCES


def signal_minutes(night) -> float:
    return max(0.0, night.duration_s - night.lost_s) / 60.0


def fasciculations_per_minute(night) -> dict:
    """Per channel: fasciculation potentials per minute of signal (an episode without a
    potential count counts as one)."""
    minutes = signal_minutes(night)
    out = {}
    for e in night.of("fasciculation"):
        out[e.channel] = out.get(e.channel, 0) + max(1, int(e.n_potentials or 0))
    return {ch: (n / minutes if minutes > 0 else float("nan")) for ch, n in out.items()}


def leg_movements(night) -> list[float]:
    """Onsets (s) of leg movements by the AASM rules: 0.5-10 s long, movements of any legs
    whose onsets are less than 5 s apart counted once."""
    onsets = sorted(e.start_s for e in night.of(*night.leg_movement_kinds)
                    if LM_MIN_S <= e.duration_s <= LM_MAX_S)
    out = []
    for t in onsets:
        if not out or t - out[-1] >= BILATERAL_S:
            out.append(t)
    return out


def periodic_leg_movements(onsets) -> int:
    """How many leg movements belong to a periodic series (>= 4 in a row, 5-90 s apart).

    >>> periodic_leg_movements([0, 20, 40, 60, 200, 210, 400])
    4
    """
    n, run = 0, 1
    for a, b in zip(onsets, list(onsets[1:]) + [None]):
        if b is not None and PLM_MIN_GAP_S <= b - a <= PLM_MAX_GAP_S:
            run += 1
            continue
        if run >= PLM_MIN_RUN:
            n += run
        run = 1
    return n


def _per(n: float, what: str) -> str:
    return f"{n:.1f} per {what}" if n < 10 else f"{n:.0f} per {what}"


def compare(night) -> list[Comparison]:
    """The reference table for a night (or recording)."""
    rows = []
    night_word = "night" if night.mode == "sleep" or night.started_time is not None else "recording"
    # fasciculations, per channel
    rates = fasciculations_per_minute(night)
    for ch in night.channels:
        rate = rates.get(ch, 0.0)
        group = parse_channel(ch).muscle_group
        value = f"{ch}: {_per(rate, 'minute')} ({rate * 60:.0f} per hour)"
        if group == "shin":
            within = rate <= SHIN_FASC_MAX_PER_MIN
            verdict = ("Within the range reported for healthy adults." if within else
                       f"Above the highest rate seen in healthy young adults' shin muscle "
                       f"({SHIN_FASC_MAX_PER_MIN:g} per minute). Twitches alone are usually harmless; with "
                       f"weakness or muscle wasting, see a doctor.")
            published = (f"Healthy young adults, shin muscle at rest: never more than "
                         f"{SHIN_FASC_MAX_PER_MIN:g} per minute.")
        else:
            where = {"calf": "calf", "foot": "foot"}.get(group or "", "leg")
            verdict = ("Fasciculations at rest are common in healthy people, and in healthy calf and foot "
                       "muscles their number varies widely from day to day, so no upper limit has been "
                       "published to compare with." if rate > 0 else "None detected.")
            published = (f"Healthy young adults, {where} muscles at rest: counts varied widely from day to "
                         f"day (a foot muscle occasionally over 100 per minute); no upper limit published.")
        rows.append(Comparison("Fasciculations (twitches)", value, published, verdict,
                               ("fasc-healthy-1994", "desai-swash-1997")))
    # leg movements, asleep only
    if night.mode == "sleep":
        hours = max(signal_minutes(night) / 60.0, 1e-9)
        lms = leg_movements(night)
        plm = periodic_leg_movements(lms)
        plmi = plm / hours
        value = (f"{_per(plmi, 'hour')} periodic ({plm} in series), {_per(len(lms) / hours, 'hour')} "
                 f"leg movements in all")
        if plmi <= PLMI_ADULT:
            verdict = (f"Within the range reported for healthy adults: below the {PLMI_ADULT:g} per hour "
                       f"that sleep clinics use as the threshold.")
        else:
            verdict = (f"Above the {PLMI_ADULT:g} per hour that sleep clinics use as the threshold. Only a "
                       f"sleep study can tell (it counts per hour asleep, with more sensors); the index also "
                       f"varies from night to night. If you sleep badly or your legs feel restless, tell "
                       f"your doctor.")
        rows.append(Comparison(
            "Periodic leg movements (per hour recorded)", value,
            f"Adults: above {PLMI_ADULT:g} per hour of sleep is the threshold for periodic limb movement "
            f"disorder (series of at least 4 movements 5-90 s apart).", verdict, ("plm-icsd3", "lm-aasm-wasm")))
    # cramps
    cramps = [e for e in night.cramps if e.label != "not_cramp"]
    n = len(cramps)
    if n == 0:
        verdict = f"No cramp this {night_word}."
    elif n == 1:
        verdict = (f"One cramp. Among people who have night cramps, most have them less than weekly and 40% "
                   f"more than three times a week; one {night_word} cannot tell how often you have them "
                   f"('emgpipe nights' shows the trend).")
    else:
        verdict = (f"{n} cramps in one {night_word}: at the frequent end of what people with night cramps "
                   f"report (6% have at least one every night). If cramps are this frequent or severe, "
                   f"see a doctor.")
    answered = sum(1 for e in night.cramps if e.label == "not_cramp")
    value = f"{n} cramp(s)" + (f" (and {answered} you answered as not a cramp)" if answered else "")
    rows.append(Comparison(
        f"Cramps this {night_word}", value,
        "About 3 in 10 adults have leg cramps at night, more with age; of people with such cramps, most have "
        "them infrequently, 40% more than three times a week and 6% every day or night.", verdict, ("naylor-young-1994", "grandner-winkelman-2017")))
    if cramps:
        longest = max(cramps, key=lambda e: e.duration_s)
        from .html import fmt_duration
        if longest.duration_s <= CRAMP_MAX_S:
            verdict = "Within the range reported for night cramps."
        else:
            verdict = ("Longer than the 10 minutes that defines a night cramp: look at its plot below "
                       "(an electrode problem or a held position can look like this); a cramp this long "
                       "is worth telling your doctor about.")
        rows.append(Comparison("Longest cramp", fmt_duration(longest.duration_s),
                               "Seconds to at most 10 minutes (9 minutes on average).", verdict,
                               ("hallegraeff-2017", "naylor-young-1994")))
    return rows


def cited(rows) -> list[str]:
    """Source keys in order of first citation."""
    out = []
    for r in rows:
        for k in r.sources:
            if k not in out:
                out.append(k)
    return out
