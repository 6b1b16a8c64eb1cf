"""What an alert says: the muscle and leg behind a channel, and a stretch in plain words.

Channel names carry the muscle (``calf_left``, ``gastrocnemius_medial_right``,
``EMG_BF``...). :func:`muscle_of` and :func:`side_of` read them with the one
channel-name parser the detector and the report use too
(:func:`emgpipe.channels.parse_channel`) and :func:`stretch_prompt` gives the
stretch for the muscle group. Stretching the cramping
muscle is what stops a cramp (Bertolasi et al. 1993; physiology.md, "How
cramps end"); the calf advice (pull the toes toward you, or the wall stretch)
follows the usual clinical advice for nocturnal leg cramps (Allen & Kirby,
Am Fam Physician 2012). emgpipe is not a medical device: the prompt suggests a
stretch, it does not diagnose.

Examples
--------
>>> muscle_of("gastrocnemius_medial_right"), side_of("gastrocnemius_medial_right")
('calf', 'right')
>>> stretch_prompt("calf_left").split(":")[0]
'Calf cramp (left)'
>>> muscle_of("EMG BF"), muscle_of("tibialis_anterior_left"), muscle_of("abductor_hallucis")
('hamstring', 'shin', 'foot')
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from ..channels import parse_channel

#: How long each stretch is held: the 30 s hold of common static-stretch
#: advice (ACSM guidelines: 10-30 s per stretch).
HOLD_S = 30

#: Muscle group (:data:`emgpipe.channels.GROUPS`) -> its name in an alert.
MUSCLES: dict[str, str] = {"calf": "Calf", "hamstring": "Hamstring", "shin": "Shin", "foot": "Foot",
                           "quadriceps": "Front-of-thigh"}

#: Plain-words stretch per muscle group ({hold} = HOLD_S).
STRETCHES: dict[str, str] = {
    "calf": ("stand facing a wall, put the cramping leg back, heel down, knee straight, and lean in "
             "gently for {hold} s; or sit, straighten the leg and pull your toes toward you "
             "(a towel around the foot helps)."),
    "hamstring": ("sit or lie with the leg straight and gently bend forward from the hips, or lift "
                  "the straight leg, until you feel the back of the thigh stretch; hold {hold} s "
                  "without bouncing."),
    "shin": ("point your toes away from you: sit and gently press the top of the foot toward the "
             "floor, or kneel and sit back on your heels; hold {hold} s."),
    "foot": ("pull your toes up toward your shin with your hand and spread them, or stand and put "
             "your weight on the foot; hold {hold} s, then massage the sole."),
    "quadriceps": ("stand holding on to something, bend the knee and pull the foot toward your "
              "buttock; hold {hold} s."),
}
GENERIC = ("gently stretch the cramping muscle to its full length and hold {hold} s; walk "
           "around or massage it when it eases.")

def muscle_of(channel: str) -> str | None:
    """Muscle group of a channel name (a key of :data:`MUSCLES`) or None."""
    return parse_channel(channel).muscle_group


def side_of(channel: str) -> str | None:
    """``"left"``, ``"right"`` or None, from tokens such as ``left``, ``L``, ``rt``, ``sx``."""
    return parse_channel(channel).leg


def limb_key(channel: str) -> str:
    """What counts as "the same cramp": muscle group and side when known, else the channel.

    Two channels on the same calf (medial gastrocnemius and soleus) cramping
    together are one cramp to the person, so they share a key.

    >>> limb_key("soleus_right") == limb_key("gastrocnemius_medial_right")
    True
    """
    m, side = muscle_of(channel), side_of(channel)
    if m is None or side is None:  # without a side, two channels may be two legs
        return f"channel:{channel}"
    return f"{m}:{side}"


def title_of(channel: str) -> str:
    """``"Calf cramp (left)"``, or ``"Cramp on ch3"`` for an unknown muscle."""
    m = muscle_of(channel)
    side = side_of(channel)
    if m is None:
        return f"Cramp on {channel}"
    name = MUSCLES[m]
    return f"{name} cramp ({side})" if side else f"{name} cramp ({channel})"


def stretch_prompt(channel: str) -> str:
    """The stretch to do for a cramp on ``channel``, in plain words.

    >>> print(stretch_prompt("hamstring_right"))  # doctest: +ELLIPSIS
    Hamstring cramp (right): sit or lie with the leg straight and gently bend forward ...
    """
    m = muscle_of(channel)
    text = STRETCHES.get(m, GENERIC) if m else GENERIC
    return f"{title_of(channel)}: {text.format(hold=HOLD_S)}"


@dataclass(frozen=True)
class Alert:
    """One alert handed to the sinks.

    ``kind`` is ``"onset"`` (the cramp was announced) or ``"reminder"`` (it
    still runs). Times are stream times (s from the first sample);
    ``wall_time`` is the host clock (s since the epoch) when it was made.
    """

    kind: str
    channel: str
    muscle: str | None
    side: str | None
    title: str
    message: str
    start_s: float
    alert_s: float
    confidence: float = 1.0
    peak_uv: float = float("nan")
    detector: str = ""
    source_id: str = ""
    wall_time: float = 0.0

    @property
    def elapsed_s(self) -> float:
        """How long the cramp has run when the alert fires."""
        return max(0.0, self.alert_s - self.start_s)

    @property
    def headline(self) -> str:
        """One line: ``"Calf cramp (left) - stretch now"`` or the reminder's wording."""
        if self.kind == "reminder":
            return f"{self.title} still going after {self.elapsed_s:.0f} s - keep stretching"
        return f"{self.title} - stretch now"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["elapsed_s"] = self.elapsed_s
        d["headline"] = self.headline
        if d["peak_uv"] != d["peak_uv"]:  # NaN is not JSON
            d["peak_uv"] = None
        return d


def make_alert(event, kind: str = "onset", at_s: float | None = None) -> Alert:
    """The :class:`Alert` for a cramp :class:`~emgpipe.types.Event`."""
    ch = event.channel
    return Alert(kind=kind, channel=ch, muscle=muscle_of(ch), side=side_of(ch), title=title_of(ch),
                 message=stretch_prompt(ch), start_s=event.start_s,
                 alert_s=event.alert_s if at_s is None else float(at_s),
                 confidence=float(event.confidence), peak_uv=float(event.peak_uv),
                 detector=event.detector, source_id=event.source_id, wall_time=time.time())
