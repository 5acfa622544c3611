"""One queue server per site on a broker: is another one already answering?

Two servers of one site share the server's client id, so the broker keeps dropping one for the other
(thousands of reconnects a minute), and both answer commands. Before it connects for real, a server
looks with a probe connection of its own (another client id, the server's credentials):

1. the server's retained presence (`presence/{server}`); absent or offline: nobody is there;
2. online: it may be stale (a broker restarted with persistence keeps it), so the probe sends a
   `ticket_status` as the server's name and waits for any reply. A reply means a live server: refuse.
"""
from __future__ import annotations

import json
import os
import threading
import time

from onewindow import PROTOCOL_VERSION
from onewindow.broker import BrokerSettings
from onewindow.mqtt import MqttTransport
from onewindow.topics import Topics


class AnotherServer(Exception):
    """The server must not start: another queue server of this site answers on the broker (or the broker
    refuses the server's credentials)."""


def check_no_other_server(settings: BrokerSettings, site_id: str, identity: str,
                          answer_within: float = 2.0, connect_timeout: float = 10.0) -> str:
    """Raise AnotherServer if a live server of `site_id` answers on this broker; else say what was seen."""
    topics = Topics(site_id)
    presence: list[dict] = []
    replies = threading.Event()
    seen_presence = threading.Event()
    rid = f"{identity}-check-{os.getpid()}-{time.monotonic_ns()}"

    def on_presence(topic: str, payload: bytes) -> None:
        try:
            presence.append(json.loads(payload))
        except ValueError:
            pass
        seen_presence.set()

    def on_reply(topic: str, payload: bytes) -> None:
        try:
            if json.loads(payload).get("request_id") == rid:
                replies.set()
        except (ValueError, AttributeError):
            pass

    probe = MqttTransport(settings, site_id, f"{identity}-check-{os.getpid()}", role="server-check",
                          presence=False)
    try:
        try:
            probe.start(timeout=connect_timeout)
        except ConnectionError:
            if probe.refused:
                raise AnotherServer(  # not another server, but as final: the server cannot start
                    f"the broker at {settings.url} refused the server's connection ({probe.refused}): give the "
                    "server its credentials (--credentials FILE from `onewindow credentials`, see "
                    "docs/SECURITY.md), or run the broker with --open for development") from None
            raise
        probe.subscribe(topics.presence(identity), on_presence)
        seen_presence.wait(0.5)  # a retained message arrives right after the subscription, if there is one
        if not presence or presence[-1].get("state") != "online":
            return "no other server of this site on the broker"
        probe.subscribe(topics.reply(identity), on_reply)
        body = {"v": PROTOCOL_VERSION, "request_id": rid, "reply_to": topics.reply(identity), "ticket": "A001"}
        probe.publish(topics.cmd("ticket_status", identity), json.dumps(body), qos=1)
        if replies.wait(answer_within):
            raise AnotherServer(
                f"another queue server of site {site_id} is connected to the broker at {settings.url} and "
                f"answers commands (online since {presence[-1].get('at', '?')}). One server per site: stop "
                "the other one first.")
        return (f"the broker still showed server {identity} online (since {presence[-1].get('at', '?')}), "
                f"but nothing answered within {answer_within:.0f} s: a stale presence, starting")
    finally:
        probe.stop()
