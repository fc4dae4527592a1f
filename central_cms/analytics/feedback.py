"""Visitor feedback in analytics (issue 16): the rows the ingest keeps and the per-site
figures staff read. Pure: no I/O.

Feedback arrives as ``portal.feedback`` events. The ingest scrubs each comment again
(a node may run older code) and keeps it, with the rating or score, in the feedback
table only: the copy of the batch the event store keeps has its comments taken out, so
a comment staff delete is gone for good, not kept in a raw batch until retention.
No visitor hash is kept with a comment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from statistics import fmean

import msgspec

from central_cms.analytics.model import DeviceInfo, LocalDays, site_of
from devices.personal_data import scrub
from devices.protocol.events_wire import Batch, FeedbackEvent

PROMOTER_MIN = 9  # Net Promoter Score: 9-10 promote, 0-6 detract, 7-8 are passive
DETRACTOR_MAX = 6


@dataclass(frozen=True)
class FeedbackRow:
    event_id: str
    device_id: str
    site_id: str
    day: str  # the site's local day
    at: datetime
    language: str
    rating: int | None
    recommend: int | None
    comment: str
    deleted_by: str = ""  # who deleted the comment, if anyone


def feedback_rows(batch: Batch, device: DeviceInfo | None) -> list[FeedbackRow]:
    site_id, timezone = site_of(device)
    days = LocalDays(timezone)
    return [
        FeedbackRow(
            event_id=event.id,
            device_id=batch.device_id,
            site_id=site_id,
            day=days.of(event.at),
            at=event.at,
            language=event.data.language,
            rating=event.data.rating,
            recommend=event.data.recommend,
            comment=scrub(event.data.comment),
        )
        for event in batch.events
        if isinstance(event, FeedbackEvent)
    ]


def without_comments(batch: Batch) -> Batch:
    """`batch` as the event store keeps it: feedback without its comment."""
    if not any(isinstance(e, FeedbackEvent) and e.data.comment for e in batch.events):
        return batch
    events = tuple(
        msgspec.structs.replace(e, data=msgspec.structs.replace(e.data, comment=""))
        if isinstance(e, FeedbackEvent)
        else e
        for e in batch.events
    )
    return msgspec.structs.replace(batch, events=events)


@dataclass(frozen=True)
class Recommend:
    answers: int
    promoters: int
    passives: int
    detractors: int

    @property
    def nps(self) -> int | None:
        """Promoters minus detractors, in percent of answers (-100..100)."""
        if not self.answers:
            return None
        return round(100 * (self.promoters - self.detractors) / self.answers)


def recommend_of(scores: list[int]) -> Recommend:
    promoters = sum(1 for s in scores if s >= PROMOTER_MIN)
    detractors = sum(1 for s in scores if s <= DETRACTOR_MAX)
    return Recommend(len(scores), promoters, len(scores) - promoters - detractors, detractors)


@dataclass(frozen=True)
class RatingDay:
    day: str
    site_id: str
    counts: tuple[int, int, int, int, int]  # very poor .. very good
    average: float


@dataclass(frozen=True)
class SiteFeedback:
    site_id: str
    recommend: Recommend
    ratings: int
    average_rating: float | None


@dataclass(frozen=True)
class FeedbackReport:
    sites: tuple[SiteFeedback, ...]
    days: tuple[RatingDay, ...]
    comments: tuple[FeedbackRow, ...]  # newest first, deleted ones included (blanked)


def feedback_report(rows: list[FeedbackRow]) -> FeedbackReport:
    by_site: dict[str, list[FeedbackRow]] = {}
    by_day: dict[tuple[str, str], list[int]] = {}
    for row in rows:
        by_site.setdefault(row.site_id, []).append(row)
        if row.rating is not None:
            by_day.setdefault((row.day, row.site_id), []).append(row.rating)
    sites = []
    for site_id, site_rows in sorted(by_site.items()):
        ratings = [r.rating for r in site_rows if r.rating is not None]
        scores = [r.recommend for r in site_rows if r.recommend is not None]
        sites.append(
            SiteFeedback(
                site_id, recommend_of(scores), len(ratings), fmean(ratings) if ratings else None
            )
        )
    days = tuple(
        RatingDay(
            day,
            site_id,
            (
                values.count(1),
                values.count(2),
                values.count(3),
                values.count(4),
                values.count(5),
            ),
            fmean(values),
        )
        for (day, site_id), values in sorted(by_day.items())
    )
    comments = tuple(
        sorted(
            (r for r in rows if r.recommend is not None and (r.comment or r.deleted_by)),
            key=lambda r: r.at,
            reverse=True,
        )
    )
    return FeedbackReport(tuple(sites), days, comments)
