"""Two clerks press "call next" at the same moment for the one waiting ticket, thousands of times:
exactly one window gets it, the other hears clearly that nobody is waiting. Never one citizen
invited by two windows."""
from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

from onewindow.client import QueueClient
from onewindow.transport import LocalBroker
from queue_server.server import QueueServer
from queue_server.store import Store

ROUNDS = 2000


def test_two_clerks_calling_at_once_never_share_a_ticket(county):
    # The log on tmpfs when there is one: this test is about the race, not about fsync (tests of
    # durability are elsewhere), and 8,000 fsyncs on a shared disk take longer than the race itself.
    tmp = tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    tmp_path = Path(tmp.name)
    broker = LocalBroker()
    site = county.site_id
    server_t = broker.transport("server", "server", site, presence=False).start()
    server = QueueServer(county, Store(tmp_path / "q.db", site, county.timezone), server_t, always_open=True)
    server.start()
    kiosk = QueueClient(broker.transport("kiosk", "kiosk", site, presence=False).start(), site, "kiosk", timeout=5)
    # Windows 2 and 3 both serve business type A; each console has its own connection.
    clerks = {2: "wang", 3: "li"}
    consoles = {w: QueueClient(broker.transport(f"console-{w}", "console", site, presence=False).start(), site,
                               f"console-{w}", timeout=5) for w in clerks}
    for w, clerk in clerks.items():
        assert consoles[w].window("sign_in", w, clerk)["ok"]
    barrier = threading.Barrier(2)
    replies: dict[int, dict] = {}
    won = {2: 0, 3: 0}

    def press(w: int) -> None:
        barrier.wait()
        replies[w] = consoles[w].window("call_next", w, clerks[w])

    try:
        for n in range(ROUNDS):
            ticket = kiosk.issue("A")["ticket"]
            order = [2, 3] if n % 2 else [3, 2]  # the last to reach the barrier tends to go first
            threads = [threading.Thread(target=press, args=(w,)) for w in order]
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
            winners = [w for w, r in replies.items() if r["ok"]]
            assert len(winners) == 1, replies
            (winner,) = winners
            (loser,) = set(clerks) - {winner}
            assert replies[winner]["ticket"]["number"] == ticket["number"]
            error = replies[loser]["error"]
            assert error["code"] == "queue_empty" and "nobody is waiting" in error["message"], error
            won[winner] += 1
            assert consoles[winner].window("finish", winner, clerks[winner])["ok"]
        server.engine.check_invariants()
        called = [e for e in server.store.latest_day_events() if e["type"] == "ticket_called"]
        assert len(called) == ROUNDS and len({e["ticket"] for e in called}) == ROUNDS
        assert won[2] > 0 and won[3] > 0, won  # both sides of the race were exercised
    finally:
        server.stop()
        server.store.close()
        tmp.cleanup()
