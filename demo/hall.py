"""Simulated citizens and clerks for the demo hall.

The simulated people are ordinary clients: they only send protocol commands and read retained
state, exactly as real kiosks and clerk consoles do. `speed` compresses the hall's time: at 20, a
six-minute service takes eighteen seconds.
"""
from __future__ import annotations

import logging
import math
import random
import threading
import time

from hardware.fakes.printer import FakePrinter
from hardware.printing.config import printer_from_url
from hardware.printing.station import PrintStation
from kiosk.ticketing import TicketDesk
from onewindow.client import QueueClient, RequestTimeout
from onewindow.config import SiteConfig

log = logging.getLogger("onewindow.demo")

DAILY_CASES = {"city": 1200, "county": 800, "township": 80, "village": 20, "hospital": 150, "pharmacy": 40,
               "bank": 40}
OPEN_HOURS = 7.5


def pick_windows(windows: list, count: int | None) -> list[int]:
    """`count` of `windows` (all when None) for simulated clerks: first enough to serve every business type
    they serve between them, then the others in order (so no type is left without an open window)."""
    chosen, covered = [], set()
    for w in windows:
        if set(w.serves) - covered:
            chosen.append(w)
            covered |= set(w.serves)
    rest = [w for w in windows if w not in chosen]
    want = len(windows) if count is None else max(count, len(chosen))
    return sorted(w.number for w in (chosen + rest)[:want])


def reserved_type(site: SiteConfig, human_windows) -> str | None:
    """The business type left to the people's windows: served by one of them, by no simulated window and
    issued by no simulated kiosk, so the number a person takes waits for that person to call it. The one
    that leaves the most windows to simulated clerks while they still serve every other type; None if none
    can be left out (or no window is left to people)."""
    if not human_windows:
        return None
    every = {b.prefix for b in site.business_types}
    free = [w for w in site.windows if w.number not in human_windows]
    best: tuple[int, str] | None = None
    for prefix in sorted({p for w in site.windows if w.number in human_windows for p in w.serves}):
        others = [w for w in free if prefix not in w.serves]
        if {p for w in others for p in w.serves} >= every - {prefix} and (best is None or len(others) > best[0]):
            best = (len(others), prefix)
    return best[1] if best else None


