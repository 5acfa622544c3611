"""`onewindow backup` and `onewindow restore`: copy a site's queue log aside, put a copy back."""
from __future__ import annotations

import argparse
from pathlib import Path

from onewindow.config import add_config_argument, site_or_report
from queue_server.backup import backup_database, restore
from queue_server.dbguard import DatabaseUnusable


def _common(p: argparse.ArgumentParser) -> None:
    add_config_argument(p)
    p.add_argument("--db", default=None, help="the site's SQLite queue log (default: var/<site id>.db)")


def register(sub) -> None:
    p = sub.add_parser("backup", help="copy a site's queue log to a backup file (safe while the server runs)",
                       description="Online backup with SQLite's backup API; the copy is checked before it "
                                   "replaces the previous backup (kept as BACKUP.1).")
    _common(p)
    p.add_argument("--to", required=True, metavar="BACKUP", help="backup file to write")
    p.set_defaults(func=run_backup)
    p = sub.add_parser("restore", help="replace a site's queue log with a backup (the server must be stopped)",
                       description="Checks the backup, keeps the replaced database as DB.replaced-<time>, "
                                   "copies the backup in and records it in the site's marker file so the "
                                   "server accepts it. Refused while a server holds the site's lock.")
    _common(p)
    p.add_argument("--from", dest="source", required=True, metavar="BACKUP", help="backup file to restore")
    p.set_defaults(func=run_restore)


def run_backup(args: argparse.Namespace) -> int:
    site = site_or_report(args)
    if site is None:
        return 1
    db = Path(args.db or f"var/{site.site_id}.db")
    if not db.is_file():
        print(f"backup: {db} does not exist")
        return 1
    try:
        info = backup_database(db, args.to, site.site_id)
    except DatabaseUnusable as exc:
        print(f"backup: {exc}")
        return 1
    print(f"backed up {db} to {info.path}: {info.events} events of site {site.site_id}, last service day "
          f"{info.last_day or '-'} ({info.seconds * 1000:.0f} ms)")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    site = site_or_report(args)
    if site is None:
        return 1
    try:
        print(restore(Path(args.db or f"var/{site.site_id}.db"), args.source, site.site_id))
    except DatabaseUnusable as exc:
        print(f"restore: {exc}")
        return 1
    return 0
