"""Analytics events from a device's outbox, their batches and the CMS's
acknowledgements (``ds.events/1``, ``ds.events-ack/1``).

`devices/protocol/events_wire.py` mirrors `EventBatch` in msgspec for the ingest's fast
path; the two must accept and refuse the same batches.
"""

from __future__ import annotations

import itertools
from enum import StrEnum
from typing import Annotated, ClassVar, Literal, Self

from pydantic import (
    AwareDatetime,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from devices.personal_data import COMMENT_MAX
from devices.protocol.base import Frozen, Id, Message, Sha256, ShortText, VisitorHash, schema_field


def _without_none(
    data: dict[str, object], info: SerializationInfo, field: str
) -> dict[str, object]:
    """The wire form without `field` when it is None: readers from before it refuse it."""
    if info.mode_is_json() and data.get(field) is None:
        data.pop(field, None)
    return data


class PlayOutcome(StrEnum):
    COMPLETED = "completed"
    INTERRUPTED = "interrupted"


class PlayData(Frozen):
    """Proof-of-play: one item on one screen, from start to end."""

    item_id: Id
    campaign_id: Id | None = None
    alert_id: Id | None = None
    asset_sha256: Sha256 | None = None
    started_at: AwareDatetime
    ended_at: AwareDatetime
    shown_s: float = Field(ge=0)
    scheduled_s: float = Field(ge=0)
    outcome: PlayOutcome
    reason: ShortText | None = None
    zone: Id | None = None  # the layout zone it played in (issue 14); None: full screen

    @model_serializer(mode="wrap")
    def _omit_no_zone(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, object]:
        # A CMS from before zones refuses the field; a full-screen play leaves it out.
        return _without_none(handler(self), info, "zone")


class SplashShownData(Frozen):
    client_hash: VisitorHash
    visitor_hash: VisitorHash
    language: ShortText


class TermsAcceptedData(Frozen):
    client_hash: VisitorHash
    visitor_hash: VisitorHash
    terms_version: ShortText
    language: ShortText
    newsletter_opt_in: bool = False  # the consent only; the address goes to the CMS, not here
    # Seconds the visitor waited for the gateway to let them online (issue 16); None: not
    # measured (a node from before it). Left out of the wire when None.
    authorise_wait_s: float | None = Field(default=None, ge=0)
    # Set when the visitor did not see the terms this time: their phone had accepted them
    # at this node within the site's `splash_every_days`, this many (issue 16). None: they
    # ticked the box. Left out of the wire when None.
    returning_within_days: int | None = Field(default=None, ge=1, le=365)

    @model_serializer(mode="wrap")
    def _omit_unmeasured(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, object]:
        data = _without_none(handler(self), info, "authorise_wait_s")
        return _without_none(data, info, "returning_within_days")


class PromoData(Frozen):
    client_hash: VisitorHash
    item_id: Id
    campaign_id: Id | None = None


class PromoShownData(PromoData):
    """A promotion was on the splash page a visitor saw."""


class PromoClickedData(PromoData):
    """A visitor followed a promotion's link."""


class SessionEndedData(Frozen):
    client_hash: VisitorHash
    duration_s: float = Field(ge=0)
    bytes_in: int | None = Field(default=None, ge=0)
    bytes_out: int | None = Field(default=None, ge=0)
    reason: ShortText = ""


class FeedbackData(Frozen):
    """A visitor's optional feedback after going online (issue 16): a one-tap rating
    (1 very poor .. 5 very good), or a 0-10 "would you recommend" with an optional comment
    the node has scrubbed of contact details and names (devices.personal_data)."""

    client_hash: VisitorHash
    visitor_hash: VisitorHash
    language: ShortText
    rating: int | None = Field(default=None, ge=1, le=5)
    recommend: int | None = Field(default=None, ge=0, le=10)
    comment: str = Field(default="", max_length=COMMENT_MAX)

    @model_validator(mode="after")
    def _one_answer(self) -> Self:
        if (self.rating is None) == (self.recommend is None):
            raise ValueError("feedback carries either a rating or a recommend score")
        if self.comment and self.recommend is None:
            raise ValueError("a comment comes with the recommend score")
        return self


UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class EventType(StrEnum):
    """What an event in a ``ds.events/1`` batch records: its `type`, which picks its `data`."""

    PLAY = "play"
    SPLASH_SHOWN = "portal.splash_shown"
    TERMS_ACCEPTED = "portal.terms_accepted"
    PROMO_SHOWN = "portal.promo_shown"
    PROMO_CLICKED = "portal.promo_clicked"
    SESSION_ENDED = "portal.session_ended"
    FEEDBACK = "portal.feedback"


class _EventBase(Frozen):
    id: Annotated[str, Field(pattern=UUID_PATTERN)]
    seq: int = Field(ge=1)
    at: AwareDatetime


class PlayEvent(_EventBase):
    type: Literal[EventType.PLAY] = EventType.PLAY
    data: PlayData


class SplashShownEvent(_EventBase):
    type: Literal[EventType.SPLASH_SHOWN] = EventType.SPLASH_SHOWN
    data: SplashShownData


class TermsAcceptedEvent(_EventBase):
    type: Literal[EventType.TERMS_ACCEPTED] = EventType.TERMS_ACCEPTED
    data: TermsAcceptedData


class PromoShownEvent(_EventBase):
    type: Literal[EventType.PROMO_SHOWN] = EventType.PROMO_SHOWN
    data: PromoShownData


class PromoClickedEvent(_EventBase):
    type: Literal[EventType.PROMO_CLICKED] = EventType.PROMO_CLICKED
    data: PromoClickedData


class SessionEndedEvent(_EventBase):
    type: Literal[EventType.SESSION_ENDED] = EventType.SESSION_ENDED
    data: SessionEndedData


class FeedbackEvent(_EventBase):
    type: Literal[EventType.FEEDBACK] = EventType.FEEDBACK
    data: FeedbackData


Event = Annotated[
    PlayEvent
    | SplashShownEvent
    | TermsAcceptedEvent
    | PromoShownEvent
    | PromoClickedEvent
    | SessionEndedEvent
    | FeedbackEvent,
    Field(discriminator="type"),
]
EventData = (
    PlayData
    | SplashShownData
    | TermsAcceptedData
    | PromoShownData
    | PromoClickedData
    | SessionEndedData
    | FeedbackData
)
EVENT_TYPE_OF_DATA: dict[type[Frozen], EventType] = {
    PlayData: EventType.PLAY,
    SplashShownData: EventType.SPLASH_SHOWN,
    TermsAcceptedData: EventType.TERMS_ACCEPTED,
    PromoShownData: EventType.PROMO_SHOWN,
    PromoClickedData: EventType.PROMO_CLICKED,
    SessionEndedData: EventType.SESSION_ENDED,
    FeedbackData: EventType.FEEDBACK,
}
EVENT_TYPES: dict[EventType, type[_EventBase]] = {
    EventType.PLAY: PlayEvent,
    EventType.SPLASH_SHOWN: SplashShownEvent,
    EventType.TERMS_ACCEPTED: TermsAcceptedEvent,
    EventType.PROMO_SHOWN: PromoShownEvent,
    EventType.PROMO_CLICKED: PromoClickedEvent,
    EventType.SESSION_ENDED: SessionEndedEvent,
    EventType.FEEDBACK: FeedbackEvent,
}

_OutboxEpoch = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
DroppedRange = tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]]
MAX_DROPPED_RANGES = 1000


