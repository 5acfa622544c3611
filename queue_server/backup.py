"""Online backup of the queue log, and restoring it.

`backup_database(db, dest)` copies a live database with SQLite's backup API through a connection of
its own (a consistent snapshot; the server keeps writing), checks the copy (`PRAGMA quick_check`),
fsyncs it and moves it into place atomically; the previous backup is kept as `<dest>.1`.
`BackupSchedule` does that every N seconds in a thread of its own, and once more when stopped.

`restore(db, source, site_id)` puts a backup back: it refuses while a server holds the site's lock,
checks the backup, keeps the replaced file as `<db>.replaced-<time>` (evidence, never deleted), copies
the backup in and rewrites the marker file so the server accepts the restored log.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from queue_server import dbguard
from queue_server.dbguard import DatabaseUnusable

log = logging.getLogger("onewindow.backup")


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    events: int
    last_day: str | None
    seconds: float


def _count(conn: sqlite3.Connection, site_id: str | None) -> tuple[int, int, str | None]:
    """(events, last seq, last day) of a site (or of all sites) in a database."""
    where, params = ("WHERE site_id = ?", (site_id,)) if site_id else ("", ())
    row = conn.execute(f"SELECT count(*), max(seq), max(day) FROM events {where}", params).fetchone()
    return row[0], row[1] or 0, row[2]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def backup_database(db: str | Path, dest: str | Path, site_id: str | None = None) -> BackupInfo:
    """Copy the live database `db` to `dest` (atomically); raises DatabaseUnusable if it cannot."""
    db, dest = Path(db), Path(dest)
    started = time.monotonic()
    tmp = dest.with_name(dest.name + ".partial")
    tmp.unlink(missing_ok=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        src = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            out = sqlite3.connect(tmp)
            try:
                src.backup(out)
                check = out.execute("PRAGMA quick_check").fetchone()[0]
                events, _, last_day = _count(out, site_id)
            finally:
                out.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        tmp.unlink(missing_ok=True)
        raise DatabaseUnusable(f"backup of {db} to {dest} failed: {exc}") from None
    if check != "ok":
        tmp.unlink(missing_ok=True)
        raise DatabaseUnusable(f"backup of {db} to {dest} failed its integrity check: {check}")
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    if dest.exists():
        os.replace(dest, dest.with_name(dest.name + ".1"))
    os.replace(tmp, dest)
    _fsync_dir(dest.parent)
    return BackupInfo(dest, events, last_day, time.monotonic() - started)


class BackupSchedule:
    """Back `db` up to `dest` every `every` seconds (and once at `stop()`), in a thread of its own."""

    def __init__(self, db: str | Path, dest: str | Path, every: float = 300.0, site_id: str | None = None):
        self.db, self.dest, self.every, self.site_id = Path(db), Path(dest), every, site_id
        self.done = 0
        self.last: BackupInfo | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "BackupSchedule":
        self._thread = threading.Thread(target=self._run, name="log-backup", daemon=True)
        self._thread.start()
        return self

    def run_once(self) -> BackupInfo | None:
        try:
            info = backup_database(self.db, self.dest, self.site_id)
        except (DatabaseUnusable, OSError) as exc:
            log.error("%s; the previous backup is kept", exc)
            return None
        self.done += 1
        self.last = info
        log.info("backed up the queue log to %s: %d events up to service day %s, %.0f ms",
                 info.path, info.events, info.last_day or "-", info.seconds * 1000)
        return info

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.run_once()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
            self.run_once()


def restore(db: str | Path, source: str | Path, site_id: str) -> str:
    """Replace the site's database `db` with the backup `source`; returns a summary for the operator."""
    db, source = Path(db), Path(source)
    if not source.is_file():
        raise DatabaseUnusable(f"backup {source} does not exist")
    dbguard.check_file(source)
    lock = dbguard.acquire_lock(db, site_id)  # refuses while a server runs on this database
    try:
        try:
            src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise DatabaseUnusable(f"cannot open the backup {source}: {exc}") from None
        try:
            dbguard.check_integrity(src, source)
            try:
                events, last_seq, last_day = _count(src, site_id)
            except sqlite3.Error:
                raise DatabaseUnusable(f"{source} is not a onewindow queue log (no events table)") from None
            replaced = None
            if db.exists():
                replaced = db.with_name(f"{db.name}.replaced-{time.strftime('%Y%m%dT%H%M%S')}")
                os.replace(db, replaced)
            for suffix in ("-wal", "-shm"):
                side = db.with_name(db.name + suffix)
                if side.exists():
                    os.replace(side, (replaced or db).with_name((replaced or db).name + suffix))
            out = sqlite3.connect(db)
            try:
                src.backup(out)
            finally:
                out.close()
        finally:
            src.close()
        dbguard.write_marker(db, site_id, last_seq, last_day)
    finally:
        os.close(lock)
    kept = f"; the replaced file is kept as {replaced}" if replaced else ""
    return (f"restored {db} from {source}: {events} events of site {site_id}, last service day "
            f"{last_day or '-'}{kept}")
