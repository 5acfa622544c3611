"""Drives the window LED displays (hardware/led.py) from the hall display's model: the call events and
each window's retained state. Serial I/O runs on its own thread; a display that is unplugged or silent
is retried every second with its latest text, so it is never left showing an old number.

    bridge = LedBridge(model, load_leds("leds.toml")).start()
"""
from __future__ import annotations

import logging
import threading

from display.model import Call, DisplayModel, WindowRow
from hardware.led import LedBus, LedConfig, LedConfigError, LedDisplay, load_leds

log = logging.getLogger("onewindow.led_bridge")


def led_text(row: WindowRow) -> tuple[str, bool]:
    """What the LED above a window says, and whether it blinks."""
    if row.state == "calling" and row.ticket:
        return f"请 {row.ticket} 号", True
    if row.state == "serving" and row.ticket:
        return f"{row.ticket} 办理中", False
    if row.state == "rating":
        return "请评价 Rate us", False
    if row.state in ("paused", "closed"):
        return "暂停服务 Closed", False
    return f"{row.number}号窗口 欢迎", False


class LedBridge:
    def __init__(self, model: DisplayModel, configs: list[LedConfig], retry_seconds: float = 1.0,
                 on_states=None):
        self.model = model
        self.on_states = on_states  # called with {"led-3": "ok" | "offline" | "no_answer" | ...} on a change
        self._states: dict[str, str] = {}
        buses: dict[str, LedBus] = {}
        self.displays: dict[int, LedDisplay] = {}
        for c in configs:
            bus = buses.setdefault(c.port, LedBus(c.port, c.baudrate))
            self.displays[c.window] = LedDisplay(c, bus)
        self.retry_seconds = retry_seconds
        self._wanted: dict[int, tuple[str, bool]] = {}
        self._dirty: set[int] = set()
        self._cond = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        model.on_new_call(self.on_call)
        model.on_update(self.on_update)

    def start(self) -> "LedBridge":
        self._thread = threading.Thread(target=self._run, name="led-bridge", daemon=True)
        self._thread.start()
        self.on_update()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(3)
        for d in self.displays.values():
            d.bus.close()

    def _want(self, window: int, text: str, blink: bool) -> None:
        if window not in self.displays:
            return
        with self._cond:
            if self._wanted.get(window) != (text, blink):
                self._wanted[window] = (text, blink)
                self._dirty.add(window)
                self._cond.notify_all()

    def on_call(self, call: Call) -> None:
        self._want(call.window, f"请 {call.number} 号", True)

    def on_update(self) -> None:
        for row in self.model.view().windows:
            self._want(row.number, *led_text(row))

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._dirty and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                work = {w: self._wanted[w] for w in self._dirty}
                self._dirty.clear()
            failed = []
            for window, (text, blink) in sorted(work.items()):
                state = self.displays[window].show(text, blink)
                self._report(window, state)
                if state != "ok":
                    log.warning("LED of window %d: %s (will retry)", window, state)
                    if not state.startswith("nak:4"):
                        failed.append(window)
            if failed:
                with self._cond:
                    self._dirty.update(w for w in failed if w not in self._dirty)
                    self._cond.wait(self.retry_seconds)  # a stop wakes it


    def _report(self, window: int, state: str) -> None:
        key = f"led-{window}"
        if self._states.get(key) == state:
            return
        self._states[key] = state
        if self.on_states is not None:
            try:
                self.on_states(dict(self._states))
            except Exception:
                log.exception("LED status listener failed")


def start_bridge(hall, path: str) -> LedBridge | None:
    try:
        configs = load_leds(path)
    except LedConfigError as exc:
        log.error("LED displays: %s", exc)
        return None
    log.info("driving %d window LED displays from %s", len(configs), path)
    return LedBridge(hall.model, configs, on_states=hall.publish_status).start()
