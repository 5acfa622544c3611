"""Run `onewindow server` as a real child process for system tests (it can be SIGKILLed)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from onewindow.config import sample_path


class ServerProcess:
    def __init__(self, broker_url: str, db: Path, config: Path | None = None, always_open: bool = True):
        self.args = [sys.executable, "-m", "onewindow.cli", "server", "--broker", broker_url, "--db", str(db),
                     "-c", str(config or sample_path())]
        if always_open:
            self.args.append("--always-open")
        self.proc: subprocess.Popen | None = None
        self.lines: list[str] = []  # everything every run of the server logged
        self._ready = threading.Event()

    def start(self, timeout: float = 15.0) -> "ServerProcess":
        self._ready.clear()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(self.args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                                     env=env)
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
        if not self._ready.wait(timeout):
            self.stop()
            raise RuntimeError("the server did not get ready:\n" + "\n".join(self.lines[-20:]))
        return self

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stderr:
            self.lines.append(line.rstrip())
            if "server ready" in line:
                self._ready.set()

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)

    def stop(self) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode if self.proc else None

    def wait_for_log(self, text: str, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return True
            time.sleep(0.02)
        return False
