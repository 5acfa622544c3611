"""Hall display: call -> display updated, through Mosquitto, and the frame time while a call animates.

    python -m bench display [--calls 120] [--interval 0.15] [--layout landscape] [--size WxH] [--finish]

Runs a managed Mosquitto, a publisher that behaves like the queue server (the sample county hall's
retained site, window and queue states; per call an `event/call` and the retained `state/display`) and the
real Kivy display in this process (SDL offscreen unless a display is set). For each call: from the publish
to (a) the headline label holding the new number (`call_to_label`) and (b) the end of the next frame drawn
after it (`call_to_frame`). Per frame, while a fresh call's highlight breathes and the notice scrolls:
`frame_interval`, the time between two frames, and `frame_work`, from the end of the clock's sleep through
the clock's callbacks, text rendering, layout and GL calls to the end of the flip. Software GL draws in its
own threads after the calls return: only with `--finish` (glFinish before each flip) is `frame_work` what a
frame really costs. Prints figures, then one JSON line.
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
                    help="glFinish before each flip: `frame_work` is then what a frame really costs (software GL "
                         "otherwise draws on in its own threads after the frame is counted); it holds the UI "
                         "thread meanwhile, so this run's latencies are worse than the app's")
    ap.add_argument("--slowest", type=int, default=0, metavar="N",
                    help="list the N slowest frames: clock callbacks, layout and text, GL (with --finish)")
    return ap.parse_args(argv)


def call_payload(i: int) -> dict:
    number = f"A{i % 1000:03d}" if i < 1000 else f"A{i}"
    window = 1 + i % 12
    return {"v": 1, "ticket": f"{SITE}:2026-11-23:{number}", "number": number, "window": window,
            "window_name": f"{window}号窗口", "calls": 1, "recall": False, "at": "2026-11-23T09:00:00+08:00",
            "text_zh": f"请 {number} 号到 {window} 号窗口办理", "text_en": f"Number {number}"}


def publish_hall(pub, topics) -> None:
    """The sample county hall's retained state, as the queue server publishes it: every part of the
    screen has text (windows, queues), so a frame draws what a hall's frame draws."""
    from onewindow import config

    site = config.load(config.sample_path("county-hall"))
    retain = lambda topic, payload: pub.publish(topic, {"v": 1, **payload}, qos=1, retain=True)  # noqa: E731
    retain(topics.site, {"site": SITE, "name": site.name, "name_en": site.name_en, "service_day": "2026-11-23",
                         "timezone": site.timezone,
                         "windows": [{"window": w.number, "name": w.name, "serves": list(w.serves)}
                                     for w in site.windows]})
    for i, bt in enumerate(site.business_types):
        retain(topics.queue(bt.prefix), {"business_type": bt.prefix, "name": bt.name, "name_en": bt.name_en,
                                         "open": True, "waiting": 5 + 3 * i, "estimated_wait_min": 6.0 + 4 * i})
    states = ["serving", "idle", "serving", "paused", "serving", "closed"]
    for i, w in enumerate(site.windows):
        state = states[i % len(states)]
        retain(topics.window(w.number), {"window": w.number, "name": w.name, "state": state,
                                         "ticket": {"number": f"B{w.number:03d}"} if state == "serving" else None})


