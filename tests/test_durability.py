"""A server killed with SIGKILL at random moments loses no ticket and makes none twice.

Several kiosks issue tickets as fast as they can. Each retries a request that times out with the
SAME request id. Meanwhile the server is killed (SIGKILL) and restarted 20 times. In the end every
ticket a kiosk was told about is in the log exactly once, with the number the kiosk was told, and no
number was issued twice.
"""
from __future__ import annotations

import json
import random

import pytest
import sqlite3
import threading
import time
from collections import Counter

from onewindow.client import QueueClient, RequestTimeout
from onewindow.mqtt import MqttTransport
from tests.server_process import ServerProcess

KIOSKS = 4
KILLS = 20


@pytest.mark.parametrize("durability, kills", [("power", KILLS), ("crash", KILLS // 3)])
def test_sigkill_during_a_storm_of_retried_requests_loses_and_duplicates_nothing(tmp_path, broker, durability,
                                                                                 kills):
    """Both durabilities survive a killed server (only "power" also survives a power cut, which a test
    on one machine cannot cut)."""
    rng = random.Random(20261123)
    server = ServerProcess(broker.url, tmp_path / "queue.db", extra_args=["--durability", durability]).start()
    told: dict[str, tuple[str, str]] = {}  # request id -> (ticket id, number) the kiosk was told
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[str] = []

    def kiosk(n: int) -> None:
        transport = MqttTransport(broker.settings, "demo-county", f"kiosk-{n}", role="kiosk").start()
        client = QueueClient(transport, "demo-county", f"kiosk-{n}", timeout=0.3, attempts=1)
        local = random.Random(n)
        try:
            while not stop.is_set():
                rid = client.new_request_id()
                prefix = local.choice("ABCDE")
                for _ in range(200):  # retry with the same request id until answered
                    try:
                        reply = client.request("issue", request_id=rid, business_type=prefix)
                    except RequestTimeout:
                        continue
                    if not reply["ok"]:
                        errors.append(json.dumps(reply))
                    else:
                        with lock:
                            if rid in told:
                                errors.append(f"request {rid} answered twice")
                            told[rid] = (reply["ticket"]["id"], reply["ticket"]["number"])
                    break
                else:
                    errors.append(f"request {rid} never answered")
        finally:
            transport.stop()

    threads = [threading.Thread(target=kiosk, args=(n,)) for n in range(KIOSKS)]
    for t in threads:
        t.start()
    try:
        for _ in range(kills):
            time.sleep(rng.uniform(0.05, 0.5))
            server.kill()
            server.start()
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
        server.stop()

    assert not errors, errors[:5]
    assert sum(1 for line in server.lines if "server ready" in line) == kills + 1
    db = sqlite3.connect(tmp_path / "queue.db")
    issued = db.execute("SELECT request_id, ticket, json_extract(data, '$.number'), day FROM events "
                        "WHERE type = 'ticket_issued'").fetchall()
    by_request = Counter(r[0] for r in issued)
    assert max(by_request.values()) == 1, "a request made two tickets"
    numbers = Counter((r[3], r[2]) for r in issued)
    assert max(numbers.values()) == 1, "a number was issued twice"
    in_log = {r[0]: (r[1], r[2]) for r in issued}
    print("acknowledged", len(told), "in log", len(in_log))
    assert len(told) > 10 * kills, f"only {len(told)} tickets acknowledged: the storm was too small to prove much"
    lost = [rid for rid in told if rid not in in_log]
    assert not lost, f"{len(lost)} acknowledged tickets are not in the log"
    wrong = [rid for rid, t in told.items() if in_log[rid] != t]
    assert not wrong, f"{len(wrong)} tickets differ from what the kiosk was told"
