"""The demo's child processes (console, kiosk, hall display): started, watched, restarted, stopped.

Each child runs in its own session (Ctrl-C in the terminal reaches only the demo, which stops them in
order), writes its output to a log file in the demo's state dir, and gets SIGTERM from Linux if the demo
dies without cleaning up (PR_SET_PDEATHSIG). A child that exits while the demo runs is logged and
restarted after a pause that grows with each quick death; one that keeps dying is given up on and
reported, and the demo goes on without it.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger("onewindow.demo")

MAX_QUICK_DEATHS = 5  # deaths within QUICK seconds of a start, in a row, before giving up
QUICK = 20.0


def die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the process that started it dies, however it dies."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def credential_args(path: Path | None) -> list[str]:
    """`--credentials FILE` for a child on the locked-down broker; nothing on an open one."""
    return ["--credentials", str(path)] if path is not None else []


class Child:
    """One `python -m cli ...` child: `start()`, `alive`, `stop()`; output appended to `log_path`."""

    def __init__(self, name: str, args: list[str], log_path: Path, env: dict[str, str] | None = None):
        self.name = name
        self.argv = [sys.executable, "-m", "cli", *args]
        self.log_path = Path(log_path)
        self.env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0
        self.restarts = 0
        self.quick_deaths = 0
        self.given_up = False

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> "Child":
        with open(self.log_path, "ab") as out:
            out.write(f"--- {time.strftime('%H:%M:%S')} starting {self.name}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         env=self.env, start_new_session=True, preexec_fn=die_with_parent)
        self.started_at = time.monotonic()
        return self

    def stop(self, timeout: float = 8.0) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s (pid %d) did not stop in %.0f s: killed", self.name, proc.pid, timeout)
            proc.kill()
            proc.wait(5)

    def tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class Children:
    """The demo's children and a thread that restarts the ones that die. `report(text)` tells the person."""

    def __init__(self, report=None, poll: float = 0.5, backoff: float = 0.5):
        self.children: list[Child] = []
        self.report = report or (lambda text: print(text, file=sys.stderr, flush=True))
        self.poll = poll
        self.backoff = backoff  # the first restart's pause; doubled per quick death in a row, up to 16x
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, child: Child) -> Child:
        """Start `child` (from the watcher's thread once it runs: PDEATHSIG follows the starting thread)."""
        with self._lock:
            self.children.append(child.start())
        return child

    def watch(self) -> "Children":
        self._thread = threading.Thread(target=self._watch, name="demo-children", daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(self.poll):
            with self._lock:
                for child in self.children:
                    if not child.given_up and not child.alive and not self._stop.is_set():
                        self._died(child)

    def _died(self, child: Child) -> None:
        code = child.proc.returncode if child.proc else None
        quick = time.monotonic() - child.started_at < QUICK
        child.quick_deaths = child.quick_deaths + 1 if quick else 1
        if child.quick_deaths > MAX_QUICK_DEATHS:
            child.given_up = True
            self.report(f"demo: {child.name} keeps stopping (exit code {code}); going on without it. "
                        f"Its log: {child.log_path}")
            log.error("%s given up after %d quick exits:\n%s", child.name, child.quick_deaths, child.tail())
            return
        delay = self.backoff * 2 ** min(child.quick_deaths - 1, 4)
        log.warning("%s exited (code %s); restarting in %.1f s. Last lines:\n%s", child.name, code, delay,
                    child.tail())
        self.report(f"demo: {child.name} stopped (exit code {code}); restarting it (log: {child.log_path})")
        if self._stop.wait(delay):
            return
        child.restarts += 1
        child.start()

    def stop(self) -> None:
        """Stop the watcher, then every child, the last started first."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(15)
        with self._lock:
            for child in reversed(self.children):
                child.stop()

    def pids(self) -> list[int]:
        return [c.pid for c in self.children if c.alive]
