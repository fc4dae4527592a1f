"""The one SQLite file of the embedded analytics stores: its tables, and one connection
per thread over which every store on the file runs its transactions.

The event store, the acknowledgement ledger and the fleet store each keep their own
tables, but share this file and its connections, so storing a batch (events, daily
figures, watermark and the device's drop count) is still one commit. Several ingest
processes may share the file: writes run inside `BEGIN IMMEDIATE`, so whichever
process receives a batch reads and advances a watermark alone.
"""

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

    def conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.execute("PRAGMA busy_timeout=30000")
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
