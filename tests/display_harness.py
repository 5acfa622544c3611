"""Runs the real hall display (Kivy, offscreen) against a real Mosquitto in this process and writes what
happened to a JSON file. Started by tests/test_display_app.py in a subprocess (one Kivy window per
process). Usage: python tests/display_harness.py SCENARIO LAYOUT OUT_DIR IMAGES_DIR

The site's retained state comes from `HallPublisher`: the sample county hall's windows and business types
in the payload shapes of docs/PROTOCOL.md, republished whenever it (re)connects, as the queue server does.
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from broker.mosquitto import ManagedBroker  # noqa: E402
from display.app import SIZES, Hall, configure_kivy, make_app  # noqa: E402
from onewindow.mqtt import MqttTransport  # noqa: E402
from onewindow.topics import Topics  # noqa: E402
from tests.support import county_site  # noqa: E402

DAY = "2026-11-23"
STATES = ["calling", "serving", "serving", "idle", "calling", "serving", "paused", "serving", "closed",
          "serving", "idle", "rating"]


class HallPublisher:
    """Publishes a county hall's retained state and its calls, like the queue server does."""

    def __init__(self, settings):
        self.site = county_site()
        self.topics = Topics(self.site.site_id)
        self.calls: list[dict] = []
        self.notice = {"text_zh": "中午 12:00-13:30 部分窗口午休，请耐心等候；异地就医备案可在手机上办理。",
                       "text_en": "Some windows close for lunch 12:00-13:30. Out-of-area registration can be done online."}
        for i, (number, window) in enumerate([("B014", 4), ("A021", 2), ("C007", 5), ("D003", 7), ("A022", 1)]):
            self.calls.insert(0, self.call(number, window, minute=i))
        self.t = MqttTransport(settings, self.site.site_id, client_id="fake-server", role="server",
                               on_connected=self.republish, retry_max=0.5)

    def call(self, number: str, window: int, minute: int = 30) -> dict:
        name = self.site.window(window).name
        return {"ticket": f"{self.site.site_id}:{DAY}:{number}", "number": number, "window": window,
                "window_name": name, "calls": 1, "recall": False, "at": f"{DAY}T09:{minute:02d}:00+08:00",
                "text_zh": f"请 {number} 号到 {window} 号窗口办理",
                "text_en": f"Number {number}, please go to window {window}"}

    def windows(self) -> list[dict]:
        out = []
        for i, w in enumerate(self.site.windows):
            state = STATES[i % len(STATES)]
            number = next((c["number"] for c in self.calls if c["window"] == w.number), None)
            out.append({"window": w.number, "name": w.name, "state": state,
                        "number": number if state in ("calling", "serving") else None})
        return out

    def republish(self) -> None:
        s = self.site
        pub = lambda topic, payload: self.t.publish(topic, {"v": 1, **payload}, qos=1, retain=True)  # noqa: E731
        pub(self.topics.site, {"site": s.site_id, "name": s.name, "name_en": s.name_en, "service_day": DAY,
                               "timezone": s.timezone,
                               "windows": [{"window": w.number, "name": w.name, "serves": list(w.serves)}
                                           for w in s.windows]})
        for i, bt in enumerate(s.business_types):
            pub(self.topics.queue(bt.prefix), {"business_type": bt.prefix, "name": bt.name, "name_en": bt.name_en,
                                               "open": bt.prefix != "F", "waiting": [12, 5, 8, 17, 3, 0][i % 6],
                                               "estimated_wait_min": [24.5, 6.0, 18.2, 41.0, 9.4, None][i % 6]})
        for w in self.windows():
            pub(self.topics.window(w["window"]), {"window": w["window"], "name": w["name"], "state": w["state"],
                                                  "ticket": {"number": w["number"]} if w["number"] else None})
        self.publish_display()

    def publish_display(self) -> None:
        self.t.publish(self.topics.display, {"v": 1, "site": self.site.site_id, "name": self.site.name,
                                             "service_day": DAY, "calls": self.calls[:10],
                                             "windows": self.windows(), "notice": self.notice},
                       qos=1, retain=True)

    def announce(self, number: str, window: int) -> None:
        c = self.call(number, window)
        self.calls.insert(0, c)
        self.t.publish(self.topics.calls, {"v": 1, **c}, qos=1)
        self.publish_display()


def screenshot(window, path: Path) -> None:
    made = window.screenshot(name=str(path.with_suffix("")) + "-.png")
    shutil.move(made, path)


