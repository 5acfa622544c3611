"""Run `onewindow server` as a real child process for system tests (it can be SIGKILLed)."""
from __future__ import annotations

from pathlib import Path

from onewindow.config import sample_path
from onewindow.process import ServerChild


class ServerProcess(ServerChild):
    """`open_site=True` (the default here): an anonymous test broker and clients named freely, so the
    server checks no roles (`--open`); pass False and `extra_args=["--credentials", FILE]` for a
    locked-down site."""

    def __init__(self, broker_url: str, db: Path, config: Path | None = None, always_open: bool = True,
                 open_site: bool = True, extra_args: list[str] | None = None, log_path: Path | None = None):
        super().__init__(broker_url, db, config or sample_path(), always_open=always_open, log_path=log_path,
                         extra_args=(["--open"] if open_site else []) + (extra_args or []))
