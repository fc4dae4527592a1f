"""The embedded analytics store: one SQLite file for events, rollups and fleet state.

Several ingest processes may share the file: each batch is stored inside a
`BEGIN IMMEDIATE` transaction that also advances the device's acknowledgement
watermark from what is stored (not from process memory), so whichever process
receives a batch acknowledges exactly what the file holds.
"""

# SQL here is assembled only from constant column lists, placeholders and fixed filter
# clauses; every value is bound as a parameter.
# ruff: noqa: S608

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from central_cms.analytics.model import (
    EVENT_COLUMNS,
    MAX_SEQ,
    SEQ_BITS,
    BatchOutcome,
    DeviceInfo,
    EventRow,
    Filters,
    flatten,
)
from central_cms.analytics.reports import (
    DWELL_PREFIX,
    PLAYS,
    PROMO_CLICKED,
    PROMO_SHOWN,
    RETURNING,
    SCHEDULED_S,
    SESSIONS,
    SHOWN_S,
    VISITORS,
    Metric,
    daily_rollups,
    dwell_bucket_sql,
)
from central_cms.analytics.store import DeviceSnapshot
from devices.protocol import EVENT_TYPES, CommandResult, EventBatch, Health, Status

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    key INTEGER PRIMARY KEY,  -- stream << 32 | seq: appends, and dedup for free
    event_id TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    day TEXT NOT NULL,
    type TEXT NOT NULL,
    site_id TEXT NOT NULL,
    campaign_id TEXT,
    item_id TEXT,
    visitor_hash TEXT,
    shown_s REAL,
    scheduled_s REAL,
    dwell_s REAL,
    outcome TEXT
);
CREATE INDEX IF NOT EXISTS events_by_day ON events (type, day, site_id);
-- One stream per device outbox epoch, with its acknowledgement watermark.
CREATE TABLE IF NOT EXISTS streams (
    stream INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL,
    epoch TEXT NOT NULL,
    up_to_seq INTEGER NOT NULL DEFAULT 0,
    UNIQUE (device_id, epoch)
);
-- Seqs stored above a stream's watermark, for an event store kept elsewhere (InfluxDB).
CREATE TABLE IF NOT EXISTS ledger (key INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS first_visits (
    site_id TEXT NOT NULL,
    visitor_hash TEXT NOT NULL,
    first_day TEXT NOT NULL,
    last_day TEXT NOT NULL,
    PRIMARY KEY (site_id, visitor_hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS daily_rollups (
    day TEXT NOT NULL,
    site_id TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (day, site_id, campaign_id, item_id, metric)
) WITHOUT ROWID;
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
"""

# Spelled out so queries by day use the (type, day, site) index.
_TYPES = ", ".join("?" for _ in EVENT_TYPES)
_JOINED = "portal.terms_accepted"
_INSERT_EVENT = (
    f"INSERT OR IGNORE INTO events ({', '.join(EVENT_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in EVENT_COLUMNS)})"
)
_UPSERT_FIRST_VISIT = (
    "INSERT INTO first_visits (site_id, visitor_hash, first_day, last_day) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (site_id, visitor_hash) DO UPDATE SET "
    "first_day = min(first_day, excluded.first_day), last_day = max(last_day, excluded.last_day)"
)


_DEVICE_SELECT = (
    "SELECT device_id, site_id, kind, timezone, name, expected_manifest_version, "
    "manifest_published_ms FROM devices"
)


def _device_info(row: tuple[Any, ...]) -> DeviceInfo:
    device_id, site_id, kind, timezone, name, expected, published_ms = row
    return DeviceInfo(
        device_id=device_id,
        site_id=site_id,
        kind=kind,
        timezone=timezone,
        name=name,
        expected_manifest_version=expected,
        manifest_published_at=_from_ms(published_ms),
    )


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _from_ms(at_ms: int | None) -> datetime | None:
    return None if at_ms is None else datetime.fromtimestamp(at_ms / 1000, UTC)


class SqliteStore:
    """`EventStore` and `FleetStore` in one SQLite file (WAL, one connection per thread).

    `synchronous="FULL"` makes every commit survive a power cut, which is what an ack
    promises; "NORMAL" survives a crash of the process only.
    """

    def __init__(self, path: Path | str, *, synchronous: str = "FULL") -> None:
        if synchronous not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError(f"synchronous must be FULL, NORMAL or EXTRA, not {synchronous!r}")
        self.path = str(path)
        self._synchronous = synchronous
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._conn().executescript(_SCHEMA)  # idempotent; executescript commits itself

    # --- connections -----------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
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
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    # --- events ------------------------------------------------------------------------

    def store_batches(
        self, batches: Sequence[tuple[EventBatch, DeviceInfo | None]]
    ) -> list[BatchOutcome]:
        outcomes = []
        with self._transaction() as conn:
            for batch, device in batches:
                outcomes.append(self._store_one(conn, batch, device))
        return outcomes

    def _store_one(
        self, conn: sqlite3.Connection, batch: EventBatch, device: DeviceInfo | None
    ) -> BatchOutcome:
        key = (batch.device_id, batch.outbox_epoch)
        conn.execute("INSERT OR IGNORE INTO streams (device_id, epoch) VALUES (?, ?)", key)
        stream, watermark = conn.execute(
            "SELECT stream, up_to_seq FROM streams WHERE device_id = ? AND epoch = ?", key
        ).fetchone()
        # Anything at or below the watermark is stored already (and may since have been
        # rolled up and pruned): never insert it again.
        rows = flatten(batch, device, stream=stream, after_seq=watermark)
        before = conn.total_changes
        conn.executemany(_INSERT_EVENT, rows)
        inserted = conn.total_changes - before
        visits = [(r[5], r[8], r[3], r[3]) for r in rows if r[4] == _JOINED and r[8]]
        if visits:
            conn.executemany(_UPSERT_FIRST_VISIT, visits)
        base = stream << SEQ_BITS
        up_to = watermark
        for (event_key,) in conn.execute(
            "SELECT key FROM events WHERE key > ? AND key <= ? ORDER BY key",
            (base | watermark, base | MAX_SEQ),
        ):
            if event_key != base | (up_to + 1):
                break
            up_to += 1
        if up_to != watermark:
            conn.execute("UPDATE streams SET up_to_seq = ? WHERE stream = ?", (up_to, stream))
        if batch.dropped_total:
            self._record_dropped(conn, batch.device_id, batch.dropped_total)
        return BatchOutcome(
            device_id=batch.device_id,
            outbox_epoch=batch.outbox_epoch,
            inserted=inserted,
            duplicates=len(batch.events) - inserted,
            up_to_seq=up_to,
        )

    # --- the ledger, for an event store kept elsewhere ----------------------------------------

    def ledger_known(self, device_id: str, epoch: str, seqs: Sequence[int]) -> set[int]:
        """Which of `seqs` the ledger already holds (at or below the watermark, or above)."""
        conn = self._conn()
        found = conn.execute(
            "SELECT stream, up_to_seq FROM streams WHERE device_id = ? AND epoch = ?",
            (device_id, epoch),
        ).fetchone()
        if found is None:
            return set()
        stream, watermark = found
        base = stream << SEQ_BITS
        above = [base | seq for seq in seqs if seq > watermark]
        known = {seq for seq in seqs if seq <= watermark}
        for start in range(0, len(above), 500):
            chunk = above[start : start + 500]
            known |= {
                key & MAX_SEQ
                for (key,) in conn.execute(
                    f"SELECT key FROM ledger WHERE key IN ({', '.join('?' for _ in chunk)})",
                    chunk,
                )
            }
        return known

    def ledger_add(self, device_id: str, epoch: str, seqs: Sequence[int]) -> int:
        """Record seqs durably stored elsewhere; returns the contiguous watermark."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO streams (device_id, epoch) VALUES (?, ?)",
                (device_id, epoch),
            )
            stream, watermark = conn.execute(
                "SELECT stream, up_to_seq FROM streams WHERE device_id = ? AND epoch = ?",
                (device_id, epoch),
            ).fetchone()
            base = stream << SEQ_BITS
            conn.executemany(
                "INSERT OR IGNORE INTO ledger (key) VALUES (?)",
                [(base | seq,) for seq in seqs if seq > watermark],
            )
            up_to = watermark
            for (key,) in conn.execute(
                "SELECT key FROM ledger WHERE key > ? AND key <= ? ORDER BY key",
                (base | watermark, base | MAX_SEQ),
            ):
                if key != base | (up_to + 1):
                    break
                up_to += 1
            if up_to != watermark:
                conn.execute(
                    "DELETE FROM ledger WHERE key > ? AND key <= ?",
                    (base | watermark, base | up_to),
                )
                conn.execute("UPDATE streams SET up_to_seq = ? WHERE stream = ?", (up_to, stream))
        return int(up_to)

    def record_first_visits(self, visits: Iterable[tuple[str, str, str]]) -> None:
        """(site, visitor hash, local day) of Wi-Fi joins, for returning visitors."""
        with self._transaction() as conn:
            conn.executemany(_UPSERT_FIRST_VISIT, [(s, v, d, d) for s, v, d in visits])

    def first_visit_days(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        conn = self._conn()
        out = {}
        for site, visitor in set(keys):
            found = conn.execute(
                "SELECT first_day FROM first_visits WHERE site_id = ? AND visitor_hash = ?",
                (site, visitor),
            ).fetchone()
            if found:
                out[(site, visitor)] = str(found[0])
        return out

    def watermark(self, device_id: str, epoch: str) -> int:
        found = (
            self._conn()
            .execute(
                "SELECT up_to_seq FROM streams WHERE device_id = ? AND epoch = ?",
                (device_id, epoch),
            )
            .fetchone()
        )
        return int(found[0]) if found else 0

    def count_events(self) -> int:
        return int(self._conn().execute("SELECT count(*) FROM events").fetchone()[0])

    def event_keys(self) -> list[tuple[str, str, int, str]]:
        """(device, epoch, seq, event id) of every raw event (tests and the bench)."""
        return list(
            self._conn().execute(
                f"SELECT s.device_id, s.epoch, e.key & {MAX_SEQ}, e.event_id FROM events e "
                f"JOIN streams s ON s.stream = e.key >> {SEQ_BITS} ORDER BY 1, 2, 3"
            )
        )

    # --- reports -------------------------------------------------------------------------

    def metrics(self, filters: Filters) -> list[Metric]:
        conn = self._conn()
        where = "e.day BETWEEN ? AND ?"
        args: list[object] = [filters.start.isoformat(), filters.end.isoformat()]
        if filters.site_id is not None:
            where += " AND e.site_id = ?"
            args.append(filters.site_id)
        campaign_where, campaign_args = where, list(args)
        if filters.campaign_id is not None:
            campaign_where += " AND e.campaign_id = ?"
            campaign_args.append(filters.campaign_id)
        out: list[Metric] = []
        for day, site, campaign, plays, shown, scheduled in conn.execute(
            "SELECT e.day, e.site_id, coalesce(e.campaign_id, ''), count(*), "
            "total(e.shown_s), total(e.scheduled_s) FROM events e "
            f"WHERE e.type = 'play' AND {campaign_where} GROUP BY 1, 2, 3",
            campaign_args,
        ):
            out += [
                (day, site, campaign, "", PLAYS, float(plays)),
                (day, site, campaign, "", SHOWN_S, shown),
                (day, site, campaign, "", SCHEDULED_S, scheduled),
            ]
        for day, site, kind, campaign, item, count in conn.execute(
            "SELECT e.day, e.site_id, e.type, coalesce(e.campaign_id, ''), "
            "coalesce(e.item_id, ''), count(*) FROM events e "
            "WHERE e.type IN ('portal.promo_shown', 'portal.promo_clicked') "
            f"AND {campaign_where} GROUP BY 1, 2, 3, 4, 5",
            campaign_args,
        ):
            metric = PROMO_SHOWN if kind == "portal.promo_shown" else PROMO_CLICKED
            out.append((day, site, campaign, item, metric, float(count)))
        for day, site, sessions, visitors, returning in conn.execute(
            "SELECT e.day, e.site_id, count(*), count(DISTINCT e.visitor_hash), "
            "count(DISTINCT CASE WHEN f.first_day < e.day THEN e.visitor_hash END) "
            "FROM events e LEFT JOIN first_visits f "
            "ON f.site_id = e.site_id AND f.visitor_hash = e.visitor_hash "
            f"WHERE e.type = 'portal.terms_accepted' AND {where} GROUP BY 1, 2",
            args,
        ):
            out += [
                (day, site, "", "", SESSIONS, float(sessions)),
                (day, site, "", "", VISITORS, float(visitors)),
                (day, site, "", "", RETURNING, float(returning)),
            ]
        for day, site, bucket, count in conn.execute(
            f"SELECT e.day, e.site_id, {dwell_bucket_sql('e.dwell_s')}, count(*) FROM events e "
            f"WHERE e.type = 'portal.session_ended' AND {where} GROUP BY 1, 2, 3",
            args,
        ):
            out.append((day, site, "", "", DWELL_PREFIX + bucket, float(count)))
        rollup_where = where.replace("e.", "r.")
        rollup_args = list(args)
        if filters.campaign_id is not None:
            # Wi-Fi metrics have no campaign: the campaign filter narrows plays and promos.
            rollup_where += " AND (r.campaign_id = ? OR r.metric IN (?, ?, ?) OR r.metric LIKE ?)"
            rollup_args += [filters.campaign_id, SESSIONS, VISITORS, RETURNING, DWELL_PREFIX + "%"]
        out += conn.execute(
            "SELECT r.day, r.site_id, r.campaign_id, r.item_id, r.metric, r.value "
            f"FROM daily_rollups r WHERE {rollup_where}",
            rollup_args,
        ).fetchall()
        return out

    # --- retention -------------------------------------------------------------------------

    def prune(self, older_than: datetime) -> int:
        """Roll up and delete raw events of local days before `older_than`'s date.

        Returns how many raw events were removed. Late events for a day already rolled
        up are added to its rollups at the next prune.
        """
        cutoff = older_than.date().isoformat()
        removed = 0
        days = [
            day
            for (day,) in self._conn().execute(
                f"SELECT DISTINCT day FROM events WHERE type IN ({_TYPES}) AND day < ? "
                "ORDER BY day",
                (*EVENT_TYPES, cutoff),
            )
        ]
        for day in days:  # one transaction per day keeps the write lock short
            with self._transaction() as conn:
                rows: list[EventRow] = conn.execute(
                    f"SELECT {', '.join(EVENT_COLUMNS)} FROM events "
                    f"WHERE type IN ({_TYPES}) AND day = ?",
                    (*EVENT_TYPES, day),
                ).fetchall()
                first = {
                    (site, visitor): first_day
                    for site, visitor, first_day in conn.execute(
                        "SELECT f.site_id, f.visitor_hash, f.first_day FROM first_visits f "
                        "JOIN events e "
                        "ON e.site_id = f.site_id AND e.visitor_hash = f.visitor_hash "
                        "WHERE e.day = ? AND e.type = 'portal.terms_accepted'",
                        (day,),
                    )
                }
                conn.executemany(
                    "INSERT INTO daily_rollups (day, site_id, campaign_id, item_id, metric, value) "
                    "VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT DO UPDATE SET value = value + excluded.value",
                    daily_rollups(rows, first),
                )
                removed += conn.execute(
                    f"DELETE FROM events WHERE type IN ({_TYPES}) AND day = ?", (*EVENT_TYPES, day)
                ).rowcount
            log.info("rolled up and pruned %s raw events of %s", len(rows), day)
        with self._transaction() as conn:
            # Keyed visitor hashes go with the raw events they came from.
            conn.execute("DELETE FROM first_visits WHERE last_day < ?", (cutoff,))
        return removed

    # --- fleet -------------------------------------------------------------------------

    def register_devices(self, devices: Iterable[DeviceInfo]) -> None:
        with self._transaction() as conn:
            conn.executemany(
                "INSERT INTO devices (device_id, site_id, kind, timezone, name, "
                "expected_manifest_version, manifest_published_ms) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (device_id) DO UPDATE SET site_id = excluded.site_id, "
                "kind = excluded.kind, timezone = excluded.timezone, name = excluded.name, "
                "expected_manifest_version = excluded.expected_manifest_version, "
                "manifest_published_ms = excluded.manifest_published_ms",
                [
                    (
                        d.device_id,
                        d.site_id,
                        d.kind,
                        d.timezone,
                        d.name,
                        d.expected_manifest_version,
                        _ms(d.manifest_published_at) if d.manifest_published_at else None,
                    )
                    for d in devices
                ],
            )

    def device(self, device_id: str) -> DeviceInfo | None:
        found = (
            self._conn()
            .execute(
                "SELECT device_id, site_id, kind, timezone, name, expected_manifest_version "
                "FROM devices WHERE device_id = ?",
                (device_id,),
            )
            .fetchone()
        )
        return DeviceInfo(*found) if found else None

    def _devices(self) -> dict[str, DeviceInfo]:
        return {
            row[0]: DeviceInfo(*row)
            for row in self._conn().execute(
                "SELECT device_id, site_id, kind, timezone, name, expected_manifest_version "
                "FROM devices"
            )
        }

    def record_status(self, status: Status, received_at: datetime) -> None:
        # Arrival order, not `status.at`: the last will is composed when the device
        # connects, so an "offline" will carries an older `at` than the "online" it ends.
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO device_state (device_id, status, status_received_ms, last_seen_ms) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET "
                "status = excluded.status, status_received_ms = excluded.status_received_ms, "
                "last_seen_ms = max(coalesce(last_seen_ms, 0), excluded.last_seen_ms)",
                (status.device_id, status.encode().decode(), _ms(received_at), _ms(received_at)),
            )

    def record_health(self, samples: Sequence[Health], received_at: datetime) -> None:
        if not samples:
            return
        with self._transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO health (device_id, at_ms, body) VALUES (?, ?, ?)",
                [(h.device_id, _ms(h.at), h.encode().decode()) for h in samples],
            )
            for sample in sorted(samples, key=lambda h: h.at):
                conn.execute(
                    "INSERT INTO device_state (device_id, health, last_seen_ms) VALUES (?, ?, ?) "
                    "ON CONFLICT (device_id) DO UPDATE SET health = CASE WHEN "
                    "health IS NULL "
                    "OR json_extract(health, '$.at') <= json_extract(excluded.health, '$.at') "
                    "THEN excluded.health ELSE health END, "
                    "last_seen_ms = max(coalesce(last_seen_ms, 0), excluded.last_seen_ms)",
                    (sample.device_id, sample.encode().decode(), _ms(received_at)),
                )

    def record_command_result(self, result: CommandResult, received_at: datetime) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO command_results (device_id, command_id, at_ms, body) "
                "VALUES (?, ?, ?, ?)",
                (result.device_id, result.command_id, _ms(result.at), result.encode().decode()),
            )

    def record_seen(self, device_ids: Iterable[str], at: datetime) -> None:
        with self._transaction() as conn:
            conn.executemany(
                "INSERT INTO device_state (device_id, last_seen_ms) VALUES (?, ?) "
                "ON CONFLICT (device_id) DO UPDATE SET "
                "last_seen_ms = max(coalesce(last_seen_ms, 0), excluded.last_seen_ms)",
                [(device_id, _ms(at)) for device_id in set(device_ids)],
            )

    def record_dropped(self, device_id: str, dropped_total: int) -> None:
        with self._transaction() as conn:
            self._record_dropped(conn, device_id, dropped_total)

    @staticmethod
    def _record_dropped(conn: sqlite3.Connection, device_id: str, dropped_total: int) -> None:
        conn.execute(
            "INSERT INTO device_state (device_id, dropped_total) VALUES (?, ?) "
            "ON CONFLICT (device_id) DO UPDATE SET "
            "dropped_total = max(dropped_total, excluded.dropped_total)",
            (device_id, dropped_total),
        )

    def fleet(self) -> list[DeviceSnapshot]:
        devices = self._devices()
        states = {
            row[0]: row[1:]
            for row in self._conn().execute(
                "SELECT device_id, status, status_received_ms, health, last_seen_ms, "
                "dropped_total FROM device_state"
            )
        }
        snapshots = []
        for device_id in sorted(set(devices) | set(states)):
            status, received_ms, health, seen_ms, dropped = states.get(
                device_id, (None, None, None, None, 0)
            )
            snapshots.append(
                DeviceSnapshot(
                    device_id=device_id,
                    info=devices.get(device_id),
                    status=Status.model_validate_json(status) if status else None,
                    status_received_at=_from_ms(received_ms),
                    health=Health.model_validate_json(health) if health else None,
                    last_seen=_from_ms(seen_ms),
                    outbox_dropped_total=dropped or 0,
                )
            )
        return snapshots

    def health_history(self, device_id: str, since: datetime) -> list[Health]:
        return [
            Health.model_validate_json(body)
            for (body,) in self._conn().execute(
                "SELECT body FROM health WHERE device_id = ? AND at_ms >= ? ORDER BY at_ms",
                (device_id, _ms(since)),
            )
        ]

    def command_results(self, device_id: str, limit: int = 20) -> list[CommandResult]:
        return [
            CommandResult.model_validate_json(body)
            for (body,) in self._conn().execute(
                "SELECT body FROM command_results WHERE device_id = ? ORDER BY at_ms DESC LIMIT ?",
                (device_id, limit),
            )
        ]

    def prune_health(self, older_than: datetime) -> int:
        with self._transaction() as conn:
            removed = conn.execute(
                "DELETE FROM health WHERE at_ms < ?", (_ms(older_than),)
            ).rowcount
            conn.execute("DELETE FROM command_results WHERE at_ms < ?", (_ms(older_than),))
        return int(removed)
