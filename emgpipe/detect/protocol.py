"""What a detector of the pipeline is (the role's protocol).

A detector turns window features into events, causally, per stream. The
pipeline (:class:`emgpipe.graph.Pipeline`) calls, from one thread:

* ``update(features)`` for every batch of window features, in stream order;
  it returns the events announced by that batch (onsets and finals);
* ``note_pops(pops)`` before the features of a chunk whose raw signal held
  electrode pops (``[(channel name, edge time s)]``, from
  :mod:`emgpipe.detect.pops`), so that the potentials they make after the
  band-pass are not taken for physiology;
* optionally ``note_interference(episodes)`` before the features of a chunk
  whose quality events opened or closed a mains-interference episode
  (``[(channel name, start s, end s or None while it goes on, known s)]``,
  ``known`` the stream time from which the note holds, whatever the chunk
  it came with: :meth:`emgpipe.detect.quality.QualityDetector.interference_notes`);
* ``answer(channel, answer, t_s)`` when the wearer answers an alert
  (``"cramp"`` or ``"not_cramp"``, at stream time ``t_s`` s), between batches;
  it returns the events the answer finishes (may be empty);
* ``close(end_s)`` once, at the end of the stream (``end_s`` s, the last
  sample's end); it returns the final events of whatever was still open.

``state`` is what the detector thinks each channel is doing now (for the live
view): ``{channel: {"baseline_uv", "rms_uv", "ratio", "state"}}``, ``state``
one of ``quiet``, ``active``, ``fasciculating``, ``CRAMP``.

Optionally, ``features``: the names of the window features it reads. The
pipeline then computes only those (and ``rms``, which the live view shows);
a detector without it gets every feature (:func:`emgpipe.graph.features_needed`).

:class:`emgpipe.detect.detector.CrampDetector` is the one implementation;
``docs/detector.md`` describes it.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..types import Event


@runtime_checkable
class Detector(Protocol):
    """A causal, per-stream detector: features in, :class:`~emgpipe.types.Event` out."""

    def update(self, features) -> list[Event]:
        """Events announced by one batch of window features (:class:`emgpipe.dsp.features.Features`)."""
        ...

    def answer(self, channel: str, answer: str, t_s: float) -> list[Event]:
        """The wearer's answer (``"cramp"``/``"not_cramp"``) to ``channel``'s alert at ``t_s`` s."""
        ...

    def note_pops(self, pops) -> None:
        """Electrode pops of the raw signal, ``[(channel name, edge time s)]``."""
        ...

    def close(self, end_s: float) -> list[Event]:
        """End of stream at ``end_s`` s: the final events of what is still open."""
        ...

    @property
    def state(self) -> dict:
        """Per channel: ``baseline_uv``, ``rms_uv``, ``ratio`` and ``state`` (what it is doing)."""
        ...
