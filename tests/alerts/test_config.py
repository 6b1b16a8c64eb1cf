"""Sinks chosen by flags and a TOML file."""
import argparse

import pytest

from emgpipe.alerts import add_alert_arguments, build_alert_manager, build_sinks, load_config
from emgpipe.alerts.config import SINKS
from emgpipe.alerts.sinks import (CommandSink, DesktopSink, HapticSink, SoundSink, TerminalSink,
                                  WebhookSink)
from emgpipe.errors import ConfigError, UsageError


def parse(*argv):
    p = argparse.ArgumentParser()
    add_alert_arguments(p)
    return p.parse_args(list(argv))


def names(sinks):
    return [type(s).__name__ for s in sinks]


CONFIG = """
reminder_s = 45
refractory_s = 5
[terminal]
bell = false
[desktop]
urgency = "normal"
[webhook]
url = "https://hooks.example.org/services/T/B/secret"
timeout_s = 2
retries = 4
headers = { Authorization = "Bearer x" }
[command]
argv = ["my-alert", "{channel}"]
enabled = false
"""


def test_default_is_terminal_and_none_is_nothing():
    assert names(build_sinks(parse())) == ["TerminalSink"]
    assert build_sinks(parse("--alert", "none")) == []
    with pytest.raises(UsageError, match="--alert 'beeper': unknown sink"):
        build_sinks(parse("--alert", "beeper"))
    with pytest.raises(UsageError, match="cannot be combined"):
        build_sinks(parse("--alert", "none,terminal"))


def test_flags_choose_sinks():
    s = build_sinks(parse("--alert", "terminal,sound", "--alert", "desktop", "--no-bell",
                          "--webhook-url", "http://127.0.0.1:9/x", "--alert-command", "notify 'a b' {headline}"))
    assert names(s) == ["TerminalSink", "SoundSink", "DesktopSink", "WebhookSink", "CommandSink"]
    assert s[0].bell is False
    assert s[4].argv == ["notify", "a b", "{headline}"]
    for x in s:
        x.close()


def test_config_file_sections_and_options(tmp_path):
    f = tmp_path / "alerts.toml"
    f.write_text(CONFIG)
    s = build_sinks(parse("--alerts-config", str(f)))
    assert names(s) == ["TerminalSink", "DesktopSink", "WebhookSink"]   # command: enabled = false
    assert s[0].bell is False and s[1].urgency == "normal"
    assert s[2].timeout_s == 2 and s[2].retries == 4 and s[2].headers["Authorization"] == "Bearer x"
    # --alert picks among them, with the file's options
    s = build_sinks(parse("--alerts-config", str(f), "--alert", "webhook,command"))
    assert names(s) == ["WebhookSink", "CommandSink"] and s[1].argv == ["my-alert", "{channel}"]
    m = build_alert_manager(parse("--alerts-config", str(f)))
    assert m.reminder_s == 45 and m.refractory_s == 5
    m.close()
    m = build_alert_manager(parse("--alerts-config", str(f), "--reminder-s", "0", "--alert", "none"))
    assert m.reminder_s is None and m.workers == []


@pytest.mark.parametrize("text, match", [
    ("[terminal\n", "not valid TOML"),
    ("[beeper]\n", "unknown section or key 'beeper'"),
    ("[webhook]\nurl = 'http://x'\npassword = 1\n", r"\[webhook\] unknown option 'password'"),
    ("reminder_s = -1\n", "reminder_s must be a non-negative"),
    ("terminal = 3\n", "must be a \\[terminal\\] table"),
])
def test_config_errors_name_the_file_and_key(tmp_path, text, match):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=match) as err:
        load_config(f)
    assert str(err.value).startswith(str(f))


def test_missing_pieces_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="--webhook-url"):
        build_sinks(parse("--alert", "webhook"))
    with pytest.raises(UsageError, match="--alert-command"):
        build_sinks(parse("--alert", "command"))
    with pytest.raises(ConfigError, match="bridge"):
        build_sinks(parse("--alert", "haptic"), bridge=None)
    with pytest.raises(ConfigError, match="cannot read"):
        build_sinks(parse("--alerts-config", str(tmp_path / "nope.toml")))


def test_haptic_gets_the_bridge():
    class Bridge:
        def send_buzz(self, ms):
            return True
    s = build_sinks(parse("--alert", "haptic"), bridge=Bridge())
    assert isinstance(s[0], HapticSink)


def test_every_sink_class_is_configurable():
    assert {cls for cls, _ in SINKS.values()} == {
        TerminalSink, SoundSink, DesktopSink, HapticSink, WebhookSink, CommandSink}