class Recorder:
    """Publishes the calls on the Kivy clock and records when each shows and what each frame costs."""

    def __init__(self, app, pub, topics, args, gl_finish):
        self.app, self.pub, self.topics, self.args, self.gl_finish = app, pub, topics, args, gl_finish
        self.sent: dict[str, float] = {}
        self.label_at: dict[str, float] = {}
        self.frame_at: dict[str, float] = {}
        self.frames: list[dict] = []  # per frame: tick (end of the clock's sleep), draw, end; texts rendered
        self._pending: list[str] = []
        self._recent: list[dict] = []
        self._i, self._next, self._done_at = 0, 0.0, None
        self._tick = self._before = self._draw = None
        self._rendered = 0
        self._slept = 0.0

    def hook(self, clock, window, textures) -> None:
        """Time each frame from the end of the clock's sleep to the end of its flip."""
        idle, flip, tick_draw = clock.idle, window.flip, clock.tick_draw

        def timed_idle():
            current = idle()
            self._tick = time.perf_counter()
            return current

        def timed_tick_draw():
            self._before = time.perf_counter()  # the clock's callbacks are done: layout, text to render
            tick_draw()

        def timed_flip():
            if self.args.finish:
                self.gl_finish()  # software GL may still be drawing: wait until the frame is really drawn
            flip()
            self.on_flip(textures.rendered)

        clock.idle, window.flip, clock.tick_draw = timed_idle, timed_flip, timed_tick_draw
        window.fbind("on_draw", self.on_draw)

    def on_draw(self, *_):
        self._draw = time.perf_counter()

    def on_flip(self, rendered: int):
        now = time.perf_counter()
        slept = self.app.slept - self._slept  # the app's own wait for the frame's time: not work
        self.frames.append({"tick": (self._tick or now) + slept, "before": self._before or now,
                            "draw": self._draw or now, "end": now, "texts": rendered - self._rendered})
        self._rendered, self._slept = rendered, self.app.slept
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
    frames = rec.frames[len(rec.frames) // 10:]  # not the first frames (window creation, first textures)
    intervals = [(b["end"] - a["end"]) * 1000 for a, b in zip(frames, frames[1:])]
    work = [(f["end"] - f["tick"]) * 1000 for f in frames]
    cpu = [(f["draw"] - f["tick"]) * 1000 for f in frames]
    gl = [(f["end"] - f["draw"]) * 1000 for f in frames]
    new_text = [(f["end"] - f["tick"]) * 1000 for f in frames if f["texts"]]
    ms = lambda f, a, b: round((f[b] - f[a]) * 1000, 1)  # noqa: E731
    slowest = [{"work_ms": ms(f, "tick", "end"), "callbacks_ms": ms(f, "tick", "before"),
                "layout_text_ms": ms(f, "before", "draw"), "gl_ms": ms(f, "draw", "end"), "texts_rendered": f["texts"]}
               for f in sorted(frames, key=lambda f: f["tick"] - f["end"])[:args.slowest]]
    r = lambda v: round(v, 2)  # noqa: E731
    q = lambda v, p: r(quantile(v, p)) if v else None  # noqa: E731
    return {
        "bench": "display", "layout": args.layout, "size": f"{size[0]}x{size[1]}", "calls": args.calls,
        "calls_shown": len(rec.label_at), "calls_superseded_before_a_frame": args.calls - len(rec.label_at),
        "call_to_label_p50_ms": q(to_label, 0.5), "call_to_label_p99_ms": q(to_label, 0.99),
        "call_to_frame_p50_ms": q(to_frame, 0.5), "call_to_frame_p99_ms": q(to_frame, 0.99),
        "frame_work_p50_ms": q(work, 0.5), "frame_work_p99_ms": q(work, 0.99), "frame_work_max_ms": q(work, 1.0),
        "frame_interval_p50_ms": q(intervals, 0.5), "frame_interval_p99_ms": q(intervals, 0.99),
        "frame_cpu_p50_ms": q(cpu, 0.5), "frame_cpu_p99_ms": q(cpu, 0.99),
        "frame_gl_p50_ms": q(gl, 0.5), "frame_gl_p99_ms": q(gl, 0.99),
        "new_text_frames": len(new_text), "new_text_frame_work_p99_ms": q(new_text, 0.99),
        "frames": len(frames), "gl_finish": args.finish,
        "fps_mean": round(len(intervals) / max(1e-9, sum(intervals) / 1000), 1),
        "wall_s": round(wall, 1), "load_avg_1m": round(os.getloadavg()[0], 2),
        **({"slowest_frames": slowest} if slowest else {}),
    }


def show(result: dict) -> None:
    f = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
    print(f"display {result['layout']} {result['size']}: {result['calls_shown']}/{result['calls']} calls shown"
          f" (load average {result['load_avg_1m']})")
    print(f"  call -> label   p50 {f(result['call_to_label_p50_ms'])} ms  p99 {f(result['call_to_label_p99_ms'])} ms"
          "  (target p99 < 50 ms)")
    print(f"  call -> frame   p50 {f(result['call_to_frame_p50_ms'])} ms  p99 {f(result['call_to_frame_p99_ms'])} ms")
    finish = ("target p99 < 33 ms; until glFinish" if result["gl_finish"]
              else "not the drawing: software GL draws on after it; see --finish")
    print(f"  frame work      p50 {f(result['frame_work_p50_ms'])} ms  p99 {f(result['frame_work_p99_ms'])} ms"
          f"  max {f(result['frame_work_max_ms'])} ms  ({finish})")
    print(f"    of which CPU  p50 {f(result['frame_cpu_p50_ms'])} ms  p99 {f(result['frame_cpu_p99_ms'])} ms"
          "  (clock callbacks, text, layout)")
    print(f"    and GL        p50 {f(result['frame_gl_p50_ms'])} ms  p99 {f(result['frame_gl_p99_ms'])} ms")
    print(f"    frames with new text: {result['new_text_frames']}, p99 {f(result['new_text_frame_work_p99_ms'])} ms")
    for frame in result.get("slowest_frames", []):
        print("    slow frame: " + ", ".join(f"{k} {v}" for k, v in frame.items()))
    print(f"  frame interval  p50 {f(result['frame_interval_p50_ms'])} ms  p99 {f(result['frame_interval_p99_ms'])} ms"
          f"  (target p99 < 33 ms; mean {result['fps_mean']} fps over {result['frames']} frames)")
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
    from kivy.core.window import Window
    from kivy.graphics.opengl import glFinish

    from display.paint import TEXTURES

    state_dir = tempfile.mkdtemp(prefix="bench-broker-")
    broker = ManagedBroker(state_dir, port=0, host="127.0.0.1").start()
    pub = MqttTransport(broker.settings, SITE, client_id="bench-server", role="server").start()
    publish_hall(pub, Topics(SITE))
    hall = Hall(broker.settings, SITE, speak=False).start()
    app = make_app(hall, args.layout)
    rec = Recorder(app, pub, Topics(SITE), args, glFinish)
    rec.hook(Clock, Window, TEXTURES)
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
