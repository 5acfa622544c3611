"""Run `onewindow server` as a real child process for system tests (it can be SIGKILLed)."""
from __future__ import annotations

from pathlib import Path

from onewindow.config import sample_path
from onewindow.process import ServerChild


class ServerProcess(ServerChild):
    def __init__(self, broker_url: str, db: Path, config: Path | None = None, always_open: bool = True):
        super().__init__(broker_url, db, config or sample_path(), always_open=always_open)