class SimulatedHall:
    """Citizens arriving at kiosks and clerks working windows, as protocol clients."""

    def __init__(self, site: SiteConfig, make_transport, speed: float = 20.0, windows: int | None = None,
                 seed: int | None = None, printing: bool = False, human_windows: tuple[int, ...] = ()):
        self.site = site
        self.make_transport = make_transport
        self.speed = speed
        self.rng = random.Random(seed)
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.transports = []
        per_hour = DAILY_CASES.get(site.level, 300) / OPEN_HOURS
        self.arrival_rate = per_hour / 3600.0 * speed  # citizens per real second
        # Windows left to people (at the clerk console) get no simulated clerk, and one business type is theirs.
        self.human_type = reserved_type(site, human_windows)
        self.window_numbers = pick_windows([w for w in site.windows if w.number not in human_windows
                                            and self.human_type not in w.serves], windows)
        self.issued = 0
        self.served = 0
        self.print_failures = 0
        self.printing = printing
        self.printers: list = []  # (fake printer, print station) per kiosk

    def _client(self, client_id: str, role: str) -> QueueClient:
        transport = self.make_transport(client_id, role)
        self.transports.append(transport)
        return QueueClient(transport, self.site.site_id, client_id, timeout=2.0, attempts=3)

    def start(self) -> None:
        for n in (1, 2):
            client = self._client(f"demo-kiosk-{n}", "kiosk")
            self._spawn(self._kiosk, self._desk(client, n) if self.printing else client, n)
        for number in self.window_numbers:
            self._spawn(self._clerk, self._client(f"demo-clerk-{number}", "clerk"), number)

    def _spawn(self, target, *args) -> None:
        t = threading.Thread(target=target, args=args, daemon=True, name=f"{target.__name__}-{args[-1]}")
        t.start()
        self.threads.append(t)

    def _desk(self, client: QueueClient, n: int):
        """A kiosk with a thermal printer: the fake printer on a TCP port, as a network printer would be."""
        fake = FakePrinter(paper_mm=80, transport="tcp", name=f"kiosk-{n}").start()
        station = PrintStation(printer_from_url(fake.url, printer_id=f"kiosk-{n}-printer")).start()
        self.printers.append((fake, station))
        return TicketDesk(self.site, client, station, kiosk_id=f"demo-kiosk-{n}")

    def save_rolls(self, folder) -> list:
        """The end of each kiosk's paper roll as PNG (what the last citizens took home)."""
        saved = []
        for n, (fake, _) in enumerate(self.printers, 1):
            pages = fake.pages()
            if pages:
                path = f"{folder}/kiosk-{n}-paper.png"
                fake.save_png(path, [r for page in pages[-2:] for r in page])
                saved.append(path)
        return saved

    def stop(self) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(5)
        for transport in self.transports:
            transport.stop()
        for fake, station in self.printers:
            station.stop()
            fake.stop()

    def _sleep(self, hall_seconds: float) -> bool:
        """Sleep `hall_seconds` of hall time; False when the demo is stopping."""
        return not self.stop_event.wait(hall_seconds / self.speed)

    def _kiosk(self, client, n: int) -> None:
        """Citizens arriving at kiosk `n`: `client` is a TicketDesk (prints) or a bare QueueClient."""
        types = [t for t in self.site.business_types if t.prefix != self.human_type]
        if not types:  # every type is left to people (a one-window point): no simulated citizens
            return
        weights = [1.0 / t.service_minutes ** 0.5 for t in types]  # quick items are the common ones
        rng = random.Random(self.rng.random())
        fake = self.printers[n - 1][0] if self.printing else None
        refill_at = None
        while not self.stop_event.wait(rng.expovariate(self.arrival_rate / 2)):
            bt = rng.choices(types, weights)[0]
            items = self.site.catalogue.items_of(bt.prefix)
            item = rng.choice(items).code if items else None
            group = rng.choice(self.site.priority.groups) if rng.random() < 0.1 and self.site.priority.groups else None
            if fake is not None:
                if refill_at is None and rng.random() < 0.01:  # the roll runs out now and then
                    fake.paper_out, refill_at = True, time.monotonic() + 900 / self.speed
                elif refill_at is not None and time.monotonic() >= refill_at:
                    fake.paper_out, refill_at = False, None  # staff put in a new roll
                outcome = client.take_ticket(bt.prefix, item=item, priority_group=group)
                if outcome.status == "issued":
                    self.issued += 1
                elif outcome.status == "print_failed":
                    self.print_failures += 1
                    log.info("kiosk %d: %s", n, outcome.message("en"))
                continue
            try:
                reply = client.issue(bt.prefix, item=item, priority_group=group, kiosk=f"demo-kiosk-{n}")
            except RequestTimeout as exc:
                log.warning("kiosk %d: %s", n, exc)
                continue
            if reply["ok"]:
                self.issued += 1
            else:
                log.info("kiosk %d: %s refused: %s", n, bt.prefix, reply["error"]["message"])

    def _clerk(self, client: QueueClient, window: int) -> None:
        rng = random.Random(self.rng.random())
        clerk = f"clerk{window:02d}"

        def do(command, **args):
            try:
                return client.window(command, window, clerk, **args)
            except RequestTimeout as exc:
                log.warning("window %d: %s", window, exc)
                return {"ok": False, "error": {"code": "timeout", "message": str(exc)}}

        if not self._sleep(rng.uniform(0, 120)):
            return
        do("sign_in")
        while not self.stop_event.is_set():
            if rng.random() < 0.01:  # a short break
                do("pause", reason="break")
                if not self._sleep(rng.uniform(300, 900)):
                    break
                do("resume")
            reply = do("call_next")
            if not reply["ok"]:
                if not self._sleep(30):
                    break
                continue
            ticket = reply["ticket"]
            if not self._sleep(rng.uniform(15, 45)):  # the citizen walks to the window
                break
            if rng.random() < 0.05:  # nobody comes: recall, then no-show
                for _ in range(self.site.calls.max_calls - 1):
                    do("recall")
                    if not self._sleep(30):
                        return
                do("no_show")
                continue
            do("start")
            minutes = self._service_minutes(ticket, rng)
            if not self._sleep(minutes * 60):
                break
            if rng.random() < 0.03 and len(self.site.business_types) > 2:
                other = rng.choice([b.prefix for b in self.site.business_types
                                   if b.prefix not in (ticket["business_type"], self.human_type)])
                do("transfer", to_business_type=other, note="needs another desk")
                continue
            do("finish")
            self.served += 1
            score = rng.choices([5, 4, 3, 2, 1], [96, 2.5, 1, 0.3, 0.2])[0]
            try:
                client.request("rate", ticket=ticket["id"], score=score, window=window)
            except RequestTimeout as exc:
                log.warning("window %d rating pad: %s", window, exc)

    def _service_minutes(self, ticket: dict, rng: random.Random) -> float:
        item = self.site.catalogue.item(ticket.get("item") or "")
        mean = item.service_minutes if item else self.site.business_type(ticket["business_type"]).service_minutes
        sigma = 0.6  # lognormal with a long tail, mean preserved
        return rng.lognormvariate(math.log(mean) - sigma ** 2 / 2, sigma)
