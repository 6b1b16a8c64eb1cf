"""Event-level scoring of detected events against labels (``emgpipe bench``).

Matching rule (CONTRACT.md "Event-level metrics")
-------------------------------------------------
A detection matches a label of the same ``kind`` when

- they are on the same channel (``"*"`` on either side stands for every
  channel: a label ``"*"`` is matched by a detection on any channel; a
  detection ``"*"``, e.g. one ``signal_loss`` event for a whole device, may
  match one overlapping label on *each* channel), and
- their intervals overlap once the label is widened by the kind's slack:
  ``det.start_s <= label.end_s + slack`` and ``det.end_s >= label.start_s - slack``.

Slack (s): cramp 2, fasciculation 0.3 (both from CONTRACT.md); voluntary 1,
artifact 1, signal_loss 1 (our choice: the same order as the onset error of
threshold detectors at low SNR plus one analysis window, see physiology.md
§5, Kowalski 2021); any other kind 1.

Detections are taken in order of start time. Each one takes the unmatched
overlapping label with the largest overlap (ties: earliest label). Each label
is matched at most once; a detection whose overlapping labels are all taken
already (a fragment of an event that was found already), or that overlaps no
label, is a false positive. Labels left unmatched are false negatives.

Metrics per kind: TP, FP, FN, sensitivity = TP / (TP + FN), precision =
TP / (TP + FP), F1, false alarms per hour = FP / hours of signal; for cramps
the latency ``alert_s - label.start_s`` of each true positive (median, p95).
A ratio with a zero denominator is NaN (printed as ``-``), never a made-up 0 or 1.

Events and labels can be any objects with ``kind``, ``channel``, ``start_s``,
``end_s`` (and ``alert_s`` for detections) attributes: :class:`Label`,
:class:`emgpipe.types.Event`, or rows read by :func:`read_labels` /
:func:`read_events`.

Examples
--------
>>> lab = [Label("cramp", "calf_left", 10.0, 40.0)]
>>> det = [Event("cramp", "calf_left", 11.0, 39.0, alert_s=13.0),
...        Event("cramp", "calf_left", 20.0, 25.0, alert_s=21.0)]
>>> s = score(det, lab, duration_s=3600.0)["cramp"]
>>> s.tp, s.fp, s.fn, s.latency_median_s
(1, 1, 0, 3.0)
"""
from __future__ import annotations

import csv
import logging
import math
import os
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from .errors import BadData, BadHeader
from .types import EVENT_KINDS, Event

log = logging.getLogger(__name__)

#: Matching slack per kind (s). cramp/fasciculation: CONTRACT.md; others: our choice (module doc).
SLACK_S = {"cramp": 2.0, "fasciculation": 0.3, "voluntary": 1.0, "artifact": 1.0, "signal_loss": 1.0}
DEFAULT_SLACK_S = 1.0
#: Channel name that stands for every channel.
ANY_CHANNEL = "*"

LABEL_COLUMNS = ("kind", "channel", "start_s", "end_s", "mvc_pct", "ending", "n_potentials", "detail")


@dataclass(frozen=True)
class Label:
    """A labelled interval of a (simulated or annotated) recording.

    Parameters
    ----------
    kind : str
        ``cramp``, ``fasciculation``, ``voluntary``, ``artifact``, ``signal_loss``.
    channel : str
        Channel name (``"*"``: all channels).
    start_s, end_s : float
        Seconds from the first sample.
    mvc_pct : float
        Cramp/activity amplitude as % of the maximal voluntary contraction's
        EMG RMS (NaN when not meaningful).
    ending : str
        Cramps: ``"stretch"`` or ``"decay"`` (or ``"cut"`` when the recording ends first).
    n_potentials : int
        Fasciculation episodes: how many potentials.
    detail : str
        Sub-type, e.g. ``walking``, ``tiptoe``, ``plm``, ``pop``, ``lead_off``.
    """

    kind: str
    channel: str
    start_s: float
    end_s: float
    mvc_pct: float = float("nan")
    ending: str = ""
    n_potentials: int = 0
    detail: str = ""

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def row(self) -> list:
        """The labels-CSV row (see :data:`LABEL_COLUMNS`)."""
        mvc = "" if math.isnan(self.mvc_pct) else f"{self.mvc_pct:.1f}"
        return [self.kind, self.channel, f"{self.start_s:.4f}", f"{self.end_s:.4f}", mvc,
                self.ending, str(int(self.n_potentials)), self.detail]


def slack_for(kind: str) -> float:
    return SLACK_S.get(kind, DEFAULT_SLACK_S)


def _same_channel(a: str, b: str) -> bool:
    return a == b or a == ANY_CHANNEL or b == ANY_CHANNEL


@dataclass
class Match:
    """Result of :func:`match` for one kind: matched pairs, false positives, false negatives."""

    pairs: list = field(default_factory=list)  # (detection, label)
    false_positives: list = field(default_factory=list)
    false_negatives: list = field(default_factory=list)


