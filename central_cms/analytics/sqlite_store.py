"""The embedded analytics store: one SQLite file for events, daily figures and fleet state.

What a batch adds to the daily figures (plays, shown and scheduled time, sessions,
dwell, promotions) is summed as it arrives into `daily_rollups`, and its Wi-Fi joins
go to `wifi_joins` for distinct and returning visitors; the raw events are kept too,
a compressed row per batch, until retention ends. Reports then read a few rows per
day and site instead of every event, and storing costs a handful of writes per batch
instead of one per event (issue 7: a row per event held SQLite to ~100k rows/s).

Several ingest processes may share the file. Each device epoch (a "stream") keeps its
acknowledgement watermark and the stored seq ranges above it; a batch is stored inside
a `BEGIN IMMEDIATE` transaction that reads and advances them, so an event is counted
once however often it is sent, and whichever process receives a batch acknowledges
exactly what the file holds.
"""

# SQL here is assembled only from constant column lists, placeholders and fixed filter
# clauses; every value is bound as a parameter.
# ruff: noqa: S608

from __future__ import annotations

import logging
import sqlite3
import threading
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from central_cms.analytics.health_rules import AlertRules, AlertRulesError, Finding, Level
from central_cms.analytics.model import (
    EVENT_COLUMNS,
    MAX_SEQ,
    SEQ_BITS,
    BatchOutcome,
    DeviceInfo,
    Filters,
)
from central_cms.analytics.reports import (
    DWELL_PREFIX,
    RETURNING,
    SESSIONS,
    VISITORS,
    DailySums,
    Metric,
    daily_rollups,
    daily_sums,
)
from central_cms.analytics.store import DeviceSnapshot
from devices.protocol import CommandResult, Health, Status
from devices.protocol.acks import AckWatermark, SeqRange
from devices.protocol.events_wire import Batch, Event, decode_batch

log = logging.getLogger(__name__)

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

_JOINED = "portal.terms_accepted"
_ADD_TO_ROLLUP = (
    "INSERT INTO daily_rollups (day, site_id, campaign_id, item_id, metric, value) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET value = value + excluded.value"
)
_INSERT_JOIN = "INSERT OR IGNORE INTO wifi_joins (day, site_id, visitor_hash) VALUES (?, ?, ?)"
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


def _days_and_site(filters: Filters, table: str = "") -> str:
    where = f"{table}day BETWEEN ? AND ?"
    return where if filters.site_id is None else f"{where} AND {table}site_id = ?"


def _days_and_site_args(filters: Filters) -> list[object]:
    args: list[object] = [filters.start.isoformat(), filters.end.isoformat()]
    return args if filters.site_id is None else [*args, filters.site_id]


def _visitor_metrics(conn: sqlite3.Connection, where: str, args: list[object]) -> list[Metric]:
    """Distinct and returning visitors per day and site, from the Wi-Fi joins kept
    (`where` filters `wifi_joins v`)."""
    out: list[Metric] = []
    for day, site, visitors, returning in conn.execute(
        "SELECT v.day, v.site_id, count(*), count(CASE WHEN f.first_day < v.day THEN 1 END) "
        "FROM wifi_joins v LEFT JOIN first_visits f "
        "ON f.site_id = v.site_id AND f.visitor_hash = v.visitor_hash "
        f"WHERE {where} GROUP BY 1, 2",
        args,
    ):
        out += [
            (day, site, "", "", VISITORS, float(visitors)),
            (day, site, "", "", RETURNING, float(returning)),
        ]
    return out


def _ranges(text: str) -> list[SeqRange]:
    """Stored seq ranges above a watermark, as kept in `streams.above`: "5-9,12-12"."""
    return [
        (int(first), int(last))
        for first, _, last in (part.partition("-") for part in text.split(",") if part)
    ]


def _ranges_text(ranges: Iterable[SeqRange]) -> str:
    return ",".join(f"{first}-{last}" for first, last in ranges)


def raw_events(body: bytes) -> tuple[Event, ...]:
    """The events of one kept raw batch."""
    return decode_batch(zlib.decompress(body)).events


