"""Each sink delivers (terminal, sound, desktop, haptic, webhook, command) and degrades gracefully."""
import io
import json
import logging
import sys
import threading
import time
import wave
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from emgpipe.alerts.prompts import make_alert
from emgpipe.alerts.sinks import (CommandSink, DesktopSink, HapticSink, SoundSink, TerminalSink,
                                  WebhookSink, desktop_command, find_player, tone)
from emgpipe.errors import ConfigError
from tests.alerts.alert_helpers import cramp

ALERT = make_alert(cramp("calf_left", 100.0), "onset")
REMINDER = make_alert(cramp("calf_left", 100.0), "reminder", at_s=131.0)


def test_terminal_rings_and_prints_the_prompt():
    out = io.StringIO()
    assert TerminalSink(out).send(ALERT)
    text = out.getvalue()
    assert text.startswith("\a[00:01:41] CRAMP  Calf cramp (left) - stretch now\n")
    assert "stand facing a wall" in text
    out = io.StringIO()
    TerminalSink(out, bell=False).send(REMINDER)
    assert out.getvalue().startswith("[00:02:11] REMIND Calf cramp (left) still going after 31 s")


def test_tone_is_a_clean_beep_pattern():
    fs = 22050
    x = tone(880.0, beep_s=0.2, n_beeps=3, gap_s=0.1, volume=0.5, fs=fs)
    assert len(x) == int(0.2 * fs) * 3 + int(0.1 * fs) * 2
    assert abs(int(x[0])) < 50 and 0.45 * 32767 < np.abs(x).max() <= 0.5 * 32767 + 1
    beep = x[: int(0.2 * fs)].astype(float)
    f = np.fft.rfftfreq(len(beep), 1 / fs)[np.argmax(np.abs(np.fft.rfft(beep)))]
    assert abs(f - 880) < 10
    gap = x[int(0.2 * fs): int(0.3 * fs)]
    assert not gap.any()


def test_sound_plays_a_local_wav_with_the_os_player(tmp_path):
    log_file = tmp_path / "played.txt"
    player = [sys.executable, "-c",
              f"import sys, wave; w = wave.open(sys.argv[1]); "
              f"open({str(log_file)!r}, 'a').write(f'{{w.getframerate()}} {{w.getnframes()}}\\n')"]
    s = SoundSink(player=player)
    assert s.send(ALERT) and s.send(REMINDER)
    rates = [tuple(map(int, line.split())) for line in log_file.read_text().splitlines()]
    assert rates[0][0] == 22050 and rates[0][1] > rates[1][1] > 0   # 3 beeps, then 2
    s.close()
    assert not list(tmp_path.glob("*.wav"))


def test_sound_without_a_player_warns_once(caplog):
    s = SoundSink(player=[])
    with caplog.at_level(logging.WARNING, "emgpipe.alerts"):
        assert s.send(ALERT) is False and s.send(ALERT) is False
    assert len([r for r in caplog.records if "no sound player" in r.getMessage()]) == 1
    s.close()


def test_find_player_per_os():
    have = {"afplay", "aplay"}
    which = lambda n: f"/usr/bin/{n}" if n in have else None  # noqa: E731
    assert find_player("darwin", which) == ["/usr/bin/afplay"]
    assert find_player("linux", which) == ["/usr/bin/aplay", "-q"]
    assert find_player("win32", which) is None                 # winsound
    assert find_player("linux", lambda n: None) == []


def test_desktop_command_per_os():
    which = lambda n: f"/bin/{n}"  # noqa: E731
    lin = desktop_command("Calf cramp", "stretch", "linux", which)
    assert lin == ["/bin/notify-send", "-u", "critical", "-a", "emgpipe", "Calf cramp", "stretch"]
    mac = desktop_command('Say "x"', "it's", "darwin", which)
    assert mac[:2] == ["/bin/osascript", "-e"] and mac[2] == 'display notification "it\'s" with title "Say \\"x\\""'
    win = desktop_command("T", "it's", "win32", which)
    assert win[0] == "/bin/powershell" and "'it''s'" in win[-1] and "ToastNotificationManager" in win[-1]
    assert desktop_command("T", "b", "linux", lambda n: None) is None


def test_desktop_runs_the_notifier_or_degrades(tmp_path, caplog):
    got = tmp_path / "args.json"
    script = tmp_path / "notify-send"
    script.write_text(f"#!{sys.executable}\nimport json, sys\njson.dump(sys.argv[1:], open({str(got)!r}, 'w'))\n")
    script.chmod(0o755)
    ok = DesktopSink(platform="linux", which=lambda n: str(script) if n == "notify-send" else None)
    if sys.platform.startswith("win"):
        pytest.skip("a script as notify-send needs a POSIX shebang")
    assert ok.send(ALERT)
    args = json.loads(got.read_text())
    assert args[-2] == "Calf cramp (left) - stretch now" and "stand facing a wall" in args[-1]
    none = DesktopSink(platform="linux", which=lambda n: None)
    with caplog.at_level(logging.WARNING, "emgpipe.alerts"):
        assert not none.send(ALERT) and not none.send(ALERT)
    assert len([r for r in caplog.records if "no desktop notifier" in r.getMessage()]) == 1


