"""The ingest's decoder for ``ds.events/1``: msgspec Structs mirroring the event models.

The pydantic models in `events.py` remain the contract: devices build their batches
with them and the JSON Schemas in docs/protocol/ come from them. The ingest decodes the
whole fleet's events, and there pydantic-core costs about 20 us an event on the
project's 2-core reference machine where msgspec costs about 3 us (bench/ingest.py).
Every constraint is mirrored, never loosened: tests/devices/test_events_wire.py checks
that whatever the models write decodes to the same values here, and that nothing the
models refuse is accepted here (this decoder may only be stricter, e.g. no "1" for 1).

msgspec would check a `pattern` with one Python `re` call per value, which cost more
than the rest of decoding together; so the patterned fields (ids, hashes) are checked
after decoding, all values of a kind in one regex pass over the distinct values.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, ClassVar, Literal

import msgspec

from devices.personal_data import COMMENT_MAX
from devices.protocol.base import SHA256_PATTERN, SHORT_TEXT_MAX, VISITOR_HASH_PATTERN
from devices.protocol.errors import ProtocolError
from devices.protocol.events import (
    MAX_DROPPED_RANGES,
    UUID_PATTERN,
    EventBatch,
    EventType,
    dropped_ranges_problem,
)
from devices.protocol.topics import ID_PATTERN


def _whole(pattern: str) -> str:
    # msgspec matches with Python's re, where "$" also matches before a final newline;
    # pydantic-core's regex does not, so anchor at the very end as it does.
    return pattern.removesuffix("$") + r"\Z"


# Patterned strings: checked by `_check_patterns`, named here for the reader.
Id = str
Sha256 = str
VisitorHash = str
ShortText = Annotated[str, msgspec.Meta(max_length=SHORT_TEXT_MAX)]
Instant = Annotated[datetime, msgspec.Meta(tz=True)]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]
Count = Annotated[int, msgspec.Meta(ge=0)]
Seq = Annotated[int, msgspec.Meta(ge=1)]


class _Struct(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    """Plain values only (no cycles), so the garbage collector need not track them."""


class PlayData(_Struct, frozen=True):
    item_id: Id
    started_at: Instant
    ended_at: Instant
    shown_s: NonNegative
    scheduled_s: NonNegative
    outcome: Literal["completed", "interrupted"]
    campaign_id: Id | None = None
    alert_id: Id | None = None
    asset_sha256: Sha256 | None = None
    reason: ShortText | None = None
    zone: Id | None = None


class SplashShownData(_Struct, frozen=True):
    client_hash: VisitorHash
    visitor_hash: VisitorHash
    language: ShortText


class TermsAcceptedData(_Struct, frozen=True):
    client_hash: VisitorHash
    visitor_hash: VisitorHash
    terms_version: ShortText
    language: ShortText
    newsletter_opt_in: bool = False
    authorise_wait_s: NonNegative | None = None
    returning_within_days: Annotated[int, msgspec.Meta(ge=1, le=365)] | None = None


class PromoData(_Struct, frozen=True):
    client_hash: VisitorHash
    item_id: Id
    campaign_id: Id | None = None


class SessionEndedData(_Struct, frozen=True):
    client_hash: VisitorHash
    duration_s: NonNegative
    bytes_in: Count | None = None
    bytes_out: Count | None = None
    reason: ShortText = ""


class FeedbackData(_Struct, frozen=True):
    client_hash: VisitorHash
    visitor_hash: VisitorHash
    language: ShortText
    rating: Annotated[int, msgspec.Meta(ge=1, le=5)] | None = None
    recommend: Annotated[int, msgspec.Meta(ge=0, le=10)] | None = None
    comment: Annotated[str, msgspec.Meta(max_length=COMMENT_MAX)] = ""

    def __post_init__(self) -> None:
        # The model's `_one_answer`, so the decoder refuses what the model refuses.
        if (self.rating is None) == (self.recommend is None):
            raise ValueError("feedback carries either a rating or a recommend score")
        if self.comment and self.recommend is None:
            raise ValueError("a comment comes with the recommend score")


class _Event(_Struct, frozen=True, tag_field="type"):
    TYPE: ClassVar[EventType]
    id: str  # UUID_PATTERN, checked by `_check_patterns`
    seq: Seq
    at: Instant


class PlayEvent(_Event, frozen=True, tag=EventType.PLAY.value):
    TYPE: ClassVar[EventType] = EventType.PLAY
    data: PlayData


class SplashShownEvent(_Event, frozen=True, tag=EventType.SPLASH_SHOWN.value):
    TYPE: ClassVar[EventType] = EventType.SPLASH_SHOWN
    data: SplashShownData


class TermsAcceptedEvent(_Event, frozen=True, tag=EventType.TERMS_ACCEPTED.value):
    TYPE: ClassVar[EventType] = EventType.TERMS_ACCEPTED
    data: TermsAcceptedData


class PromoShownEvent(_Event, frozen=True, tag=EventType.PROMO_SHOWN.value):
    TYPE: ClassVar[EventType] = EventType.PROMO_SHOWN
    data: PromoData


class PromoClickedEvent(_Event, frozen=True, tag=EventType.PROMO_CLICKED.value):
    TYPE: ClassVar[EventType] = EventType.PROMO_CLICKED
    data: PromoData


class SessionEndedEvent(_Event, frozen=True, tag=EventType.SESSION_ENDED.value):
    TYPE: ClassVar[EventType] = EventType.SESSION_ENDED
    data: SessionEndedData


class FeedbackEvent(_Event, frozen=True, tag=EventType.FEEDBACK.value):
    TYPE: ClassVar[EventType] = EventType.FEEDBACK
    data: FeedbackData


Event = (
    PlayEvent
    | SplashShownEvent
    | TermsAcceptedEvent
    | PromoShownEvent
    | PromoClickedEvent
    | SessionEndedEvent
    | FeedbackEvent
)


class Batch(_Struct, frozen=True):
    """A decoded ``ds.events/1``: the same fields as `messages.EventBatch`."""

    schema_name: Literal["ds.events/1"] = msgspec.field(name="schema")
    device_id: Annotated[str, msgspec.Meta(pattern=_whole(ID_PATTERN))]
    outbox_epoch: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{32}\Z")]
    events: Annotated[tuple[Event, ...], msgspec.Meta(min_length=1, max_length=5000)]
    dropped_total: Count = 0
    dropped: Annotated[
        tuple[tuple[Seq, Seq], ...], msgspec.Meta(max_length=MAX_DROPPED_RANGES)
    ] = ()


_DECODER = msgspec.json.Decoder(Batch)
_PATH_PART = re.compile(r"\[(\d+)\]|\.(\w+)")


def decode_batch(payload: bytes) -> Batch:
    """Decode and check an event batch; ProtocolError names the field at fault."""
    try:
        batch = _DECODER.decode(payload)
    except msgspec.ValidationError as error:
        message, _, path = str(error).partition(" - at `")
        raise ProtocolError(_field(path.rstrip("`")), message) from None
    except msgspec.DecodeError as error:
        raise ProtocolError("$", f"not valid JSON: {error}") from None
    seq = 0
    for index, event in enumerate(batch.events):
        if event.seq <= seq:
            raise ProtocolError(f"events.{index}.seq", "events must be in ascending seq order")
        seq = event.seq
    problem = dropped_ranges_problem(batch.dropped, batch.events[0].seq)
    if problem is not None:
        raise ProtocolError("dropped", problem)
    _check_patterns(batch)
    return batch


_UUID = re.compile(_whole(UUID_PATTERN))
_ID = re.compile(_whole(ID_PATTERN))
_SHA256 = re.compile(_whole(SHA256_PATTERN))
_VISITOR_HASH = re.compile(_whole(VISITOR_HASH_PATTERN))
_PATTERNED: dict[type[_Struct], tuple[tuple[str, re.Pattern[str]], ...]] = {
    PlayData: (
        ("item_id", _ID),
        ("campaign_id", _ID),
        ("alert_id", _ID),
        ("asset_sha256", _SHA256),
        ("zone", _ID),
    ),
    SplashShownData: (("client_hash", _VISITOR_HASH), ("visitor_hash", _VISITOR_HASH)),
    TermsAcceptedData: (("client_hash", _VISITOR_HASH), ("visitor_hash", _VISITOR_HASH)),
    PromoData: (("client_hash", _VISITOR_HASH), ("item_id", _ID), ("campaign_id", _ID)),
    SessionEndedData: (("client_hash", _VISITOR_HASH),),
    FeedbackData: (("client_hash", _VISITOR_HASH), ("visitor_hash", _VISITOR_HASH)),
}
# One value per line; none of the patterns admits a newline, and the line count is
# checked too, so a value with a newline inside cannot pass as two good ones.
_EVERY_LINE = {
    pattern: re.compile("(?:" + pattern.pattern.removeprefix("^").removesuffix(r"\Z") + "\n)*")
    for pattern in (_UUID, _ID, _SHA256, _VISITOR_HASH)
}


def _check_patterns(batch: Batch) -> None:
    values: dict[re.Pattern[str], set[str]] = {pattern: set() for pattern in _EVERY_LINE}
    uuids = values[_UUID]
    for event in batch.events:
        uuids.add(event.id)
        data = event.data
        for name, pattern in _PATTERNED[type(data)]:
            value = getattr(data, name)
            if value is not None:
                values[pattern].add(value)
    for pattern, distinct in values.items():
        lines = "".join(f"{value}\n" for value in distinct)
        if lines.count("\n") != len(distinct) or not _EVERY_LINE[pattern].fullmatch(lines):
            raise _first_mismatch(batch)


def _first_mismatch(batch: Batch) -> ProtocolError:
    """The error for the first patterned value at fault, named as the models name it."""
    for index, event in enumerate(batch.events):
        if not _UUID.match(event.id):
            return ProtocolError(f"events.{index}.id", f"should match {UUID_PATTERN!r}")
        for name, pattern in _PATTERNED[type(event.data)]:
            value = getattr(event.data, name)
            if value is not None and not pattern.match(value):
                return ProtocolError(
                    f"events.{index}.data.{name}", f"should match {pattern.pattern!r}"
                )
    raise AssertionError("a pattern check failed on the whole but on no single value")


def from_model(batch: EventBatch) -> Batch:
    """The decoded form of a batch built with the models (tests, in-process callers)."""
    return decode_batch(batch.encode())


def _field(path: str) -> str:
    """msgspec's ``$.events[3].data.seq`` as the models name it: ``events.3.data.seq``."""
    parts = [index or name for index, name in _PATH_PART.findall(path.removeprefix("$"))]
    return ".".join(parts) or "$"
