"""Shared test helpers: the real-data folder and random chunkings."""
from __future__ import annotations

from pathlib import Path

import pytest


REPO = Path(__file__).resolve().parents[1]
#: ../shared/data beside the repository (CI has it; a fresh machine may not).
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real recordings not available ({SHARED_DATA} is absent)")
    return SHARED_DATA
