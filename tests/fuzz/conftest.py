"""Hypothesis profiles for the fuzz tests: ``ci`` (default, the whole folder in well under
30 s) and ``long`` for local runs: ``HYPOTHESIS_PROFILE=long python -m pytest tests/fuzz``.
The large-scale run is ``python benchmarks/fuzz.py``."""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("long", max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
