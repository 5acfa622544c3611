"""Run `onewindow server` as a child process (the demo, benchmarks and system tests use it)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM it when the parent dies, however it dies.
    (Linux ties this to the thread that started the child: start servers from a long-lived thread.)"""
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the parent's own clean-up is all there is


class ServerChild:
    """`onewindow server` in its own process; its log lines are kept (and written to `log_path`)."""

    def __init__(self, broker_url: str, db: str | Path, config: str | Path, always_open: bool = True,
                 log_path: str | Path | None = None, extra_args: list[str] | None = None):
        self.args = [sys.executable, "-m", "cli", "server", "--broker", broker_url, "--db", str(db),
                     "-c", str(config)] + (["--always-open"] if always_open else []) + (extra_args or [])
        self.log_path = Path(log_path) if log_path else None
        self.proc: subprocess.Popen | None = None
        self.lines: list[str] = []  # every line every run of the server logged
        self._ready = threading.Event()

    def start(self, timeout: float = 20.0) -> "ServerChild":
        self._ready.clear()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(self.args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                                     env=env, start_new_session=True, preexec_fn=_die_with_parent)
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
        if not self._ready.wait(timeout):
            self.stop()
            raise RuntimeError("the server did not get ready:\n" + "\n".join(self.lines[-20:]))
        return self

    def _read(self, proc: subprocess.Popen) -> None:
        out = open(self.log_path, "a", encoding="utf-8") if self.log_path else None
        try:
            for line in proc.stderr:
                self.lines.append(line.rstrip())
                if out:
                    out.write(line)
                    out.flush()
                if "server ready" in line:
                    self._ready.set()
        finally:
            if out:
                out.close()

    def kill(self) -> None:
        """SIGKILL, as a crash or power cut would."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
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
