"""The durable log: SQLite (WAL), one row per fact, readable with `sqlite-utils` or `sqlite3`.

Tables
- `events`: the append-only event log. Every row carries the site id and an id unique across sites
  (time-ordered, UUIDv7 layout), so a city tier can gather every hall's log into one database.
- `requests`: the first reply sent to each request id, so a retried request gets the same answer.
- `_onewindow_meta`: schema version.

`commit()` writes a whole batch of commands in one transaction: the server calls it before any reply of
the batch leaves (group commit). With durability "power" (the default, synchronous=FULL) the batch is on
the device when it returns; with "crash" (synchronous=NORMAL) it is in the operating system's hands (safe
from a killed server; a power cut may lose the last second) for disks whose flush is slow.

Opening a file-backed store first checks that it can be trusted (`queue_server/dbguard.py`): one server
per site and database (a lock file), a sound and writable SQLite file (`PRAGMA quick_check`), and a log
that was not replaced by an emptier one (a marker file). Any problem raises `DatabaseUnusable` with a
message for the operator.
"""
from __future__ import annotations

import json
import logging
import os
import random
import sqlite3
import threading
import time
from pathlib import Path
from typing import Iterable

import sqlite_utils

from datetime import datetime
from zoneinfo import ZoneInfo

from onewindow.transport import dumps
from queue_server import dbguard
from queue_server.dbguard import DatabaseUnusable

__all__ = ["Store", "StoreError", "DatabaseUnusable", "new_event_id"]

log = logging.getLogger("onewindow.store")

SCHEMA_VERSION = 1
DURABILITY = {"power": "FULL", "crash": "NORMAL"}  # -> SQLite's synchronous setting of the writer
CRASH_SYNC_SECONDS = 1.0  # "crash" durability: the WAL reaches the device at least this often
CHECKPOINT_SECONDS = 1.0  # at most one checkpoint a second, whatever the load
CATCH_UP_FRAMES = 4000  # WAL pages (16 MB) past which a checkpoint is finished on the writer's thread
# Event fields kept in their own columns; the rest go to `data` as JSON.
COLUMNS = ("type", "at", "day", "ticket", "window")

_uuid_lock = threading.Lock()
_uuid_last = [0, 0]
_uuid_random = random.Random(os.urandom(16))  # seeded from the OS once: ids need uniqueness, not secrecy


