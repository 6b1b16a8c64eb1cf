"""Opening a serial port with one-line, actionable errors (any OS).

One opener and one error mapper for every serial device (the Cyton's dongle,
the firmware bridge): :func:`open_serial` and :func:`port_error`.

Ports are opened for exclusive use. Windows does that by itself; on POSIX a
tty can be opened by any number of processes, and two readers of one port
each get a random share of its bytes (a reply or a packet read by the other
program is simply gone), so pyserial's ``exclusive=True`` (an advisory
``flock`` taken before the port is touched) makes a second cooperating
program fail with "port busy" instead of silently corrupting both streams.
"""
from __future__ import annotations

import errno
import os
import sys

from ..errors import DeviceError, DeviceNotFound, DevicePermission


#: What serial port names look like, for messages that ask the user to name one.
PORT_EXAMPLES = ("COM3 on Windows, /dev/tty.usbmodem* or /dev/tty.usbserial* on macOS, "
                 "/dev/ttyACM0 or /dev/ttyUSB0 on Linux")

#: errno values of a failed open that mean "no such port" / "the OS refuses you" /
#: "another program holds it" (EAGAIN/EWOULDBLOCK: pyserial's ``exclusive=True``
#: ``flock`` failed, i.e. another cooperating program has the port open).
_NOT_FOUND = frozenset({errno.ENOENT, errno.ENODEV, errno.ENXIO})
_DENIED = frozenset({errno.EACCES, errno.EPERM})
_BUSY = frozenset({errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK})


def available_ports() -> list:
    """``["/dev/ttyUSB0 (FT231X USB UART)", ...]`` from pyserial's port list."""
    try:
        from serial.tools import list_ports
        ports = list_ports.comports()
    except Exception:  # listing is a courtesy; never mask the real error
        return []
    out = []
    for p in sorted(ports, key=lambda p: p.device):
        desc = p.description if p.description and p.description != "n/a" else ""
        out.append(f"{p.device} ({desc})" if desc and desc != p.device else p.device)
    return out


def _ports_hint() -> str:
    ports = available_ports()
    if ports:
        return "available ports: " + ", ".join(ports)
    return "no serial ports found (is the device plugged in and its USB driver installed?)"


def _errno_of(exc: BaseException) -> int | None:
    """The OS error number behind a failed open (pyserial raises ``SerialException(errno,
    msg)``; a wrapped OSError may sit in ``__cause__``), or None (Windows: text only)."""
    for obj in (exc, exc.__cause__, exc.__context__):
        if obj is None:
            continue
        en = getattr(obj, "errno", None)
        if isinstance(en, int):
            return en
        if obj.args and isinstance(obj.args[0], int):
            return obj.args[0]
    return None


def _kind(exc: BaseException) -> str:
    """``"not_found"``, ``"denied"``, ``"busy"`` or ``"other"``: by errno where the OS
    gives one (POSIX), else by the message (Windows: pyserial names the Win32 error)."""
    en = _errno_of(exc)
    if en is not None:
        return ("not_found" if en in _NOT_FOUND else "denied" if en in _DENIED
                else "busy" if en in _BUSY else "other")
    text = str(exc)
    if any(s in text for s in ("FileNotFoundError", "No such file", "cannot find the file")):
        return "not_found"
    if any(s in text for s in ("PermissionError", "Access is denied", "Permission denied")):
        return "denied"
    if "exclusively lock" in text or "busy" in text.lower():
        return "busy"
    return "other"


def _denied_hint(port: str, platform: str, others: str, driver: str) -> str:
    if platform.startswith("linux"):
        return (f"permission denied opening {port}: add your user to the 'dialout' group "
                f"('uucp' on Arch) with 'sudo usermod -aG dialout $USER', then log out and back in")
    if platform == "darwin":
        return (f"permission denied opening {port}: close other programs using it (e.g. {others}); "
                f"use the /dev/cu.* device, and install the {driver} driver if the port is missing")
    if platform.startswith("win"):
        # Windows says "access denied" both for a port another program holds and for a
        # driver problem; it gives no way to tell them apart.
        return (f"access denied to {port}: it is open in another program (e.g. {others}); close "
                f"it, and check the {driver} driver in Device Manager if the port is missing")
    return f"permission denied opening {port} by the operating system"


def port_error(label: str, port: str, exc: BaseException, platform: str | None = None, *,
               others: str = "the OpenBCI GUI", driver: str = "FTDI VCP") -> DeviceError:
    """Map a failed serial open to one line: DeviceNotFound, DevicePermission or DeviceError.

    The type follows what the OS said (errno on POSIX; the Win32 error's name in
    pyserial's message on Windows): only EACCES/EPERM ("access denied") is a
    :class:`DevicePermission`; a port another program holds (EBUSY, or the
    EAGAIN of pyserial's exclusive lock) is a plain :class:`DeviceError`.

    Parameters
    ----------
    label : str
        Prefix of the message (the source URI, e.g. ``cyton:/dev/ttyUSB0``).
    port : str
        The port as given; every message names it.
    others, driver : str
        The programs that typically hold this device's port, and its USB-serial
        driver, for the hints.

    Examples
    --------
    >>> import errno
    >>> err = port_error("bridge:/dev/ttyACM0", "/dev/ttyACM0", OSError(errno.EBUSY, "busy"))
    >>> type(err).__name__, "serial port /dev/ttyACM0 is busy" in str(err)
    ('DeviceError', True)
    >>> type(port_error("cyton:COM3", "COM3", OSError(errno.EACCES, "denied"))).__name__
    'DevicePermission'
    """
    platform = platform or sys.platform
    kind = _kind(exc)
    if kind == "not_found":
        return DeviceNotFound(f"{label}: serial port not found: {port}; {_ports_hint()}; "
                              f"port names look like {PORT_EXAMPLES}")
    if kind == "denied":
        return DevicePermission(f"{label}: {_denied_hint(port, platform, others, driver)}")
    if kind == "busy":
        return DeviceError(f"{label}: serial port {port} is busy: another program has it open "
                           f"(e.g. {others}); close it and retry")
    return DeviceError(f"{label}: cannot open serial port {port}: {exc}")


def open_serial(port: str, label: str, baudrate: int, timeout: float, *,
                write_timeout: float = 2.0, **hints):
    """``serial.Serial(port, baudrate)`` for exclusive use, or a clear :class:`DeviceError`
    (:func:`port_error`; ``hints`` are its ``others`` and ``driver``)."""
    import serial
    # pyserial's exclusive flag is POSIX-only (Windows ports are exclusive anyway).
    excl = {"exclusive": True} if os.name == "posix" else {}
    try:
        return serial.Serial(port, baudrate=baudrate, timeout=timeout,
                             write_timeout=write_timeout, **excl)
    except (serial.SerialException, OSError) as exc:
        raise port_error(label, port, exc, **hints) from None
