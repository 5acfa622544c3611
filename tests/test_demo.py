"""`onewindow demo` runs a whole hall with no configuration and stops every child cleanly."""
from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest


def children_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid,ppid"], capture_output=True, text=True).stdout
    return [int(p) for p, pp in (line.split() for line in out.splitlines()[1:]) if int(pp) == pid]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "zombie" not in f.read().lower()
    except OSError:
        return False


def start_demo(tmp_path, *extra, env=None):
    return subprocess.Popen([sys.executable, "-m", "cli", "demo", "--speed", "100", "--no-view",
                             "--state-dir", str(tmp_path / "demo"), "--seed", "1", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(env or os.environ, PYTHONUNBUFFERED="1"))


def read_until(proc, pattern: str, lines: list[str], timeout: float = 60) -> re.Match | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            return None
        lines.append(line)
        m = re.search(pattern, line)
        if m:
            return m
    return None


def stop_demo(proc) -> str:
    proc.send_signal(signal.SIGINT)  # Ctrl-C
    rest, _ = proc.communicate(timeout=40)
    return rest


def kill_leftovers(proc) -> None:
    if proc.poll() is None:  # a failed check must not leave the demo (and its broker) running
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def post(opener, url: str, body: dict, csrf: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", **({"X-CSRF-Token": csrf} if csrf else {})}
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with opener.open(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def sign_in(url: str, **body):
    """(HTTP status, reply, opener holding the session cookie)."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    return (*post(opener, f"{url}/api/login", body), opener)


def take_a_number(state, broker_url: str, prefix: str = "B") -> str:
    """What a person at the on-screen kiosk does, as that kiosk (its credential from the registry)."""
    from onewindow.broker import BrokerSettings, read_credentials
    from onewindow.client import QueueClient
    from onewindow.mqtt import MqttTransport

    creds = read_credentials(state / "broker" / "security" / "devices" / "kiosk-1.conf")
    settings = BrokerSettings.from_url(broker_url, username=creds["username"], password=creds["password"])
    with MqttTransport(settings, "demo-county", "test-person", role="kiosk") as transport:
        reply = QueueClient(transport, "demo-county", "test-person", timeout=5).issue(prefix, kiosk="kiosk-1")
    assert reply["ok"], reply
    return reply["ticket"]["number"]


def test_the_demo_runs_a_hall_with_its_console_and_ctrl_c_stops_every_child(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    proc = start_demo(tmp_path, env=env)
    lines: list[str] = []
    try:
        m = read_until(proc, r"web console: (http://127\.0\.0\.1:\d+)/", lines)
        assert m, "".join(lines[-30:])
        url = m.group(1)
        assert read_until(proc, r"no screen here", lines), "".join(lines[-30:])
        banner = "".join(lines)
        assert "user clerk1, password onewindow or PIN 1111" in banner and "user manager" in banner
        with urllib.request.urlopen(f"{url}/login", timeout=10) as resp:
            assert resp.status == 200
        broker_url = re.search(r"broker (mqtt://127\.0\.0\.1:\d+)", banner).group(1)
        status, reply, clerk = sign_in(url, username="clerk1", pin="1111", window=1)  # window 1 is left to a person
        assert status == 200, reply
        assert sign_in(url, username="manager", password="onewindow")[0] == 200
        assert sign_in(url, username="manager", password="wrong-one")[0] == 401
        theirs = re.search(r"  ([A-Z]) .*: only you serve it", banner).group(1)
        number = take_a_number(tmp_path / "demo", broker_url, theirs)  # a person at the kiosk ...
        status, reply = post(clerk, f"{url}/api/clerk/call", {"ticket": number}, csrf=reply["csrf"])
        assert status == 200 and reply["ticket"]["number"] == number, reply  # ... called from the clerk page
        server_pid = int((tmp_path / "demo" / "server.pid").read_text())
        os.kill(server_pid, signal.SIGKILL)  # a child that dies is started again
        assert read_until(proc, r"the queue server exited", lines), "".join(lines[-30:])
        m = read_until(proc, r"issued \d+, served ([3-9]|\d\d+)", lines)
        assert m, "simulated people got no tickets called:\n" + "".join(lines[-30:])
        assert int((tmp_path / "demo" / "server.pid").read_text()) != server_pid
        children = children_of(proc.pid)
        names = {pid: open(f"/proc/{pid}/cmdline").read().replace("\0", " ") for pid in children}
        assert any("mosquitto" in n for n in names.values()), names
        assert any(" server " in n for n in names.values()), names
        assert any(" console " in n for n in names.values()), names
        rest = stop_demo(proc)
        assert proc.returncode == 0, rest
        assert "stopping the demo" in rest
        time.sleep(0.3)
        left = [names[pid] for pid in children if alive(pid)]
        assert not left, f"children left running: {left}"
    finally:
        kill_leftovers(proc)
    state = tmp_path / "demo"
    assert (state / "demo-county.db").exists()
    for log in ("server.log", "console.log", "demo.log", "broker/mosquitto.log"):
        assert (state / log).stat().st_size > 0, log


def test_a_child_that_dies_is_restarted_and_reported(tmp_path):
    from demo.children import Child, Children

    reports: list[str] = []
    children = Children(report=reports.append, poll=0.05, backoff=0.01).watch()
    try:
        child = children.add(Child("sleeper", ["--version"], tmp_path / "sleeper.log"))
        child.argv = [sys.executable, "-c", "import time; time.sleep(0.2)"]  # dies on its own, again and again
        deadline = time.monotonic() + 20
        while not child.given_up and time.monotonic() < deadline:
            time.sleep(0.05)
        assert child.restarts >= 3 and child.given_up, (child.restarts, reports)
        assert any("restarting" in r for r in reports) and "keeps stopping" in reports[-1]
    finally:
        children.stop()
    assert not child.alive


def start_xvfb():
    """Xvfb on the first free display number from :140; (process, ':N')."""
    for n in range(140, 240):
        if os.path.exists(f"/tmp/.X{n}-lock") or os.path.exists(f"/tmp/.X11-unix/X{n}"):
            continue
        xvfb = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while xvfb.poll() is None and time.monotonic() < deadline:
            if os.path.exists(f"/tmp/.X11-unix/X{n}"):
                return xvfb, f":{n}"
            time.sleep(0.05)
        xvfb.kill()
        xvfb.wait()
    raise RuntimeError("no free X display number for Xvfb")


def lit_share(image, box) -> float:
    """Share of the pixels in `box` that are not black (a window drawn there, not an empty screen)."""
    region = image.crop(box).convert("L").resize((64, 64))
    return sum(region.histogram()[17:]) / (64 * 64)


def test_under_a_screen_the_kiosk_and_the_hall_display_open_as_windows(tmp_path):
    from pathlib import Path

    from PIL import Image

    from demo import screens

    xvfb, display = start_xvfb()
    audio = tmp_path / "hall-speaker.raw"  # SDL's disk audio driver: what the speakers would play
    env = dict(os.environ, DISPLAY=display, SDL_AUDIODRIVER="disk", SDL_DISKAUDIOFILE=str(audio))
    env.pop("WAYLAND_DISPLAY", None)
    proc = start_demo(tmp_path, "--speed", "20", env=env)
    lines: list[str] = []
    shot = tmp_path / "screen.png"
    try:
        assert read_until(proc, r"open as windows", lines), "".join(lines[-30:])
        banner = "".join(lines)
        url = re.search(r"web console: (http://127\.0\.0\.1:\d+)/", banner).group(1)
        broker_url = re.search(r"broker (mqtt://127\.0\.0\.1:\d+)", banner).group(1)
        theirs = re.search(r"  ([A-Z]) .*: only you serve it", banner).group(1)
        names = {}
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            names = {pid: open(f"/proc/{pid}/cmdline").read().replace("\0", " ") for pid in children_of(proc.pid)
                     if alive(pid)}
            subprocess.run(["import", "-window", "root", str(shot)], env=env, timeout=20, check=True)
            image = Image.open(shot)
            kw, kh = screens.KIOSK_SIZE
            dw, dh = screens.DISPLAY_SIZE
            if lit_share(image, (0, 40, kw, 40 + kh)) > 0.5 and lit_share(image, (kw, 40, kw + dw, 40 + dh)) > 0.5:
                break
            time.sleep(1)
        assert lit_share(image, (0, 40, kw, 40 + kh)) > 0.5, "the kiosk window did not come up"
        assert lit_share(image, (kw, 40, kw + dw, 40 + dh)) > 0.5, "the hall display window did not come up"
        kiosk = [p for p, n in names.items() if " kiosk " in n]
        hall_display = [p for p, n in names.items() if " display " in n and "--voice-dir" in n]
        assert kiosk and hall_display, names
        assert "--mute" not in names[hall_display[0]]  # the display speaks
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (audio.exists() and audio.read_bytes().strip(b"\0")):
            time.sleep(0.5)
        assert audio.exists() and audio.read_bytes().strip(b"\0"), "the hall display did not speak"
        time.sleep(4)  # more windows open and a few calls on the display before the picture for the README
        number = take_a_number(tmp_path / "demo", broker_url, theirs)  # a person takes a number, then calls it
        status, me, clerk = sign_in(url, username="clerk1", pin="1111", window=1)
        assert status == 200, me
        status, reply = post(clerk, f"{url}/api/clerk/call", {"ticket": number}, csrf=me["csrf"])
        assert status == 200, reply
        time.sleep(1.5)  # the display shows the person's call at window 1
        subprocess.run(["import", "-window", "root", str(shot)], env=env, timeout=20, check=True)
        Path("docs/images").mkdir(parents=True, exist_ok=True)
        Image.open(shot).crop((0, 0, kw + dw, 40 + max(kh, dh))).save("docs/images/demo-screen.png")
        rest = stop_demo(proc)
        assert proc.returncode == 0, rest
        time.sleep(0.3)
        left = [names[p] for p in names if alive(p)]
        assert not left, f"children left running: {left}"
    finally:
        kill_leftovers(proc)
        xvfb.terminate()
        xvfb.wait(10)


def test_simulated_clerks_leave_the_peoples_windows_and_their_business_type_and_serve_every_other():
    from demo.hall import SimulatedHall, pick_windows, reserved_type
    from onewindow.config import load, sample_path

    site = load(sample_path())
    free = [w for w in site.windows if w.number != 1]
    chosen = pick_windows(free, 8)
    assert len(chosen) == 8 and 1 not in chosen
    assert {p for w in site.windows if w.number in chosen for p in w.serves} == {b.prefix for b in site.business_types}
    assert pick_windows(free, None) == [w.number for w in free]
    sim = SimulatedHall(site, None, windows=8, human_windows=(1,))
    theirs = sim.human_type
    assert theirs == reserved_type(site, (1,)) and theirs in site.window(1).serves
    simulated = [w for w in site.windows if w.number in sim.window_numbers]
    assert 1 not in sim.window_numbers and all(theirs not in w.serves for w in simulated)
    assert {p for w in simulated for p in w.serves} == {b.prefix for b in site.business_types} - {theirs}
    assert SimulatedHall(site, None).human_type is None
