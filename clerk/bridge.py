"""The window device bridge: pad keys become commands for that pad's window, the window's state
goes back to its pads' displays, and a rating pad's key becomes that window's rating.

The bridge decides nothing about the queue. A key press is sent as the command for the pad's window
and the clerk the server says is signed in there; the server accepts or refuses it. A refusal is
shown on the pad in a few letters (EMPTY, LIMIT, ...) and logged. Bad frames are dropped and logged
by the bus driver; an unplugged pad or adapter is reported in the bridge's device status and picked
up again when it is back.
"""
from __future__ import annotations

import logging
import queue
import threading

from clerk.config import BridgeConfig, PadConfig
from hardware.pads import KEY, KEYS, RATING, RATING_REQUEST, Frame, PadBus
from onewindow.client import QueueClient, RequestTimeout, identity_of
from onewindow.devices import status_payload
from onewindow.mirror import StateMirror
from onewindow.topics import Topics
from onewindow.transport import local_now_iso

log = logging.getLogger("onewindow.bridge")

COMMAND_OF_KEY = {"call": "call_next", "recall": "recall", "start": "start", "finish": "finish",
                  "no_show": "no_show", "transfer": "transfer"}
STATE_TEXT = {"calling": "CALL", "serving": "SERVE", "rating": "RATE", "idle": "IDLE", "paused": "PAUSED",
              "closed": "CLOSED"}
REFUSAL_TEXT = {"queue_empty": "EMPTY", "recall_limit": "LIMIT", "window_busy": "BUSY", "window_paused": "PAUSED",
                "window_closed": "CLOSED", "forbidden": "NOT YOU", "no_ticket": "NO TICKET", "wrong_state": "WRONG",
                "already_rated": "RATED", "calls_left": "RECALL FIRST", "transfer_target_closed": "NO TARGET",
                "not_served_here": "NOT HERE", "hall_unavailable": "NO SERVER"}


def display_text(window: dict | None) -> str:
    """What a call pad's display shows for its window's state (16 characters at most)."""
    if not window:
        return "----"
    ticket = (window.get("ticket") or {}).get("number")
    state = window.get("state", "")
    if state == "calling" and ticket:
        return f"{ticket} CALL {(window.get('ticket') or {}).get('calls', 1)}"[:16]
    if state == "serving" and ticket:
        return f"{ticket} SERVE"[:16]
    if state == "rating":
        return f"RATE {window.get('awaiting_rating') or ''}".strip()[:16]
    return STATE_TEXT.get(state, state.upper())[:16]


