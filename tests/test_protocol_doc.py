"""docs/PROTOCOL.md cannot drift: every command, topic, event type and error code must be in it."""
from __future__ import annotations

import re
from pathlib import Path

from onewindow.topics import Topics
from queue_server.commands import SCHEMAS
from queue_server.engine import Engine

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "PROTOCOL.md").read_text(encoding="utf-8")


def documented(word: str) -> bool:
    return f"`{word}`" in DOC


def test_every_command_is_documented():
    missing = [c for c in SCHEMAS if not documented(c)]
    assert not missing, f"commands missing from docs/PROTOCOL.md: {missing}"


def test_every_command_argument_is_documented():
    missing = [f"{c}.{field}" for c, schema in SCHEMAS.items() for field in schema if not documented(field)]
    assert not missing, missing


def test_every_topic_is_documented():
    t = Topics("{site}")
    topics = [t.cmd("{command}", "{client}"), t.reply("{client}"), t.site, t.catalogue, t.window("{n}"),
              t.queue("{prefix}"), t.display, t.calls, t.log, t.print_events, t.presence("{client}"),
              t.device_status("{device}")]
    missing = [topic for topic in topics if not documented(topic)]
    assert not missing, missing


def test_every_stored_event_type_is_documented():
    missing = [e for e in Engine.EVENT_TYPES if not documented(e)]
    assert not missing, missing


def test_every_error_code_the_server_can_send_is_documented():
    codes = set()
    for path in (ROOT / "queue_server").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        codes |= set(re.findall(r'(?:Rejected|BadRequest)\(\s*"([a-z_]+)"', text))
        codes |= set(re.findall(r'"code": "([a-z_]+)"', text))
    assert len(codes) > 20
    missing = sorted(c for c in codes if not documented(c))
    assert not missing, missing


def test_every_print_failure_reason_is_documented():
    from hardware.printing.connections import REASONS
    missing = [r for r in REASONS if not documented(r)]
    assert not missing, missing
