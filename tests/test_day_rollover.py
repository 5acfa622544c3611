"""The server rolls the day over on time by itself: no command needed, the log says what closed."""
from __future__ import annotations

from queue_server.server import QueueServer
from queue_server.store import Store
from tests.conftest import local_time
from tests.test_server import SITE, RecordingTransport, command


def test_the_server_moves_the_hall_to_the_new_day_at_the_reset_without_any_command(tmp_path, county, clock):
    transport = RecordingTransport()
    store = Store(tmp_path / "q.db", SITE, county.timezone)
    srv = QueueServer(county, store, transport, clock=clock)
    srv.process([command("issue", business_type="A")])
    srv.process([command("sign_in", window=2, clerk="wang")])
    assert transport.retained()[f"onewindow/{SITE}/state/display"]["service_day"] == "2026-11-23"
    clock.now = local_time(2026, 11, 24, 3, 0, 1)
    srv.process([])  # the idle path: nothing arrived
    retained = transport.retained()
    assert retained[f"onewindow/{SITE}/state/display"]["service_day"] == "2026-11-24"
    assert retained[f"onewindow/{SITE}/state/site"]["service_day"] == "2026-11-24"
    assert retained[f"onewindow/{SITE}/state/window/2"]["state"] == "closed"
    assert retained[f"onewindow/{SITE}/state/queue/A"]["waiting"] == 0
    # The log holds the closing: a restarted server rebuilds the new, empty day.
    again = QueueServer(county, Store(tmp_path / "q.db", SITE, county.timezone), RecordingTransport(), clock=clock)
    assert again.engine.day == "2026-11-24" and not again.engine.tickets
    rows = store.conn.execute("SELECT type, json_extract(data, '$.reason') FROM events ORDER BY seq").fetchall()
    assert ("ticket_cancelled", "day_closed") in rows
    assert [r[0] for r in rows][-2:] == ["day_closed", "day_started"]
