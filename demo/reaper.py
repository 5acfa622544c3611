"""`python -m demo.reaper DEMO_PID PIDFILE MARK [PIDFILE MARK ...]`: stops what a dead demo left running.

The demo's Python children get SIGTERM from Linux when the demo dies (PR_SET_PDEATHSIG), but Mosquitto
drops to its own user at start, which clears that, and a child may hang while it shuts down. So the demo
starts this small watcher in a session of its own: when the demo's process is gone (SIGKILL, a crash), it
gives the children GRACE seconds to stop by themselves, then, in the order given, stops each process named
in a PIDFILE whose command line still holds its MARK: SIGTERM, then SIGKILL if it is still there after
GRACE seconds. On a clean stop the demo stops everything itself and then this watcher (SIGTERM).
"""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "zombie" not in f.read().lower()
    except OSError:
        return False


GRACE = 3.0


def leftover(pidfile: Path, mark: str) -> int | None:
    """The pid in `pidfile` if that process still runs and is the demo's (its command line holds `mark`)."""
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except (OSError, ValueError):
        return None
    return pid if mark in cmdline and alive(pid) else None


def stop(pid: int) -> None:
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + GRACE
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or len(argv) % 2 == 0:
        print(__doc__, file=sys.stderr)
        return 2
    watched = int(argv[0])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the demo, which stops us in turn
    while alive(watched):
        time.sleep(0.5)
    time.sleep(GRACE)
    for pidfile, mark in zip(argv[1::2], argv[2::2]):
        pid = leftover(Path(pidfile), mark)
        if pid is not None:
            print(f"demo {watched} ended without stopping pid {pid} ({mark}): stopping it", file=sys.stderr)
            stop(pid)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
