"""Ten restarts (half of them SIGKILL) of the locked-down managed broker during a busy (compressed) hour: kiosks issue, windows
call, finish and take the next; no ticket is lost or issued twice, and a display that connects after
each restart has the whole retained state within 2 s."""
from __future__ import annotations

import json
import random
import threading
import time

import pytest

from onewindow.client import RequestTimeout
from onewindow.mqtt import MqttTransport
from tests.test_lockdown import SITE, T, Site

RESTARTS = int(__import__("os").environ.get("OW_RESTARTS", "10"))


@pytest.fixture
def site():
    s = Site()
    yield s
    s.close()


def _retained_whole(site: Site, timeout: float = 5.0) -> float:
    """Seconds until a new display holds every retained topic of the site (site, catalogue, display,
    every window, every business type's queue)."""
    expected = {T.site, T.catalogue, T.display, *(T.window(w.number) for w in site.site.windows),
                *(T.queue(b.prefix) for b in site.site.business_types)}
    seen: set = set()
    done = threading.Event()
    started = time.perf_counter()

    def on(topic, payload):
        seen.add(topic)
        if expected <= seen:
            done.set()
    display = MqttTransport(site.broker.settings_for("display-1", tls=True), SITE,
                            f"display-1-{time.monotonic_ns()}", presence=False)
    try:
        display.start(timeout=timeout)
        display.subscribe(f"onewindow/{SITE}/state/#", on)
        done.wait(timeout)
    finally:
        display.stop()
    assert expected <= seen, sorted(expected - seen)
    return time.perf_counter() - started


def test_ten_broker_restarts_lose_and_duplicate_no_ticket(site):
    stop = threading.Event()
    issued, timeouts, errors = [], [], []
    lock = threading.Lock()

    def counter(n: int) -> None:  # the counter issues (console role: no kiosk throttle)
        client = site.client("console")
        client.timeout, client.attempts = 1.5, 8  # retries carry the same request id
        rng = random.Random(n)
        while not stop.is_set():
            try:
                reply = client.issue(rng.choice("ABCDE"))
            except RequestTimeout as exc:
                timeouts.append(exc.request_id)
                continue
            with lock:
                (issued if reply["ok"] else errors).append(reply)
            time.sleep(rng.uniform(0.02, 0.08))

    def window(number: int) -> None:
        pad = site.client(f"window-{number}")
        pad.timeout, pad.attempts = 1.5, 8
        clerk = f"clerk{number}"
        while not pad.window("sign_in", number, clerk)["ok"]:
            time.sleep(0.1)
        while not stop.is_set():
            try:
                if pad.window("call_next", number, clerk)["ok"]:
                    pad.window("start", number, clerk)
                    time.sleep(0.05)
                    pad.window("finish", number, clerk)
                else:
                    time.sleep(0.05)
            except RequestTimeout as exc:
                timeouts.append(exc.request_id)

    threads = [threading.Thread(target=counter, args=(n,), daemon=True) for n in range(2)]
    threads += [threading.Thread(target=window, args=(n,), daemon=True) for n in (1, 2, 3, 5)]
    for t in threads:
        t.start()
    whole_after = []
    for i in range(RESTARTS):
        time.sleep(1.0)
        if i % 2:  # a crash: SIGKILL, retained messages since the last autosave are gone from the broker
            generation = site.broker.generation
            site.broker.kill()
            site.broker.wait_ready(generation)
        else:  # a clean restart
            site.broker.restart()
        whole_after.append(_retained_whole(site))
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join(20)
    numbers = [r["ticket"]["id"] for r in issued]
    rows = site.server.store.conn.execute(
        "SELECT ticket FROM events WHERE type = 'ticket_issued' ORDER BY seq").fetchall()
    stored = [r[0] for r in rows]
    print(f"\n{RESTARTS} broker restarts: {len(numbers)} tickets issued, {len(timeouts)} requests without a "
          f"reply, retained state whole {max(whole_after):.2f} s (max) after a restart")
    assert len(numbers) > 50 and not errors, errors[:3]
    assert len(set(numbers)) == len(numbers), "a ticket number was given twice"
    assert sorted(stored) == sorted(numbers), "the log and the replies disagree: lost or duplicated"
    assert not timeouts, f"{len(timeouts)} requests got no reply through the restarts"
    assert max(whole_after) < 2.0, whole_after
    # The retained queues agree with the server at the end.
    final: dict = {}
    display = site.transport("display-1")
    display.subscribe(f"onewindow/{SITE}/state/queue/+", lambda t, p: final.__setitem__(t, json.loads(p)))
    time.sleep(1.0)
    for prefix, line in site.server.engine.lines.items():
        assert final[T.queue(prefix)]["waiting"] == len(line), prefix
