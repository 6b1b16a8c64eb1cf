"""Where alerts go: terminal, sound, desktop notification, haptic buzz, webhook, a command.

Each sink has ``name`` and ``send(alert) -> bool`` (True when delivered) and
``close()``. ``send`` may be slow or fail: the :class:`~emgpipe.alerts.AlertManager`
calls it on the sink's own thread, so it never delays detection or the other
sinks. Sinks that depend on the machine (a sound player, a notifier) degrade
gracefully: they log once what is missing and then do nothing.

Nothing here uses the network except :class:`WebhookSink`, and no sink logs
secrets (the webhook logs only the scheme and host of its URL, never headers).
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import wave
from typing import Callable, Sequence

import numpy as np

from ..errors import ConfigError
from .prompts import Alert

log = logging.getLogger(__name__)


class Sink:
    """Base class: override :meth:`send`."""

    name = "sink"

    def send(self, alert: Alert) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        """Release resources (temporary files). Safe to call twice."""

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r})"


class _WarnOnce:
    """Log a degradation once per sink, not once per alert."""

    def __init__(self):
        self._said = set()

    def __call__(self, key: str, msg: str, *args) -> None:
        if key not in self._said:
            self._said.add(key)
            log.warning(msg, *args)


def _run(argv: Sequence[str], what: str, timeout_s: float, stdin: bytes | None = None,
         env: dict | None = None) -> bool:
    """Run a program without a shell; False (logged) when it fails or hangs."""
    try:
        proc = subprocess.run(list(argv), input=stdin, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        log.warning("alerts: %s did not finish within %g s; abandoned", what, timeout_s)
        return False
    except OSError as err:
        log.warning("alerts: %s could not start: %s", what, err.strerror or err)
        return False
    if proc.returncode != 0:
        err = (proc.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        log.warning("alerts: %s exited with %d%s", what, proc.returncode, f": {err[-1]}" if err else "")
        return False
    return True


# ----------------------------------------------------------------------------- terminal

class TerminalSink(Sink):
    """Print the alert (with the terminal bell, ``\\a``) on a text stream.

    Examples
    --------
    >>> import io
    >>> from emgpipe.alerts.prompts import make_alert
    >>> from emgpipe.types import Event
    >>> out = io.StringIO()
    >>> TerminalSink(out, bell=False).send(make_alert(Event("cramp", "calf_left", 10, 10.5, 10.5)))
    True
    >>> print(out.getvalue().splitlines()[0])
    [00:00:10] CRAMP  Calf cramp (left) - stretch now
    """

    name = "terminal"

    def __init__(self, stream=None, bell: bool = True):
        self.stream = stream
        self.bell = bool(bell)

    def send(self, alert: Alert) -> bool:
        out = self.stream or sys.stdout
        t = int(alert.alert_s)
        stamp = f"{t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}"
        tag = "CRAMP " if alert.kind == "onset" else "REMIND"
        body = alert.message.split(": ", 1)[-1]
        text = f"[{stamp}] {tag} {alert.headline}\n           {body}\n"
        out.write(("\a" if self.bell else "") + text)
        out.flush()
        return True


# ----------------------------------------------------------------------------- sound

def tone(freq_hz: float = 880.0, beep_s: float = 0.18, n_beeps: int = 3, gap_s: float = 0.1,
         volume: float = 0.6, fs: int = 22050) -> np.ndarray:
    """A short beep pattern as int16 samples (raised-cosine edges, no clicks).

    880 Hz sits where hearing is most sensitive relative to small speakers
    (ISO 226 equal-loudness contours are lowest around 1-4 kHz).

    >>> x = tone(n_beeps=2, beep_s=0.1, gap_s=0.05, fs=8000)
    >>> x.dtype, len(x)
    (dtype('int16'), 2000)
    """
    n = int(round(beep_s * fs))
    t = np.arange(n) / fs
    beep = np.sin(2 * np.pi * freq_hz * t)
    ramp = min(n // 2, int(0.01 * fs))  # 10 ms fade in/out
    if ramp:
        edge = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
        beep[:ramp] *= edge
        beep[-ramp:] *= edge[::-1]
    gap = np.zeros(int(round(gap_s * fs)))
    parts = []
    for i in range(n_beeps):
        parts.append(beep)
        if i < n_beeps - 1:
            parts.append(gap)
    x = np.concatenate(parts) * float(np.clip(volume, 0.0, 1.0)) * 32767
    return x.astype(np.int16)


def write_wav(path, samples: np.ndarray, fs: int) -> None:
    """Mono 16-bit PCM WAV."""
    with wave.open(os.fspath(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(fs))
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())


def find_player(platform: str | None = None, which: Callable = shutil.which) -> list[str] | None:
    """The command that plays a WAV file here (None on Windows: winsound)."""
    platform = platform or sys.platform
    if platform.startswith("win"):
        return None
    if platform == "darwin":
        candidates = (["afplay"],)
    else:  # PulseAudio/PipeWire first (shared desktops), then ALSA
        candidates = (["paplay"], ["pw-play"], ["aplay", "-q"])
    for argv in candidates:
        path = which(argv[0])
        if path:
            return [path, *argv[1:]]
    return []


class SoundSink(Sink):
    """Play a short beep pattern made locally (no network, no sound files shipped).

    The tone is synthesised with numpy into a temporary WAV file once and
    played with what the OS has: ``winsound`` on Windows, ``afplay`` on
    macOS, ``paplay``/``pw-play``/``aplay`` on Linux. Without a player it logs
    once and stays silent. Onsets beep three times, reminders twice.
    """

    name = "sound"

    def __init__(self, frequency_hz: float = 880.0, beep_s: float = 0.18, volume: float = 0.6,
                 player: Sequence[str] | None = None, timeout_s: float = 10.0):
        self.fs = 22050
        self.timeout_s = float(timeout_s)
        self._dir = tempfile.mkdtemp(prefix="emgpipe-sound-")
        self._files = {}
        for kind, n in (("onset", 3), ("reminder", 2)):
            path = os.path.join(self._dir, f"{kind}.wav")
            write_wav(path, tone(frequency_hz, beep_s, n, volume=volume, fs=self.fs), self.fs)
            self._files[kind] = path
        self.player = list(player) if player is not None else find_player()
        self._warn = _WarnOnce()

    def send(self, alert: Alert) -> bool:
        path = self._files.get(alert.kind, self._files["onset"])
        if self.player is None:  # Windows
            try:
                import winsound
                winsound.PlaySound(path, winsound.SND_FILENAME)
                return True
            except (ImportError, RuntimeError) as err:
                self._warn("winsound", "alerts: sound unavailable (%s); sound alerts are off", err)
                return False
        if not self.player:
            self._warn("player", "alerts: no sound player found (afplay, paplay, pw-play or aplay); "
                                 "sound alerts are off")
            return False
        return _run([*self.player, path], f"sound player {os.path.basename(self.player[0])}",
                    self.timeout_s)

    def close(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)


# ----------------------------------------------------------------------------- desktop

def _applescript_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ps_quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


#: A Windows 10/11 toast through the WinRT API from PowerShell; the app id is
#: PowerShell's own, which Windows lets any script use for toasts.
_WIN_TOAST = """
[Windows.UI.Notifications.ToastNotificationManager, Windows.UI.Notifications, ContentType = WindowsRuntime] > $null
[Windows.Data.Xml.Dom.XmlDocument, Windows.Data.Xml.Dom.XmlDocument, ContentType = WindowsRuntime] > $null
$t = [Windows.UI.Notifications.ToastNotificationManager]::GetTemplateContent([Windows.UI.Notifications.ToastTemplateType]::ToastText02)
$n = $t.GetElementsByTagName('text')
$n.Item(0).AppendChild($t.CreateTextNode({title})) > $null
$n.Item(1).AppendChild($t.CreateTextNode({body})) > $null
$app = '{{1AC14E77-02E7-4E5D-B744-2EB1AE5198B7}}\\WindowsPowerShell\\v1.0\\powershell.exe'
[Windows.UI.Notifications.ToastNotificationManager]::CreateToastNotifier($app).Show([Windows.UI.Notifications.ToastNotification]::new($t))
"""


def desktop_command(title: str, body: str, platform: str | None = None,
                    which: Callable = shutil.which, urgency: str = "critical") -> list[str] | None:
    """The argv showing a desktop notification here, or None if there is no notifier.

    >>> desktop_command("T", 'say "hi"', platform="darwin", which=lambda n: "/usr/bin/" + n)[-1]
    'display notification "say \\\\"hi\\\\"" with title "T"'
    """
    platform = platform or sys.platform
    if platform == "darwin":
        exe = which("osascript")
        return [exe, "-e", f"display notification {_applescript_quote(body)} with title "
                           f"{_applescript_quote(title)}"] if exe else None
    if platform.startswith("win"):
        exe = which("powershell") or which("pwsh")
        script = _WIN_TOAST.format(title=_ps_quote(title), body=_ps_quote(body))
        return [exe, "-NoProfile", "-NonInteractive", "-Command", script] if exe else None
    exe = which("notify-send")
    return [exe, "-u", urgency, "-a", "emgpipe", title, body] if exe else None


class DesktopSink(Sink):
    """A desktop notification: ``notify-send`` (Linux), ``osascript`` (macOS), a toast (Windows).

    Without a notifier (or without a desktop session) it logs once and does nothing.
    """

    name = "desktop"

    def __init__(self, urgency: str = "critical", timeout_s: float = 10.0, platform: str | None = None,
                 which: Callable = shutil.which):
        self.urgency = urgency
        self.timeout_s = float(timeout_s)
        self.platform = platform
        self.which = which
        self._warn = _WarnOnce()

    def send(self, alert: Alert) -> bool:
        body = alert.message.split(": ", 1)[-1]
        argv = desktop_command(alert.headline, body, self.platform, self.which, self.urgency)
        if argv is None:
            self._warn("none", "alerts: no desktop notifier found (notify-send, osascript or "
                               "PowerShell); desktop alerts are off")
            return False
        ok = _run(argv, f"desktop notifier {os.path.basename(argv[0])}", self.timeout_s)
        if not ok:
            self._warn("failed", "alerts: desktop notifications fail here (no desktop session?); "
                                 "other sinks still work")
        return ok


# ----------------------------------------------------------------------------- haptic

class HapticSink(Sink):
    """Buzz the haptic motor through the firmware bridge.

    ``device`` is any object with ``send_buzz(ms)`` (the ``bridge:`` and
    ``bridge-ble:`` sources). Onsets buzz ``ms``; reminders half as long.
    """

    name = "haptic"

    def __init__(self, device, ms: int = 600, strength: int | None = None):
        if not callable(getattr(device, "send_buzz", None)):
            raise ConfigError("alerts: haptic buzz needs a firmware-bridge source "
                              "(--source bridge:PORT or bridge-ble:NAME)")
        self.device = device
        self.ms = int(ms)
        self.strength = strength

    def send(self, alert: Alert) -> bool:
        ms = self.ms if alert.kind == "onset" else max(1, self.ms // 2)
        kw = {} if self.strength is None else {"strength": int(self.strength)}
        ok = self.device.send_buzz(ms, **kw)
        return ok is not False


# ----------------------------------------------------------------------------- webhook

def redact_url(url: str) -> str:
    """Scheme and host only: webhook paths and queries often hold tokens.

    >>> redact_url("https://user:pw@hooks.example.org:8443/services/T0/B0/secret?k=1")
    'https://hooks.example.org:8443/...'
    """
    p = urllib.parse.urlsplit(url)
    host = p.hostname or "?"
    port = f":{p.port}" if p.port else ""
    return f"{p.scheme}://{host}{port}/..."


class WebhookSink(Sink):
    """HTTP POST of the alert as JSON, with a timeout and retries.

    Retries on network errors, timeouts and HTTP 5xx/429 with exponential
    back-off (``backoff_s``, doubled each time); a 4xx answer is final. Logs
    name only the scheme and host of the URL, never its path, query or headers.
    """

    name = "webhook"

    def __init__(self, url: str, timeout_s: float = 5.0, retries: int = 2, backoff_s: float = 1.0,
                 headers: dict | None = None):
        p = urllib.parse.urlsplit(str(url))
        if p.scheme not in ("http", "https") or not p.hostname:
            raise ConfigError(f"alerts: webhook url must be http(s)://host/..., got {redact_url(str(url))}")
        self.url = str(url)
        self.where = redact_url(self.url)
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)
        self.backoff_s = float(backoff_s)
        self.headers = {"Content-Type": "application/json", "User-Agent": "emgpipe-alerts",
                        **{str(k): str(v) for k, v in (headers or {}).items()}}
        self.n_attempts = 0

    def send(self, alert: Alert) -> bool:
        body = json.dumps({"source": "emgpipe", **alert.to_dict()}).encode("utf-8")
        delay = self.backoff_s
        for attempt in range(self.retries + 1):
            self.n_attempts += 1
            req = urllib.request.Request(self.url, data=body, headers=self.headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    resp.read(1024)
                return True
            except urllib.error.HTTPError as err:
                problem = f"HTTP {err.code}"
                if err.code < 500 and err.code != 429:
                    log.warning("alerts: webhook %s refused the alert (%s)", self.where, problem)
                    return False
            except (urllib.error.URLError, OSError) as err:  # includes timeouts
                reason = getattr(err, "reason", err)
                problem = type(reason).__name__ if not str(reason) else str(reason)
            if attempt < self.retries:
                log.info("alerts: webhook %s failed (%s); retry %d of %d in %g s", self.where, problem,
                         attempt + 1, self.retries, delay)
                time.sleep(delay)
                delay *= 2
        log.warning("alerts: webhook %s failed after %d attempt(s) (%s)", self.where,
                    self.retries + 1, problem)
        return False


# ----------------------------------------------------------------------------- command

#: Placeholders a command's arguments may use.
FIELDS = ("kind", "channel", "muscle", "side", "title", "headline", "message", "start_s", "alert_s",
          "elapsed_s", "confidence")


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def check_template(argv: Sequence[str]) -> None:
    """Raise ConfigError for a ``{word}`` placeholder that :data:`FIELDS` does not know.

    Other braces (``{"a": 1}``) are left as they are.
    """
    for a in argv:
        for f in _PLACEHOLDER.findall(str(a)):
            if f not in FIELDS:
                raise ConfigError(f"alerts: command argument {a!r}: unknown placeholder {{{f}}} "
                                  f"(known: {', '.join(FIELDS)})")


def fill_template(arg: str, values: dict) -> str:
    """Replace ``{field}`` placeholders; leave other text and braces alone.

    >>> fill_template('{"x": {channel}} {kind}', {"channel": "calf", "kind": "onset"})
    '{"x": calf} onset'
    """
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), arg)


class CommandSink(Sink):
    """Run a program for each alert (no shell).

    ``argv`` items may hold placeholders (:data:`FIELDS`, e.g. ``{headline}``).
    The alert is also given as JSON on stdin and as ``EMGPIPE_ALERT_*``
    environment variables. A command that hangs is abandoned after ``timeout_s``.
    """

    name = "command"

    def __init__(self, argv: Sequence[str], timeout_s: float = 30.0):
        if isinstance(argv, str) or not argv:
            raise ConfigError("alerts: command needs argv, a non-empty list of strings")
        self.argv = [str(a) for a in argv]
        check_template(self.argv)
        self.timeout_s = float(timeout_s)

    def send(self, alert: Alert) -> bool:
        d = alert.to_dict()
        values = {k: ("" if d.get(k) is None else d[k]) for k in FIELDS}
        argv = [fill_template(a, values) for a in self.argv]
        env = dict(os.environ)
        env.update({f"EMGPIPE_ALERT_{k.upper()}": str(v) for k, v in values.items()})
        return _run(argv, f"alert command {os.path.basename(self.argv[0])}", self.timeout_s,
                    stdin=json.dumps(d).encode("utf-8"), env=env)


# ----------------------------------------------------------------------------- callback

class CallbackSink(Sink):
    """Hand alerts to a function (a UI, a test). Runs on the sink's thread like any sink."""

    def __init__(self, fn: Callable[[Alert], object], name: str = "callback"):
        self.fn = fn
        self.name = name

    def send(self, alert: Alert) -> bool:
        return self.fn(alert) is not False

