"""The city tier's commands: `onewindow city-store --once`, `onewindow city-broker --existing`."""
from __future__ import annotations

from cli.main import main
from city.store import CityStore
from tests.city_fixtures import city_bus, city_db, pg_cluster  # noqa: F401  (fixtures)


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
