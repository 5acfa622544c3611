"""How fast the manager's live page follows the hall: event -> page updated, in headless Chromium.

A whole small hall on loopback: managed Mosquitto, the queue server (in-process, over MQTT), the
console (uvicorn) and Debian's Chromium driven by Playwright, signed in as a manager on /manager.
A MutationObserver in the page stamps (performance.timeOrigin + now, wall-clock ms) the moment a
window card shows a new ticket number; the sender stamps the moment it publishes. Same machine, same
clock.

1. state -> page: a retained `state/window/12` message published (as the server publishes it) ->
   the card of window 12 shows its ticket. The console's own share: MQTT -> mirror -> SSE -> DOM.
2. clerk call -> page: a clerk's `call_next` command sent -> window 2's card shows the called
   ticket: through the queue server (command, durable commit, state publish) and the console.

    python -m bench console-live [--samples 300] [--gap-ms 40]

Ends with one JSON line: state_to_page_p50_ms/p99_ms/max_ms, call_to_page_p50_ms/p99_ms, samples, lost.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "bench password"
OBSERVER = """() => {
  window.__seen = {};
  const stamp = () => {
    for (const t of document.querySelectorAll('#windows .win .ticket')) {
      const n = t.textContent;
      if (n && !(n in window.__seen)) window.__seen[n] = performance.timeOrigin + performance.now();
    }
  };
  new MutationObserver(stamp).observe(document.getElementById('windows'),
                                      {childList: true, subtree: true, characterData: true});
}"""


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))]


def start_hall(tmp: Path):
    from console.accounts import Accounts
    from console.runner import ConsoleRunner
    from onewindow import config
    from broker.mosquitto import ManagedBroker
    from onewindow.broker import free_port
    from onewindow.mqtt import MqttTransport
    from queue_server.server import QueueServer
    from queue_server.store import Store
    site = config.load(config.sample_path("county-hall"))
    tmp.chmod(0o711)
    broker = ManagedBroker(tmp / "broker", port=0, host="127.0.0.1")
    broker.start()
    transport = MqttTransport(broker.settings, site.site_id, "server-bench", role="server", idle_interval=0.1)
    store = Store(tmp / "q.db", site.site_id, site.timezone)
    server = QueueServer(site, store, transport, always_open=True)
    server.start()
    transport.start(timeout=10)
    accounts = Accounts(tmp / "users.db")
    accounts.add("boss", "manager", password=PASSWORD, name="bench")
    accounts.close()
    console = ConsoleRunner(broker.settings, site.site_id, tmp / "users.db", port=free_port(),
                            client_id="console-bench", manager={"log_db": tmp / "q.db"}).start()
    console.transport.wait_connected(10)

    def stop():
        console.stop()
        server.stop()
        transport.stop()
        store.close()
        broker.stop()
    return site, broker, console, stop


def collect(page, stamps: dict[str, float], settle: float = 2.0) -> tuple[list[float], int]:
    deadline = time.time() + settle
    seen: dict = {}
    while time.time() < deadline:
        seen = page.evaluate("() => window.__seen")
        if all(n in seen for n in stamps):
            break
        time.sleep(0.1)
    latencies = [seen[n] - t0 for n, t0 in stamps.items() if n in seen]
    return latencies, len(stamps) - len(latencies)


def sign_in(browser, url: str):
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    page.goto(url + "/login")
    page.fill("#username", "boss")
    page.fill("#secret", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url(re.compile(r"/manager$"))
    page.wait_for_selector("#window-12")
    page.evaluate(OBSERVER)
    return page


def state_events(pub, topics, site_id: str, samples: int, gap: float) -> dict[str, float]:
    """Retained window-12 states as the server publishes them; number -> publish time (ms)."""
    from onewindow import PROTOCOL_VERSION
    stamps: dict[str, float] = {}
    for i in range(samples):
        number = f"X{i:04d}"
        body = {"v": PROTOCOL_VERSION, "window": 12, "name": "12号窗口", "state": "calling", "clerk": "bench",
                "serves": ["F", "A"], "since": None, "held": [], "pause_reason": None, "served_today": i,
                "awaiting_rating": None,
                "ticket": {"id": f"{site_id}:bench:{number}", "number": number, "business_type": "F", "calls": 1}}
        stamps[number] = time.time() * 1000.0
        pub.publish(topics.window(12), json.dumps(body, ensure_ascii=False), qos=1, retain=True)
        time.sleep(gap)
    return stamps


def clerk_calls(clerk, rounds: int, gap: float) -> dict[str, float]:
    """A clerk at window 2 calls, then finishes; number -> time the call was sent (ms)."""
    clerk.window("sign_in", 2, "wang")
    calls: dict[str, float] = {}
    for _ in range(rounds):
        clerk.issue("A")
        t0 = time.time() * 1000.0
        reply = clerk.window("call_next", 2, "wang")
        calls[reply["ticket"]["number"]] = t0
        clerk.window("finish", 2, "wang")
        time.sleep(gap)
    return calls


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench console-live", description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--gap-ms", type=float, default=40.0, help="pause between events (ms)")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright
    from onewindow.client import QueueClient
    from onewindow.mqtt import MqttTransport
    from onewindow.topics import Topics
    tmp = Path(tempfile.mkdtemp(prefix="bench-console-"))
    site, broker, console, stop = start_hall(tmp)
    pub = clerk_t = None
    try:
        pub = MqttTransport(broker.settings, site.site_id, "bench-publisher", role="bench").start(10)
        clerk_t = MqttTransport(broker.settings, site.site_id, "bench-clerk", role="bench").start(10)
        clerk = QueueClient(clerk_t, site.site_id, "bench-clerk")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            page = sign_in(browser, console.url)
            stamps = state_events(pub, Topics(site.site_id), site.site_id, args.samples, args.gap_ms / 1000.0)
            state_ms, state_lost = collect(page, stamps)
            calls = clerk_calls(clerk, max(20, args.samples // 3), args.gap_ms / 1000.0)
            call_ms, call_lost = collect(page, calls)
            browser.close()
    finally:
        for t in (pub, clerk_t):
            if t is not None:
                t.stop()
        stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return report(state_ms, call_ms, len(stamps), len(calls), state_lost + call_lost)


def report(state_ms: list[float], call_ms: list[float], states: int, calls: int, lost: int) -> int:
    out = {"samples": states, "state_to_page_p50_ms": round(statistics.median(state_ms), 1),
           "state_to_page_p99_ms": round(pct(state_ms, 99), 1), "state_to_page_max_ms": round(max(state_ms), 1),
           "call_to_page_p50_ms": round(statistics.median(call_ms), 1),
           "call_to_page_p99_ms": round(pct(call_ms, 99), 1), "lost": lost}
    print(f"state -> page ({len(state_ms)} of {states}): p50 {out['state_to_page_p50_ms']} ms, "
          f"p99 {out['state_to_page_p99_ms']} ms, max {out['state_to_page_max_ms']} ms (target p99 < 100 ms)")
    print(f"clerk call -> page ({len(call_ms)} of {calls}): p50 {out['call_to_page_p50_ms']} ms, "
          f"p99 {out['call_to_page_p99_ms']} ms")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(main(sys.argv[1:]))
