"""Shared fixtures: the sample county hall and village point, a clock that only moves when told."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.support import county_site, village_site

pytest_plugins = ["tests.broker_fixture", "tests.browser_fixture", "tests.city_fixtures"]

TZ = ZoneInfo("Asia/Shanghai")


def local_time(y, mo, d, h=9, mi=0, s=0) -> float:
    return datetime(y, mo, d, h, mi, s, tzinfo=TZ).timestamp()


# Monday 23 November 2026, 09:00 in the hall.
MONDAY_9AM = local_time(2026, 11, 23, 9, 0)


class Clock:
    def __init__(self, start: float = MONDAY_9AM):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@pytest.fixture(scope="session")
def county():
    return county_site()


@pytest.fixture(scope="session")
def village():
    return village_site()


@pytest.fixture
def clock():
    return Clock()
