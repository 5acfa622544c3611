"""Every process is a small command with --help."""
from __future__ import annotations

import subprocess
import sys

import pytest

from cli.main import build_parser

COMMANDS = ["demo", "server", "broker", "check-config", "print-sample", "what-if"]


def test_every_command_is_registered():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(COMMANDS) <= set(sub.choices)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    out = subprocess.run([sys.executable, "-m", "cli", command, "--help"], capture_output=True,
                         text=True, cwd="/")
    assert out.returncode == 0, out.stderr
    assert "usage: onewindow" in out.stdout and len(out.stdout) > 200


def test_check_config_names_the_key_and_the_problem(tmp_path):
    bad = tmp_path / "hall.toml"
    bad.write_text('[site]\nid = "Bad Id"\nname = "x"\n[hours]\nweekdays = ["9-5"]\n')
    out = subprocess.run([sys.executable, "-m", "cli", "check-config", "-c", str(bad)],
                         capture_output=True, text=True)
    assert out.returncode == 1
    assert "site.id: 'Bad Id': must match" in out.stdout
    assert "hours.weekdays[0]: '9': must be a time HH:MM" in out.stdout