@dataclass(frozen=True)
class _Prepared:
    """A batch with what it adds to the figures and its raw form, worked out up front."""

    batch: Batch
    device: DeviceInfo | None
    sums: DailySums
    body: bytes

    @classmethod
    def of(cls, batch: Batch, device: DeviceInfo | None) -> _Prepared:
        # zlib level 1: about a seventh of the JSON's size at ~2 us an event.
        body = zlib.compress(msgspec.json.encode(batch), 1)
        return cls(batch, device, daily_sums(batch.events, device), body)


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
        self._migrate()

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
        self, batches: Sequence[tuple[Batch, DeviceInfo | None]]
    ) -> list[BatchOutcome]:
        # Summed and compressed before taking the write lock, assuming every event is
        # new (the usual case), so a second ingest process is not kept waiting on it.
        prepared = [_Prepared.of(batch, device) for batch, device in batches]
        with self._transaction() as conn:
            return [self._store_one(conn, one) for one in prepared]

    def _store_one(self, conn: sqlite3.Connection, prepared: _Prepared) -> BatchOutcome:
        batch = prepared.batch
        stream, watermark = self._stream(conn, batch.device_id, batch.outbox_epoch)
        lost = self._skip_dropped(conn, stream, watermark, batch.dropped)
        events = batch.events
        if watermark.gaps or watermark.holds(events[0].seq):
            # A re-send: anything stored already (and perhaps since pruned) is skipped.
            new = tuple(event for event in events if not watermark.holds(event.seq))
            if len(new) != len(events):
                prepared = _Prepared.of(msgspec.structs.replace(batch, events=new), prepared.device)
            events = new
        if events:
            sums = prepared.sums
            conn.executemany(_ADD_TO_ROLLUP, sums.metrics)
            if sums.joins:
                conn.executemany(_INSERT_JOIN, sums.joins)
                conn.executemany(_UPSERT_FIRST_VISIT, [(s, v, d, d) for d, s, v in sums.joins])
            conn.execute(
                "INSERT INTO raw_batches (stream, first_seq, events, last_day, body) "
                "VALUES (?, ?, ?, ?, ?)",
                (stream, events[0].seq, len(events), sums.last_day, prepared.body),
            )
            self._advance(conn, stream, watermark, [event.seq for event in events])
        elif lost:
            self._advance(conn, stream, watermark, ())
        if batch.dropped_total:
            self._record_dropped(conn, batch.device_id, batch.dropped_total)
        return BatchOutcome(
            device_id=batch.device_id,
            outbox_epoch=batch.outbox_epoch,
            inserted=len(events),
            duplicates=len(batch.events) - len(events),
            up_to_seq=watermark.up_to_seq,
        )

    @staticmethod
    def _stream(conn: sqlite3.Connection, device_id: str, epoch: str) -> tuple[int, AckWatermark]:
        """The stream number of a device epoch and what it holds (created if new)."""
        conn.execute(
            "INSERT OR IGNORE INTO streams (device_id, epoch) VALUES (?, ?)", (device_id, epoch)
        )
        stream, up_to, above = conn.execute(
            "SELECT stream, up_to_seq, above FROM streams WHERE device_id = ? AND epoch = ?",
            (device_id, epoch),
        ).fetchone()
        return int(stream), AckWatermark(up_to, _ranges(above))

    @staticmethod
    def _skip_dropped(
        conn: sqlite3.Connection,
        stream: int,
        watermark: AckWatermark,
        dropped: Sequence[SeqRange],
    ) -> int:
        """Let the watermark pass what the device dropped unsent, counting what was
        never stored as lost; the caller saves the watermark."""
        if not dropped:
            return 0
        lost = watermark.skip(dropped)
        if lost:
            conn.execute("UPDATE streams SET lost = lost + ? WHERE stream = ?", (lost, stream))
            log.warning(
                "%d events of stream %d were dropped by the device unsent; counted as lost",
                lost,
                stream,
            )
        return lost

    @staticmethod
    def _advance(
        conn: sqlite3.Connection, stream: int, watermark: AckWatermark, seqs: Sequence[int]
    ) -> None:
        watermark.add(seqs)
        conn.execute(
            "UPDATE streams SET up_to_seq = ?, above = ? WHERE stream = ?",
            (watermark.up_to_seq, _ranges_text(watermark.above), stream),
        )

    # --- the ledger, for an event store kept elsewhere ----------------------------------------

    def ledger_known(self, device_id: str, epoch: str, seqs: Sequence[int]) -> set[int]:
        """Which of `seqs` are stored already."""
        found = (
            self._conn()
            .execute(
                "SELECT up_to_seq, above FROM streams WHERE device_id = ? AND epoch = ?",
                (device_id, epoch),
            )
            .fetchone()
        )
        if found is None:
            return set()
        watermark = AckWatermark(found[0], _ranges(found[1]))
        return {seq for seq in seqs if watermark.holds(seq)}

    def ledger_add(
        self,
        device_id: str,
        epoch: str,
        seqs: Sequence[int],
        dropped: Sequence[SeqRange] = (),
    ) -> int:
        """Record seqs durably stored elsewhere, and those the device dropped unsent;
        returns the contiguous watermark."""
        with self._transaction() as conn:
            stream, watermark = self._stream(conn, device_id, epoch)
            self._skip_dropped(conn, stream, watermark, dropped)
            self._advance(conn, stream, watermark, seqs)
        return watermark.up_to_seq

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
        """Raw events kept (those not yet past retention)."""
        return int(self._conn().execute("SELECT total(events) FROM raw_batches").fetchone()[0])

    def event_keys(self) -> list[tuple[str, str, int, str]]:
        """(device, epoch, seq, event id) of every raw event kept, in order (tests, bench)."""
        keys = []
        for device_id, epoch, body in self._conn().execute(
            "SELECT s.device_id, s.epoch, r.body FROM raw_batches r "
            "JOIN streams s ON s.stream = r.stream"
        ):
            keys += [(device_id, epoch, e.seq, e.id) for e in raw_events(body)]
        return sorted(keys)

    # --- reports -------------------------------------------------------------------------

    def metrics(self, filters: Filters) -> list[Metric]:
        conn = self._conn()
        # Distinct visitors of the days still kept raw; older days have them in rollups.
        out = _visitor_metrics(conn, _days_and_site(filters, "v."), _days_and_site_args(filters))
        rollup_where, rollup_args = _days_and_site(filters), _days_and_site_args(filters)
        if filters.campaign_id is not None:
            # Wi-Fi metrics have no campaign: the campaign filter narrows plays and promos.
            rollup_where += " AND (campaign_id = ? OR metric IN (?, ?, ?) OR metric LIKE ?)"
            rollup_args += [filters.campaign_id, SESSIONS, VISITORS, RETURNING, DWELL_PREFIX + "%"]
        out += conn.execute(
            "SELECT day, site_id, campaign_id, item_id, metric, value "
            f"FROM daily_rollups WHERE {rollup_where}",
            rollup_args,
        ).fetchall()
        return out

    # --- retention -------------------------------------------------------------------------

    def prune(self, older_than: datetime) -> int:
        """Delete raw events of local days before `older_than`'s date, keeping the daily
        figures: distinct and returning visitors of those days become rollups, and the
        keyed visitor hashes go with the raw events they came from.

        Returns how many raw events were removed. A batch is removed once its latest
        event is past retention; late events for a pruned day still add to its figures.
        """
        cutoff = older_than.date().isoformat()
        with self._transaction() as conn:
            conn.executemany(_ADD_TO_ROLLUP, _visitor_metrics(conn, "v.day < ?", [cutoff]))
            conn.execute("DELETE FROM wifi_joins WHERE day < ?", (cutoff,))
            removed = conn.execute(
                "SELECT total(events) FROM raw_batches WHERE last_day < ?", (cutoff,)
            ).fetchone()[0]
            conn.execute("DELETE FROM raw_batches WHERE last_day < ?", (cutoff,))
            conn.execute("DELETE FROM first_visits WHERE last_day < ?", (cutoff,))
        if removed:
            log.info("pruned %d raw events of days before %s", removed, cutoff)
        return int(removed)

    # --- the previous format ---------------------------------------------------------------

    def _migrate(self) -> None:
        """From the first format (a row per event, a ledger row per seq): the figures go
        into rollups and joins, the ledger into ranges. Raw rows are not kept."""
        with self._transaction() as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
            columns = {row[1] for row in conn.execute("PRAGMA table_info(streams)")}
            if "above" not in columns:
                conn.execute("ALTER TABLE streams ADD COLUMN above TEXT NOT NULL DEFAULT ''")
            if "lost" not in columns:
                conn.execute("ALTER TABLE streams ADD COLUMN lost INTEGER NOT NULL DEFAULT 0")
            if "ledger" in tables:
                held: dict[int, list[int]] = {}
                for (key,) in conn.execute("SELECT key FROM ledger ORDER BY key"):
                    held.setdefault(key >> SEQ_BITS, []).append(key & MAX_SEQ)
                for stream, seqs in held.items():
                    (up_to,) = conn.execute(
                        "SELECT up_to_seq FROM streams WHERE stream = ?", (stream,)
                    ).fetchone()
                    self._advance(conn, stream, AckWatermark(up_to), seqs)
                conn.execute("DROP TABLE ledger")
            if "events" in tables:
                rows = conn.execute(f"SELECT {', '.join(EVENT_COLUMNS)} FROM events").fetchall()
                conn.executemany(
                    _ADD_TO_ROLLUP,
                    [m for m in daily_rollups(rows, {}) if m[4] not in (VISITORS, RETURNING)],
                )
                conn.executemany(
                    _INSERT_JOIN,
                    {(r[3], r[5], r[8]) for r in rows if r[4] == _JOINED and r[8]},
                )
                conn.execute("DROP TABLE events")
                log.info("moved %d raw events of the first format into daily figures", len(rows))

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
        lost = dict(
            self._conn().execute("SELECT device_id, sum(lost) FROM streams GROUP BY device_id")
        )
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
                    events_lost=int(lost.get(device_id) or 0),
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

    def alert_rules(self) -> AlertRules:
        found = self._conn().execute("SELECT body FROM alert_rules WHERE id = 1").fetchone()
        if found is None:
            return AlertRules()
        try:
            saved = msgspec.json.decode(found[0])
            known = {f.name: saved[f.name] for f in fields(AlertRules) if f.name in saved}
            return AlertRules(**known)
        except (msgspec.DecodeError, TypeError, AlertRulesError) as error:
            # Saved rules are checked first, so only a hand edit or tighter limits in a
            # newer version get here; the pages show the defaults then, for IT to re-save.
            log.warning("saved alert rules unusable, using the defaults: %s", error)
            return AlertRules()

    def save_alert_rules(self, rules: AlertRules) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO alert_rules (id, body) VALUES (1, ?) "
                "ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                (msgspec.json.encode(rules).decode(),),
            )

    def claim_monitor(self, owner: str, now: datetime, lease: timedelta) -> list[Finding] | None:
        with self._transaction() as conn:
            found = conn.execute(
                "SELECT owner, expires_ms, active FROM health_monitor WHERE id = 1"
            ).fetchone()
            if found is not None and found[0] != owner and found[1] > _ms(now):
                return None
            conn.execute(
                "INSERT INTO health_monitor (id, owner, expires_ms) VALUES (1, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, "
                "expires_ms = excluded.expires_ms",
                (owner, _ms(now + lease)),
            )
        return [
            Finding(device_id, rule, Level(level), message)
            for device_id, rule, level, message in msgspec.json.decode(found[2] if found else "[]")
        ]

    def save_monitor_state(self, owner: str, active: Sequence[Finding]) -> None:
        state = [(f.device_id, f.rule, f.level.value, f.message) for f in active]
        with self._transaction() as conn:
            conn.execute(
                "UPDATE health_monitor SET active = ? WHERE id = 1 AND owner = ?",
                (msgspec.json.encode(state).decode(), owner),
            )
