"""The embedded event store (`EventStore`) on the SQLite file.

What a batch adds to the daily figures (plays, shown and scheduled time, sessions,
dwell, promotions) is summed as it arrives into `daily_rollups`, and its Wi-Fi joins
go to `wifi_joins` for distinct and returning visitors; the raw events are kept too,
a compressed row per batch, until retention ends. Reports then read a few rows per
day and site instead of every event, and storing costs a handful of writes per batch
instead of one per event (issue 7: a row per event held SQLite to ~100k rows/s).

A batch is stored in one transaction that also reads and advances its stream's
watermark (`sqlite_ledger`), so whichever process receives a batch acknowledges
exactly what the file holds.
"""

# SQL here is assembled only from constant column lists, placeholders and fixed filter
# clauses; every value is bound as a parameter.
# ruff: noqa: S608

from __future__ import annotations

import logging
import sqlite3
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import msgspec

from central_cms.analytics.airtime import AirtimeRow, hour_key, hourly_airtime, parse_hour
from central_cms.analytics.model import (
    EVENT_COLUMNS,
    MAX_SEQ,
    SEQ_BITS,
    BatchOutcome,
    DeviceInfo,
    EventRow,
    Filters,
)
from central_cms.analytics.proof_of_play import ScreenPlay, screen_plays
from central_cms.analytics.reports import (
    DWELL_PREFIX,
    RETURNING,
    SESSIONS,
    VISITORS,
    DailySums,
    Metric,
    Overview,
    build_report,
    daily_rollups,
    daily_sums,
)
from central_cms.analytics.sqlite_file import OnSqliteFile, SqliteFile
from central_cms.analytics.sqlite_fleet import record_dropped
from central_cms.analytics.sqlite_ledger import (
    UPSERT_FIRST_VISIT,
    advance,
    skip_dropped,
    stream_of,
)
from central_cms.analytics.sqlite_overview import NOT_PLAYS, play_figures, rollup_where
from devices.protocol import EventType
from devices.protocol.acks import AckWatermark
from devices.protocol.events_wire import Batch, Event, decode_batch

log = logging.getLogger(__name__)

ADD_TO_ROLLUP = (
    "INSERT INTO daily_rollups (day, site_id, campaign_id, item_id, metric, value) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET value = value + excluded.value"
)
_ADD_TO_AIRTIME = (
    "INSERT INTO hourly_airtime (hour, site_id, campaign_id, shown_s, plays) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE "
    "SET shown_s = shown_s + excluded.shown_s, plays = plays + excluded.plays"
)
_ADD_TO_SCREEN_PLAYS = (
    "INSERT INTO screen_plays (day, site_id, device_id, campaign_id, item_id, alert_id, "
    "plays, shown_s, scheduled_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE "
    "SET plays = plays + excluded.plays, shown_s = shown_s + excluded.shown_s, "
    "scheduled_s = scheduled_s + excluded.scheduled_s"
)
_INSERT_JOIN = "INSERT OR IGNORE INTO wifi_joins (day, site_id, visitor_hash) VALUES (?, ?, ?)"


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


def raw_events(body: bytes) -> tuple[Event, ...]:
    """The events of one kept raw batch."""
    return decode_batch(zlib.decompress(body)).events


@dataclass(frozen=True)
class _Prepared:
    """A batch with what it adds to the figures and its raw form, worked out up front."""

    batch: Batch
    device: DeviceInfo | None
    sums: DailySums
    airtime: list[AirtimeRow]
    screens: list[ScreenPlay]
    body: bytes

    @classmethod
    def of(cls, batch: Batch, device: DeviceInfo | None) -> _Prepared:
        # zlib level 1: about a seventh of the JSON's size at ~2 us an event.
        body = zlib.compress(msgspec.json.encode(batch), 1)
        sums = daily_sums(batch.events, device)
        airtime = hourly_airtime(batch.events, device)
        screens = screen_plays(batch.events, batch.device_id, device)
        return cls(batch, device, sums, airtime, screens, body)


