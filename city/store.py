"""The city store: every hall's event log in one PostgreSQL database, each event exactly once.

Tables (readable with psql, one row per fact):
- `sites`: every hall of the city (id, name, level: city, county, township, village, hospital, ...).
- `events`: the halls' events, keyed by their id (UUIDv7, unique across sites), partitioned by month
  of the service day (`events_2026_11`, created as months come). The hall's `seq` orders a site's events.
- `site_marks`: per site, the highest sequence number the city store has committed (the bridge's
  acknowledgement), written in the same transaction as the events it covers.
- `daily_summary`: per site and service day: tickets, calls, served, missed, cancelled, waits (sum,
  p90, a histogram by minute), ratings and bad ratings. Refreshed by `refresh_summary()` from
  `summary_due`, which every append marks.

`append(site, rows)` inserts a batch with `ON CONFLICT DO NOTHING` and advances the site's mark in one
transaction: a batch sent twice (the bridge died before it heard the commit) is stored once.
"""
from __future__ import annotations

import json
import logging
from datetime import date
from typing import Iterable, Sequence

import psycopg

log = logging.getLogger("onewindow.city.store")

SCHEMA_VERSION = 1
HIST_MINUTES = 240  # wait histogram buckets: minute 0..239, the last one holds 240 minutes and more
EVENT_FIELDS = ("id", "seq", "day", "at", "type", "ticket", "window", "request_id", "data")

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS sites (
        id text PRIMARY KEY,
        name text NOT NULL DEFAULT '',
        level text NOT NULL DEFAULT 'county',   -- city, county, township, village, hospital, pharmacy, bank
        updated_at timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE IF NOT EXISTS events (
        id uuid NOT NULL,                       -- the hall's event id: unique across sites
        site_id text NOT NULL,
        seq bigint NOT NULL,                    -- order within the site
        day date NOT NULL,                      -- service day
        at timestamptz NOT NULL,
        type text NOT NULL,
        ticket text,
        "window" integer,
        request_id text,
        data jsonb NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (id, day),
        UNIQUE (site_id, seq, day)
    ) PARTITION BY RANGE (day)""",
    "CREATE INDEX IF NOT EXISTS events_site_day ON events (site_id, day)",
    """CREATE TABLE IF NOT EXISTS site_marks (
        site_id text PRIMARY KEY,
        seq bigint NOT NULL,                    -- every event of the site up to here is committed
        events bigint NOT NULL DEFAULT 0,       -- events stored (duplicates not counted)
        updated_at timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE IF NOT EXISTS summary_due (
        site_id text NOT NULL, day date NOT NULL,
        n bigint NOT NULL DEFAULT 1,            -- bumped by each append touching the day
        PRIMARY KEY (site_id, day))""",
    f"""CREATE TABLE IF NOT EXISTS daily_summary (
        site_id text NOT NULL, day date NOT NULL,
        tickets integer NOT NULL,               -- issued
        called integer NOT NULL,                -- called at least once
        served integer NOT NULL, missed integer NOT NULL, cancelled integer NOT NULL,
        wait_sum_s double precision NOT NULL,   -- issue to first call, summed over called tickets
        wait_p90_s double precision,
        wait_hist integer[] NOT NULL,           -- called tickets by whole minutes waited (0..{HIST_MINUTES})
        ratings integer NOT NULL, bad_ratings integer NOT NULL,
        refreshed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (site_id, day))""",
    "CREATE TABLE IF NOT EXISTS _onewindow_city_meta (key text PRIMARY KEY, value text NOT NULL)",
]

REFRESH_SQL = f"""
WITH due AS (SELECT * FROM unnest(%(sites)s::text[], %(days)s::date[]) AS d(site_id, day)),
t AS (
    SELECT e.site_id, e.day, e.ticket,
           bool_or(e.type = 'ticket_issued') AS issued,
           min((e.data->>'waited')::float8) FILTER (WHERE e.type = 'ticket_called') AS wait,
           bool_or(e.type = 'service_finished') AS served,
           bool_or(e.type = 'ticket_missed') AS missed,
           bool_or(e.type = 'ticket_cancelled') AS cancelled,
           bool_or(e.type = 'ticket_rated') AS rated,
           bool_or(e.type = 'ticket_rated' AND coalesce((e.data->>'bad')::boolean,
                   (e.data->>'score')::int <= 2)) AS bad
    FROM events e JOIN due ON e.site_id = due.site_id AND e.day = due.day
    WHERE e.ticket IS NOT NULL
    GROUP BY 1, 2, 3),
h AS (SELECT site_id, day, least(floor(wait / 60)::int, {HIST_MINUTES}) AS b, count(*) AS n
      FROM t WHERE wait IS NOT NULL GROUP BY 1, 2, 3),
hist AS (SELECT due.site_id, due.day, array_agg(coalesce(h.n, 0)::int ORDER BY g.b) AS hist
         FROM due CROSS JOIN generate_series(0, {HIST_MINUTES}) AS g(b)
         LEFT JOIN h ON h.site_id = due.site_id AND h.day = due.day AND h.b = g.b
         GROUP BY 1, 2),
s AS (SELECT site_id, day, count(*) FILTER (WHERE issued) AS tickets, count(wait) AS called,
             count(*) FILTER (WHERE served) AS served, count(*) FILTER (WHERE missed) AS missed,
             count(*) FILTER (WHERE cancelled) AS cancelled, coalesce(sum(wait), 0) AS wait_sum_s,
             percentile_cont(0.9) WITHIN GROUP (ORDER BY wait) AS wait_p90_s,
             count(*) FILTER (WHERE rated) AS ratings, count(*) FILTER (WHERE bad) AS bad_ratings
      FROM t GROUP BY 1, 2)
INSERT INTO daily_summary AS ds (site_id, day, tickets, called, served, missed, cancelled, wait_sum_s,
                                 wait_p90_s, wait_hist, ratings, bad_ratings, refreshed_at)
SELECT due.site_id, due.day, coalesce(s.tickets, 0), coalesce(s.called, 0), coalesce(s.served, 0),
       coalesce(s.missed, 0), coalesce(s.cancelled, 0), coalesce(s.wait_sum_s, 0), s.wait_p90_s, hist.hist,
       coalesce(s.ratings, 0), coalesce(s.bad_ratings, 0), now()
FROM due LEFT JOIN s ON s.site_id = due.site_id AND s.day = due.day
JOIN hist ON hist.site_id = due.site_id AND hist.day = due.day
ON CONFLICT (site_id, day) DO UPDATE SET
    tickets = EXCLUDED.tickets, called = EXCLUDED.called, served = EXCLUDED.served, missed = EXCLUDED.missed,
    cancelled = EXCLUDED.cancelled, wait_sum_s = EXCLUDED.wait_sum_s, wait_p90_s = EXCLUDED.wait_p90_s,
    wait_hist = EXCLUDED.wait_hist, ratings = EXCLUDED.ratings, bad_ratings = EXCLUDED.bad_ratings,
    refreshed_at = EXCLUDED.refreshed_at
"""


class CityStoreError(Exception):
    """The city store could not be reached or written: nothing of the batch is acknowledged."""


def month_start(d: date) -> date:
    return d.replace(day=1)


def next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def partition_name(d: date) -> str:
    return f"events_{d.year:04d}_{d.month:02d}"


def as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


class CityStore:
    """One connection to the city store. Not thread-safe: one per thread (the bridge has one)."""

    def __init__(self, conninfo: str, connect_timeout: float = 5.0):
        self.conninfo = conninfo
        self.connect_timeout = connect_timeout
        self._conn: psycopg.Connection | None = None
        self._months: set[date] = set()

    # --- connection ------------------------------------------------------------------------------
    @property
    def conn(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                self._conn = psycopg.connect(self.conninfo, autocommit=True,
                                             connect_timeout=max(1, int(self.connect_timeout)))
            except psycopg.Error as exc:
                raise CityStoreError(f"cannot reach the city store: {exc}".strip()) from exc
            self._months = set()
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> "CityStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _run(self, fn, *args):
        """Run `fn(conn, *args)`; a database failure becomes CityStoreError and drops the connection."""
        try:
            return fn(self.conn, *args)
        except psycopg.Error as exc:
            self.close()
            raise CityStoreError(f"city store: {exc}".strip()) from exc

    # --- schema ----------------------------------------------------------------------------------
    def create_schema(self, today: date | None = None) -> None:
        """Create every table (idempotent) and the partitions of this month and the next."""
        def create(conn):
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('onewindow_city_schema'))")
                for statement in SCHEMA:
                    conn.execute(statement)
                conn.execute("INSERT INTO _onewindow_city_meta VALUES ('schema_version', %s) "
                             "ON CONFLICT (key) DO NOTHING", (str(SCHEMA_VERSION),))
        self._run(create)
        first = month_start(today or date.today())
        self.ensure_partitions([first, next_month(first)])

    def ensure_partitions(self, days: Iterable[date]) -> None:
        """Create the monthly partitions these days fall in, in a short transaction of their own (so that
        two bridges never deadlock on the parent table inside their inserts)."""
        months = {month_start(as_date(d)) for d in days} - self._months
        if not months:
            return

        def create(conn):
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('onewindow_city_partitions'))")
                for m in sorted(months):
                    conn.execute(f"CREATE TABLE IF NOT EXISTS {partition_name(m)} PARTITION OF events "
                                 f"FOR VALUES FROM ('{m.isoformat()}') TO ('{next_month(m).isoformat()}')")
        self._run(create)
        self._months |= months

    def partitions(self) -> list[str]:
        return self._run(lambda conn: [r[0] for r in conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'events'::regclass ORDER BY 1")])

    # --- sites -----------------------------------------------------------------------------------
    def upsert_site(self, site_id: str, name: str, level: str) -> None:
        self._run(lambda conn: conn.execute(
            "INSERT INTO sites (id, name, level) VALUES (%s, %s, %s) ON CONFLICT (id) DO UPDATE "
            "SET name = EXCLUDED.name, level = EXCLUDED.level, updated_at = now()", (site_id, name, level)))

    def sites(self) -> dict[str, dict]:
        rows = self._run(lambda conn: conn.execute("SELECT id, name, level FROM sites ORDER BY id").fetchall())
        return {r[0]: {"id": r[0], "name": r[1], "level": r[2]} for r in rows}

    # --- the event log ---------------------------------------------------------------------------
    def mark(self, site_id: str) -> int:
        """The highest sequence number of `site_id` the city store has committed (0: none)."""
        row = self._run(lambda conn: conn.execute("SELECT seq FROM site_marks WHERE site_id = %s",
                                                  (site_id,)).fetchone())
        return row[0] if row else 0

    def marks(self) -> dict[str, tuple[int, int]]:
        """site -> (mark, events stored)."""
        rows = self._run(lambda conn: conn.execute("SELECT site_id, seq, events FROM site_marks").fetchall())
        return {r[0]: (r[1], r[2]) for r in rows}

    def append(self, site_id: str, rows: Sequence[dict]) -> tuple[int, int]:
        """Store a batch of one site's events (dicts with EVENT_FIELDS; `data` a JSON text or dict) and
        advance the site's mark to the batch's highest seq, in one transaction.

        Returns (the mark now, rows inserted); rows already stored are skipped. Raises CityStoreError
        when nothing of it may be taken as stored (the caller retries the same batch).
        """
        if not rows:
            return self.mark(site_id), 0
        days = [as_date(r["day"]) for r in rows]
        self.ensure_partitions(days)
        cols = {
            "ids": [r["id"] for r in rows], "seqs": [int(r["seq"]) for r in rows], "days": days,
            "ats": [r["at"] for r in rows], "types": [r["type"] for r in rows],
            "tickets": [r.get("ticket") for r in rows], "windows": [r.get("window") for r in rows],
            "rids": [r.get("request_id") for r in rows],
            "datas": [r["data"] if isinstance(r["data"], str) else json.dumps(r["data"], ensure_ascii=False)
                      for r in rows],
        }
        top = max(cols["seqs"])

        def write(conn):
            with conn.transaction():
                cur = conn.execute(
                    "INSERT INTO events (id, site_id, seq, day, at, type, ticket, \"window\", request_id, data) "
                    "SELECT i, %(site)s, s, d, a, t, tk, w, r, x::jsonb FROM unnest(%(ids)s::uuid[], "
                    "%(seqs)s::bigint[], %(days)s::date[], %(ats)s::timestamptz[], %(types)s::text[], "
                    "%(tickets)s::text[], %(windows)s::int[], %(rids)s::text[], %(datas)s::text[]) "
                    "AS u(i, s, d, a, t, tk, w, r, x) ON CONFLICT DO NOTHING", {"site": site_id, **cols})
                inserted = cur.rowcount
                mark = conn.execute(
                    "INSERT INTO site_marks AS m (site_id, seq, events) VALUES (%s, %s, %s) "
                    "ON CONFLICT (site_id) DO UPDATE SET seq = greatest(m.seq, EXCLUDED.seq), "
                    "events = m.events + EXCLUDED.events, updated_at = now() RETURNING seq",
                    (site_id, top, inserted)).fetchone()[0]
                conn.execute(
                    "INSERT INTO summary_due AS sd (site_id, day) SELECT %s, d FROM unnest(%s::date[]) AS d "
                    "ON CONFLICT (site_id, day) DO UPDATE SET n = sd.n + 1", (site_id, sorted(set(days))))
            return mark, inserted
        return self._run(write)

    def event_ids(self, site_id: str) -> list[str]:
        return self._run(lambda conn: [str(r[0]) for r in conn.execute(
            "SELECT id FROM events WHERE site_id = %s ORDER BY seq", (site_id,))])

    def count(self, site_id: str | None = None) -> int:
        if site_id is None:
            return self._run(lambda conn: conn.execute("SELECT count(*) FROM events").fetchone()[0])
        return self._run(lambda conn: conn.execute("SELECT count(*) FROM events WHERE site_id = %s",
                                                   (site_id,)).fetchone()[0])

    # --- the daily summary -----------------------------------------------------------------------
    def refresh_summary(self) -> int:
        """Recompute the summary of every (site, day) an append touched since the last refresh; how many.

        Reads the due list with its counters, recomputes, then removes only entries whose counter did not
        move meanwhile (an append that committed during the refresh leaves its day due for the next one).
        """
        def refresh(conn):
            due = conn.execute("SELECT site_id, day, n FROM summary_due").fetchall()
            if not due:
                return 0
            conn.execute(REFRESH_SQL, {"sites": [d[0] for d in due], "days": [d[1] for d in due]})
            conn.execute("DELETE FROM summary_due sd USING unnest(%s::text[], %s::date[], %s::bigint[]) "
                         "AS u(site_id, day, n) WHERE sd.site_id = u.site_id AND sd.day = u.day AND sd.n = u.n",
                         ([d[0] for d in due], [d[1] for d in due], [d[2] for d in due]))
            return len(due)
        return self._run(refresh)

    def summary_rows(self, start: date | None = None, end: date | None = None) -> list[dict]:
        """Daily summary rows with the site's name and level, `start <= day < end`."""
        sql = ("SELECT ds.site_id, coalesce(s.name, ds.site_id), coalesce(s.level, 'county'), ds.day, ds.tickets, "
               "ds.called, ds.served, ds.missed, ds.cancelled, ds.wait_sum_s, ds.wait_p90_s, ds.wait_hist, "
               "ds.ratings, ds.bad_ratings FROM daily_summary ds LEFT JOIN sites s ON s.id = ds.site_id "
               "WHERE (%(start)s::date IS NULL OR ds.day >= %(start)s) AND (%(end)s::date IS NULL OR ds.day < %(end)s) "
               "ORDER BY ds.day, ds.site_id")
        names = ("site_id", "name", "level", "day", "tickets", "called", "served", "missed", "cancelled",
                 "wait_sum_s", "wait_p90_s", "wait_hist", "ratings", "bad_ratings")
        rows = self._run(lambda conn: conn.execute(sql, {"start": start, "end": end}).fetchall())
        return [dict(zip(names, r)) for r in rows]


def hall_rows(conn, site_id: str, after: int, limit: int) -> list[dict]:
    """A hall's events after sequence number `after`, from its SQLite log (`queue_server.store` layout)."""
    cur = conn.execute("SELECT id, seq, day, at, type, ticket, window, request_id, data FROM events "
                       "WHERE site_id = ? AND seq > ? ORDER BY seq LIMIT ?", (site_id, after, limit))
    return [dict(zip(EVENT_FIELDS, r)) for r in cur.fetchall()]
