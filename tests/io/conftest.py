"""Fixtures for the recording-reader tests (``shared_data`` comes from tests/conftest.py)."""
from __future__ import annotations

import pytest


def _one_line_error(excinfo, path) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg, msg
    assert msg.startswith(str(path) + ": "), msg
    return msg[len(str(path)) + 2:]


@pytest.fixture
def problem():
    """``problem(excinfo, path)``: the error's text after ``"<path>: "``.

    Asserts the message is one line that starts with the file name.
    """
    return _one_line_error