class SqliteEventStore(OnSqliteFile):
    """`EventStore` on the file: rollups, Wi-Fi joins and the raw batches."""

    def store_batches(
        self, batches: Sequence[tuple[Batch, DeviceInfo | None]]
    ) -> list[BatchOutcome]:
        # Summed and compressed before taking the write lock, assuming every event is
        # new (the usual case), so a second ingest process is not kept waiting on it.
        prepared = [_Prepared.of(batch, device) for batch, device in batches]
        with self.db.transaction() as conn:
            return [self._store_one(conn, one) for one in prepared]

    def _store_one(self, conn: sqlite3.Connection, prepared: _Prepared) -> BatchOutcome:
        batch = prepared.batch
        stream, watermark = stream_of(conn, batch.device_id, batch.outbox_epoch)
        lost = skip_dropped(conn, stream, watermark, batch.dropped)
        events = batch.events
        if watermark.gaps or watermark.holds(events[0].seq):
            # A re-send: anything stored already (and perhaps since pruned) is skipped.
            new = tuple(event for event in events if not watermark.holds(event.seq))
            if len(new) != len(events):
                prepared = _Prepared.of(msgspec.structs.replace(batch, events=new), prepared.device)
            events = new
        if events:
            sums = prepared.sums
            conn.executemany(ADD_TO_ROLLUP, sums.metrics)
            conn.executemany(_ADD_TO_AIRTIME, prepared.airtime)
            conn.executemany(_ADD_TO_SCREEN_PLAYS, [_screen_row(p) for p in prepared.screens])
            if sums.joins:
                conn.executemany(_INSERT_JOIN, sums.joins)
                conn.executemany(UPSERT_FIRST_VISIT, [(s, v, d, d) for d, s, v in sums.joins])
            conn.execute(
                "INSERT INTO raw_batches (stream, first_seq, events, last_day, body) "
                "VALUES (?, ?, ?, ?, ?)",
                (stream, events[0].seq, len(events), sums.last_day, prepared.body),
            )
            advance(conn, stream, watermark, [event.seq for event in events])
        elif lost:
            advance(conn, stream, watermark, ())
        if batch.dropped_total:
            record_dropped(conn, batch.device_id, batch.dropped_total)
        return BatchOutcome(
            device_id=batch.device_id,
            outbox_epoch=batch.outbox_epoch,
            inserted=len(events),
            duplicates=len(batch.events) - len(events),
            up_to_seq=watermark.up_to_seq,
        )

    def count_events(self) -> int:
        """Raw events kept (those not yet past retention)."""
        return int(self.db.conn().execute("SELECT total(events) FROM raw_batches").fetchone()[0])

    def event_keys(self) -> list[tuple[str, str, int, str]]:
        """(device, epoch, seq, event id) of every raw event kept, in order (tests, bench)."""
        keys = []
        for device_id, epoch, body in self.db.conn().execute(
            "SELECT s.device_id, s.epoch, r.body FROM raw_batches r "
            "JOIN streams s ON s.stream = r.stream"
        ):
            keys += [(device_id, epoch, e.seq, e.id) for e in raw_events(body)]
        return sorted(keys)

    # --- reports -------------------------------------------------------------------------

    def metrics(self, filters: Filters) -> list[Metric]:
        return self._metrics(filters, "")

    def overview(self, filters: Filters, rows_shown: int) -> Overview:
        """The page's figures: plays summed in SQL, the other (per-site) metrics pivoted
        as `build_report` does."""
        others = build_report(self._metrics(filters, NOT_PLAYS))
        per_day, by_campaign_site, first, rows = play_figures(self.db.conn(), filters, rows_shown)
        return Overview(
            plays_per_day=per_day,
            by_campaign_site=by_campaign_site,
            first_plays=first,
            play_rows=rows,
            wifi=others.wifi,
            dwell=others.dwell,
            promos=others.promos,
        )

    def _metrics(self, filters: Filters, narrow: str) -> list[Metric]:
        """`metrics`, of the rollups `narrow` (" AND ...", no parameters) keeps."""
        conn = self.db.conn()
        # Distinct visitors of the days still kept raw; older days have them in rollups.
        out = _visitor_metrics(conn, _days_and_site(filters, "v."), _days_and_site_args(filters))
        where, args = rollup_where(filters)
        where += narrow
        query = (
            "SELECT day, site_id, campaign_id, item_id, metric, value "
            f"FROM daily_rollups WHERE {where}"
        )
        if filters.campaign_id is not None:
            # Wi-Fi metrics have no campaign (they are filed under ''): the campaign filter
            # narrows plays and promos. Two lookups by campaign_id, so a year of one
            # campaign reads its own rows (daily_rollups_by_campaign), not every campaign's.
            query = (
                f"{query} AND campaign_id = ? UNION ALL {query} AND campaign_id = '' "
                "AND (metric IN (?, ?, ?) OR metric LIKE ?)"
            )
            args = [
                *args,
                filters.campaign_id,
                *args,
                SESSIONS,
                VISITORS,
                RETURNING,
                DWELL_PREFIX + "%",
            ]
        out += conn.execute(query, args).fetchall()
        return out

    def screen_plays(
        self, filters: Filters, device_ids: Sequence[str] | None = None
    ) -> list[ScreenPlay]:
        """Plays per day, screen and item for the filters (campaign "": alerts and default
        content), on `device_ids` only if given."""
        where, args = _days_and_site(filters), _days_and_site_args(filters)
        if filters.campaign_id is not None:
            where += " AND campaign_id = ?"
            args.append(filters.campaign_id)
        if device_ids is not None:
            where += f" AND device_id IN ({', '.join('?' * len(device_ids)) or 'NULL'})"
            args += list(device_ids)
        rows = self.db.conn().execute(
            "SELECT day, site_id, device_id, campaign_id, item_id, alert_id, plays, shown_s, "
            f"scheduled_s FROM screen_plays WHERE {where}",
            args,
        )
        return [ScreenPlay(*row) for row in rows]

    def airtime(
        self, campaign_id: str, start: datetime, stop: datetime, site_id: str | None = None
    ) -> dict[datetime, float]:
        """Seconds of `campaign_id` shown per clock hour starting in [start, stop)."""
        where, args = "campaign_id = ? AND hour >= ? AND hour < ?", [campaign_id]
        args += [hour_key(start), hour_key(stop)]
        if site_id is not None:
            where, args = f"{where} AND site_id = ?", [*args, site_id]
        rows = self.db.conn().execute(
            f"SELECT hour, total(shown_s) FROM hourly_airtime WHERE {where} GROUP BY hour", args
        )
        return {parse_hour(hour): shown for hour, shown in rows}

    # --- retention -------------------------------------------------------------------------

    def prune(self, older_than: datetime) -> int:
        """Delete raw events of local days before `older_than`'s date, keeping the daily
        figures: distinct and returning visitors of those days become rollups, and the
        keyed visitor hashes go with the raw events they came from.

        Returns how many raw events were removed. A batch is removed once its latest
        event is past retention; late events for a pruned day still add to its figures.
        """
        cutoff = older_than.date().isoformat()
        with self.db.transaction() as conn:
            conn.executemany(ADD_TO_ROLLUP, _visitor_metrics(conn, "v.day < ?", [cutoff]))
            conn.execute("DELETE FROM wifi_joins WHERE day < ?", (cutoff,))
            removed = conn.execute(
                "SELECT total(events) FROM raw_batches WHERE last_day < ?", (cutoff,)
            ).fetchone()[0]
            conn.execute("DELETE FROM raw_batches WHERE last_day < ?", (cutoff,))
            conn.execute("DELETE FROM hourly_airtime WHERE hour < ?", (cutoff,))
            conn.execute("DELETE FROM first_visits WHERE last_day < ?", (cutoff,))
        if removed:
            log.info("pruned %d raw events of days before %s", removed, cutoff)
        return int(removed)


