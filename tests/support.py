"""Small helpers shared by test modules (fixtures live in conftest.py)."""
from __future__ import annotations

import time
from functools import lru_cache

from onewindow import config


@lru_cache(maxsize=None)
def county_site() -> config.SiteConfig:
    """The sample county hall, loaded once (usable where a fixture cannot be, e.g. in parametrize)."""
    return config.load(config.sample_path("county-hall"))


@lru_cache(maxsize=None)
def village_site() -> config.SiteConfig:
    return config.load(config.sample_path("village-point"))


def wait_until(condition, timeout: float = 5.0) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()
