"""Hall display: call -> display updated, through Mosquitto, and the frame time while a call animates.

    python -m bench display [--calls 120] [--interval 0.15] [--layout landscape] [--size WxH] [--finish]

Runs a managed Mosquitto, a publisher that behaves like the queue server (an `event/call` and the
retained `state/display` for each call) and the real Kivy display in this process (SDL offscreen unless a
display is set). For each call: from the publish to (a) the headline label holding the new number
(`call_to_label`) and (b) the end of the next frame drawn after it (`call_to_frame`). Frame time: the
interval between frames while a fresh call's highlight breathes and the notice scrolls; with `--finish`,
also the real drawing time of each frame (`draw`). Prints figures, then one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time

from onewindow.stats import quantile

SITE = "bench-hall"


def parse(argv):
    ap = argparse.ArgumentParser(prog="python -m bench display", description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=120)
    ap.add_argument("--interval", type=float, default=0.15, help="seconds between calls")
    ap.add_argument("--layout", choices=("landscape", "portrait"), default="landscape")
    ap.add_argument("--size", default=None, help="window size WxH (default: the layout's 1080p)")
    ap.add_argument("--finish", action="store_true",
                    help="glFinish after each frame: `draw` is then the real drawing time (slows the app down)")
    return ap.parse_args(argv)


def call_payload(i: int) -> dict:
    number = f"A{i % 1000:03d}" if i < 1000 else f"A{i}"
    window = 1 + i % 12
    return {"v": 1, "ticket": f"{SITE}:2026-11-23:{number}", "number": number, "window": window,
            "window_name": f"{window}号窗口", "calls": 1, "recall": False, "at": "2026-11-23T09:00:00+08:00",
            "text_zh": f"请 {number} 号到 {window} 号窗口办理", "text_en": f"Number {number}"}


class Recorder:
    """Publishes the calls on the Kivy clock and records when each shows and each frame ends."""

    def __init__(self, app, pub, topics, args, gl_finish):
        self.app, self.pub, self.topics, self.args, self.gl_finish = app, pub, topics, args, gl_finish
        self.sent: dict[str, float] = {}
        self.label_at: dict[str, float] = {}
        self.frame_at: dict[str, float] = {}
        self.flips: list[float] = []
        self.draws: list[float] = []
        self._pending: list[str] = []
        self._recent: list[dict] = []
        self._i, self._next, self._done_at, self._draw_start = 0, 0.0, None, None

    def on_draw(self, *_):
        self._draw_start = time.perf_counter()

    def on_flip(self, *_):
        if self.args.finish:
            self.gl_finish()  # software GL draws asynchronously: wait for the frame really to be drawn
        now = time.perf_counter()
        self.flips.append(now)
        if self._draw_start is not None:
            self.draws.append((now - self._draw_start) * 1000)
        for n in self._pending:
            self.frame_at.setdefault(n, now)
        self._pending.clear()

    def watch(self, dt):
        number = self.app.root_widget.headline.number.text
        if number in self.sent and number not in self.label_at:
            self.label_at[number] = self.app.shown_at
            self._pending.append(number)

    def publish_next(self, dt):
        now = time.perf_counter()
        if self._i >= self.args.calls:
            if self._done_at is None:
                self._done_at = now
            elif now - self._done_at > 1.0:
                self.app.stop()
            return
        if now < self._next:
            return
        call = call_payload(self._i)
        self._recent = [call, *self._recent[:9]]
        self.sent[call["number"]] = time.perf_counter()
        self.pub.publish(self.topics.calls, call, qos=1)
        self.pub.publish(self.topics.display, {"v": 1, "site": SITE, "service_day": "2026-11-23", "calls": self._recent,
                                               "notice": "请保管好随身物品 Please keep your belongings with you"},
                         qos=1, retain=True)
        self._i += 1
        self._next = now + self.args.interval


def summarise(rec: Recorder, args, size, wall: float) -> dict:
    to_label = [(rec.label_at[n] - rec.sent[n]) * 1000 for n in rec.label_at]
    to_frame = [(rec.frame_at[n] - rec.sent[n]) * 1000 for n in rec.frame_at]
    skip = len(rec.flips) // 10  # the first frames (window creation, first textures)
    frames = [(b - a) * 1000 for a, b in zip(rec.flips[skip:], rec.flips[skip + 1:])]
    r = lambda v: round(v, 2)  # noqa: E731
    return {
        "bench": "display", "layout": args.layout, "size": f"{size[0]}x{size[1]}", "calls": args.calls,
        "calls_shown": len(rec.label_at), "calls_superseded_before_a_frame": args.calls - len(rec.label_at),
        "call_to_label_p50_ms": r(quantile(to_label, 0.5)), "call_to_label_p99_ms": r(quantile(to_label, 0.99)),
        "call_to_frame_p50_ms": r(quantile(to_frame, 0.5)), "call_to_frame_p99_ms": r(quantile(to_frame, 0.99)),
        "frame_time_p50_ms": r(quantile(frames, 0.5)), "frame_time_p99_ms": r(quantile(frames, 0.99)), "frames": len(frames),
        "draw_p50_ms": r(quantile(rec.draws[skip:], 0.5)), "draw_p99_ms": r(quantile(rec.draws[skip:], 0.99)),
        "gl_finish": args.finish, "fps_mean": round(len(frames) / max(1e-9, sum(frames) / 1000), 1),
        "wall_s": round(wall, 1), "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def show(result: dict) -> None:
    print(f"display {result['layout']} {result['size']}: {result['calls_shown']}/{result['calls']} calls shown")
    print(f"  call -> label  p50 {result['call_to_label_p50_ms']:.1f} ms  p99 {result['call_to_label_p99_ms']:.1f} ms"
          "  (target p99 < 50 ms)")
    print(f"  call -> frame  p50 {result['call_to_frame_p50_ms']:.1f} ms  p99 {result['call_to_frame_p99_ms']:.1f} ms")
    print(f"  frame interval p50 {result['frame_time_p50_ms']:.1f} ms  p99 {result['frame_time_p99_ms']:.1f} ms"
          f"  (target p99 < 33 ms; mean {result['fps_mean']} fps over {result['frames']} frames)")
    if result["gl_finish"]:
        print(f"  frame drawn    p50 {result['draw_p50_ms']:.1f} ms  p99 {result['draw_p99_ms']:.1f} ms"
              "  (from the start of a redraw until the GL work is finished)")
    print(json.dumps(result))


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    kivy_home = tempfile.mkdtemp(prefix="bench-kivy-")
    os.environ.setdefault("KIVY_HOME", kivy_home)

    from broker.mosquitto import ManagedBroker
    from display.app import SIZES, Hall, configure_kivy, make_app
    from onewindow.mqtt import MqttTransport
    from onewindow.topics import Topics

    size = tuple(int(x) for x in args.size.split("x")) if args.size else SIZES[args.layout]
    configure_kivy(args.layout, fullscreen=False, size=size)
    from kivy.clock import Clock
    from kivy.config import Config
    from kivy.core.window import Window
    from kivy.graphics.opengl import glFinish

    Config.set("graphics", "maxfps", "60")
    state_dir = tempfile.mkdtemp(prefix="bench-broker-")
    broker = ManagedBroker(state_dir, port=0, host="127.0.0.1").start()
    pub = MqttTransport(broker.settings, SITE, client_id="bench-server", role="server").start()
    hall = Hall(broker.settings, SITE, speak=False).start()
    app = make_app(hall, args.layout)
    rec = Recorder(app, pub, Topics(SITE), args, glFinish)
    Window.fbind("on_draw", rec.on_draw)
    Window.bind(on_flip=rec.on_flip)
    Clock.schedule_interval(rec.watch, 0)
    Clock.schedule_interval(rec.publish_next, 0.01)
    started = time.perf_counter()
    try:
        app.run()
    finally:
        hall.stop()
        pub.stop()
        broker.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
        shutil.rmtree(kivy_home, ignore_errors=True)
    result = summarise(rec, args, size, time.perf_counter() - started)
    show(result)
    # A call superseded by the next one before a frame showed it is not an error (the recent list has it).
    return 0 if rec.label_at else 1


if __name__ == "__main__":
    raise SystemExit(main())
