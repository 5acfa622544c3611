"""Docs that cannot drift: what the code defines must be in docs/PROTOCOL.md and the README.

Each list is derived from the code, not written here: topics from `Topics`, commands and their
arguments from the server's command table, error codes from the server's sources, event types from
the engine, `onewindow` subcommands from the CLI's own parser. Each check is also run against a copy of
the document with one entry taken out, to show that it would notice.
"""
from __future__ import annotations

import argparse
import inspect
import re
from pathlib import Path

import pytest

from cli.main import build_parser
from onewindow.topics import Topics
from queue_server.commands import SCHEMAS
from queue_server.engine import Engine

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL = (ROOT / "docs" / "PROTOCOL.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
NOT_TOPICS = {"site_id", "root", "reply_prefix", "command_of", "sender_and_command"}  # parts of topics and parsing, not topics


# --- what the code defines -------------------------------------------------------------------------

def topics() -> list[str]:
    """Every topic `Topics` builds, with a {name} placeholder for each argument (filters left out)."""
    t = Topics("{site}")
    found = []
    for name, value in inspect.getmembers(t):
        if name.startswith("_") or name in NOT_TOPICS or name.endswith("_filter"):
            continue
        if callable(value):
            value = value(*(f"{{{p}}}" for p in inspect.signature(value).parameters))
        found.append(value)
    return sorted(set(found))


def commands() -> list[str]:
    return sorted(SCHEMAS)


def arguments() -> list[str]:
    return sorted({field for schema in SCHEMAS.values() for field in schema})


def error_codes() -> list[str]:
    codes = set()
    for path in (ROOT / "queue_server").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        codes |= set(re.findall(r'(?:Rejected|BadRequest|refuse_all)\(\s*"([a-z_]+)"', text))
        codes |= set(re.findall(r'error_reply\([^,()]+,\s*"([a-z_]+)"', text))
        codes |= set(re.findall(r'"code": "([a-z_]+)"', text))
    return sorted(codes)


def event_types() -> list[str]:
    return sorted(Engine.EVENT_TYPES)


def print_failure_reasons() -> list[str]:
    from hardware.printing.connections import REASONS
    return sorted(REASONS)


def cli_commands() -> list[str]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(sub.choices)


# --- the checks ------------------------------------------------------------------------------------

# kind: (what the code defines, the document, how an entry is written there)
CHECKS = {
    "topics": (topics, "docs/PROTOCOL.md", "`{}`"),
    "commands": (commands, "docs/PROTOCOL.md", "`{}`"),
    "arguments": (arguments, "docs/PROTOCOL.md", "`{}`"),
    "error codes": (error_codes, "docs/PROTOCOL.md", "`{}`"),
    "event types": (event_types, "docs/PROTOCOL.md", "`{}`"),
    "print failure reasons": (print_failure_reasons, "docs/PROTOCOL.md", "`{}`"),
    "onewindow commands": (cli_commands, "README.md", "`onewindow {}`"),
}
DOCS = {"docs/PROTOCOL.md": PROTOCOL, "README.md": README}


def mention(kind: str, entry: str) -> str:
    """The regular expression of an entry as the document writes it; a topic's placeholders may be
    named differently there (`{n}` for `{number}`)."""
    pattern = re.escape(CHECKS[kind][2].format(entry))
    return re.sub(r"\\\{[a-z_]+\\\}", r"\\{[a-z_]+\\}", pattern) if kind == "topics" else pattern


def undocumented(kind: str, found: list[str], doc: str) -> list[str]:
    return [entry for entry in found if not re.search(mention(kind, entry), doc)]


@pytest.mark.parametrize("kind", CHECKS)
def test_everything_the_code_defines_is_documented(kind):
    derive, doc, _ = CHECKS[kind]
    found = derive()
    assert found, f"no {kind} found in the code: the derivation is broken"
    missing = undocumented(kind, found, DOCS[doc])
    assert not missing, f"{kind} missing from {doc}: {missing}"


@pytest.mark.parametrize("kind", CHECKS)
def test_each_check_notices_a_missing_entry(kind):
    derive, doc, _ = CHECKS[kind]
    for entry in (derive()[0], derive()[-1]):
        forgotten = re.sub(mention(kind, entry), "", DOCS[doc])  # as if someone forgot to write it
        assert undocumented(kind, [entry], forgotten) == [entry]


def test_the_derivations_see_what_a_reader_expects():
    assert {"onewindow/{site}/cmd/{client}/{command}", "onewindow/{site}/state/window/{number}",
            "onewindow/{site}/event/call", "onewindow/{site}/presence/{client_id}"} <= set(topics())
    assert {"issue", "call_next", "snapshot"} <= set(commands())
    assert {"unknown_command", "too_large", "store_unavailable", "bad_json"} <= set(error_codes())
    assert {"server", "broker", "demo", "check-config"} <= set(cli_commands())
    assert undocumented("topics", ["onewindow/{site}/state/window/{number}"], "`onewindow/{site}/state/window/{n}`") == []


def test_every_onewindow_command_has_help():
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    helps = {action.dest: action.help for action in sub._choices_actions}
    missing = [name for name in sub.choices if not helps.get(name)]
    assert not missing, f"commands without a help line: {missing}"
