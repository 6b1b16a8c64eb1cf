"""Exception hierarchy.

Every error emgpipe raises on purpose derives from :class:`EmgpipeError`. The
CLI prints ``str(err)`` as one line on stderr (no traceback unless
``--debug``), so messages name the file, device or option and the problem,
e.g. ``data.csv: line 17: column 'ch2' is not a number ('abc')``.
"""
from __future__ import annotations

import os


class EmgpipeError(Exception):
    """Root of all emgpipe errors. ``exit_code`` is what the CLI returns."""

    exit_code = 1


class UsageError(EmgpipeError):
    """A bad command-line option or argument."""

    exit_code = 2


class ConfigError(EmgpipeError):
    """A bad model, profile or configuration file."""


class RecordingError(EmgpipeError):
    """A recording file that cannot be read. Message starts with the file name."""

    exit_code = 3

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        name = self.path if self.path is not None else "<input>"
        super().__init__(f"{name}: {problem}")

    def __reduce__(self):
        # an exception is pickled as (class, self.args), and args holds only the
        # message: rebuilt from its own two arguments instead, so that a bad
        # recording read in a worker process (emgpipe bench --jobs, Dask) reaches
        # the parent as its one-line error, not as a BrokenProcessPool
        return self.__class__, (self.path, self.problem)


class BadHeader(RecordingError):
    """The file's header is missing, malformed or inconsistent."""


class BadData(RecordingError):
    """The file's samples are malformed, truncated, empty or non-finite."""


class UnsupportedFormat(RecordingError):
    """No reader knows this file (or it has the wrong extension)."""


class DeviceError(EmgpipeError):
    """A live device problem. Message starts with the device/port name."""

    exit_code = 4


class DeviceNotFound(DeviceError):
    """The port does not exist or no device answered / was discovered."""


class DevicePermission(DeviceError):
    """The OS refused access to the port (e.g. not in the dialout group)."""


class StreamLost(DeviceError):
    """The device stopped delivering data (unplugged, BLE link lost)."""


class ProtocolError(DeviceError):
    """The device said something the protocol does not allow."""


class StorageError(EmgpipeError):
    """Writing logs, events or raw data failed (e.g. disk full)."""

    exit_code = 5
