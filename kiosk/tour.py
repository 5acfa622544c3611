"""A scripted walk through the real kiosk app with simulated touches: UI tests, screenshots, benchmark.

    python -m kiosk.tour --local --shots docs/images          # in-process hall; screenshots of every screen
    python -m kiosk.tour --broker mqtt://127.0.0.1:1883 --printer tcp://127.0.0.1:9100 --out run.json
    python -m kiosk.tour --broker ... --printer ... --script bench --repeat 50

Runs headless unless SDL_VIDEODRIVER is set (`offscreen` by default; `x11` under xvfb-run). Touches go
through Kivy's input pipeline at each button's centre, as a finger would. Writes one JSON object (`--out`):
the screens seen, the numbers shown, every button's size, tap -> number times and the first frame time.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

STARTED = time.time()
ROOT = Path(__file__).resolve().parents[1]


def kivy_env(video: str = "offscreen") -> dict:
    """The environment for a Kivy child process without a screen (or under Xvfb with video="x11")."""
    from kiosk.app import headless_env

    return {**os.environ, **headless_env(video, home=tempfile.mkdtemp(prefix="onewindow-kivy-")),
            "KIVY_LOG_MODE": "PYTHON", "PYTHONPATH": str(ROOT)}


def run_tour(args: list[str], out: Path, video: str = "offscreen", wrapper: list[str] | None = None,
             timeout: float = 60) -> dict:
    """Run `python -m kiosk.tour ARGS --out OUT` in its own process (Kivy keeps one window per process);
    its JSON result, with `launched_at` (wall clock) and the process's exit code and stderr tail."""
    import subprocess

    cmd = [*(wrapper or []), sys.executable, "-m", "kiosk.tour", *args, "--out", str(out)]
    launched = time.time()
    proc = subprocess.run(cmd, cwd=ROOT, env=kivy_env(video), capture_output=True, text=True, timeout=timeout)
    if not out.exists():
        raise RuntimeError(f"the kiosk tour wrote no result (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(out.read_text(encoding="utf-8"))
    result.update(launched_at=launched, returncode=proc.returncode, stderr_tail=proc.stderr[-3000:])
    return result


def _args(argv):
    p = argparse.ArgumentParser(prog="python -m kiosk.tour")
    p.add_argument("--local", action="store_true", help="an in-process broker, server and fake printer")
    p.add_argument("--broker", help="MQTT broker URL of a running site (with --printer)")
    p.add_argument("--printer", help="the kiosk's printer URL (a fake printer started by the caller)")
    p.add_argument("--config", help="site configuration (default: the sample county hall)")
    p.add_argument("--script", default="tour", choices=["tour", "basic", "bench", "smoke"])
    p.add_argument("--repeat", type=int, default=30, help="bench: numbers to take")
    p.add_argument("--shots", help="folder for screenshots (kiosk-<screen>-<lang>.png)")
    p.add_argument("--out", help="write the result JSON here (default: stdout)")
    p.add_argument("--size", default="1280x800")
    return p.parse_args(argv)


def _touch_class():
    from kivy.base import EventLoop
    from kivy.input.motionevent import MotionEvent

    class Finger(MotionEvent):
        """One touch at window coordinates (what kivy.tests.common.UnitTestTouch does, without pytest)."""

        def __init__(self, x, y):
            win = EventLoop.window
            super().__init__("Finger", 77, {"x": x / (win.width - 1.0), "y": y / (win.height - 1.0)},
                             is_touch=True, type_id="touch")
            self.profile = ["pos"]

        def depack(self, args):
            self.sx, self.sy = args["x"], args["y"]
            super().depack(args)

        def tap(self):
            EventLoop.post_dispatch_input("begin", self)
            EventLoop.post_dispatch_input("end", self)

    return Finger


class Tour:
    def __init__(self, app, rt, args, fake=None, server_client=None):
        self.app, self.rt, self.args, self.fake, self.q = app, rt, args, fake, server_client
        self.result = {"screens": [], "numbers": [], "targets": [], "tap_to_number_ms": [], "shots": [],
                       "errors": []}
        self.Finger = _touch_class()
        self._issued_at = self._shown_at = self._awaiting = None
        inner = rt.client.on_issued

        def issued(intent, ticket):  # when the server's reply arrived (for the benchmark's breakdown)
            self._issued_at = time.perf_counter()
            inner(intent, ticket)
        rt.client.on_issued = issued

    # -------------------------------------------------------------- steps (generators yield waits)
    def shown(self, name):
        return lambda: self.app.view is not None and self.app.view.shown is not None and self.app.view.shown.name == name

    def tap(self, action):
        b = self.app.view.buttons.get(action)
        if b is None:
            raise AssertionError(f"no button {action!r} on screen {self.app.view.shown.name!r}")
        x, y = b.to_window(*b.center)
        self.Finger(x, y).tap()

    def record(self, label):
        view = self.app.view
        s = view.shown
        self.result["screens"].append({"name": s.name, "lang": s.lang, "large": s.large, "title": s.title,
                                       "big": s.big, "label": label, "lines": [ln.text for ln in s.lines],
                                       "buttons": {b.action: b.label for b in s.buttons + s.nav},
                                       "banner": s.banner, "drawn": view.drawn()})
        for action, b in view.buttons.items():
            self.result["targets"].append({"screen": label, "action": action, "w": b.width, "h": b.height})
        if s.big:
            self.result["numbers"].append(s.big)
        if self.args.shots:
            from kivy.core.window import Window

            folder = Path(self.args.shots)
            folder.mkdir(parents=True, exist_ok=True)
            made = Window.screenshot(name=str(folder / f"kiosk-{label}.png"))
            if made:
                final = folder / f"kiosk-{label}.png"
                shutil.move(made, final)
                self.result["shots"].append(str(final))

    def take(self, label=None):
        """Tap "take a number": the time until a frame showing the number (or why there is none) was
        presented (the window's flip after that redraw), then wait until the ticket printed and the
        final screen is drawn."""
        t0 = time.perf_counter()
        self._issued_at = None
        self._shown_at = None
        self._awaiting = t0
        self.tap("take")
        yield lambda: self._shown_at is not None
        self.result["tap_to_number_ms"].append((self._shown_at - t0) * 1000)
        if self._issued_at is not None:
            self.result.setdefault("tap_to_issued_ms", []).append((self._issued_at - t0) * 1000)
        yield lambda: self.app.view.shown.name in ("result", "refused", "failed", "unavailable", "uncertain")
        self.result.setdefault("tap_to_printed_ms", []).append((time.perf_counter() - t0) * 1000)
        outcome = self.rt.presenter.outcome
        self.result.setdefault("desk_ms", []).append(round(outcome.elapsed * 1000, 1) if outcome else None)
        if outcome is not None and outcome.status != "issued":
            self.result.setdefault("not_issued", []).append(f"{outcome.status}:{outcome.reason}")
        yield 1
        if label:
            self.record(label)

    def on_flip(self, *_):
        """A frame was presented: if it is the first one with the number on it, note the time."""
        shown = self.app.view.shown if self.app.view is not None else None
        if self._awaiting is not None and shown is not None and (
                shown.big or shown.name in ("refused", "failed", "unavailable")):
            self._shown_at, self._awaiting = time.perf_counter(), None

    def go(self, action, name, label=None):
        self.tap(action)
        yield self.shown(name)
        yield 1
        if label:
            self.record(label)

    def basic(self):
        yield self.shown("home")
        yield 1
        self.record("home-zh")
        yield from self.go("type:A", "items", "items-zh")
        yield from self.go("item:CB-01", "notice", "notice-zh")
        yield from self.take("result-zh")
        yield from self.go("done", "home")

    def tour(self):
        if self.q is not None:  # a clerk at window 2, so the result shows an expected wait
            self.q.window("sign_in", 2, "wang")
        yield from self.basic()
        yield from self.go("lang", "home", "home-en")
        yield from self.go("type:A", "items", "items-en")
        yield from self.go("item:CB-01", "notice", "notice-en")
        yield from self.take("result-en")
        yield from self.go("done", "home")
        self.rt.presenter.identified(card_id="110101195005010014", name="张三丰")
        yield from self.go("type:D", "items")
        yield from self.go("item:HB:2036023002", "notice", "notice-identified-zh")
        yield from self.go("large", "notice", "notice-large-zh")
        yield from self.go("home", "home", "home-large-zh")
        yield from self.go("large", "home")
        yield from self.keyboard_scan()
        if self.q is not None:
            self.q.request("set_business_type", business_type="C", open=False)
            yield lambda: "暂停" in self.app.view.buttons["type:C"].text
            yield 1
            self.record("home-closed-zh")
            yield from self.go("type:C", "items")
            yield from self.take("refused-zh")
            yield from self.go("lang", "refused", "refused-en")
            yield from self.go("home", "home")
            yield from self.go("lang", "home")
        if self.fake is not None:
            self.fake.paper_out = True
            yield lambda: self.app.view.shown.name == "out_of_service"
            yield 1
            self.record("out-of-service-zh")
            yield from self.go("lang", "out_of_service", "out-of-service-en")
            self.fake.paper_out = False
            yield lambda: self.app.view.shown.name == "home"
            yield from self.go("lang", "home")
            yield from self.printer_faults()

    def keyboard_scan(self):
        """A QR scanner in keyboard mode types an appointment code and Enter into the window."""
        from kivy.core.window import Window

        code = "onewindow:appointment?ref=R20261123-7&start=2026-11-23T10:00:00%2B08:00&bt=A&item=CB-02"
        for ch in code:
            Window.dispatch("on_textinput", ch)
        Window.dispatch("on_key_down", 13, 40, None, [])
        yield lambda: self.app.view.shown.name == "notice" and "R20261123-7" in self.app.view.shown.banner
        yield 1
        self.record("appointment-zh")
        yield from self.go("forget", "notice")
        yield from self.go("home", "home")

    def printer_faults(self):
        """A printer that refuses the ticket (voided) and one that runs out of paper in the middle of it."""
        yield from self.go("type:B", "items")
        self.fake.cover_open = True  # opened a moment ago: the kiosk has not polled it yet
        yield from self.take("failed-zh")
        yield from self.go("lang", "failed", "failed-en")
        yield from self.go("lang", "failed")
        self.fake.cover_open = False
        yield from self.go("done", "home")
        yield lambda: self.app.view.shown.name == "home" and self.app.view.buttons.get("type:B") is not None
        yield from self.go("type:B", "items")
        self.fake.paper_runs_out_after = 40
        yield from self.take("uncertain-zh")
        yield from self.go("lang", "uncertain", "uncertain-en")
        self.fake.paper_runs_out_after = None
        self.fake.paper_out = False

    def bench(self):
        yield self.shown("home")
        yield lambda: self.app.view.buttons.get("type:B") is not None
        yield 1
        self.result["home_ready_at"] = time.time()  # the home screen with the hall's business types
        for _ in range(self.args.repeat):  # the ticket only
            yield from self.go("type:B", "items")
            yield from self.take()
            yield from self.go("done", "home")
        ticket_only, self.result["tap_to_number_ms"] = self.result["tap_to_number_ms"], []
        for _ in range(max(1, self.args.repeat // 2)):  # the ticket and the item's notice slip
            yield from self.go("type:B", "items")
            yield from self.go(f"item:{self.rt.presenter._items_of('B')[0]['code']}", "notice")
            yield from self.take()
            yield from self.go("done", "home")
        self.result["tap_to_number_slip_ms"] = self.result["tap_to_number_ms"]
        self.result["tap_to_number_ms"] = ticket_only

    def smoke(self):
        yield self.shown("home")
        yield 1
        self.record("home-zh")
        yield from self.go("type:A", "items", "items-zh")

    # -------------------------------------------------------------- running the script in Kivy's clock
    def run(self, script, timeout=20.0):
        from kivy.clock import Clock

        steps = getattr(self, script)()
        state = {"wait": None, "frames": 0, "since": time.monotonic()}

        def step(dt):
            try:
                while True:
                    if state["frames"] > 0:
                        state["frames"] -= 1
                        return
                    if state["wait"] is not None:
                        if not state["wait"]():
                            if time.monotonic() - state["since"] > timeout:
                                raise AssertionError(f"timed out on screen {self.app.view.shown.name!r}")
                            return
                        state["wait"] = None
                    nxt = next(steps)
                    state["since"] = time.monotonic()
                    if isinstance(nxt, int):
                        state["frames"] = nxt
                    else:
                        state["wait"] = nxt
            except StopIteration:
                self.app.stop()
                return False
            except Exception as exc:  # noqa: BLE001 - reported in the JSON, the test fails on it
                import traceback
                self.result["errors"].append(f"{exc!r}\n{traceback.format_exc()}")
                self.app.stop()
                return False

        Clock.schedule_interval(step, 0)


def _local_hall(site, printer_fake):
    from onewindow.transport import LocalBroker
    from queue_server.server import QueueServer
    from queue_server.store import Store

    broker = LocalBroker()
    st = broker.transport(f"server-{site.site_id}", "server", site.site_id)
    server = QueueServer(site, Store(Path(tempfile.mkdtemp(prefix="onewindow-tour-")) / "q.db", site.site_id,
                                     site.timezone), st, always_open=True)
    server.start()
    st.start()

    def tick() -> None:  # the server's idle wake-ups, as the MQTT transport's loop gives them
        while st.connected:
            st.tick()
            time.sleep(0.1)
    import threading

    threading.Thread(target=tick, daemon=True, name="server-tick").start()
    return broker, server


def main(argv=None) -> int:
    args = _args(argv)
    from kiosk.app import headless_env

    for k, v in headless_env(os.environ.get("SDL_VIDEODRIVER", "offscreen")).items():
        os.environ.setdefault(k, v)
    from hardware.fakes.printer import FakePrinter
    from hardware.printing.config import printer_from_url
    from hardware.printing.station import PrintStation
    from kiosk.app import make_app, prepare
    from kiosk.runtime import KioskRuntime
    from kiosk.settings import KioskSettings
    from onewindow import config
    from onewindow.client import QueueClient

    w, h = (int(x) for x in args.size.split("x"))
    settings = KioskSettings(id="kiosk-tour", screen_px=(w, h), fullscreen=False)
    site = config.load(args.config or config.sample_path())
    fake = None
    if args.local:
        fake = FakePrinter(paper_mm=80, transport="tcp", name="tour").start()
        broker, server = _local_hall(site, fake)
        transport = broker.transport(settings.id, "kiosk", site.site_id).start()
        manager = broker.transport("tour-manager", "manager", site.site_id).start()
        printer_url = fake.url
    else:
        from onewindow.broker import BrokerSettings
        from onewindow.mqtt import MqttTransport

        bs = BrokerSettings.from_url(args.broker)
        transport = MqttTransport(bs, site.site_id, settings.id, role="kiosk")
        manager = MqttTransport(bs, site.site_id, "tour-manager", role="manager").start()
        printer_url = args.printer
    station = PrintStation(printer_from_url(printer_url, printer_id="main"), poll_interval=0.3)
    rt = KioskRuntime(site, settings, transport, stations=[station], outbox_path=None).start()
    q = QueueClient(manager, site.site_id, "tour-manager")
    prepare(settings, fullscreen=False, size=(w, h))
    app = make_app(rt.presenter, settings)
    tour = Tour(app, rt, args, fake=fake, server_client=q)
    from kivy.clock import Clock

    def first_frame(dt):
        tour.result["first_frame_s"] = time.time() - STARTED
        tour.result["first_frame_at"] = time.time()
    Clock.schedule_once(first_frame, 0)
    tour.run(args.script)
    from kivy.core.window import Window

    Window.bind(on_flip=tour.on_flip)
    app.run()
    tour.result["redraw_ms"] = [round(x, 1) for x in app.redraw_ms]
    tour.result["px_per_mm"] = settings.px_per_mm
    tour.result["min_target_px"] = settings.min_target_px
    rt.stop()
    station.stop()
    manager.stop()
    if fake is not None:
        fake.stop()
    text = json.dumps(tour.result, ensure_ascii=False)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        print(text)
    return 1 if tour.result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
