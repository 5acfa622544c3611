"""The server process collects garbage between batches (after their replies have left), by Python's rule."""
from __future__ import annotations

import gc
import weakref

import pytest

from queue_server.server import collect_when_due


class Node:
    def __init__(self):
        self.me = self  # a reference cycle: only the collector frees it


@pytest.fixture
def collector_off():
    was = gc.isenabled()
    gc.disable()
    gc.collect()
    yield
    if was:
        gc.enable()


def test_garbage_is_collected_once_enough_has_been_allocated(collector_off):
    cycle = Node()
    alive = weakref.ref(cycle)
    del cycle
    collect_when_due(threshold=10_000)  # not yet: a few allocations only
    assert alive() is not None
    keep = [[] for _ in range(800)]  # containers the collector counts
    collect_when_due(threshold=700)
    assert alive() is None and gc.get_count()[0] < 700
    del keep


def test_older_generations_are_collected_by_the_same_ratio_as_pythons(collector_off):
    old = Node()
    alive = weakref.ref(old)
    gc.collect(0)
    gc.collect(1)  # now in the oldest generation
    del old
    for _ in range(10):  # ten young collections: the next one is a middle one
        junk = [[] for _ in range(800)]
        collect_when_due(threshold=700)
        del junk
    assert alive() is not None  # the oldest generation not yet
    for _ in range(120):
        junk = [[] for _ in range(800)]
        collect_when_due(threshold=700)
        del junk
    assert alive() is None  # ten middle collections later, the oldest one too
