"""Personal health data stays the wearer's: folders 0700, files 0600 on POSIX.

Night folders (raw EDF+/BDF+, the SQLite database and its WAL/SHM side files), the
answers file and calibration profiles are created with these modes, whatever the
umask. On Windows there is no chmod: files inherit the ACL of the folder they are
created in (normally the user's profile, readable by that user and administrators).
"""
from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
POSIX = os.name == "posix"


def private_dir(path) -> Path:
    """Create ``path`` (and missing parents) if needed; a folder this call creates
    (the last one) is made 0700. An existing folder's mode is left alone (the wearer's choice),
    except a night folder we create."""
    p = Path(path)
    existed = p.is_dir()
    p.mkdir(parents=True, exist_ok=True)
    if POSIX and not existed:
        os.chmod(p, DIR_MODE)
    return p


def private_file(path) -> None:
    """Make an existing file 0600 (POSIX; a no-op elsewhere or when it is missing)."""
    if POSIX:
        try:
            os.chmod(path, FILE_MODE)
        except FileNotFoundError:
            pass


def open_private(path, flags: int) -> int:
    """``os.open`` creating the file 0600 (then chmod, in case of a restrictive-but-other umask)."""
    fd = os.open(path, flags, FILE_MODE)
    if POSIX:
        os.fchmod(fd, FILE_MODE)
    return fd
