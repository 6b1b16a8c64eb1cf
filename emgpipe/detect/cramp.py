"""The cramp / fasciculation / voluntary-activity detector (kept as an import path).

The detector lives in :mod:`emgpipe.detect.detector` (its design, with the
physiology it rests on, is that module's docstring) and the modules it
orchestrates: :mod:`.settings`, :mod:`.baseline`, :mod:`.runs`,
:mod:`.fasciculations`, :mod:`.rules`. ``docs/detector.md`` describes them.
This module re-exports the public names (and the private ones tests use).
"""
from .detector import CrampDetector
from .fasciculations import _Episode
from .protocol import Detector
from .settings import CrampSettings, band_fraction

__all__ = ["CrampDetector", "CrampSettings", "Detector", "band_fraction"]
