"""The embedded analytics store: one SQLite file for events, daily figures, the
acknowledgement ledger and fleet state.

`SqliteStore` is the four stores on one file (`sqlite_events`, `sqlite_ledger`,
`sqlite_fleet`, `sqlite_feedback`), sharing its connections, so a batch and its
watermark are one commit.
"""

from __future__ import annotations

from pathlib import Path

from central_cms.analytics.sqlite_events import (
    SqliteEventStore,
    backfill_screen_plays,
    migrate_first_format,
)
from central_cms.analytics.sqlite_feedback import SqliteFeedbackStore
from central_cms.analytics.sqlite_file import SqliteFile
from central_cms.analytics.sqlite_fleet import SqliteFleetStore
from central_cms.analytics.sqlite_fleet_pages import add_fact_columns
from central_cms.analytics.sqlite_ledger import SqliteLedger


class SqliteStore(SqliteEventStore, SqliteLedger, SqliteFleetStore, SqliteFeedbackStore):
    """`EventStore`, `AckLedger`, `FleetStore` and `FeedbackStore` on one SQLite file
    (see `SqliteFile` for `synchronous`)."""

    def __init__(self, path: Path | str, *, synchronous: str = "FULL") -> None:
        db = SqliteFile(path, synchronous=synchronous)
        migrate_first_format(db)
        backfill_screen_plays(db)
        add_fact_columns(db.conn())
        super().__init__(db)
