"""Can the queue log be trusted? Checks made before a server writes a single event.

- **One server per site and database**: an exclusive `flock` on `<db>.<site>.lock`, held while the
  store is open. A second server (another process, or a second `Store` in the same process) is refused
  with the pid of the holder.
- **The file is a sound SQLite database we can write**: a directory, a file we cannot read, a file that is
  not SQLite, a truncated or damaged file (`PRAGMA quick_check`) or one we cannot write stops the server
  with a `DatabaseUnusable` saying what is wrong and what to do, never a traceback.
- **The log was not replaced behind our back**: a small marker file `<db>.<site>.marker.json` records
  that the site's log held events (the last sequence number known and its service day). It is written
  when the first event of a service day is stored, after each backup and when the store closes. A
  database holding fewer events than the marker knows of (an empty file put in its place, an old copy)
  is refused: ticket numbering would otherwise start again at A001 on a day whose A001 was already
  called. `onewindow restore` rewrites the marker; deleting it by hand means "start an empty log on
  purpose".
"""
from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from pathlib import Path

SQLITE_HEADER = b"SQLite format 3\x00"


class DatabaseUnusable(Exception):
    """The database cannot be used; the message says what is wrong and what to do (for the operator)."""


def lock_path(db: Path, site_id: str) -> Path:
    return db.with_name(f"{db.name}.{site_id}.lock")


def marker_path(db: Path, site_id: str) -> Path:
    return db.with_name(f"{db.name}.{site_id}.marker.json")


def acquire_lock(db: Path, site_id: str) -> int:
    """Take the site's exclusive lock on `db`; returns the open descriptor (closing it releases the lock)."""
    path = lock_path(db, site_id)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise DatabaseUnusable(f"cannot create the lock file {path}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise DatabaseUnusable(
            f"another queue server already runs site {site_id} on {db} (pid {holder}, lock {path}). "
            "One server per site: stop the other one first.") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def check_file(db: Path) -> None:
    """Problems visible before SQLite opens the file: wrong kind of file, no access, not SQLite."""
    if db.is_dir():
        raise DatabaseUnusable(f"{db} is a directory, not a database file")
    parent = db.parent
    if not db.exists():
        if not os.access(parent, os.W_OK | os.X_OK):
            raise DatabaseUnusable(f"cannot create {db}: the directory {parent} is not writable")
        return
    try:
        with open(db, "rb") as f:
            head = f.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise DatabaseUnusable(f"cannot read {db}: {exc.strerror}. Check the file's owner and mode.") from None
    if head and head != SQLITE_HEADER:
        raise DatabaseUnusable(f"{db} is not a SQLite database (it starts with {head[:8]!r}). "
                               "Move it away or point --db at the site's log.")
    if not os.access(db, os.W_OK) or not os.access(parent, os.W_OK):
        raise DatabaseUnusable(f"{db} is read-only for this user: the server must write every command "
                               "before it replies. Fix the file's owner and mode (or its directory's).")


def check_integrity(conn: sqlite3.Connection, db: Path) -> None:
    """`PRAGMA quick_check` and a test write; anything wrong becomes DatabaseUnusable."""
    try:
        rows = [r[0] for r in conn.execute("PRAGMA quick_check(5)").fetchall()]
    except sqlite3.Error as exc:
        raise DatabaseUnusable(f"{db} is damaged or truncated ({exc}). Restore the latest backup with "
                               f"`onewindow restore --db {db} --from BACKUP`.") from None
    if rows != ["ok"]:
        detail = "; ".join(" ".join(r.split()) for r in rows)[:300]
        raise DatabaseUnusable(f"{db} failed its integrity check ({detail}). Restore the latest backup "
                               f"with `onewindow restore --db {db} --from BACKUP`.")


def read_marker(db: Path, site_id: str) -> dict | None:
    path = marker_path(db, site_id)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise DatabaseUnusable(f"the marker file {path} cannot be read ({exc}); it records how far the "
                               f"log of site {site_id} went. Restore the database, or delete the marker "
                               "to start an empty log on purpose.") from None
    if not isinstance(data, dict) or not isinstance(data.get("last_seq"), int):
        raise DatabaseUnusable(f"the marker file {path} is not a onewindow marker; delete it if the "
                               "database is right")
    return data


def write_marker(db: Path, site_id: str, last_seq: int, day: str | None) -> None:
    """Atomically record that the site's log holds at least `last_seq` events (up to service day `day`)."""
    path = marker_path(db, site_id)
    tmp = path.with_name(path.name + ".tmp")
    body = json.dumps({"site_id": site_id, "last_seq": last_seq, "day": day,
                       "database": db.name}, separators=(",", ":"))
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(body + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def check_marker(db: Path, site_id: str, last_seq: int) -> None:
    """Refuse a log that holds fewer events of the site than the marker knows were written."""
    marker = read_marker(db, site_id)
    if marker is None or marker["last_seq"] <= last_seq:
        return
    path = marker_path(db, site_id)
    what = "holds no events" if last_seq == 0 else f"ends at event {last_seq}"
    raise DatabaseUnusable(
        f"{db} {what} of site {site_id}, but {path} records that its log reached event "
        f"{marker['last_seq']} (service day {marker.get('day')}): the database was replaced or emptied, "
        "and ticket numbers would start again from the first. Restore the latest backup with "
        f"`onewindow restore --db {db} --from BACKUP`; to start an empty log on purpose, delete {path}.")
