"""The demo's live terminal view of the hall, drawn from the site's retained state alone."""
from __future__ import annotations

import time

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from demo.hall import SimulatedHall
from onewindow.mirror import StateMirror

SHOWN_CALLS = 8


class HallView:
    """What the terminal shows: a StateMirror of the site (windows, queues, the display's latest calls)."""

    def __init__(self, transport, site_id: str):
        self.mirror = StateMirror(transport, site_id, presence=False, devices=False)

    def now(self) -> tuple[dict, dict[int, dict], dict[str, dict], list[dict]]:
        """(site, windows, queues, latest calls) as the retained state has them now."""
        m = self.mirror
        calls = (m.display or {}).get("calls") or []
        return m.site or {}, m.windows, m.queues, calls[:SHOWN_CALLS]


def render(view: HallView, sim: SimulatedHall | None, started: float, banner: list[str] = ()):
    """A rich renderable of the hall (`banner`: lines shown above it: the console's address, sign-ins)."""
    site, windows, queues, calls = view.now()
    title = f"{site.get('name', '...')}  {site.get('name_en', '')}"
    head = Text(f"service day {site.get('service_day') or '-'}   running {int(time.time() - started)} s")
    if sim is not None:
        head.append(f"   x{sim.speed:g} speed   issued {sim.issued}   served {sim.served}")
        if sim.printing:
            head.append(f"   unprinted tickets cancelled {sim.print_failures}")
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
    parts = [Text("\n".join(banner), style="bold")] if banner else []
    return Panel(Group(*parts, head, qt, wt, ct), title=title)


def summary_line(view: HallView, sim: SimulatedHall | None) -> str:
    _, windows, queues, calls = view.now()
    waiting = sum(q["waiting"] for q in queues.values())
    busy = sum(1 for w in windows.values() if w["state"] in ("calling", "serving"))
    last = calls[0]["text_en"] if calls else "-"
    issued = sim.issued if sim else "?"
    served = sim.served if sim else "?"
    return f"issued {issued}, served {served}, waiting {waiting}, windows busy {busy}, last call: {last}"

