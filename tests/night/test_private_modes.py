"""Health data stays private (issue 16 part 6): night folders 0700; EDF+/BDF+ files, the night
database with its WAL/SHM side files, the answers file and profiles 0600 (POSIX), whatever
the umask."""
from __future__ import annotations

import os
import stat
from types import SimpleNamespace

import numpy as np
import pytest

from emgpipe.answers import answer_record, record_answer
from emgpipe.calibration import Profile
from emgpipe.night.edfplus import RotatingEdfWriter
from emgpipe.night.store import NightStore

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX modes (Windows: profile-folder ACL)")


def mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


@pytest.fixture
def open_umask():
    old = os.umask(0o022)                     # the usual world-readable default
    yield
    os.umask(old)


def test_night_folder_and_files_are_private(tmp_path, open_umask):
    night = tmp_path / "nights" / "2026-01-01"
    store = NightStore(night)
    store.db.execute("CREATE TABLE IF NOT EXISTS t (x)")
    store.db.execute("INSERT INTO t VALUES (1)")
    w = RotatingEdfWriter(night, "n", 200.0, ("ch1",), wall0=1.7e9, rotate_s=30.0)
    w.write(0, np.zeros((200 * 5, 1)))
    w.close()
    assert mode(night) == 0o700
    files = sorted(night.iterdir())
    assert any(p.suffix == ".edf" for p in files)
    assert any(str(p).endswith("-wal") for p in files), files
    for p in files:
        assert mode(p) == 0o600, (p, oct(mode(p)))
    store.close()


def test_answers_and_profile_are_private(tmp_path, open_umask):
    ev = SimpleNamespace(channel="calf", alert_s=1.0, start_s=0.5, features={}, detector="x")
    cfg = tmp_path / "cfg"
    path = record_answer(answer_record(ev, "cramp"), cfg / "answers.json")
    assert mode(path) == 0o600 and mode(cfg) == 0o700
    prof_dir = tmp_path / "profiles"
    p = Profile(channels={"calf": {"rest_uv": 1.0, "mvc_uv": 100.0}}, fs=1000.0).save(prof_dir / "me.json")
    assert mode(p) == 0o600 and mode(prof_dir) == 0o700
