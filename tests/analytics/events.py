"""Valid event batches for analytics tests, built from the real models."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from devices.protocol import (
    EventBatch,
    FeedbackData,
    FeedbackEvent,
    PlayData,
    PlayEvent,
    PlayOutcome,
    PromoClickedData,
    PromoClickedEvent,
    PromoShownData,
    PromoShownEvent,
    SessionEndedData,
    SessionEndedEvent,
    TermsAcceptedData,
    TermsAcceptedEvent,
)

EPOCH = "a" * 32


def new_epoch() -> str:
    return uuid.uuid4().hex


def play(
    seq: int,
    at: datetime,
    campaign: str | None = "swim-school",
    shown_s: float = 10,
    scheduled_s: float = 10,
    item: str = "swim-1",
    alert: str | None = None,
) -> PlayEvent:
    return PlayEvent(
        id=str(uuid.uuid4()),
        seq=seq,
        at=at,
        data=PlayData(
            item_id=item,
            campaign_id=campaign,
            alert_id=alert,
            started_at=at - timedelta(seconds=shown_s),
            ended_at=at,
            shown_s=shown_s,
            scheduled_s=scheduled_s,
            outcome=PlayOutcome.COMPLETED if shown_s >= scheduled_s else PlayOutcome.INTERRUPTED,
        ),
    )


def joined(seq: int, at: datetime, visitor: str) -> TermsAcceptedEvent:
    return TermsAcceptedEvent(
        id=str(uuid.uuid4()),
        seq=seq,
        at=at,
        data=TermsAcceptedData(
            client_hash=visitor, visitor_hash=visitor, terms_version="2026-01", language="en"
        ),
    )


def feedback(
    seq: int,
    at: datetime,
    *,
    rating: int | None = None,
    recommend: int | None = None,
    comment: str = "",
    visitor: str = "cd" * 16,
) -> FeedbackEvent:
    return FeedbackEvent(
        id=str(uuid.uuid4()),
        seq=seq,
        at=at,
        data=FeedbackData(
            client_hash=visitor,
            visitor_hash=visitor,
            language="vi",
            rating=rating,
            recommend=recommend,
            comment=comment,
        ),
    )


def session_ended(seq: int, at: datetime, visitor: str, duration_s: float) -> SessionEndedEvent:
    return SessionEndedEvent(
        id=str(uuid.uuid4()),
        seq=seq,
        at=at,
        data=SessionEndedData(client_hash=visitor, duration_s=duration_s),
    )


def promo(
    seq: int,
    at: datetime,
    clicked: bool,
    visitor: str = "ab" * 8,
    campaign: str = "holiday-programme",
    item: str = "holiday-1",
) -> PromoShownEvent | PromoClickedEvent:
    fields = {"client_hash": visitor, "item_id": item, "campaign_id": campaign}
    if clicked:
        return PromoClickedEvent(
            id=str(uuid.uuid4()), seq=seq, at=at, data=PromoClickedData(**fields)
        )
    return PromoShownEvent(id=str(uuid.uuid4()), seq=seq, at=at, data=PromoShownData(**fields))


def batch(
    device_id: str, events: Iterable[object], epoch: str = EPOCH, dropped_total: int = 0
) -> EventBatch:
    return EventBatch(
        device_id=device_id, outbox_epoch=epoch, events=tuple(events), dropped_total=dropped_total
    )


def plays(
    device_id: str,
    seqs: Iterable[int],
    start: datetime,
    epoch: str = EPOCH,
    step: timedelta = timedelta(seconds=10),
) -> EventBatch:
    return batch(device_id, [play(seq, start + step * seq) for seq in seqs], epoch)
