"""The acknowledgement ledger on the SQLite file (`AckLedger`).

Each device outbox epoch (a "stream") keeps its acknowledgement watermark and the seq
ranges stored above it while a gap waits for a re-send, so an event is counted once
however often it is sent. The SQLite event store advances them inside its own batch
transaction (`stream_of`, `skip_dropped`, `advance`); an event store kept elsewhere
(InfluxDB) records through `SqliteLedger` once its write is durable.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Sequence

from central_cms.analytics.sqlite_file import OnSqliteFile
from devices.protocol.acks import AckWatermark, SeqRange

log = logging.getLogger(__name__)

UPSERT_FIRST_VISIT = (
    "INSERT INTO first_visits (site_id, visitor_hash, first_day, last_day) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (site_id, visitor_hash) DO UPDATE SET "
    "first_day = min(first_day, excluded.first_day), last_day = max(last_day, excluded.last_day)"
)


def _ranges(text: str) -> list[SeqRange]:
    """Stored seq ranges above a watermark, as kept in `streams.above`: "5-9,12-12"."""
    return [
        (int(first), int(last))
        for first, _, last in (part.partition("-") for part in text.split(",") if part)
    ]


def _ranges_text(ranges: Iterable[SeqRange]) -> str:
    return ",".join(f"{first}-{last}" for first, last in ranges)


def stream_of(conn: sqlite3.Connection, device_id: str, epoch: str) -> tuple[int, AckWatermark]:
    """The stream number of a device epoch and what it holds (created if new)."""
    conn.execute(
        "INSERT OR IGNORE INTO streams (device_id, epoch) VALUES (?, ?)", (device_id, epoch)
    )
    stream, up_to, above = conn.execute(
        "SELECT stream, up_to_seq, above FROM streams WHERE device_id = ? AND epoch = ?",
        (device_id, epoch),
    ).fetchone()
    return int(stream), AckWatermark(up_to, _ranges(above))


def skip_dropped(
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


def advance(
    conn: sqlite3.Connection, stream: int, watermark: AckWatermark, seqs: Sequence[int]
) -> None:
    watermark.add(seqs)
    conn.execute(
        "UPDATE streams SET up_to_seq = ?, above = ? WHERE stream = ?",
        (watermark.up_to_seq, _ranges_text(watermark.above), stream),
    )


class SqliteLedger(OnSqliteFile):
    """`AckLedger` on the file, for an event store kept elsewhere."""

    def ledger_known(self, device_id: str, epoch: str, seqs: Sequence[int]) -> set[int]:
        """Which of `seqs` are stored already."""
        found = (
            self.db.conn()
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
        with self.db.transaction() as conn:
            stream, watermark = stream_of(conn, device_id, epoch)
            skip_dropped(conn, stream, watermark, dropped)
            advance(conn, stream, watermark, seqs)
        return watermark.up_to_seq

    def record_first_visits(self, visits: Iterable[tuple[str, str, str]]) -> None:
        """(site, visitor hash, local day) of Wi-Fi joins, for returning visitors."""
        with self.db.transaction() as conn:
            conn.executemany(UPSERT_FIRST_VISIT, [(s, v, d, d) for s, v, d in visits])

    def first_visit_days(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        conn = self.db.conn()
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
            self.db.conn()
            .execute(
                "SELECT up_to_seq FROM streams WHERE device_id = ? AND epoch = ?",
                (device_id, epoch),
            )
            .fetchone()
        )
        return int(found[0]) if found else 0
