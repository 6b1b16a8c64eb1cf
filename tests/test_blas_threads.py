"""The emgpipe command runs with one OpenBLAS thread (set before numpy loads it,
unless the user set it); a program that imports emgpipe keeps its own setting."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

PRINT = "import emgpipe, os, sys; print(os.environ.get('OPENBLAS_NUM_THREADS'), 'numpy' in sys.modules)"


def _run(argv0: str | None, env_value: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if env_value is not None:
        env["OPENBLAS_NUM_THREADS"] = env_value
    set_argv = f"import sys; sys.argv = [{argv0!r}]; " if argv0 is not None else ""
    return subprocess.run([sys.executable, "-c", set_argv + PRINT], capture_output=True, text=True,
                          check=True, env=env).stdout.strip()


@pytest.mark.parametrize("argv0", ["-m", "/home/u/.venv/bin/emgpipe", r"C:\venv\Scripts\emgpipe.exe"])
def test_the_command_runs_with_one_blas_thread(argv0):
    # "-m": python -m emgpipe while the package is located; the console script on Linux, macOS, Windows
    assert _run(argv0) == "1 True"


def test_a_users_setting_wins_and_a_program_importing_emgpipe_is_left_alone():
    assert _run("-m", "4") == "4 True"
    assert _run(None) == "None True"                        # python -c: argv[0] is "-c"
    assert _run("/home/u/analysis.py") == "None True"
