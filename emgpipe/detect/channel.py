"""The detector's online state for one channel (what every stage reads and updates)."""
from __future__ import annotations

import math

from collections import deque

import numpy as np

from ..channels import parse_channel
from .runs import WorkMemory
from .settings import CrampSettings


class _Channel:
    """State of one channel: its baseline (:mod:`.baseline`), its open activity
    run (:mod:`.runs`), its open fasciculation episode and recent potentials
    (:mod:`.fasciculations`), its rest-level blocks and the
    wearer's answers (:mod:`.rules`)."""

    def __init__(self, name: str, s: CrampSettings, rest_uv: float | None, mvc_uv: float | None):
        self.name = name
        self.leg = parse_channel(name).leg
        self.other_cols: list = []           # the other leg's channels (indices; set by the detector)
        self.stance_cols: list = []          # ... where both legs are known (set by the detector)
        self.antagonist_cols: list = []      # the same leg's other muscle groups (set by the detector)
        self.mirrors: list = []              # the same muscle on the other leg (_Channel objects; set by the detector)
        self.leg_cols: list = []             # the same leg's other channels (indices; set by the detector)
        self.base = rest_uv
        self.mvc = mvc_uv
        self.n_seen = 0
        self.warm: list = []
        self.run = None                      # the open activity run (runs._Run)
        self.fasc = None                     # the open fasciculation episode (fasciculations._Episode)
        self.fasc_times: deque = deque()     # (time, n) of recent potentials
        self.rest_blocks: deque = deque()    # lowest baseline per block of the last minutes (rest level)
        self.rest_cur = np.inf               # ... of the block being filled
        self.rest_n = 0                      # windows seen (block alignment)
        self.last_rms = 0.0
        self.last_ratio = 0.0
        self.last_run_end = -1e9             # when the last activity run ended
        self.no_evidence_until = -1e9        # post-cramp fasciculations are not evidence
        self.last_hold_end = -1e9            # when the last steady hold (not a cramp) ended
        self.last_stance = -1e9              # when it last held steadily with the other leg (standing)
        self.work = WorkMemory()             # (start s, RMS µV) of its steady-hold windows (working level)
        self.last_move_end = -1e9            # when the last voluntary run / leg movement ended
        self.last_held = (-1e9, 0.0)         # (end s, peak µV) of its last voluntary run held >= REPEAT_HELD_S
        self.pops: deque = deque()           # edge times of recent electrode pops (quality stage)
        self.hum: list = []                  # [start s, end s or None] of its mains-interference episodes
        self.prev_rms = (math.nan, math.nan)  # its last two window RMS (µV): baseline.untaught
        self.prev_untaught = False           # ... and whether its last window was untaught
        self.dismissed: list = []            # levels (x baseline) of contractions the wearer dismissed
        self.confirmed: list = []            # ... and of cramps the wearer confirmed
