"""`onewindow demo` runs a whole site with no configuration and stops every child cleanly."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time


def children_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid,ppid,pgid,args"], capture_output=True, text=True).stdout
    found = []
    for line in out.splitlines()[1:]:
        parts = line.split(None, 3)
        if len(parts) == 4 and (int(parts[1]) == pid):
            found.append(int(parts[0]))
    return found


def test_the_demo_runs_a_hall_and_ctrl_c_stops_every_child(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "cli", "demo", "--speed", "300", "--no-view",
                             "--state-dir", str(tmp_path / "demo"), "--seed", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        lines = []
        deadline = time.monotonic() + 60
        served = 0
        children = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"issued (\d+), served (\d+)", line)
            if m and int(m.group(2)) >= 3:
                served = int(m.group(2))
                children = children_of(proc.pid)
                break
        assert served >= 3, "".join(lines[-30:])
        assert len(children) >= 2, "the demo should run mosquitto and the server as child processes"
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        rest, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, rest
        assert "stopping the demo" in rest
        time.sleep(0.2)
        alive = [pid for pid in children if os.path.exists(f"/proc/{pid}") and
                 "zombie" not in open(f"/proc/{pid}/status").read().lower()]
        assert not alive, f"children left running: {alive}"
    finally:
        if proc.poll() is None:  # a failed check must not leave the demo (and its broker) running
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
    assert (tmp_path / "demo" / "demo-county.db").exists()
