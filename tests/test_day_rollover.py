"""The server rolls the day over on time by itself: no command needed, the log says what closed."""
from __future__ import annotations

from tests.conftest import local_time
from tests.test_server import SITE, Hall, command, store


def test_the_server_moves_the_hall_to_the_new_day_at_the_reset_without_any_command(tmp_path, county, clock):
    hall = Hall(county, store(tmp_path, county), clock)
    hall.send(command("issue", business_type="A"))
    hall.send(command("sign_in", window=2, clerk="wang"))
    assert hall.retained()[f"onewindow/{SITE}/state/display"]["service_day"] == "2026-11-23"
    clock.now = local_time(2026, 11, 24, 3, 0, 1)
    hall.transport.tick()  # the transport's idle wake-up: nothing arrived
    retained = hall.retained()
    assert retained[f"onewindow/{SITE}/state/display"]["service_day"] == "2026-11-24"
    assert retained[f"onewindow/{SITE}/state/site"]["service_day"] == "2026-11-24"
    assert retained[f"onewindow/{SITE}/state/window/2"]["state"] == "closed"
    assert retained[f"onewindow/{SITE}/state/queue/A"]["waiting"] == 0
    # The log holds the closing: a restarted server rebuilds the new, empty day.
    hall.server.store.close()  # one server per site and database
    again = Hall(county, store(tmp_path, county), clock)
    assert again.server.engine.day == "2026-11-24" and not again.server.engine.tickets
    rows = again.server.store.conn.execute(
        "SELECT type, json_extract(data, '$.reason') FROM events ORDER BY seq").fetchall()
    assert ("ticket_cancelled", "day_closed") in rows
    assert [r[0] for r in rows][-2:] == ["day_closed", "day_started"]
