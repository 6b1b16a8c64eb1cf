"""Shared simulations for the simulator tests (built once per session; short durations keep tests fast)."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from emgpipe import sim


@lru_cache(maxsize=None)
def _cached(scenario, fs, seed, duration, device):
    s = sim.make(scenario, fs=fs, seed=seed, duration=duration, device=device)
    return s, s.to_array()


@pytest.fixture(scope="session")
def simulate():
    """simulate(scenario, fs=None, seed=0, duration=None, device=None) -> (Simulation, samples)."""
    def get(scenario, fs=None, seed=0, duration=None, device=None):
        return _cached(scenario, fs, seed, duration, device)
    return get