def match(detected: Iterable, labels: Iterable, kind: str, slack_s: float | None = None) -> Match:
    """Match detections to labels of one kind (rule in the module docstring).

    Parameters
    ----------
    detected, labels : iterables of objects with kind/channel/start_s/end_s
        Items of other kinds are ignored.
    kind : str
    slack_s : float, optional
        Default :func:`slack_for` ``(kind)``.

    Returns
    -------
    Match
    """
    slack = slack_for(kind) if slack_s is None else float(slack_s)
    dets = sorted((d for d in detected if d.kind == kind), key=lambda d: (d.start_s, d.end_s))
    labs = sorted((x for x in labels if x.kind == kind), key=lambda x: (x.start_s, x.end_s))
    taken = [False] * len(labs)
    out = Match()
    starts = np.array([x.start_s for x in labs])
    for d in dets:
        # labels that start after d.end_s + slack cannot overlap
        hi = int(np.searchsorted(starts, d.end_s + slack, side="right")) if len(labs) else 0
        cands = []
        for i in range(hi):
            lab = labs[i]
            if not _same_channel(d.channel, lab.channel):
                continue
            if d.start_s <= lab.end_s + slack and d.end_s >= lab.start_s - slack:
                overlap = min(d.end_s, lab.end_s + slack) - max(d.start_s, lab.start_s - slack)
                cands.append((i, overlap))
        free = [(i, ov) for i, ov in cands if not taken[i]]
        if not free:
            out.false_positives.append(d)
            continue
        if d.channel == ANY_CHANNEL:
            # one device-wide detection may stand for each channel's label
            chosen, seen = [], set()
            for i, ov in sorted(free, key=lambda c: (-c[1], c[0])):
                if labs[i].channel not in seen:
                    seen.add(labs[i].channel)
                    chosen.append(i)
        else:
            chosen = [min(free, key=lambda c: (-c[1], c[0]))[0]]
        for i in chosen:
            taken[i] = True
            out.pairs.append((d, labs[i]))
    out.false_negatives = [lab for lab, t in zip(labs, taken) if not t]
    return out


@dataclass
class KindScore:
    """Counts for one kind, summable over recordings (:meth:`merge`)."""

    kind: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    duration_s: float = 0.0
    latencies_s: list = field(default_factory=list)

    @property
    def n_labels(self) -> int:
        return self.tp + self.fn

    @property
    def sensitivity(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    @property
    def f1(self) -> float:
        p, r = self.precision, self.sensitivity
        if math.isnan(p) or math.isnan(r):
            return float("nan")
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)

    @property
    def fa_per_h(self) -> float:
        return self.fp / (self.duration_s / 3600.0) if self.duration_s > 0 else float("nan")

    def _latency(self, q) -> float:
        return float(np.percentile(self.latencies_s, q)) if self.latencies_s else float("nan")

    @property
    def latency_median_s(self) -> float:
        return self._latency(50)

    @property
    def latency_p95_s(self) -> float:
        return self._latency(95)

    def merge(self, other: "KindScore") -> "KindScore":
        """Sum of two scores of the same kind (over recordings)."""
        return KindScore(self.kind, self.tp + other.tp, self.fp + other.fp, self.fn + other.fn,
                         self.duration_s + other.duration_s, self.latencies_s + other.latencies_s)

    def as_dict(self) -> dict:
        d = {"kind": self.kind, "tp": self.tp, "fp": self.fp, "fn": self.fn,
             "sensitivity": self.sensitivity, "precision": self.precision, "f1": self.f1,
             "fa_per_h": self.fa_per_h, "hours": self.duration_s / 3600.0}
        if self.kind == "cramp":
            d["latency_median_s"] = self.latency_median_s
            d["latency_p95_s"] = self.latency_p95_s
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}


def score(detected_events: Sequence, labels: Sequence, duration_s: float,
          kinds: Iterable[str] | None = None, slack_s: dict | None = None) -> dict:
    """Per-kind event-level scores of one recording.

    Parameters
    ----------
    detected_events : sequence
        Objects with kind/channel/start_s/end_s/alert_s (alert_s only needed for cramps).
    labels : sequence
        Objects with kind/channel/start_s/end_s.
    duration_s : float
        Length of the recording (for false alarms per hour).
    kinds : iterable of str, optional
        Kinds to score; default the contract's kinds plus any others present.
    slack_s : dict, optional
        Overrides of :data:`SLACK_S`.

    Returns
    -------
    dict kind -> KindScore
    """
    if kinds is None:
        present = {e.kind for e in detected_events} | {x.kind for x in labels}
        kinds = list(EVENT_KINDS) + sorted(present - set(EVENT_KINDS))
    out = {}
    for kind in kinds:
        m = match(detected_events, labels, kind, (slack_s or {}).get(kind))
        ks = KindScore(kind, tp=len(m.pairs), fp=len(m.false_positives), fn=len(m.false_negatives),
                       duration_s=float(duration_s))
        if kind == "cramp":
            ks.latencies_s = [float(getattr(d, "alert_s", d.start_s)) - lab.start_s for d, lab in m.pairs]
        out[kind] = ks
    return out


