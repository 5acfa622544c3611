"""The hall's link to the city (`onewindow bridge-city`): its complete event log and its live state.

Two halves, one process, apart from the hall server (the hall never waits for the city):

- `LogForwarder`: reads the hall's SQLite event log by sequence number over a read-only connection
  (the server keeps writing), sends batches to the city store, and moves on only when the city store
  has committed them together with the site's mark (`CityStore.append`). It starts, and starts again
  after any failure, from the mark the city store holds, so an outage, a kill of the bridge or a
  restart of the store neither loses nor doubles an event (rows already there are skipped).
- `LiveForwarder`: subscribes on the hall broker to the retained `state/#`, `presence/+`,
  `device/+/status` and to `event/call`, and publishes each on the city bus under the same topic
  (retained as on the hall). It keeps the latest retained message of each topic and publishes all of
  them again whenever it (re)connects to a city bus node (a `FailoverTransport` over the node list).
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

from city.store import CityStore, CityStoreError, hall_rows
from onewindow.topics import Topics

log = logging.getLogger("onewindow.city.bridge")


class LogForwarder:
    """The complete log, hall SQLite -> city PostgreSQL, acknowledged batch by batch."""

    def __init__(self, db_path: str | Path, site_id: str, store: CityStore, batch: int = 1000,
                 poll_interval: float = 0.2, retry_interval: float = 1.0, site_info: tuple[str, str] | None = None):
        self.db_path = Path(db_path)
        self.site_id = site_id
        self.store = store
        self.batch = batch
        self.poll_interval = poll_interval
        self.retry_interval = retry_interval
        self.site_info = site_info  # (name, level) recorded in the city's `sites` table
        self.mark: int | None = None  # the city store's mark for this site, once known
        self.sent = 0  # events the city store took as new
        self.failures = 0
        self._hall: sqlite3.Connection | None = None

    def _hall_conn(self) -> sqlite3.Connection | None:
        if self._hall is None:
            if not self.db_path.exists():
                return None
            uri = f"file:{self.db_path.resolve()}?mode=ro"
            self._hall = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self._hall.execute("PRAGMA busy_timeout=2000")
        return self._hall

    def _resume(self) -> int:
        """Ask the city store where this site stands (after a start or any failure)."""
        if self.site_info is not None:
            self.store.upsert_site(self.site_id, *self.site_info)
        mark = self.store.mark(self.site_id)
        if mark != self.mark:
            log.info("city store holds site %s up to event %d; forwarding from there", self.site_id, mark)
        self.mark = mark
        return mark

    def step(self) -> int:
        """Send one batch of events after the mark; how many the hall had waiting (0: none).

        Raises CityStoreError (nothing of the batch counts as sent) or sqlite3.Error.
        """
        if self.mark is None:
            self._resume()
        conn = self._hall_conn()
        if conn is None:
            return 0
        rows = hall_rows(conn, self.site_id, self.mark, self.batch)
        if not rows:
            return 0
        if rows[0]["seq"] != self.mark + 1:
            log.warning("site %s: the hall's log jumps from event %d to %d", self.site_id, self.mark, rows[0]["seq"])
        mark, inserted = self.store.append(self.site_id, rows)
        if inserted < len(rows):
            log.info("site %s: %d of %d events were already in the city store", self.site_id,
                     len(rows) - inserted, len(rows))
        self.mark, self.sent = mark, self.sent + inserted
        return len(rows)

    def run(self, stop: threading.Event) -> None:
        """Forward until `stop` is set; the city store being away only delays it."""
        down_since: float | None = None
        while not stop.is_set():
            try:
                n = self.step()
            except (CityStoreError, sqlite3.Error) as exc:
                self.failures += 1
                self.mark = None  # resume from what the city store says it holds
                if isinstance(exc, sqlite3.Error) and self._hall is not None:
                    self._hall.close()
                    self._hall = None
                if down_since is None:
                    down_since = time.monotonic()
                    log.warning("site %s: cannot forward events (%s); the hall goes on, retrying",
                                self.site_id, exc)
                stop.wait(self.retry_interval)
                continue
            if down_since is not None:
                log.info("site %s: forwarding again after %.0f s", self.site_id, time.monotonic() - down_since)
                down_since = None
            if n < self.batch:
                stop.wait(self.poll_interval)

    def close(self) -> None:
        if self._hall is not None:
            self._hall.close()
            self._hall = None


class LiveForwarder:
    """Live state and calls, hall broker -> city bus, whole again after every reconnect to the city."""

    RETAINED_KINDS = ("state", "presence", "device")

    def __init__(self, hall, city, site_id: str):
        self.hall, self.city = hall, city
        self.topics = Topics(site_id)
        self.retained: dict[str, bytes] = {}
        self.forwarded = 0
        self._lock = threading.Lock()
        city.on_connected = self.republish
        for topic_filter in (self.topics.state_filter, self.topics.presence_filter,
                             self.topics.device_status_filter, self.topics.calls):
            hall.subscribe(topic_filter, self._on_hall_message)

    def _retained(self, topic: str) -> bool:
        rest = topic[len(self.topics.root) + 1:]
        return rest.split("/", 1)[0] in self.RETAINED_KINDS

    def _on_hall_message(self, topic: str, payload: bytes) -> None:
        retain = self._retained(topic)
        with self._lock:
            if retain:
                if payload:
                    self.retained[topic] = payload
                else:
                    self.retained.pop(topic, None)
            self.city.publish(topic, payload, qos=1, retain=retain)
            self.forwarded += 1

    def republish(self, quiet: bool = False) -> None:
        """On every (re)connect to a city bus node, and every so often: the hall's whole retained state
        again (a bus node that restarted may hold an older copy of some of it)."""
        with self._lock:
            for topic, payload in self.retained.items():
                self.city.publish(topic, payload, qos=1, retain=True)
            n = len(self.retained)
        if not quiet:
            log.info("site %s: %d retained topics published to the city bus", self.topics.site_id, n)

    def run(self, stop: threading.Event, every: float = 30.0) -> None:
        """Republish the whole retained state every `every` seconds until `stop` is set."""
        while not stop.wait(every):
            if self.city.connected:
                self.republish(quiet=True)
