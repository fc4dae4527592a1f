"""The visitor-feedback page's work apart from Flask (issue 16): the CSV export and
the audited delete of a comment."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from sqlalchemy.orm import Session

from central_cms import audit
from central_cms.analytics.feedback import FeedbackRow
from central_cms.analytics.ports import FeedbackStore
from central_cms.analytics.presenters import Names
from central_cms.policy import Actor, Permission, require
from central_cms.spreadsheet import csv_cell

DELETE_AUDIT_ACTION = "feedback.delete_comment"
CSV_HEADER = ["day", "site_id", "site", "language", "rating", "recommend", "comment"]


def feedback_csv(rows: list[FeedbackRow], names: Names) -> str:
    """Every answer of the period, one a row, every cell safe in a spreadsheet."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    for r in rows:
        cells = (r.day, r.site_id, names.site(r.site_id), r.language, r.rating, r.recommend)
        writer.writerow([csv_cell(v) for v in (*cells, r.comment)])
    return buffer.getvalue()


class CommentGone(LookupError):
    pass


def delete_comment(
    session: Session, store: FeedbackStore, actor: Actor, event_id: str, now: datetime
) -> None:
    """Blank one comment for good, audited; the audit entry names the answer, never
    repeats the comment. Forbidden for a role or site the actor lacks."""
    site = store.feedback_site(event_id)
    if site is None:
        raise CommentGone(f"No answer {event_id}: it may have been deleted already.")
    require(actor, Permission.FEEDBACK_MODERATE, site_ids=[site])
    # The audit row is flushed first so a CMS database that refuses it stops the delete.
    audit.record(session, actor, DELETE_AUDIT_ACTION, "feedback", event_id, now, site_id=site)
    session.flush()
    if not store.delete_comment(event_id, actor.username):
        session.rollback()
        raise CommentGone(f"The comment of answer {event_id} was deleted already.")
    session.commit()
