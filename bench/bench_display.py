"""Hall display: call -> display updated, through Mosquitto, and the frame time while a call animates.

    python -m bench display [--calls 120] [--interval 0.15] [--layout landscape] [--size 1920x1080]

Runs a managed Mosquitto, a publisher that behaves like the queue server (an `event/call` and the
retained `state/display` for each call) and the real Kivy display in this process (SDL offscreen unless a
display is set). For each call: from the publish to (a) the headline label holding the new number
(`call_to_label`) and (b) the end of the next frame drawn after it (`call_to_frame`). Frame time: the
interval between frames while a fresh call's highlight breathes and the notice scrolls. Prints figures,
then one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench display", description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=120)
    ap.add_argument("--interval", type=float, default=0.15, help="seconds between calls")
    ap.add_argument("--layout", choices=("landscape", "portrait"), default="landscape")
    ap.add_argument("--size", default=None, help="window size WxH (default: the layout's 1080p)")
    ap.add_argument("--finish", action="store_true",
                    help="glFinish after each frame: `draw` is then the real drawing time (slows the app down)")
    args = ap.parse_args(argv)
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
    site = "bench-hall"
    topics = Topics(site)
    pub = MqttTransport(broker.settings, site, client_id="bench-server", role="server").start()
    hall = Hall(broker.settings, site, speak=False).start()
    app = make_app(hall, args.layout)
    sent: dict[str, float] = {}
    label_at: dict[str, float] = {}
    frame_at: dict[str, float] = {}
    flips: list[float] = []
    draws: list[float] = []  # on_draw until the frame is finished (glFinish)
    pending: list[str] = []
    recent: list[dict] = []
    state = {"i": 0, "next": 0.0, "done_at": None}

    def on_draw_start(*_):
        state["draw_start"] = time.perf_counter()

    def on_flip(*_):
        if args.finish:
            glFinish()  # software GL draws asynchronously: wait for the frame really to be drawn
        now = time.perf_counter()
        if state.get("draw_start"):
            draws.append((now - state["draw_start"]) * 1000)
        flips.append(now)
        for n in pending:
            frame_at.setdefault(n, now)
        pending.clear()

    def watch(dt):
        number = app.root_widget.headline.number.text
        if number in sent and number not in label_at:
            label_at[number] = app.shown_at
            pending.append(number)

    def publish_next(dt):
        now = time.perf_counter()
        if state["i"] >= args.calls:
            if state["done_at"] is None:
                state["done_at"] = now
            elif now - state["done_at"] > 1.0:
                app.stop()
            return
        if now < state["next"]:
            return
        i = state["i"]
        number = f"A{i % 1000:03d}" if i < 1000 else f"A{i}"
        call = {"v": 1, "ticket": f"{site}:2026-11-23:{number}", "number": number, "window": 1 + i % 12,
                "window_name": f"{1 + i % 12}号窗口", "calls": 1, "recall": False, "at": "2026-11-23T09:00:00+08:00",
                "text_zh": f"请 {number} 号到 {1 + i % 12} 号窗口办理", "text_en": f"Number {number}"}
        recent.insert(0, call)
        del recent[10:]
        sent[number] = time.perf_counter()
        pub.publish(topics.calls, call, qos=1)
        pub.publish(topics.display, {"v": 1, "site": site, "service_day": "2026-11-23", "calls": recent,
                                     "notice": "请保管好随身物品 Please keep your belongings with you"}, qos=1, retain=True)
        state["i"] += 1
        state["next"] = now + args.interval

    Window.fbind("on_draw", on_draw_start)
    Window.bind(on_flip=on_flip)
    Clock.schedule_interval(watch, 0)
    Clock.schedule_interval(publish_next, 0.01)
    started = time.perf_counter()
    try:
        app.run()
    finally:
        hall.stop()
        pub.stop()
        broker.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
        shutil.rmtree(kivy_home, ignore_errors=True)
    wall = time.perf_counter() - started
    to_label = [(label_at[n] - sent[n]) * 1000 for n in label_at]
    to_frame = [(frame_at[n] - sent[n]) * 1000 for n in frame_at]
    frames = [(b - a) * 1000 for a, b in zip(flips[len(flips) // 10:], flips[len(flips) // 10 + 1:])]
    result = {
        "bench": "display", "layout": args.layout, "size": f"{size[0]}x{size[1]}", "calls": args.calls,
        "calls_shown": len(label_at), "calls_superseded_before_a_frame": args.calls - len(label_at), "call_to_label_p50_ms": round(pct(to_label, 50), 2),
        "call_to_label_p99_ms": round(pct(to_label, 99), 2), "call_to_frame_p50_ms": round(pct(to_frame, 50), 2),
        "call_to_frame_p99_ms": round(pct(to_frame, 99), 2), "frame_time_p50_ms": round(pct(frames, 50), 2),
        "frame_time_p99_ms": round(pct(frames, 99), 2), "frames": len(frames),
        "draw_p50_ms": round(pct(draws, 50), 2), "draw_p99_ms": round(pct(draws, 99), 2),
        "fps_mean": round(len(frames) / max(1e-9, sum(frames) / 1000), 1), "wall_s": round(wall, 1),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(f"display {args.layout} {size[0]}x{size[1]}: {len(label_at)}/{args.calls} calls shown")
    print(f"  call -> label  p50 {result['call_to_label_p50_ms']:.1f} ms  p99 {result['call_to_label_p99_ms']:.1f} ms"
          f"  (target p99 < 50 ms)")
    print(f"  call -> frame  p50 {result['call_to_frame_p50_ms']:.1f} ms  p99 {result['call_to_frame_p99_ms']:.1f} ms")
    print(f"  frame time     p50 {result['frame_time_p50_ms']:.1f} ms  p99 {result['frame_time_p99_ms']:.1f} ms"
          f"  (target p99 < 33 ms; mean {result['fps_mean']} fps; {len(frames)} frames)"
          + (f"  mean {statistics.mean(frames):.1f} ms" if frames else ""))
    if args.finish:
        print(f"  frame drawn    p50 {result['draw_p50_ms']:.1f} ms  p99 {result['draw_p99_ms']:.1f} ms"
              "  (from the start of a redraw until the GL work is finished)")
    print(json.dumps(result))
    # A call superseded by the next one before a frame showed it is not an error (the recent list has it).
    return 0 if label_at else 1
