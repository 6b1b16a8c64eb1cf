"""The command line registers only the command it runs (issue 15: registering every
command imported the alert sinks and the device emulators, ~0.15 s of every replay);
``emgpipe --help`` and a misspelt command still see them all."""
from __future__ import annotations

import subprocess
import sys

import pytest

from emgpipe.cli import COMMANDS, build_parser, command_of


@pytest.mark.parametrize("argv, name", [(["replay", "x.csv"], "replay"), (["-v", "live", "--help"], "live"),
                                        (["--debug", "night"], "night"), (["--help"], None),
                                        (["bogus", "replay"], None), ([], None)])
def test_the_command_is_the_first_word_that_is_not_an_option(argv, name):
    assert command_of(argv) == name


def test_a_replay_does_not_import_the_alerts_or_the_emulators():
    code = ("import sys; from emgpipe.cli import build_parser, command_of; "
            "argv = ['replay', 'x.csv', '--events-out', 'o.csv']; "
            "a = build_parser(command_of(argv)).parse_args(argv); "
            "print(a.command, sorted(m for m in ('emgpipe.alerts', 'emgpipe.devices.bridge.emulator', "
            "'emgpipe.devices.cyton.emulator') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["replay", "[]"]


def test_help_and_errors_list_every_command(capsys):
    p = build_parser()
    assert set(p._subparsers._group_actions[0].choices) == set(COMMANDS)
    from emgpipe.cli import main
    with pytest.raises(SystemExit) as exc:           # one command's help: its own options
        main(["label", "--help"])
    assert exc.value.code == 0 and "usage: emgpipe label" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["bogus"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'bogus'" in err and all(c in err for c in COMMANDS)