def _screen_row(play: ScreenPlay) -> tuple[object, ...]:
    return (
        play.day,
        play.site_id,
        play.device_id,
        play.campaign_id,
        play.item_id,
        play.alert_id,
        play.plays,
        play.shown_s,
        play.scheduled_s,
    )


def backfill_screen_plays(db: SqliteFile) -> None:
    """Fill `screen_plays` once from the raw batches kept, for a file from before it
    (user_version 0): plays past retention are in the daily figures only."""
    with db.transaction() as conn:
        if conn.execute("PRAGMA user_version").fetchone()[0] >= 1:
            return
        sites = dict(conn.execute("SELECT device_id, site_id FROM devices"))
        zones = dict(conn.execute("SELECT device_id, timezone FROM devices"))
        for device_id, body in conn.execute(
            "SELECT s.device_id, r.body FROM raw_batches r JOIN streams s USING (stream)"
        ).fetchall():
            device = None
            if device_id in sites:
                device = DeviceInfo(device_id, sites[device_id], "", zones[device_id])
            plays = screen_plays(raw_events(body), device_id, device)
            conn.executemany(_ADD_TO_SCREEN_PLAYS, [_screen_row(p) for p in plays])
        conn.execute("PRAGMA user_version = 1")


# --- the previous format ---------------------------------------------------------------


def migrate_first_format(db: SqliteFile) -> None:
    """From the first format (a row per event, a ledger row per seq): the figures go
    into rollups and joins, the ledger into ranges. Raw rows are not kept."""
    with db.transaction() as conn:
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
                advance(conn, stream, AckWatermark(up_to), seqs)
            conn.execute("DROP TABLE ledger")
        if "events" in tables:
            rows = [
                EventRow(*row)
                for row in conn.execute(f"SELECT {', '.join(EVENT_COLUMNS)} FROM events")
            ]
            conn.executemany(
                ADD_TO_ROLLUP,
                [m for m in daily_rollups(rows, {}) if m[4] not in (VISITORS, RETURNING)],
            )
            conn.executemany(
                _INSERT_JOIN,
                {
                    (r.day, r.site_id, r.visitor_hash)
                    for r in rows
                    if r.type == EventType.TERMS_ACCEPTED and r.visitor_hash
                },
            )
            conn.execute("DROP TABLE events")
            log.info("moved %d raw events of the first format into daily figures", len(rows))
