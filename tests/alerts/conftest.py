"""Fixtures for the alert tests."""
from __future__ import annotations

import pytest

from tests.alerts.alert_helpers import BlockingSink


@pytest.fixture
def blocking_sink():
    s = BlockingSink()
    yield s
    s.release.set()
