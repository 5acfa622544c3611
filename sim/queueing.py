"""Textbook queueing formulas the simulation is checked against (M/M/c, Erlang C).

Rates are per second unless a name says otherwise. `offered` is the load in Erlangs (arrival rate x
mean service time); `servers` the number of windows.
"""
from __future__ import annotations

import math


def erlang_b(servers: int, offered: float) -> float:
    """Blocking probability of M/M/c/c (stable recursion)."""
    b = 1.0
    for k in range(1, servers + 1):
        b = offered * b / (k + offered * b)
    return b


def erlang_c(servers: int, offered: float) -> float:
    """Probability that an arrival has to wait in M/M/c (1.0 when the load is too high)."""
    if offered >= servers:
        return 1.0
    b = erlang_b(servers, offered)
    return servers * b / (servers - offered * (1.0 - b))


def mmc_mean_wait(servers: int, arrival_rate: float, mean_service: float) -> float:
    """Mean wait in line of M/M/c (infinite when the load is too high)."""
    offered = arrival_rate * mean_service
    if offered >= servers:
        return math.inf
    return erlang_c(servers, offered) / (servers / mean_service - arrival_rate)


def mmc_wait_quantile(servers: int, arrival_rate: float, mean_service: float, q: float) -> float:
    """The q-quantile of the wait in line of M/M/c: P(W > t) = C exp(-(c mu - lambda) t)."""
    offered = arrival_rate * mean_service
    if offered >= servers:
        return math.inf
    c = erlang_c(servers, offered)
    tail = 1.0 - q
    if c <= tail:
        return 0.0
    return math.log(c / tail) / (servers / mean_service - arrival_rate)


def windows_for_p90(arrival_rate: float, mean_service: float, target: float, cv2: float = 1.0,
                    limit: int = 200) -> int:
    """Fewest windows whose M/M/c p90 wait (stretched by (1+cv^2)/2 for non-exponential service,
    Allen-Cunneen) is under `target` seconds."""
    if arrival_rate <= 0:
        return 0
    stretch = (1.0 + cv2) / 2.0
    c = max(1, math.ceil(arrival_rate * mean_service))
    while c < limit and mmc_wait_quantile(c, arrival_rate, mean_service, 0.9) * stretch > target:
        c += 1
    return c
