"""What a simulated day is made of and what it yields: citizens, clerks, and the measured results
(used by sim.harness, sim.report and sim.whatif)."""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from sim.profiles import Service

INF = math.inf
OFF, IDLE, BUSY, PAUSED = "off", "idle", "busy", "paused"  # a clerk's state


def draw_service(rng: random.Random, s: Service, mean_minutes: float | None = None) -> float:
    """Seconds of service drawn from `s` (optionally with another mean)."""
    m = (mean_minutes if mean_minutes is not None else s.mean_minutes) * 60.0
    if s.kind == "exp":
        return rng.expovariate(1.0 / m)
    sigma2 = math.log(1.0 + s.cv * s.cv)
    return rng.lognormvariate(math.log(m) - sigma2 / 2.0, math.sqrt(sigma2))


@dataclass(slots=True)
class Citizen:
    arrival: float
    business_type: str
    service: float  # seconds at the window
    item: str | None = None
    priority_group: str | None = None
    appointment: float | None = None  # slot start
    ref: str | None = None
    absent_until: float = 0.0  # not at hand when called before this time
    transfer_to: str | None = None
    transfer_service: float = 0.0
    hold_away: float = 0.0  # seconds away fetching a paper when held (0: never held)
    # Filled in while the day runs.
    ticket: str | None = None
    refused: str | None = None
    estimate: float | None = None  # the engine's estimated wait shown at issue (seconds)
    naive: float | None = None  # people ahead x mean service / open windows (seconds)
    ahead: int = 0
    back_at: float = 0.0
    phase: int = 0  # 0 first visit, 1 after transfer, 2 after hold


@dataclass(slots=True)
class Clerk:
    number: int
    serves: tuple[str, ...]
    shifts: list[tuple[float, float, float]]  # (start, end, overrun seconds allowed after end)
    state: str = OFF
    ticket: str | None = None
    end: float = INF  # the current shift's end
    overrun: float = 0.0
    held: list[str] = field(default_factory=list)
    busy_since: float = 0.0
    busy: float = 0.0  # seconds calling or serving
    on_since: float = 0.0
    staffed: float = 0.0  # seconds signed in
    served: int = 0
    name: str = ""


@dataclass
class TicketResult:
    """One citizen's day, as measured."""

    business_type: str  # at issue
    arrival: float
    wait: float | None  # seconds from issue (or appointment slot, if later) to the first call
    outcome: str  # done | missed | cancelled | refused:<code> | unserved
    priority_group: str | None
    appointment: bool
    estimate: float | None
    naive: float | None
    ahead: int
    measured: bool  # inside the profile's measuring interval


@dataclass
class DayResult:
    tickets: list[TicketResult]
    windows: dict[int, dict]  # number -> {"busy_s", "staffed_s", "served", "serves"}
    commands: int
    aging_violations: int  # calls that passed over an overdue ticket the window could serve
    wall_seconds: float
    day_start: float  # local midnight of the simulated day (epoch seconds)
    arrivals: int = 0  # citizens drawn for the day (all of them, measured or not)
    service_s: float = 0.0  # their first visits' service seconds, summed (controls for the Erlang check)
    ended_at: float = 0.0  # the last simulated moment (epoch seconds)

    def waits(self, pred=None) -> list[float]:
        return [t.wait for t in self.tickets
                if t.measured and t.wait is not None and (pred is None or pred(t))]


def poisson(rng: random.Random, lam: float) -> int:
    n, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p <= limit:
            return n
        n += 1
