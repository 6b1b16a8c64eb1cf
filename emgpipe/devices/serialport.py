"""Opening a serial port with one-line, actionable errors (any OS).

Not OpenBCI-specific; any serial backend may use :func:`open_serial`.

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
    return "no serial ports found (is the USB dongle plugged in and its driver installed?)"


def _permission_hint(platform: str) -> str:
    if platform.startswith("linux"):
        return ("permission denied: add your user to the 'dialout' group ('uucp' on Arch) with "
                "'sudo usermod -aG dialout $USER', then log out and back in")
    if platform == "darwin":
        return ("permission denied: close other programs using the port (e.g. the OpenBCI GUI); "
                "use the /dev/cu.* device, and install the FTDI VCP driver if the port is missing")
    if platform.startswith("win"):
        return ("access denied: the port is open in another program (e.g. the OpenBCI GUI); close "
                "it, and install the FTDI VCP driver if the COM port is missing")
    return "permission denied by the operating system"


def port_error(label: str, exc: Exception, platform: str | None = None) -> DeviceError:
    """Map a pyserial open failure to DeviceNotFound / DevicePermission / DeviceError.

    pyserial sets ``errno`` on POSIX; on Windows the message carries
    ``FileNotFoundError`` or ``PermissionError`` / ``Access is denied``.
    """
    platform = platform or sys.platform
    code = getattr(exc, "errno", None)
    msg = str(exc)
    if code == errno.ENOENT or any(s in msg for s in (
            "FileNotFoundError", "No such file", "cannot find the file")):
        return DeviceNotFound(f"{label}: serial port not found; {_ports_hint()}")
    if code in (errno.EACCES, errno.EPERM) or any(s in msg for s in (
            "PermissionError", "Access is denied", "Permission denied")):
        return DevicePermission(f"{label}: {_permission_hint(platform)}")
    if code in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK) or any(s in msg.lower() for s in (
            "busy", "exclusively lock")):  # pyserial's exclusive=True lock failure
        return DevicePermission(f"{label}: port busy: another program has it open "
                                f"(e.g. the OpenBCI GUI); close it and retry")
    return DeviceError(f"{label}: cannot open serial port: {msg}")


def open_serial(port: str, label: str, baudrate: int, timeout: float):
    """``serial.Serial(port, baudrate)`` for exclusive use, or a clear :class:`DeviceError`."""
    import serial
    # pyserial's exclusive flag is POSIX-only (Windows ports are exclusive anyway).
    excl = {"exclusive": True} if os.name == "posix" else {}
    try:
        return serial.Serial(port, baudrate=baudrate, timeout=timeout, write_timeout=2.0, **excl)
    except serial.SerialException as exc:
        raise port_error(label, exc) from None
    except OSError as exc:
        raise port_error(label, exc) from None