def json_safe(obj):
    """``obj`` with NaN and infinities (an undefined precision, no latency) as None,
    so that it is strict JSON; dicts and lists are walked.

    >>> json_safe({"precision": float("nan"), "f1": [0.5, float("inf")]})
    {'precision': None, 'f1': [0.5, None]}
    """
    if isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj)):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [json_safe(v) for v in obj]
    return obj


def combine(scores: Iterable[dict]) -> dict:
    """Sum per-kind scores of several recordings (kind -> KindScore)."""
    total: dict = {}
    for s in scores:
        for kind, ks in s.items():
            total[kind] = total[kind].merge(ks) if kind in total else ks
    return total


# --------------------------------------------------------------------------- CSV rows

def _read_rows(path, required: Sequence[str]):
    try:
        f = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise BadData(path, f"cannot open ({exc.strerror or exc})") from None
    with f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in required if c not in header]
        if missing:
            raise BadHeader(path, f"line 1: missing column(s) {', '.join(missing)} "
                                  f"(need {','.join(required)})")
        reader.fieldnames = header
        for lineno, row in enumerate(reader, start=2):
            yield lineno, {k: (v.strip() if isinstance(v, str) else "") for k, v in row.items() if k}


def _num(path, lineno, row, col, default=None):
    v = row.get(col, "")
    if v in ("", None):
        if default is not None:
            return default
        raise BadData(path, f"line {lineno}: column '{col}' is empty")
    try:
        x = float(v)
    except ValueError:
        raise BadData(path, f"line {lineno}: column '{col}' is not a number ({v!r})") from None
    if math.isinf(x) or (math.isnan(x) and default is None):
        raise BadData(path, f"line {lineno}: column '{col}' is not a finite number ({v!r})")
    return x


def _interval(path, lineno, row):
    start, end = _num(path, lineno, row, "start_s"), _num(path, lineno, row, "end_s")
    if end < start:
        raise BadData(path, f"line {lineno}: end_s {end} is before start_s {start}")
    if not row.get("kind"):
        raise BadData(path, f"line {lineno}: column 'kind' is empty")
    return start, end


def read_labels(path) -> list:
    """Read a labels CSV (``kind,channel,start_s,end_s`` + optional extras) into :class:`Label` s."""
    out = []
    for lineno, row in _read_rows(path, ("kind", "channel", "start_s", "end_s")):
        start, end = _interval(path, lineno, row)
        out.append(Label(row["kind"], row.get("channel", "") or ANY_CHANNEL, start, end,
                         mvc_pct=_num(path, lineno, row, "mvc_pct", float("nan")),
                         ending=row.get("ending", "") or "",
                         n_potentials=int(_num(path, lineno, row, "n_potentials", 0.0)),
                         detail=row.get("detail", "") or ""))
    return out


def read_events(path) -> list:
    """Read an events CSV (``kind,channel,start_s,end_s,alert_s`` + extras) into :class:`~emgpipe.types.Event` s."""
    out = []
    for lineno, row in _read_rows(path, ("kind", "channel", "start_s", "end_s", "alert_s")):
        start, end = _interval(path, lineno, row)
        conf = _num(path, lineno, row, "confidence", 1.0)
        out.append(Event(row["kind"], row.get("channel", "") or ANY_CHANNEL, start, end,
                         alert_s=_num(path, lineno, row, "alert_s"),
                         confidence=min(1.0, max(0.0, conf)) if not math.isnan(conf) else 1.0,
                         peak_uv=_num(path, lineno, row, "peak_uv", float("nan")),
                         n_potentials=int(_num(path, lineno, row, "n_potentials", 0.0)),
                         detail=row.get("detail", "") or ""))
    return out


def write_labels(path, labels: Iterable) -> None:
    """Write labels as CSV (:data:`LABEL_COLUMNS`)."""
    tmp = os.fspath(path)
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(LABEL_COLUMNS)
        for lab in sorted(labels, key=lambda x: (x.start_s, x.channel, x.kind)):
            w.writerow(lab.row() if isinstance(lab, Label) else
                       [lab.kind, lab.channel, f"{lab.start_s:.4f}", f"{lab.end_s:.4f}", "", "", "0", ""])


def format_table(rows: Sequence[dict], columns: Sequence[tuple]) -> str:
    """Plain-text table; ``columns`` = (key, header, format). None/NaN print as ``-``."""
    cells = [[h for _, h, _ in columns]]
    for r in rows:
        line = []
        for key, _, fmt in columns:
            v = r.get(key)
            if v is None or (isinstance(v, float) and math.isnan(v)):
                line.append("-")
            else:
                line.append(fmt.format(v))
        cells.append(line)
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
                     for row in cells)
