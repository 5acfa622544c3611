"""Where the manager console keeps its alerts and their acknowledgements: its own SQLite database.

Why not the queue's event log: an alert is the console's reading of the hall (a threshold, a device
status), not a fact of the queue, and acknowledging one changes nothing in the hall. The console's
table keeps who acknowledged what and when, durably (WAL, synchronous=FULL), and survives a console
restart: `load()` gives the board back its listed alerts.

Table `manager_alerts`: one row per alert (id, kind, subject, severity, since, text_en, text_zh,
active, cleared_at, acked_by, acked_at); times are epoch seconds.
"""
from __future__ import annotations

import sqlite3
import threading
from dataclasses import astuple, fields
from pathlib import Path

from console.alerts import Alert

COLUMNS = [f.name for f in fields(Alert)]


class AlertStore:
    def __init__(self, path: str | Path):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("PRAGMA busy_timeout=5000")
        self.conn.execute("""CREATE TABLE IF NOT EXISTS manager_alerts (
            id TEXT PRIMARY KEY, kind TEXT NOT NULL, subject TEXT NOT NULL, severity TEXT NOT NULL,
            since REAL NOT NULL, text_en TEXT NOT NULL, text_zh TEXT NOT NULL, active INTEGER NOT NULL,
            cleared_at REAL, acked_by TEXT, acked_at REAL)""")
        self.conn.execute("CREATE INDEX IF NOT EXISTS manager_alerts_since ON manager_alerts(since)")

    def save(self, alerts: list[Alert]) -> None:
        if not alerts:
            return
        marks = ",".join("?" * len(COLUMNS))
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self.conn.executemany(f"INSERT OR REPLACE INTO manager_alerts ({','.join(COLUMNS)}) VALUES ({marks})",
                                      [astuple(a) for a in alerts])
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise

    def load(self, limit: int = 200) -> list[Alert]:
        """Alerts still listed (active or not acknowledged), newest `limit`."""
        with self._lock:
            rows = self.conn.execute(
                f"SELECT {','.join(COLUMNS)} FROM manager_alerts WHERE active = 1 OR acked_by IS NULL "
                "ORDER BY since DESC LIMIT ?", (limit,)).fetchall()
        return [Alert(*row[:7], bool(row[7]), *row[8:]) for row in rows]

    def history(self, limit: int = 100) -> list[dict]:
        with self._lock:
            rows = self.conn.execute(f"SELECT {','.join(COLUMNS)} FROM manager_alerts ORDER BY since DESC LIMIT ?",
                                     (limit,)).fetchall()
        return [dict(zip(COLUMNS, row)) for row in rows]

    def close(self) -> None:
        self.conn.close()
