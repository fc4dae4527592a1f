"""Visitors' feedback on the analytics SQLite file (issue 16): with the SQLite event
store it shares the file; with InfluxDB it lives in the state file beside the ledger."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from central_cms.analytics.feedback import FeedbackRow
from central_cms.analytics.model import Filters
from central_cms.analytics.sqlite_file import OnSqliteFile

log = logging.getLogger(__name__)

_SELECT = (
    "SELECT event_id, device_id, site_id, day, at, language, rating, recommend, comment, "
    "deleted_by FROM feedback WHERE day BETWEEN ? AND ?"
)
_INSERT = (
    "INSERT OR IGNORE INTO feedback (event_id, device_id, site_id, day, at, language, "
    "rating, recommend, comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class SqliteFeedbackStore(OnSqliteFile):
    def store_feedback(self, rows: Sequence[FeedbackRow]) -> None:
        """Keep `rows`, durably; a re-sent event (same id) changes nothing, so a comment
        staff deleted does not come back with it."""
        if not rows:
            return
        with self.db.transaction() as conn:
            conn.executemany(
                _INSERT,
                [
                    (
                        r.event_id,
                        r.device_id,
                        r.site_id,
                        r.day,
                        r.at.isoformat(),
                        r.language,
                        r.rating,
                        r.recommend,
                        r.comment,
                    )
                    for r in rows
                ],
            )

    def feedback(self, filters: Filters) -> list[FeedbackRow]:
        sql = _SELECT
        args: list[object] = [filters.start.isoformat(), filters.end.isoformat()]
        if filters.site_id:
            sql += " AND site_id = ?"
            args.append(filters.site_id)
        return [
            FeedbackRow(
                event_id=row[0],
                device_id=row[1],
                site_id=row[2],
                day=row[3],
                at=datetime.fromisoformat(row[4]),
                language=row[5],
                rating=row[6],
                recommend=row[7],
                comment=row[8],
                deleted_by=row[9],
            )
            for row in self.db.conn().execute(sql + " ORDER BY at", args)
        ]

    def feedback_site(self, event_id: str) -> str | None:
        """The site a feedback row belongs to, None when there is no such row."""
        found = (
            self.db.conn()
            .execute("SELECT site_id FROM feedback WHERE event_id = ?", (event_id,))
            .fetchone()
        )
        return str(found[0]) if found else None

    def delete_comment(self, event_id: str, deleted_by: str) -> bool:
        """Blank a comment for good; False when it was gone already."""
        with self.db.transaction() as conn:
            changed = conn.execute(
                "UPDATE feedback SET comment = '', deleted_by = ? "
                "WHERE event_id = ? AND deleted_by = ''",
                (deleted_by, event_id),
            ).rowcount
        return bool(changed)

    def prune_feedback(self, older_than: datetime) -> int:
        cutoff = older_than.date().isoformat()
        with self.db.transaction() as conn:
            removed = conn.execute("DELETE FROM feedback WHERE day < ?", (cutoff,)).rowcount
        if removed:
            log.info("pruned %d feedback answers of days before %s", removed, cutoff)
        return int(removed)