class FakeBridge:
    def __init__(self):
        self.buzzes = []

    def send_buzz(self, ms, strength=255):
        self.buzzes.append((ms, strength))
        return True


def test_haptic_buzzes_through_the_bridge():
    b = FakeBridge()
    s = HapticSink(b, ms=600)
    assert s.send(ALERT) and s.send(REMINDER)
    assert b.buzzes == [(600, 255), (300, 255)]
    HapticSink(b, ms=100, strength=80).send(ALERT)
    assert b.buzzes[-1] == (100, 80)
    with pytest.raises(ConfigError, match="bridge"):
        HapticSink(object())


# ----------------------------------------------------------------------------- webhook

class Hook:
    """A local HTTP server answering with scripted status codes (or hanging)."""

    def __init__(self, script):
        self.script = list(script)
        self.bodies, self.paths, self.headers = [], [], []
        hook = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.bodies.append(json.loads(body))
                hook.paths.append(self.path)
                hook.headers.append(dict(self.headers))
                what = hook.script.pop(0) if hook.script else 200
                if what == "hang":
                    time.sleep(1.0)
                    what = 200
                self.send_response(what)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.handle_error = lambda *a: None   # a client that timed out is expected
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T0/SECRET-TOKEN?key=abc"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook(request):
    h = Hook(getattr(request, "param", ()))
    yield h
    h.close()


def test_webhook_posts_json(hook):
    s = WebhookSink(hook.url, headers={"Authorization": "Bearer s3cret"})
    assert s.send(ALERT)
    b = hook.bodies[0]
    assert b["source"] == "emgpipe" and b["kind"] == "onset" and b["channel"] == "calf_left"
    assert b["alert_s"] == 101.5 and b["headline"] == "Calf cramp (left) - stretch now"
    assert hook.paths[0] == "/services/T0/SECRET-TOKEN?key=abc"
    assert hook.headers[0]["Authorization"] == "Bearer s3cret"


@pytest.mark.parametrize("hook", [(500, 503)], indirect=True)
def test_webhook_retries_server_errors(hook, caplog):
    with caplog.at_level(logging.INFO, "emgpipe.alerts"):
        assert WebhookSink(hook.url, retries=2, backoff_s=0.01).send(ALERT)
    assert len(hook.bodies) == 3
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "retry 1 of 2" in text and "SECRET" not in text and "key=abc" not in text


@pytest.mark.parametrize("hook", [(404,)], indirect=True)
def test_webhook_client_error_is_final(hook, caplog):
    assert not WebhookSink(hook.url, retries=3, backoff_s=0.01).send(ALERT)
    assert len(hook.bodies) == 1
    assert any("refused the alert (HTTP 404)" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("hook", [("hang", "hang")], indirect=True)
def test_webhook_times_out_and_gives_up_without_leaking_secrets(hook, caplog):
    s = WebhookSink(hook.url, timeout_s=0.2, retries=1, backoff_s=0.01, headers={"X-Token": "s3cret"})
    t0 = time.perf_counter()
    with caplog.at_level(logging.DEBUG, "emgpipe.alerts"):
        assert not s.send(ALERT)
    assert time.perf_counter() - t0 < 1.5
    assert s.n_attempts == 2
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "failed after 2 attempt(s)" in text and f"127.0.0.1:{hook.server.server_port}/..." in text
    assert "SECRET" not in text and "s3cret" not in text


def test_webhook_unreachable_and_bad_url():
    port = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    url = f"http://127.0.0.1:{port.server_port}/x"
    port.server_close()                        # nothing listens there now
    assert not WebhookSink(url, retries=1, backoff_s=0.01, timeout_s=0.5).send(ALERT)
    with pytest.raises(ConfigError, match="http"):
        WebhookSink("ftp://example.org/x")


# ----------------------------------------------------------------------------- command

def test_command_gets_placeholders_stdin_and_env(tmp_path):
    out = tmp_path / "out.json"
    code = ("import json, os, sys; json.dump({'argv': sys.argv[1:], 'stdin': json.load(sys.stdin), "
            "'env': os.environ['EMGPIPE_ALERT_CHANNEL']}, open(sys.argv[1], 'w'))")
    s = CommandSink([sys.executable, "-c", code, str(out), "{kind}", "{headline}", "{alert_s}"])
    assert s.send(ALERT)
    got = json.loads(out.read_text())
    assert got["argv"][1:] == ["onset", "Calf cramp (left) - stretch now", "101.5"]
    assert got["stdin"]["channel"] == "calf_left" and got["env"] == "calf_left"


def test_command_failures_are_logged_not_raised(caplog):
    assert not CommandSink([sys.executable, "-c", "import sys; sys.exit(3)"]).send(ALERT)
    assert not CommandSink([sys.executable, "-c", "import time; time.sleep(5)"], timeout_s=0.3).send(ALERT)
    assert not CommandSink(["/no/such/program-emgpipe"]).send(ALERT)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "exited with 3" in text and "within 0.3 s" in text and "could not start" in text
    with pytest.raises(ConfigError, match=r"unknown placeholder \{password\}"):
        CommandSink(["x", "{password}"])
    with pytest.raises(ConfigError, match="non-empty list"):
        CommandSink("echo hi")
