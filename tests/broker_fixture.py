"""Pytest fixtures for a real Mosquitto on a free loopback port: `broker` (one per test) and
`broker_session` (one per test run). Each yields a started `ManagedBroker`; use `.url` or `.settings`.

    pytest_plugins = ["tests.broker_fixture"]          # in conftest.py, or
    from tests.broker_fixture import broker            # in a test module
"""
from __future__ import annotations

import shutil
import tempfile

import pytest

from broker.mosquitto import ManagedBroker


def _started_broker():
    # Not pytest's tmp_path: its parents are mode 0700, which the `mosquitto` user (that mosquitto
    # drops to when started as root) cannot enter, so persistence would need the broker to run as root.
    state_dir = tempfile.mkdtemp(prefix="onewindow-broker-")
    broker = ManagedBroker(state_dir, port=0, host="127.0.0.1", autosave_seconds=1)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture
def broker():
    yield from _started_broker()


@pytest.fixture(scope="session")
def broker_session():
    yield from _started_broker()