def dropped_ranges_problem(ranges: tuple[tuple[int, int], ...], first_seq: int) -> str | None:
    """What is wrong with a batch's `dropped` ranges, if anything. An outbox drops its
    oldest events, so every dropped seq lies below the events it still sends: a range
    at or above the batch's first seq would let the watermark skip events to come."""
    previous = 0
    for first, last in ranges:
        if first > last:
            return f"dropped range [{first}, {last}] must not end before it starts"
        if first <= previous:
            return "dropped ranges must ascend without overlapping"
        if last >= first_seq:
            return f"dropped range [{first}, {last}] must lie below the first event's seq"
        previous = last
    return None


class EventBatch(Message):
    """Events from a device's outbox, in sequence order.

    `outbox_epoch` names the outbox database: a re-provisioned device starts a new
    epoch at seq 1, and acknowledgements only ever apply within one epoch.
    """

    SCHEMA: ClassVar[str] = "ds.events/1"
    schema_name: Literal["ds.events/1"] = schema_field("ds.events/1")  # type: ignore[assignment]
    device_id: Id
    outbox_epoch: _OutboxEpoch
    events: tuple[Event, ...] = Field(min_length=1, max_length=5000)
    dropped_total: int = Field(default=0, ge=0)
    # Seq ranges [first, last] the outbox dropped for its disk budget and the CMS has
    # not acknowledged yet (issue 13.4): the ingest counts them as lost and lets its
    # watermark pass them, or the stream would wait for them forever.
    dropped: tuple[DroppedRange, ...] = Field(default=(), max_length=MAX_DROPPED_RANGES)

    @model_validator(mode="after")
    def _sequence_ascends(self) -> Self:
        seqs = [event.seq for event in self.events]
        if any(b <= a for a, b in itertools.pairwise(seqs)):
            raise ValueError("events must be in strictly ascending seq order")
        problem = dropped_ranges_problem(self.dropped, self.events[0].seq)
        if problem is not None:
            raise ValueError(problem)
        return self


class EventAck(Message):
    """Every event of this device and epoch with seq <= `up_to_seq` is durably stored."""

    SCHEMA: ClassVar[str] = "ds.events-ack/1"
    schema_name: Literal["ds.events-ack/1"] = schema_field("ds.events-ack/1")  # type: ignore[assignment]
    device_id: Id
    outbox_epoch: _OutboxEpoch
    up_to_seq: int = Field(ge=0)
