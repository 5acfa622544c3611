"""Fixtures of the city tier: a throw-away PostgreSQL cluster per test run, a fresh database per test.

    from tests.city_fixtures import pg_cluster, city_db     # in a test module
"""
from __future__ import annotations

import itertools
import shutil
import tempfile

import pytest

from city.pgcluster import PgCluster

_names = itertools.count(1)


@pytest.fixture(scope="session")
def pg_cluster():
    base = tempfile.mkdtemp(prefix="onewindow-pg-")  # not tmp_path: the postgres user must enter it
    cluster = PgCluster(base, fsync=False)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def city_db(pg_cluster) -> str:
    """The conninfo of a new, empty database on the session's cluster."""
    return pg_cluster.create_database(f"city_test_{next(_names)}")