class Bridge:
    def __init__(self, config: BridgeConfig, transport, site_id: str, bus: PadBus | None = None):
        self.config = config
        self.transport = transport
        self.topics = Topics(site_id)
        self.client = QueueClient(transport, site_id, config.id, timeout=1.5, attempts=2)
        self.device_id = identity_of(transport, config.id)  # the ACL lets a device publish its own status only
        self.bus = bus or PadBus(config.port, self._on_frame, poll_interval=config.poll_interval,
                                offline_after=3 * config.poll_interval)
        self.bus.on_frame, self.bus.on_change = self._on_frame, self._bus_changed
        self.bus.addresses = [p.address for p in config.pads]
        self._work: queue.SimpleQueue = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._present: dict[int, bool] = {}
        self._status: dict | None = None
        self._status_lock = threading.Lock()
        self.stats = {"keys": 0, "ratings": 0, "refused": 0, "unknown_pad": 0, "unexpected": 0}
        self.mirror = StateMirror(transport, site_id, presence=False, devices=False)
        self.mirror.on_change(self._on_state)
        if getattr(transport, "on_connected", None) is None:  # a broker that lost its retained messages
            transport.on_connected = self._republish_status

    # --- life cycle ------------------------------------------------------------------------------
    def start(self) -> "Bridge":
        self._worker = threading.Thread(target=self._work_loop, name="bridge-worker", daemon=True)
        self._worker.start()
        self.bus.start()
        self._publish_status()
        return self

    def stop(self) -> None:
        self._work.put(None)
        self.bus.stop()
        if self._worker is not None:
            self._worker.join(3)

    # --- from the pads (bus reader thread) -------------------------------------------------------
    def _on_frame(self, frame: Frame) -> None:
        pad = self.config.pad(frame.address)
        if pad is None:
            self.stats["unknown_pad"] += 1
            log.warning("a frame from pad address %d, which is not in the configuration: ignored", frame.address)
            return
        if frame.function == KEY and pad.kind == "call" and len(frame.data) == 1 and frame.data[0] in KEYS:
            self._work.put((pad, KEYS[frame.data[0]]))
        elif frame.function == RATING and pad.kind == "rating" and len(frame.data) == 1 and 1 <= frame.data[0] <= 5:
            self._work.put((pad, frame.data[0]))
        else:
            self.stats["unexpected"] += 1
            log.warning("pad %d (%s pad of window %d) sent function 0x%02x with %s: ignored", pad.address,
                        pad.kind, pad.window, frame.function, frame.data.hex(" ") or "no data")

    def _work_loop(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            pad, what = item
            try:
                if pad.kind == "rating":
                    self._rate(pad, what)
                else:
                    self._key(pad, what)
            except Exception:
                log.exception("pad %d: handling %s failed", pad.address, what)

    def _key(self, pad: PadConfig, key: str) -> None:
        self.stats["keys"] += 1
        window = self.mirror.windows.get(pad.window) or {}
        clerk = window.get("clerk")
        if not clerk:
            log.info("window %d: %s pressed but nobody is signed in", pad.window, key)
            self.bus.show(pad.address, "SIGN IN")
            return
        if key == "rating_request":
            self._request_rating(pad.window, window)
            return
        args: dict = {}
        if key == "pause":
            command = "resume" if window.get("state") == "paused" else "pause"
            args = {"reason": "pad"} if command == "pause" else {}
        elif key == "transfer":
            if pad.transfer_to is None:
                log.warning("window %d: transfer key pressed but the pad has no transfer_to", pad.window)
                self.bus.show(pad.address, "NO TARGET")
                return
            command = "transfer"
            args = ({"to_business_type": pad.transfer_to} if isinstance(pad.transfer_to, str)
                    else {"to_window": pad.transfer_to})
        else:
            command = COMMAND_OF_KEY[key]
        self._send(pad, command, window=pad.window, clerk=clerk, **args)

    def _rate(self, pad: PadConfig, score: int) -> None:
        self.stats["ratings"] += 1
        window = self.mirror.windows.get(pad.window) or {}
        ticket = window.get("awaiting_rating")
        if not ticket:
            log.info("window %d: rating %d pressed but no visit waits for a rating: ignored", pad.window, score)
            return
        self._send(pad, "rate", ticket=ticket, score=score, window=pad.window)

    def _send(self, pad: PadConfig, command: str, **args) -> None:
        try:
            reply = self.client.request(command, **args)
        except RequestTimeout:
            reply = {"ok": False, "error": {"code": "hall_unavailable", "message": "the queue server did not answer"}}
        if not reply.get("ok"):
            self.stats["refused"] += 1
            err = reply.get("error") or {}
            log.info("window %d: %s refused: %s", pad.window, command, err.get("message"))
            self.bus.show(pad.address, REFUSAL_TEXT.get(err.get("code"), str(err.get("code", "ERROR")).upper())[:16])

    # --- to the pads -----------------------------------------------------------------------------
    def _on_state(self, key, value) -> None:
        if key[0] != "window" or not key[1].isdigit():
            return
        number = int(key[1])
        for pad in self.config.pads_of(number, "call"):
            self.bus.show(pad.address, display_text(value))
        if value and value.get("state") == "rating":
            self._request_rating(number, value)

    def _request_rating(self, number: int, window: dict) -> None:
        ticket = window.get("awaiting_rating")
        if not ticket:
            return
        for pad in self.config.pads_of(number, "rating"):
            self.bus.send(pad.address, RATING_REQUEST, ticket.encode("ascii", "replace"))

    def _bus_changed(self) -> None:
        """A pad came or went, or the adapter did: redraw pads that are back, republish status."""
        for pad in self.config.pads:
            up = self.bus.present(pad.address)
            if up and not self._present.get(pad.address) and pad.kind == "call":
                self.bus.show(pad.address, display_text(self.mirror.windows.get(pad.window)))
            self._present[pad.address] = up
        self._publish_status()

    def status(self) -> dict:
        parts = {"bus": "ok" if self.bus.connected else "unplugged"}
        for pad in self.config.pads:
            parts[f"pad-{pad.address}"] = "ok" if self.bus.present(pad.address) else "offline"
        broken = [k for k, v in parts.items() if v != "ok"]
        state = "ok" if not broken else ("out_of_service" if "bus" in broken or len(broken) == len(parts) - 1
                                         else "degraded")
        detail = "all pads answer" if not broken else "not answering: " + ", ".join(broken)
        return status_payload(self.device_id, "bridge", state, parts, detail, at="")  # `at` set when published

    def _republish_status(self) -> None:
        with self._status_lock:
            self._status = None
        self._publish_status()

    def _publish_status(self) -> None:
        status = self.status()
        with self._status_lock:
            if status == self._status:
                return
            self._status = status
        self.transport.publish(self.topics.device_status(self.device_id), {**status, "at": local_now_iso()},
                               qos=1, retain=True)
