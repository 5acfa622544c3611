"""The city tier's commands: `onewindow city-store --once`, `onewindow city-broker --existing`."""
from __future__ import annotations

from cli.main import main
from city.store import CityStore


def test_city_store_once_creates_the_schema_and_refreshes(city_db, capsys):
    assert main(["city-store", "--city-store", city_db, "--once"]) == 0
    assert "city store ready" in capsys.readouterr().out
    with CityStore(city_db) as store:
        assert store.count() == 0 and len(store.partitions()) == 2


def test_city_store_says_what_is_missing_or_unreachable(capsys, tmp_path):
    assert main(["city-store"]) == 2
    assert "--city-store" in capsys.readouterr().out
    assert main(["city-store", "--city-store", f"host={tmp_path} port=1 dbname=x connect_timeout=1", "--once"]) == 1
    assert "cannot reach the city store" in capsys.readouterr().out


def test_city_broker_probes_an_existing_bus_with_a_real_mqtt_connect(city_bus, capsys):
    urls = ",".join(city_bus.urls)
    assert main(["city-broker", "--existing", urls, "--username", city_bus.username,
                 "--password", city_bus.password]) == 0
    assert capsys.readouterr().out.count(": ready") == 3
    assert main(["city-broker", "--existing", urls, "--username", city_bus.username, "--password", "wrong"]) == 1
    assert "ready" not in capsys.readouterr().out


def test_bridge_city_needs_somewhere_to_send(capsys):
    assert main(["bridge-city"]) == 2
    assert "--city-store" in capsys.readouterr().out


def test_city_store_runs_its_own_postgresql_with_cluster(capsys):
    import os
    import shutil
    import tempfile

    from city.pgcluster import PgCluster
    base = tempfile.mkdtemp(prefix="onewindow-city-store-")
    try:
        if os.geteuid() == 0:  # PostgreSQL runs as nobody, who cannot enter a 0700 directory: said clearly
            assert main(["city-store", "--cluster", f"{base}/pg", "--once"]) == 1
            assert "cannot enter" in capsys.readouterr().out
        os.chmod(base, 0o755)
        assert main(["city-store", "--cluster", f"{base}/pg", "--once"]) == 0
        out = capsys.readouterr().out
        assert "city store ready" in out and "dbname=onewindow_city" in out
        cluster = PgCluster(f"{base}/pg")
        assert cluster.pid() is None  # stopped again with the command
        with cluster:
            with CityStore(cluster.conninfo("onewindow_city")) as store:
                assert len(store.partitions()) == 2  # the schema stayed
    finally:
        PgCluster(f"{base}/pg").destroy()
        shutil.rmtree(base, ignore_errors=True)
