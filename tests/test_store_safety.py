"""A log the server can trust: damaged, foreign, read-only or replaced databases stop it with a clear
message; one server per site and database; online backup and restore."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from cli.main import main as cli_main
from queue_server.backup import BackupSchedule, backup_database, restore
from queue_server.dbguard import lock_path, marker_path
from queue_server.store import DatabaseUnusable, Store
from tests.test_server import SITE, Hall, command

ROOT = Path(__file__).resolve().parents[1]


def _issue(hall: Hall, n: int, prefix: str = "A", tag: str = "r") -> list[str]:
    hall.send(*[command("issue", business_type=prefix, request_id=f"{tag}{i}") for i in range(n)])
    return [r["ticket"]["number"] for r in hall.replies()[-n:]]


def _hall(db: Path, county, clock) -> Hall:
    return Hall(county, Store(db, SITE, county.timezone), clock)


def _filled_db(tmp_path: Path, county, clock, tickets: int = 30) -> Path:
    db = tmp_path / "hall.db"
    srv = _hall(db, county, clock)
    _issue(srv, tickets)
    srv.server.store.close()
    return db


def test_a_second_server_on_the_same_database_is_refused(tmp_path, county, clock):
    first = Store(tmp_path / "q.db", SITE, county.timezone)
    with pytest.raises(DatabaseUnusable, match=r"another queue server already runs site demo-county .*pid \d+"):
        Store(tmp_path / "q.db", SITE, county.timezone)
    first.close()
    Store(tmp_path / "q.db", SITE, county.timezone).close()  # once the first is gone, it starts


def test_a_second_server_in_another_process_is_refused(tmp_path, county):
    first = Store(tmp_path / "q.db", SITE, county.timezone)
    code = ("import sys; from queue_server.store import Store, DatabaseUnusable\n"
            f"try: Store({str(tmp_path / 'q.db')!r}, {SITE!r})\n"
            "except DatabaseUnusable as e: print(e); sys.exit(3)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    first.close()
    assert out.returncode == 3 and f"pid {os.getpid()}" in out.stdout


@pytest.mark.parametrize("damage, expected", [
    ("truncate", "damaged or truncated|failed its integrity check"),
    ("garble", "damaged or truncated|failed its integrity check"),
    ("foreign", "is not a SQLite database"),
    ("directory", "is a directory"),
])
def test_a_damaged_database_stops_the_server_with_a_clear_message(tmp_path, county, clock, damage, expected):
    db = _filled_db(tmp_path, county, clock, tickets=400)
    size = db.stat().st_size
    if damage == "truncate":
        with open(db, "r+b") as f:
            f.truncate(size // 2)
    elif damage == "garble":
        with open(db, "r+b") as f:
            f.seek(size // 3)
            f.write(os.urandom(8192))
    elif damage == "foreign":
        db.write_text("name,phone\nzhang,1\n")
    else:
        db.unlink()
        db.mkdir()
    with pytest.raises(DatabaseUnusable, match=expected):
        Store(db, SITE, county.timezone)
    Store(tmp_path / "other.db", SITE, county.timezone).close()  # the failed open left no lock behind


def test_the_server_command_reports_a_damaged_database_without_a_traceback(tmp_path, capsys):
    db = tmp_path / "q.db"
    db.write_bytes(b"SQLite format 3\x00" + os.urandom(5000))
    assert cli_main(["server", "--db", str(db), "--broker", "mqtt://127.0.0.1:1"]) == 1
    out = capsys.readouterr()
    assert "server:" in out.out and "Traceback" not in out.out + out.err


def test_a_read_only_database_stops_the_server(tmp_path, county, clock):
    """Run as an unprivileged user: root may write any file, so mode bits alone prove nothing as root."""
    base = Path(tempfile.mkdtemp(prefix="onewindow-ro-"))
    try:
        db = _filled_db(base, county, clock)
        os.chmod(base, 0o755)
        os.chmod(db, 0o644)
        os.chmod(lock_path(db, SITE), 0o666)  # the lock is free to take: the database is the problem
        code = ("import sys; sys.path[:0] = [sys.argv[1], sys.argv[4]]; from queue_server.store import Store, DatabaseUnusable\n"
                "try: Store(sys.argv[2], sys.argv[3])\n"
                "except DatabaseUnusable as e: print(e); sys.exit(3)\n")
        python = sys.executable
        if os.geteuid() == 0:  # pyenv's python under /root is out of nobody's reach: Debian's is not
            user = {"preexec_fn": lambda: (os.setgid(65534), os.setuid(65534))}
            python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else python
        else:
            os.chmod(db, 0o444)
            os.chmod(base, 0o555)
            user = {}
        site_packages = next(p for p in sys.path if p.endswith("site-packages"))
        out = subprocess.run([python, "-c", code, str(ROOT), str(db), SITE, site_packages], capture_output=True,
                             text=True, timeout=60, **user)
        assert out.returncode == 3, out.stderr
        assert "is read-only for this user" in out.stdout
    finally:
        os.chmod(base, 0o755)
        subprocess.run(["rm", "-rf", str(base)])


def test_an_emptied_database_does_not_start_numbering_again(tmp_path, county, clock):
    db = _filled_db(tmp_path, county, clock)
    for p in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        p.unlink(missing_ok=True)
    db.touch()  # an empty file put in its place
    with pytest.raises(DatabaseUnusable, match=r"holds no events of site demo-county.*onewindow restore"):
        Store(db, SITE, county.timezone)
    db.unlink()  # a missing file is the same: the marker remembers the log
    with pytest.raises(DatabaseUnusable, match="holds no events"):
        Store(db, SITE, county.timezone)
    marker_path(db, SITE).unlink()  # deleting the marker: an empty log on purpose
    assert _issue(_hall(db, county, clock), 1) == ["A001"]


def test_an_older_copy_put_in_place_is_refused(tmp_path, county, clock):
    db = tmp_path / "hall.db"
    srv = _hall(db, county, clock)
    _issue(srv, 5)
    backup_database(db, tmp_path / "old.db", SITE)
    clock.advance(86400)  # the next service day
    _issue(srv, 5, tag="d2-")
    srv.server.store.close()
    db.unlink()
    (tmp_path / "old.db").rename(db)
    with pytest.raises(DatabaseUnusable, match=r"ends at event \d+ of site demo-county"):
        Store(db, SITE, county.timezone)


def test_backup_while_serving_then_restore_continues_the_numbering(tmp_path, county, clock, capsys):
    db = tmp_path / "hall.db"
    srv = _hall(db, county, clock)
    assert _issue(srv, 3) == ["A001", "A002", "A003"]
    schedule = BackupSchedule(db, tmp_path / "backup.db", every=3600, site_id=SITE).start()
    assert schedule.run_once().events >= 3  # online: the server holds the database open
    _issue(srv, 2, tag="late")
    schedule.stop()  # one last backup on stop
    assert schedule.done == 2 and (tmp_path / "backup.db.1").exists()
    srv.server.store.close()
    with open(db, "r+b") as f:  # the disk goes bad
        f.truncate(3000)
    config = ["--config", county.source] if county.source != "<memory>" else []
    assert cli_main(["restore", *config, "--db", str(db), "--from", str(tmp_path / "backup.db")]) == 0
    assert "restored" in capsys.readouterr().out
    assert list(tmp_path.glob("hall.db.replaced-*"))
    again = _hall(db, county, clock)
    assert _issue(again, 1, tag="after") == ["A006"]


def test_restore_is_refused_while_the_server_runs(tmp_path, county, clock):
    db = _filled_db(tmp_path, county, clock)
    backup_database(db, tmp_path / "b.db", SITE)
    running = Store(db, SITE, county.timezone)
    with pytest.raises(DatabaseUnusable, match="another queue server"):
        restore(db, tmp_path / "b.db", SITE)
    running.close()
    assert "restored" in restore(db, tmp_path / "b.db", SITE)


def test_a_damaged_backup_is_not_restored(tmp_path, county, clock):
    db = _filled_db(tmp_path, county, clock)
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 3000)
    with pytest.raises(DatabaseUnusable):
        restore(db, bad, SITE)
    assert sqlite3.connect(db).execute("SELECT count(*) FROM events").fetchone()[0] > 0


RESERVE = 4 << 20


def test_the_write_ahead_log_is_written_out_at_start_and_a_crash_loses_nothing(tmp_path, county, clock):
    """`wal_reserve`: the WAL is zeros to its reserved size before the first ticket and commits overwrite it in
    place (its size never changes); written out over a WAL that a crash left holding commits, it keeps them."""
    import shutil
    db = tmp_path / "hall.db"
    wal = db.with_name(db.name + "-wal")
    srv = Hall(county, Store(db, SITE, county.timezone, wal_reserve=RESERVE), clock)
    assert wal.stat().st_size == RESERVE
    assert _issue(srv, 30) == [f"A{i:03d}" for i in range(1, 31)]
    assert wal.stat().st_size == RESERVE  # overwritten in place, not grown
    srv.server.store.close()

    other = tmp_path / "other"
    other.mkdir()
    srv = Hall(county, Store(other / db.name, SITE, county.timezone, checkpoint_rows=0), clock)
    _issue(srv, 30)
    crashed = tmp_path / "crashed"  # the files as they are now, the server still running: a crash
    crashed.mkdir()
    for p in (other / db.name, other / wal.name, marker_path(other / db.name, SITE)):
        shutil.copy(p, crashed / p.name)
    held = (crashed / wal.name).stat().st_size
    assert 0 < held < RESERVE
    again = Hall(county, Store(crashed / db.name, SITE, county.timezone, wal_reserve=RESERVE), clock)
    assert (crashed / wal.name).stat().st_size == RESERVE
    assert _issue(again, 2, tag="after") == ["A031", "A032"]  # nothing lost, nothing numbered twice
    fresh = sqlite3.connect(crashed / db.name)  # what another process (or the next start) reads
    assert fresh.execute("SELECT count(*) FROM events WHERE type = 'ticket_issued'").fetchone()[0] == 32
    fresh.close()
    again.server.store.close()
    srv.server.store.close()


def test_a_disk_too_full_for_the_reserve_is_reported_and_the_log_still_works(tmp_path, county, clock, caplog,
                                                                           monkeypatch):
    import errno
    db = tmp_path / "hall.db"
    Store(db, SITE, county.timezone).close()
    real_pwrite = os.pwrite

    def full(fd, data, offset):
        if offset >= 1 << 20:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_pwrite(fd, data, offset)
    monkeypatch.setattr(os, "pwrite", full)
    store = Store(db, SITE, county.timezone, wal_reserve=RESERVE)
    monkeypatch.setattr(os, "pwrite", real_pwrite)
    assert "could not reserve 4 MB for the write-ahead log" in caplog.text and "nearly full" in caplog.text
    assert db.with_name(db.name + "-wal").stat().st_size < 1 << 20  # what was written is given back
    assert _issue(Hall(county, store, clock), 3) == ["A001", "A002", "A003"]
    store.close()
