"""The one SQLite file of the embedded analytics stores: its tables, and one connection
per thread over which every store on the file runs its transactions.

The event store, the acknowledgement ledger and the fleet store each keep their own
tables, but share this file and its connections, so storing a batch (events, daily
figures, watermark and the device's drop count) is still one commit. Several ingest
processes may share the file: writes run inside `BEGIN IMMEDIATE`, so whichever
process receives a batch reads and advances a watermark alone.
"""

# The SQL here is assembled only from constant clauses; nothing comes from outside.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_SCHEMA = """
-- One stream per device outbox epoch: its acknowledgement watermark, and the seq
-- ranges stored above it while a gap waits for a re-send ("5-9,12-12"); `lost` counts
-- the seqs the device dropped unsent (its disk budget), which the watermark passes.
CREATE TABLE IF NOT EXISTS streams (
    stream INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL,
    epoch TEXT NOT NULL,
    up_to_seq INTEGER NOT NULL DEFAULT 0,
    above TEXT NOT NULL DEFAULT '',
    lost INTEGER NOT NULL DEFAULT 0,
    UNIQUE (device_id, epoch)
);
-- The raw events, as received: zlib of a ds.events/1 document holding exactly the
-- events stored from one batch; kept until `last_day` is past retention.
CREATE TABLE IF NOT EXISTS raw_batches (
    stream INTEGER NOT NULL,
    first_seq INTEGER NOT NULL,
    events INTEGER NOT NULL,
    last_day TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (stream, first_seq)
);
CREATE INDEX IF NOT EXISTS raw_batches_by_day ON raw_batches (last_day);
-- Who joined the Wi-Fi where and when (keyed hashes only), for distinct visitors.
CREATE TABLE IF NOT EXISTS wifi_joins (
    day TEXT NOT NULL,
    site_id TEXT NOT NULL,
    visitor_hash TEXT NOT NULL,
    PRIMARY KEY (day, site_id, visitor_hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS first_visits (
    site_id TEXT NOT NULL,
    visitor_hash TEXT NOT NULL,
    first_day TEXT NOT NULL,
    last_day TEXT NOT NULL,
    PRIMARY KEY (site_id, visitor_hash)
) WITHOUT ROWID;
-- Visitors' feedback (issue 16): one row per portal.feedback event, no visitor hash;
-- a deleted comment is blanked and `deleted_by` names who deleted it.
CREATE TABLE IF NOT EXISTS feedback (
    event_id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    site_id TEXT NOT NULL,
    day TEXT NOT NULL,
    at TEXT NOT NULL,
    language TEXT NOT NULL,
    rating INTEGER,
    recommend INTEGER,
    comment TEXT NOT NULL DEFAULT '',
    deleted_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS feedback_by_day ON feedback (day, site_id);
-- Every additive daily figure, summed as events arrive.
CREATE TABLE IF NOT EXISTS daily_rollups (
    day TEXT NOT NULL,
    site_id TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (day, site_id, campaign_id, item_id, metric)
) WITHOUT ROWID;
-- One campaign's figures over a long range (a year's report) without reading every
-- campaign's days; Wi-Fi figures sit under campaign_id ''.
CREATE INDEX IF NOT EXISTS daily_rollups_by_campaign ON daily_rollups (campaign_id, day);
-- The figures other than plays (Wi-Fi, dwell, promotions: a few rows per day and site),
-- so the analytics page reads them without passing every campaign's play rows (issue
-- 17). A query uses it only if it spells this NOT IN with the same literals.
CREATE INDEX IF NOT EXISTS daily_rollups_not_plays ON daily_rollups (day)
    WHERE metric NOT IN ('plays', 'shown_s', 'scheduled_s');
-- Seconds shown per campaign, site and local clock hour (UTC start), for share of voice.
CREATE TABLE IF NOT EXISTS hourly_airtime (
    campaign_id TEXT NOT NULL,
    hour TEXT NOT NULL,
    site_id TEXT NOT NULL,
    shown_s REAL NOT NULL,
    plays INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, hour, site_id)
) WITHOUT ROWID;
-- Plays per local day, screen and item, filed under what showed them (a campaign, an
-- alert, or neither: default content), for the proof-of-play reports (issue 17).
CREATE TABLE IF NOT EXISTS screen_plays (
    campaign_id TEXT NOT NULL,
    day TEXT NOT NULL,
    site_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    alert_id TEXT NOT NULL,
    plays INTEGER NOT NULL,
    shown_s REAL NOT NULL,
    scheduled_s REAL NOT NULL,
    PRIMARY KEY (campaign_id, day, site_id, device_id, item_id, alert_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS screen_plays_by_screen ON screen_plays (device_id, day);
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY,
    site_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    timezone TEXT NOT NULL,
    name TEXT NOT NULL,
    expected_manifest_version INTEGER,
    manifest_published_ms INTEGER
);
CREATE TABLE IF NOT EXISTS device_state (
    device_id TEXT PRIMARY KEY,
    status TEXT,
    status_received_ms INTEGER,
    health TEXT,
    last_seen_ms INTEGER,
    dropped_total INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS health (
    device_id TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (device_id, at_ms)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS command_results (
    device_id TEXT NOT NULL,
    command_id TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (device_id, command_id)
);
-- IT's alert thresholds, one row: a JSON object of `AlertRules` fields, so a field
-- added later loads with its default.
CREATE TABLE IF NOT EXISTS alert_rules (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    body TEXT NOT NULL
);
-- Which ingest process notifies IT, until when, and what it has raised.
CREATE TABLE IF NOT EXISTS health_monitor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    owner TEXT NOT NULL,
    expires_ms INTEGER NOT NULL,
    active TEXT NOT NULL DEFAULT '[]'
);
"""


# The play figures of `daily_rollups` summed per (day, site, campaign) (issue 17: a
# fortnight of 5,000 campaigns is 210,000 rollups, grouped on every view of the analytics
# page). Triggers keep it the sum of the rollups whatever writes them (ingest, migration,
# a bench's bulk insert), in the writer's transaction; the raw sums are kept, and each
# row's plays truncated and seconds rounded as `build_report` does. Created, filled from
# the rollups already there, then indexed and wired, in one transaction (`SqliteFile`).
CAMPAIGN_PLAYS_TABLE = """
CREATE TABLE IF NOT EXISTS daily_campaign_plays (
    day TEXT NOT NULL,
    site_id TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    plays REAL NOT NULL,
    shown_s REAL NOT NULL,
    scheduled_s REAL NOT NULL,
    -- The row as `build_report` makes it, worked out on each write: SQLite's round()
    -- costs ~0.2 us, which 70,000 rows a page view would pay twice.
    row_plays INTEGER GENERATED ALWAYS AS (CAST(plays AS INTEGER)) STORED,
    row_shown_s REAL GENERATED ALWAYS AS (round(shown_s, 3)) STORED,
    row_scheduled_s REAL GENERATED ALWAYS AS (round(scheduled_s, 3)) STORED,
    PRIMARY KEY (day, site_id, campaign_id)
) WITHOUT ROWID
"""
_SUMMED = (
    "total(CASE WHEN metric = 'plays' THEN value END), "
    "total(CASE WHEN metric = 'shown_s' THEN value END), "
    "total(CASE WHEN metric = 'scheduled_s' THEN value END)"
)
_IS_PLAY = "metric IN ('plays', 'shown_s', 'scheduled_s')"
_ADD_NEW = """
INSERT INTO daily_campaign_plays (day, site_id, campaign_id, plays, shown_s, scheduled_s)
VALUES (NEW.day, NEW.site_id, NEW.campaign_id,
    CASE WHEN NEW.metric = 'plays' THEN NEW.value ELSE 0.0 END,
    CASE WHEN NEW.metric = 'shown_s' THEN NEW.value ELSE 0.0 END,
    CASE WHEN NEW.metric = 'scheduled_s' THEN NEW.value ELSE 0.0 END)
ON CONFLICT DO UPDATE SET plays = plays + excluded.plays,
    shown_s = shown_s + excluded.shown_s, scheduled_s = scheduled_s + excluded.scheduled_s;
"""


def _resum(row: str) -> str:
    """Statements that sum `row`'s (OLD or NEW) key afresh from the rollups (none left:
    no row)."""
    key = f"day = {row}.day AND site_id = {row}.site_id AND campaign_id = {row}.campaign_id"
    return (
        f"DELETE FROM daily_campaign_plays WHERE {key};\n"
        "INSERT INTO daily_campaign_plays (day, site_id, campaign_id, plays, shown_s, "
        f"scheduled_s) SELECT day, site_id, campaign_id, {_SUMMED} FROM daily_rollups "
        f"WHERE {key} AND {_IS_PLAY} GROUP BY day, site_id, campaign_id;\n"
    )


_SAME_KEY = " AND ".join(
    f"NEW.{column} = OLD.{column}" for column in ("day", "site_id", "campaign_id", "metric")
)
CAMPAIGN_PLAYS_FILL = (
    "INSERT INTO daily_campaign_plays (day, site_id, campaign_id, plays, shown_s, "
    f"scheduled_s) SELECT day, site_id, campaign_id, {_SUMMED} FROM daily_rollups "
    f"WHERE {_IS_PLAY} GROUP BY day, site_id, campaign_id"
)
CAMPAIGN_PLAYS_WIRING = (
    # The analytics page's common filters: the period, with a site or a campaign.
    "CREATE INDEX IF NOT EXISTS daily_campaign_plays_by_site "
    "ON daily_campaign_plays (site_id, day)",
    "CREATE INDEX IF NOT EXISTS daily_campaign_plays_by_campaign "
    "ON daily_campaign_plays (campaign_id, day)",
    # Ingest adds with an upsert: a new key inserts, an existing one updates `value`.
    "CREATE TRIGGER IF NOT EXISTS daily_rollups_add_plays AFTER INSERT ON daily_rollups "
    f"WHEN NEW.{_IS_PLAY} BEGIN {_ADD_NEW} END",
    "CREATE TRIGGER IF NOT EXISTS daily_rollups_update_plays "
    f"AFTER UPDATE OF value ON daily_rollups WHEN NEW.{_IS_PLAY} AND {_SAME_KEY} BEGIN "
    "UPDATE daily_campaign_plays SET "
    "plays = plays + CASE WHEN NEW.metric = 'plays' THEN NEW.value - OLD.value ELSE 0 END, "
    "shown_s = shown_s + CASE WHEN NEW.metric = 'shown_s' THEN NEW.value - OLD.value "
    "ELSE 0 END, scheduled_s = scheduled_s + CASE WHEN NEW.metric = 'scheduled_s' "
    "THEN NEW.value - OLD.value ELSE 0 END "
    "WHERE day = NEW.day AND site_id = NEW.site_id AND campaign_id = NEW.campaign_id; END",
    # Nothing deletes or re-keys rollups today (retention keeps them); if it ever does,
    # the rows touched are summed afresh.
    "CREATE TRIGGER IF NOT EXISTS daily_rollups_delete_plays AFTER DELETE ON daily_rollups "
    f"WHEN OLD.{_IS_PLAY} BEGIN {_resum('OLD')} END",
    "CREATE TRIGGER IF NOT EXISTS daily_rollups_rekey_plays "
    "AFTER UPDATE OF day, site_id, campaign_id, metric ON daily_rollups "
    f"WHEN NOT ({_SAME_KEY}) BEGIN {_resum('OLD')}{_resum('NEW')} END",
)


# Two views of `daily_campaign_plays` for the analytics page's whole-city period, kept
# from it by its own triggers (so in the rollups' transaction):
# - `daily_site_plays`, its plays per (day, site): the plays per day, which would
#   otherwise sum a fortnight's 70,000 rows of 5,000 campaigns on each view; a (day,
#   site) with no campaign rows has no row, as grouping would give;
# - `daily_key_plays`, its rows with (campaign, site) as one integer (`play_keys`,
#   append-only): sorting 70,000 rows into (campaign, site) groups is most of that view,
#   and sorts by an integer in half the time of two strings.
DAY_SUMS_TABLES = {
    "daily_site_plays": """
CREATE TABLE IF NOT EXISTS daily_site_plays (
    day TEXT NOT NULL,
    site_id TEXT NOT NULL,
    plays INTEGER NOT NULL,  -- the sum of its campaign rows' row_plays
    PRIMARY KEY (day, site_id)
) WITHOUT ROWID
""",
    "play_keys": """
CREATE TABLE IF NOT EXISTS play_keys (
    key INTEGER PRIMARY KEY,
    campaign_id TEXT NOT NULL,
    site_id TEXT NOT NULL,
    UNIQUE (campaign_id, site_id)
)
""",
    "daily_key_plays": """
CREATE TABLE IF NOT EXISTS daily_key_plays (
    day TEXT NOT NULL,
    key INTEGER NOT NULL,  -- play_keys.key
    row_plays INTEGER NOT NULL,
    row_shown_s REAL NOT NULL,
    row_scheduled_s REAL NOT NULL,
    PRIMARY KEY (day, key)
) WITHOUT ROWID
""",
}
DAY_SUMS_FILL = (
    "INSERT INTO daily_site_plays (day, site_id, plays) "
    "SELECT day, site_id, sum(row_plays) FROM daily_campaign_plays GROUP BY day, site_id",
    "INSERT INTO play_keys (campaign_id, site_id) "
    "SELECT DISTINCT campaign_id, site_id FROM daily_campaign_plays",
    "INSERT INTO daily_key_plays (day, key, row_plays, row_shown_s, row_scheduled_s) "
    "SELECT c.day, k.key, c.row_plays, c.row_shown_s, c.row_scheduled_s "
    "FROM daily_campaign_plays c JOIN play_keys k USING (campaign_id, site_id) ORDER BY 1, 2",
)


def _key_of(row: str) -> str:
    return (
        "(SELECT key FROM play_keys WHERE "
        f"campaign_id = {row}.campaign_id AND site_id = {row}.site_id)"
    )


DAY_SUMS_WIRING = (
    "CREATE TRIGGER IF NOT EXISTS daily_campaign_plays_add_sums AFTER INSERT ON "
    "daily_campaign_plays BEGIN "
    "INSERT INTO daily_site_plays (day, site_id, plays) "
    "VALUES (NEW.day, NEW.site_id, NEW.row_plays) "
    "ON CONFLICT DO UPDATE SET plays = plays + excluded.plays; "
    "INSERT OR IGNORE INTO play_keys (campaign_id, site_id) "
    "VALUES (NEW.campaign_id, NEW.site_id); "
    "INSERT INTO daily_key_plays (day, key, row_plays, row_shown_s, row_scheduled_s) "
    f"VALUES (NEW.day, {_key_of('NEW')}, NEW.row_plays, NEW.row_shown_s, "
    "NEW.row_scheduled_s); END",
    # Its rows are only ever updated in place (a re-key deletes and inserts); most
    # updates add seconds, not plays, and leave the site's sum alone.
    "CREATE TRIGGER IF NOT EXISTS daily_campaign_plays_update_sums AFTER UPDATE ON "
    "daily_campaign_plays BEGIN "
    "UPDATE daily_site_plays SET plays = plays + NEW.row_plays - OLD.row_plays "
    "WHERE day = NEW.day AND site_id = NEW.site_id AND NEW.row_plays != OLD.row_plays; "
    "UPDATE daily_key_plays SET row_plays = NEW.row_plays, row_shown_s = NEW.row_shown_s, "
    f"row_scheduled_s = NEW.row_scheduled_s WHERE day = NEW.day AND key = {_key_of('NEW')}; "
    "END",
    "CREATE TRIGGER IF NOT EXISTS daily_campaign_plays_delete_sums AFTER DELETE ON "
    "daily_campaign_plays BEGIN "
    "UPDATE daily_site_plays SET plays = plays - OLD.row_plays "
    "WHERE day = OLD.day AND site_id = OLD.site_id; "
    "DELETE FROM daily_site_plays WHERE day = OLD.day AND site_id = OLD.site_id AND NOT EXISTS "
    "(SELECT 1 FROM daily_campaign_plays c WHERE c.day = OLD.day AND c.site_id = OLD.site_id); "
    f"DELETE FROM daily_key_plays WHERE day = OLD.day AND key = {_key_of('OLD')}; END",
)


def _add_summed_tables(
    conn: sqlite3.Connection,
    trigger: str,
    tables: dict[str, str],
    fill: tuple[str, ...],
    wiring: tuple[str, ...],
) -> None:
    """Create summed `tables` (name: DDL) on a file without their `trigger` (one of those
    that keep them), filled from what they sum, then indexed and wired; one transaction,
    so it runs once and completely."""
    wired = "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = ?"
    if conn.execute(wired, (trigger,)).fetchone() is not None:
        return  # the usual case, without taking the write lock
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have wired it since.
        if conn.execute(wired, (trigger,)).fetchone() is None:
            for name, table in tables.items():
                conn.execute(table)
                conn.execute(f"DELETE FROM {name}")  # a table left without its triggers
            # Filled before it is indexed: one sorted build per index instead of an insert
            # per row into each.
            for statement in (*fill, *wiring):
                conn.execute(statement)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def add_campaign_plays(conn: sqlite3.Connection) -> None:
    """`daily_campaign_plays` and the tables kept from it, on a file without them."""
    _add_summed_tables(
        conn,
        "daily_rollups_add_plays",
        {"daily_campaign_plays": CAMPAIGN_PLAYS_TABLE},
        (CAMPAIGN_PLAYS_FILL,),
        CAMPAIGN_PLAYS_WIRING,
    )
    _add_summed_tables(
        conn, "daily_campaign_plays_add_sums", DAY_SUMS_TABLES, DAY_SUMS_FILL, DAY_SUMS_WIRING
    )


class SqliteFile:
    """The file, in WAL mode, with one connection per thread.

    `synchronous="FULL"` makes every commit survive a power cut, which is what an ack
    promises; "NORMAL" survives a crash of the process only.
    """

    def __init__(self, path: Path | str, *, synchronous: str = "FULL") -> None:
        if synchronous not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError(f"synchronous must be FULL, NORMAL or EXTRA, not {synchronous!r}")
        self.path = str(path)
        self._synchronous = synchronous
        self._local = threading.local()
        self._all: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._all_lock = threading.Lock()
        self.conn().executescript(_SCHEMA)  # idempotent; executescript commits itself
        add_campaign_plays(self.conn())

    def conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.execute("PRAGMA busy_timeout=30000")
            # 16 MiB of pages, not 2: the analytics page reads a fortnight of every
            # campaign's play sums (~70,000 rows) on each view (issue 17).
            conn.execute("PRAGMA cache_size=-16384")
            self._local.conn = conn
            with self._all_lock:
                # Web servers start a thread per request and CMS commits reach this file
                # (the device directory): close what ended threads left, or their file
                # descriptors pile up past select()'s 1024 and break the MQTT client.
                ended = [c for t, c in self._all if not t.is_alive()]
                self._all = [(t, c) for t, c in self._all if t.is_alive()]
                self._all.append((threading.current_thread(), conn))
            for old in ended:
                old.close()
        return conn

    @property
    def open_connections(self) -> int:
        with self._all_lock:
            return len(self._all)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self.conn()
        # IMMEDIATE takes the write lock up front, so two ingest processes never both
        # read a watermark and then race to advance it.
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        with self._all_lock:
            for _, conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


class OnSqliteFile:
    """A store over some tables of a `SqliteFile`; the stores on one file share its
    connections, and so its transactions."""

    def __init__(self, db: SqliteFile) -> None:
        self.db = db

    @property
    def path(self) -> str:
        return self.db.path

    def close(self) -> None:
        self.db.close()
