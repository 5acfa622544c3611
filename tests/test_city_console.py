"""`onewindow city-console`: the command's app over a real city bus (3-node NATS) and city store (PostgreSQL):
a manager signs in, sees the halls on the bus and a report from PostgreSQL; anyone else gets 403."""
from __future__ import annotations

import time
from datetime import date

import httpx
import pytest

from city.command import build_console
from city.failover import FailoverTransport
from city.store import CityStore
from cli.main import build_parser, main
from console.accounts import Accounts
from onewindow.broker import free_port
from tests.test_city_reports import publish_hall
from tests.test_city_store import visit_events

PASSWORD = "correct horse"


@pytest.fixture
def city_console(city_bus, city_db, tmp_path):
    with CityStore(city_db) as store:
        store.create_schema(today=date(2026, 11, 23))
        store.upsert_site("s1", "示范县大厅", "county")
        store.append("s1", visit_events("2026-11-23"))
    users = tmp_path / "users.db"
    accounts = Accounts(users)
    accounts.add("boss", "manager", password=PASSWORD, name="赵主任")
    accounts.add("look", "viewer", password=PASSWORD)
    accounts.add("wang", "clerk", password=PASSWORD, pin="1234")
    accounts.close()
    hall = FailoverTransport(city_bus.settings[:1], "cc", "city-console-hall", presence=False).start(20)
    publish_hall(hall, "cc1", "county", {"A": 4, "B": 2}, {1: "serving", 2: "idle"}, devices=[("kiosk-1", "degraded")])
    publish_hall(hall, "cc2", "village", {"A": 1}, {1: "serving"})
    hall.flush()
    args = build_parser().parse_args([
        "city-console", "--city-nodes", ",".join(reversed(city_bus.urls)), "--city-db", city_db,
        "--city-username", city_bus.username, "--city-password", city_bus.password, "--users", str(users),
        "--secret-file", str(tmp_path / "secret"), "--port", str(free_port()), "--client-id", "city-console-test"])
    console = build_console(args).start()
    yield console
    console.stop()
    hall.stop()


def sign_in(c: httpx.Client, username: str, **extra) -> httpx.Response:
    return c.post("/api/login", json={"username": username, "password": PASSWORD, **extra})


def halls_on_page(c: httpx.Client, want: set[str], timeout: float = 15.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        halls = c.get("/api/city/halls").json()["halls"]
        if want <= {h["site"] for h in halls} or time.monotonic() > deadline:
            return [h for h in halls if h["site"] in want]
        time.sleep(0.2)


def test_a_manager_sees_the_halls_on_the_bus_and_a_report_from_postgresql(city_console):
    with httpx.Client(base_url=city_console.url, timeout=10) as c:
        assert c.get("/api/city/halls").status_code == 401
        r = sign_in(c, "boss")
        assert r.status_code == 200 and r.json()["role"] == "manager"
        home = c.get(r.json()["home"], follow_redirects=True)
        assert home.url.path == "/city" and "全市网点" in home.text
        halls = halls_on_page(c, {"cc1", "cc2"})
        assert [(h["site"], h["level"], h["waiting"]) for h in halls] == [("cc1", "county", 6), ("cc2", "village", 1)]
        assert halls[0]["alarms"][0]["who"] == "kiosk-1"
        assert [w["window"] for w in c.get("/api/city/hall/cc1").json()["windows"]] == [1, 2]
        report = c.get("/api/city/report", params={"by": "site", "period": "day"}).json()
        assert [(row["site"], row["name"], row["tickets"], row["served"]) for row in report["rows"]] == \
            [("s1", "示范县大厅", 2, 1)]
        assert c.get("/api/state").status_code == 404  # the hall's own pages are not served here
        assert c.get("/clerk").status_code == 404


def test_anyone_but_a_manager_gets_403_and_nobody_signs_in_at_a_window(city_console):
    with httpx.Client(base_url=city_console.url, timeout=10) as c:
        assert sign_in(c, "look").status_code == 200
        for path in ("/api/city/halls", "/api/city/hall/cc1", "/api/city/report", "/city"):
            assert c.get(path).status_code == 403, path
    with httpx.Client(base_url=city_console.url, timeout=10) as c:
        assert sign_in(c, "wang").json()["error"]["code"] == "window_required"
        r = sign_in(c, "wang", window=1)
        assert r.status_code == 503 and "no hall" in r.json()["error"]["message"]
        assert c.get("/api/city/halls").status_code == 401


def test_the_command_says_what_is_missing(capsys, tmp_path):
    assert main(["city-console"]) == 2
    assert "--city-nodes" in capsys.readouterr().out
    assert main(["city-console", "--city-nodes", "mqtt://127.0.0.1:1", "--users", str(tmp_path / "none.db")]) == 2
    assert "add-user" in capsys.readouterr().out