def new_event_id() -> str:
    """A UUIDv7 string: 48-bit millisecond time, then random bits; unique across sites and sorted by time."""
    with _uuid_lock:
        ms = int(time.time() * 1000)
        if ms <= _uuid_last[0]:
            ms = _uuid_last[0]
            _uuid_last[1] += 1
        else:
            _uuid_last[0], _uuid_last[1] = ms, _uuid_random.getrandbits(10)
        counter = _uuid_last[1] & 0xFFF
        rand = _uuid_random.getrandbits(62)
    value = (ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | rand
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def event_of_row(row: tuple) -> dict:
    """An event as the engine applies it, from a row (type, ts, day, ticket, window, data) of `events`."""
    type_, ts, day, ticket, window, data = row
    event = json.loads(data)
    event.update(type=type_, at=ts, day=day)
    if ticket is not None:
        event["ticket"] = ticket
    if window is not None:
        event["window"] = window
    return event


class StoreError(Exception):
    """The log could not be written: nothing of the batch is durable."""


class Store:
    def __init__(self, path: str | Path, site_id: str, timezone: str = "Asia/Shanghai",
                 checkpoint_rows: int = 500, durability: str = "power", wal_reserve: int = 0):
        """`durability`: "power" (default): every commit is on the device (fsync) before it returns, so
        nothing acknowledged is lost even to a power cut; "crash": every commit is in the operating
        system's hands before it returns (it survives the server being killed, not a power cut, which may
        lose what was committed in the last second: the WAL is synced by a checkpoint at least once a
        second), for disks whose flush is slow.

        `wal_reserve`: bytes of write-ahead log written out (zeros) at open, so that commits overwrite
        the file in place instead of growing it (see `_reserve_wal`); 0: none (tests, tools)."""
        if durability not in DURABILITY:
            raise ValueError(f"durability must be one of {', '.join(DURABILITY)}, not {durability!r}")
        self.durability = durability
        self.path = str(path)
        self.site_id = site_id
        self.tz = ZoneInfo(timezone)
        self._iso_second: tuple[int, str, str] = (-1, "", "")
        self._lock_fd: int | None = None
        self._marker_day: str | None = None
        if self.path != ":memory:":
            db = Path(self.path)
            try:
                db.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseUnusable(f"cannot create the directory of {db}: {exc.strerror}") from None
            self._lock_fd = dbguard.acquire_lock(db, site_id)
        try:
            self._open(checkpoint_rows, wal_reserve)
        except BaseException:
            self._release()
            raise

    def _open(self, checkpoint_rows: int, wal_reserve: int = 0) -> None:
        file_backed = self.path != ":memory:"
        db = Path(self.path)
        if file_backed:
            dbguard.check_file(db)
        try:
            self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            if file_backed:
                dbguard.check_integrity(self.conn, db)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute(f"PRAGMA synchronous={DURABILITY[self.durability]}")
            self.conn.execute("PRAGMA busy_timeout=5000")
            self._create()
            # A write at open: a read-only file is found now, not at the first ticket of the day.
            self.conn.execute("INSERT OR REPLACE INTO _onewindow_meta VALUES ('opened_at', ?)",
                              (datetime.now(self.tz).isoformat(timespec="seconds"),))
            row = self.conn.execute("SELECT max(seq), max(day) FROM events WHERE site_id = ?",
                                    (self.site_id,)).fetchone()
        except DatabaseUnusable:
            self._close_conn()
            raise
        except sqlite3.Error as exc:
            self._close_conn()
            hint = ("the file or its directory is read-only for this user" if "readonly" in str(exc)
                    else "restore the latest backup with `onewindow restore`")
            raise DatabaseUnusable(f"cannot use {db} as the queue log ({exc}): {hint}") from None
        self.db = sqlite_utils.Database(self.conn)
        self.next_seq = (row[0] or 0) + 1
        if file_backed:
            try:
                dbguard.check_marker(db, self.site_id, row[0] or 0)
            except DatabaseUnusable:
                self._close_conn()
                raise
            self._marker_day = row[1] if row[0] else None
            if wal_reserve > 0:  # only for a log that is to be used
                self._reserve_wal(wal_reserve)
        # Checkpoints (copying the WAL into the database file) are run by the owner at a moment of its
        # choosing (the server: after its replies have left), not inside a commit a reply waits for.
        self.checkpoint_rows = checkpoint_rows
        self._rows_since_checkpoint = 0
        self._checkpointer: Checkpointer | None = None
        self._checkpoint_asked = time.monotonic()
        if checkpoint_rows:
            self.conn.execute("PRAGMA wal_autocheckpoint=0")

    def _reserve_wal(self, size: int) -> None:
        """Write the WAL file out with zeros to `size` bytes (never touching what it holds) and sync it.

        A commit that appends past the end of the WAL file changes the file's size, and its fdatasync then
        has to commit the file system's journal too: measured here, 0.53 ms a commit instead of 0.28 ms,
        for every commit until the first checkpoint lets SQLite start the WAL again from its beginning
        (SQLite then overwrites the file in place and never shrinks it while the server runs). Written
        out at start, the WAL is overwritten in place from the first ticket. Zeros past the last frame are
        not frames (no valid salt or checksum), so recovery after a crash reads exactly what it would
        without them. Also reserves the log's working space: a disk too full for it is found at start.
        Only the writer (this store; the site's lock keeps any other out) writes the WAL, and not yet."""
        wal = self.path + "-wal"
        try:
            fd = os.open(wal, os.O_RDWR)
        except OSError as exc:
            log.warning("could not reserve space for the write-ahead log %s: %s", wal, exc.strerror)
            return
        try:
            start = os.fstat(fd).st_size
            chunk = bytes(1 << 20)
            try:
                for offset in range(start, size, len(chunk)):
                    os.pwrite(fd, chunk[:min(len(chunk), size - offset)], offset)
                os.fsync(fd)
            except OSError as exc:
                os.ftruncate(fd, start)  # leave the disk's last bytes to the log itself
                log.warning("could not reserve %d MB for the write-ahead log %s (%s): the disk is nearly "
                            "full; commits will be slower and may fail", size >> 20, wal, exc.strerror)
        finally:
            os.close(fd)

    def _close_conn(self) -> None:
        conn = getattr(self, "conn", None)
        if conn is not None:
            conn.close()

    def _release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def write_marker(self) -> None:
        """Record in the marker file how far this site's log goes (see dbguard)."""
        if self._lock_fd is None or self.next_seq <= 1:
            return
        row = self.conn.execute("SELECT day FROM events WHERE site_id = ? ORDER BY seq DESC LIMIT 1",
                                (self.site_id,)).fetchone()
        try:
            dbguard.write_marker(Path(self.path), self.site_id, self.next_seq - 1, row[0] if row else None)
        except OSError as exc:
            log.warning("could not write the marker file of %s: %s", self.path, exc)
            return
        self._marker_day = row[0] if row else None

    def _create(self) -> None:
        c = self.conn
        c.execute("""CREATE TABLE IF NOT EXISTS events (
            id TEXT PRIMARY KEY,          -- unique across sites (UUIDv7 layout)
            site_id TEXT NOT NULL,
            seq INTEGER NOT NULL,         -- order of events within the site
            day TEXT NOT NULL,            -- service day, YYYY-MM-DD
            at TEXT NOT NULL,             -- local time, ISO-8601 with offset
            ts REAL NOT NULL,             -- the same time as epoch seconds
            type TEXT NOT NULL,           -- ticket_issued, ticket_called, window_opened, ...
            ticket TEXT,                  -- ticket id, when the event is about a ticket
            window INTEGER,               -- window number, when the event is about a window
            request_id TEXT,              -- the command that caused it
            data TEXT NOT NULL            -- the remaining fields, JSON
        )""")
        c.execute("CREATE UNIQUE INDEX IF NOT EXISTS events_site_seq ON events(site_id, seq)")
        c.execute("CREATE INDEX IF NOT EXISTS events_site_day ON events(site_id, day)")
        # No index on ticket: nothing looks events up by ticket alone, and each index is one more page
        # written (and synced) at every commit. Logs made before this had one.
        c.execute("DROP INDEX IF EXISTS events_ticket")
        c.execute("""CREATE TABLE IF NOT EXISTS requests (
            site_id TEXT NOT NULL,
            request_id TEXT NOT NULL,
            command TEXT NOT NULL,
            received_at TEXT NOT NULL,
            ts REAL NOT NULL,
            ok INTEGER NOT NULL,
            reply TEXT NOT NULL,          -- exactly what was sent back
            PRIMARY KEY (site_id, request_id)
        )""")
        c.execute("CREATE INDEX IF NOT EXISTS requests_site_ts ON requests(site_id, ts)")
        c.execute("CREATE TABLE IF NOT EXISTS _onewindow_meta (key TEXT PRIMARY KEY, value TEXT)")
        c.execute("INSERT OR IGNORE INTO _onewindow_meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        # A readable view: one row per ticket with the moments of its visit.
        c.execute("""CREATE VIEW IF NOT EXISTS tickets AS
            SELECT site_id, day, ticket,
                   json_extract(max(CASE WHEN type = 'ticket_issued' THEN data END), '$.number') AS number,
                   json_extract(max(CASE WHEN type = 'ticket_issued' THEN data END), '$.business_type')
                       AS business_type,
                   min(CASE WHEN type = 'ticket_issued' THEN at END) AS issued_at,
                   min(CASE WHEN type = 'ticket_called' THEN at END) AS first_called_at,
                   max(CASE WHEN type = 'service_finished' THEN at END) AS finished_at,
                   max(CASE WHEN type IN ('service_finished', 'ticket_missed', 'ticket_cancelled')
                            THEN type END) AS ended_by,
                   json_extract(max(CASE WHEN type = 'ticket_rated' THEN data END), '$.score') AS rating
            FROM events WHERE ticket IS NOT NULL GROUP BY site_id, day, ticket""")

    def _iso(self, ts: float) -> str:
        """Local time with milliseconds; the zone's part is worked out once a second (zoneinfo is slow)."""
        second = int(ts // 1)
        micro = round((ts - second) * 1e6)  # as datetime rounds it
        if micro >= 1_000_000:
            second, micro = second + 1, 0
        if second != self._iso_second[0]:
            text = datetime.fromtimestamp(second, self.tz).isoformat(timespec="seconds")
            self._iso_second = (second, text[:19], text[19:])
        _, head, zone = self._iso_second
        return f"{head}.{micro // 1000:03d}{zone}"

    def commit(self, events: Iterable[tuple[dict, str | None]],
               requests: Iterable[tuple[str, str, float, bool, str]]) -> None:
        """Write events (with the request id that caused each) and request replies in one transaction."""
        rows = []
        seq = self.next_seq
        for event, request_id in events:
            data = {k: v for k, v in event.items() if k not in COLUMNS}
            rows.append((new_event_id(), self.site_id, seq, event["day"], self._iso(event["at"]), event["at"],
                         event["type"], event.get("ticket"), event.get("window"), request_id,
                         dumps(data)))
            seq += 1
        req_rows = [(self.site_id, rid, cmd, self._iso(ts), ts, int(ok), reply)
                    for rid, cmd, ts, ok, reply in requests]
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                if rows:
                    self.conn.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
                if req_rows:
                    self.conn.executemany("INSERT OR IGNORE INTO requests VALUES (?,?,?,?,?,?,?)", req_rows)
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"could not write to {self.path}: {exc}") from exc
        self.next_seq = seq
        self._rows_since_checkpoint += len(rows) + len(req_rows)
        if rows and rows[-1][3] != self._marker_day:
            self.write_marker()  # once per service day: the log of this day has begun

    def checkpoint_due(self) -> bool:
        if self._catch_up_due():
            return True  # the copy made on the side is done: finish it here
        if self.durability == "crash" and self._rows_since_checkpoint and self.path != ":memory:" \
                and time.monotonic() - self._checkpoint_asked >= CRASH_SYNC_SECONDS:
            return True  # the checkpoint syncs the WAL: what was committed this second reaches the device
        # Under a heavy load at most one a second: each checkpoint's fsyncs flush the whole device, and
        # every commit (durability "power") waits behind them.
        return (bool(self.checkpoint_rows) and self._rows_since_checkpoint >= self.checkpoint_rows
                and time.monotonic() - self._checkpoint_asked >= CHECKPOINT_SECONDS)

    def checkpoint(self) -> None:
        """Copy the WAL into the database file (PASSIVE: never waits for readers).

        A file-backed store copies the bulk on its own thread and connection (milliseconds of writes and
        fsyncs that the next batch's replies need not wait for), then, once that is done, copies here the
        few frames committed meanwhile: with the copy complete the next commit starts the WAL file from
        its beginning again, so it stays small under a steady load (a checkpoint on the side alone never
        catches up with a writer that never pauses)."""
        if self._catch_up_due():
            # Done here only when no copy runs on the side (SQLite answers "busy" then, and the WAL could
            # never start again); a busy answer leaves it due for the next batch.
            self._checkpointer.finished = not self._checkpoint_here()
            return
        self._rows_since_checkpoint = 0
        self._checkpoint_asked = time.monotonic()
        if self.path == ":memory:":
            return
        if self._checkpointer is None or not self._checkpointer.alive:
            if self._checkpointer is not None:  # its thread could not open the file: do it here
                self._checkpoint_here()
                return
            self._checkpointer = Checkpointer(self.path)
        if not self._catch_up_due():  # a long WAL waits for the catch-up here, not for another copy
            self._checkpointer.request()

    def _catch_up_due(self) -> bool:
        """A copy on the side has finished and found the WAL so long that it should start again from its
        beginning (bounds its size; under a light load the copy on the side completes by itself in a
        pause between commits, and the next commit restarts the WAL without any help)."""
        return (self._checkpointer is not None and self._checkpointer.finished
                and self._checkpointer.wal_frames >= CATCH_UP_FRAMES)

    def _checkpoint_here(self) -> bool:
        """A checkpoint on the server's connection; False if it could not copy everything (busy)."""
        try:
            row = self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            return not (row and row[0] == 1)
        except sqlite3.Error as exc:
            log.warning("checkpoint of %s failed (will retry): %s", self.path, exc)
            return False

    def latest_day_events(self) -> list[dict]:
        """The events of the latest service day of this site, in order, as the engine emitted them."""
        row = self.conn.execute("SELECT day FROM events WHERE site_id = ? ORDER BY seq DESC LIMIT 1",
                                (self.site_id,)).fetchone()
        if row is None:
            return []
        cur = self.conn.execute(
            "SELECT type, ts, day, ticket, window, data FROM events WHERE site_id = ? AND day = ? ORDER BY seq",
            (self.site_id, row[0]))
        out = [event_of_row(r) for r in cur]
        # The day's first event is day_started; earlier days' close-out events are not replayed.
        for i, e in enumerate(out):
            if e["type"] == "day_started":
                return out[i:]
        return out

    def events_of_types(self, types, before_day: str | None = None) -> list[dict]:
        """Events of the given types (of service days before `before_day`, if given), in order:
        what outlives a service day, such as follow-up cases, is rebuilt from these."""
        types = sorted(types)
        sql = (f"SELECT type, ts, day, ticket, window, data FROM events WHERE site_id = ? AND type IN "
               f"({', '.join('?' * len(types))})" + (" AND day < ?" if before_day else "") + " ORDER BY seq")
        return [event_of_row(r) for r in self.conn.execute(
            sql, (self.site_id, *types, *([before_day] if before_day else [])))]

    def replies_since(self, ts: float) -> dict[str, str]:
        cur = self.conn.execute("SELECT request_id, reply FROM requests WHERE site_id = ? AND ts >= ?",
                                (self.site_id, ts))
        return dict(cur.fetchall())

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        try:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.write_marker()
        except sqlite3.Error:
            pass
        self.conn.close()
        self._release()


class Checkpointer:
    """A thread with its own connection that runs a PASSIVE checkpoint whenever asked (requests that
    arrive while one runs are folded into the next)."""

    def __init__(self, path: str):
        self.path = path
        self._wanted = threading.Event()
        self._stopping = False
        self.finished = False  # a copy is done and its owner has not finished it yet
        self.wal_frames = 0  # the WAL's length in pages at the last copy
        self.runs = 0
        self.running = False
        self._thread = threading.Thread(target=self._run, name="store-checkpoint", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def request(self) -> None:
        if not self.running:  # one asked for while a copy runs would start the moment it ends
            self._wanted.set()

    def stop(self) -> None:
        self._stopping = True
        self._wanted.set()
        self._thread.join(10)

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=5000")
            conn.execute("PRAGMA synchronous=FULL")  # the copied pages are on the device before the WAL is reused
        except sqlite3.Error as exc:
            log.warning("checkpoints of %s are off: cannot open it (%s)", self.path, exc)
            return
        try:
            while True:
                self._wanted.wait()
                self._wanted.clear()
                if self._stopping:
                    return
                self.running = True
                try:
                    row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    self.wal_frames = row[1] if row and row[1] > 0 else 0
                    self.runs += 1
                    self.finished = True
                except sqlite3.Error as exc:
                    log.warning("checkpoint of %s failed (will retry): %s", self.path, exc)
                finally:
                    self.running = False
        finally:
            conn.close()