def scenario(app, hall, publisher, broker, layout: str, images: Path, facts: dict):
    """A generator: each `yield` lets Kivy draw a frame (the driver advances it every 50 ms)."""
    from kivy.core.window import Window

    root = app.root_widget
    root.marquee.speed = 0
    root.headline.pulse = lambda *args: None
    start = time.monotonic()

    def wait(condition, limit: float):
        t0 = time.monotonic()
        while not condition() and time.monotonic() - t0 < limit:
            yield
        return time.monotonic() - t0

    whole = lambda: (not app.view.connection_lost and len(app.view.windows) == 12  # noqa: E731
                     and len(app.view.queues) == 6 and app.view.headline is not None)
    yield from wait(whole, 15)
    facts["whole_at_start"] = whole()
    facts["start_s"] = time.monotonic() - start
    from display.paint import TEXTURES

    for _ in range(3):  # the first frames drawn
        yield
    rendered, row_glyphs = TEXTURES.rendered, root.recent.cells[0].glyphs
    sent = time.monotonic()
    publisher.announce("A023", 3)
    yield from wait(lambda: root.headline.number.text == "A023", 5)
    facts["call_shown_s"] = time.monotonic() - sent
    facts["call_refresh_s"] = app.shown_at - sent
    for _ in range(3):
        yield
    # What the call cost in text rendering: only its new texts; the recent rows moved down one row and
    # show the textures they (or the row above) drew before.
    facts["texts_rendered_by_the_call"] = TEXTURES.rendered - rendered
    facts["recent_row_reused_its_texture"] = root.recent.cells[1].glyphs is row_glyphs
    facts["headline_box"] = [*root.headline.pos, *root.headline.size]
    facts["headline"] = {"number": root.headline.number.text, "window": root.headline.window.text,
                         "window_en": root.headline.window_en.text, "highlighted": app.view.highlighted,
                         "colour": list(root.headline._colour.rgba)}
    facts["recent"] = [c.text for c in root.recent.cells if c.text]
    facts["windows"] = [r.text for r in root.windows.rows if r.text]
    facts["queues"] = [(n.text, w.text, t.text) for n, w, t in root.queues.cells if n.text]
    facts["notice"] = root.marquee.label.text
    facts["clock"] = root.top_bar.clock.text
    shot = images / f"hall-display-{layout}.png"
    screenshot(Window, shot)
    facts["screenshot"] = str(shot)
    if layout != "landscape":
        return
    broker.stop()
    down = time.monotonic()
    yield from wait(lambda: app.view.connection_lost, 10)
    facts["lost_mark_s"] = time.monotonic() - down
    facts["lost_mark_text"] = root.top_bar.lost.text
    facts["kept_headline"] = root.headline.number.text
    screenshot(Window, images / "hall-display-connection-lost.png")
    publisher.calls.insert(0, publisher.call("C008", 5))  # called while the display was cut off
    broker.start()
    up = time.monotonic()
    model_whole = threading.Thread(target=watch_model, args=(hall, up, facts), daemon=True)
    model_whole.start()
    yield from wait(lambda: whole() and root.headline.number.text == "C008", 10)
    facts["screen_whole_after_restart_s"] = time.monotonic() - up
    model_whole.join(10)
    facts["after_restart"] = {"lost": app.view.connection_lost, "headline": root.headline.number.text,
                              "windows": len(app.view.windows)}


def watch_model(hall, since: float, facts: dict) -> None:
    """How long after the broker came back the display's model was connected and whole again
    (polled off the UI thread, so a slow software-rendered frame does not hide it)."""
    while time.monotonic() - since < 10:
        v = hall.model.view()
        if not v.connection_lost and len(v.windows) == 12 and v.headline and v.headline.number == "C008":
            facts["whole_after_restart_s"] = time.monotonic() - since
            return
        time.sleep(0.005)


def main() -> int:
    name, layout, out_dir, images = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
    configure_kivy(layout, fullscreen=False, size=SIZES[layout])
    from kivy.clock import Clock

    state_dir = tempfile.mkdtemp(prefix="onewindow-broker-")
    broker = ManagedBroker(state_dir, port=0, host="127.0.0.1", autosave_seconds=1).start()
    publisher = HallPublisher(broker.settings)
    publisher.t.start()
    statuses: list = []
    publisher.t.subscribe(publisher.topics.device_status("+"), lambda topic, payload: statuses.append(json.loads(payload)))
    hall = Hall(broker.settings, publisher.site.site_id, speak=False)
    # The same picture every run: a fixed time, the notice standing still, the highlight not breathing.
    hall.now = lambda: datetime(2026, 11, 23, 9, 31, tzinfo=ZoneInfo("Asia/Shanghai"))
    app = make_app(hall, layout)
    facts: dict = {"scenario": name, "layout": layout}
    steps = None

    def drive(dt):
        nonlocal steps
        if steps is None:
            steps = scenario(app, hall, publisher, broker, layout, images, facts)
        try:
            next(steps)
        except StopIteration:
            app.stop()
            return False
        except Exception as exc:  # report, never hang
            facts["error"] = repr(exc)
            app.stop()
            return False

    hall.start()
    Clock.schedule_interval(drive, 0.05)
    try:
        app.run()
    finally:
        hall.stop()
        publisher.t.stop()
        broker.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
        facts["device_status"] = statuses[-1] if statuses else None
        (out_dir / f"{name}.json").write_text(json.dumps(facts, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
