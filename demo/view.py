"""The demo's live terminal view of the hall, rebuilt from retained state and call events only."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from demo.hall import SimulatedHall


@dataclass
class HallView:
    """What the terminal shows, rebuilt from retained state and call events only."""

    site: dict = field(default_factory=dict)
    windows: dict[int, dict] = field(default_factory=dict)
    queues: dict[str, dict] = field(default_factory=dict)
    calls: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    messages: int = 0

    def on_message(self, topic: str, payload: bytes) -> None:
        try:
            data = json.loads(payload)
        except ValueError:
            return
        with self.lock:
            self.messages += 1
            if topic.endswith("/state/site"):
                self.site = data
            elif "/state/window/" in topic:
                self.windows[data["window"]] = data
            elif "/state/queue/" in topic:
                self.queues[data["business_type"]] = data
            elif topic.endswith("/event/call"):
                self.calls.insert(0, data)
                del self.calls[8:]


def render(view: HallView, sim: SimulatedHall | None, started: float):
    """A rich renderable of the hall."""
    with view.lock:
        site, windows, queues, calls = dict(view.site), dict(view.windows), dict(view.queues), list(view.calls)
    title = f"{site.get('name', '...')}  {site.get('name_en', '')}"
    head = Text(f"service day {site.get('service_day') or '-'}   running {int(time.time() - started)} s")
    if sim is not None:
        head.append(f"   x{sim.speed:g} speed   issued {sim.issued}   served {sim.served}")
        if sim.printing:
            head.append(f"   unprinted tickets voided {sim.print_failures}")
    qt = Table(title="Queues", expand=True)
    for col in ("type", "business", "waiting", "next", "est. wait", "windows"):
        qt.add_column(col)
    for prefix in sorted(queues):
        q = queues[prefix]
        est = q.get("estimated_wait_min")
        qt.add_row(prefix, f"{q['name']} {q.get('name_en', '')}", str(q["waiting"]), " ".join(q["next"][:4]),
                   "-" if est is None else f"{est:.0f} min", str(q.get("windows_open", "")))
    wt = Table(title="Windows", expand=True)
    for col in ("window", "state", "clerk", "ticket", "serves", "served"):
        wt.add_column(col)
    colours = {"calling": "bold yellow", "serving": "green", "paused": "magenta", "closed": "dim",
               "rating": "cyan", "idle": "white"}
    for number in sorted(windows):
        w = windows[number]
        number_text = (w.get("ticket") or {}).get("number") or ""
        wt.add_row(str(number), Text(w["state"], style=colours.get(w["state"], "")), w.get("clerk") or "",
                   number_text, ",".join(w.get("serves", [])), str(w.get("served_today", 0)))
    ct = Table(title="Latest calls", expand=True)
    ct.add_column("time")
    ct.add_column("call")
    for c in calls:
        ct.add_row(c["at"][11:19], f"{c['text_zh']}   {c['text_en']}" + ("  (recall)" if c.get("recall") else ""))
    return Panel(Group(head, qt, wt, ct), title=title)


def summary_line(view: HallView, sim: SimulatedHall | None) -> str:
    with view.lock:
        waiting = sum(q["waiting"] for q in view.queues.values())
        busy = sum(1 for w in view.windows.values() if w["state"] in ("calling", "serving"))
        last = view.calls[0]["text_en"] if view.calls else "-"
    issued = sim.issued if sim else "?"
    served = sim.served if sim else "?"
    return f"issued {issued}, served {served}, waiting {waiting}, windows busy {busy}, last call: {last}"

