"""``ds.feed/1``: a live feed's entries as the CMS last fetched and validated them (issue 14).

The CMS fetches each feed (iCal, RSS/Atom, JSON, CSV) on a schedule, normalises it to
these entries, and publishes one signed, retained message per feed on `feed_topic`, with
a `version` that only moves forward. A device keeps the last good copy it verified and
shows it while it is younger than the manifest's `FeedRef.max_age_s`; a half-fetched or
broken feed never reaches a device, because the CMS publishes only whole, valid copies.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field

from devices.protocol.base import Frozen, HttpUrl, Id, LongText, Message, ShortText, schema_field

MAX_FEED_ENTRIES = 500


class FeedEntry(Frozen):
    """One class, event, booking or headline. Events have `starts_at`; headlines need not."""

    title: ShortText
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    location: ShortText = ""
    summary: Annotated[str, Field(max_length=1000)] = ""
    link: HttpUrl | None = None


class FeedData(Message):
    SCHEMA: ClassVar[str] = "ds.feed/1"
    schema_name: Literal["ds.feed/1"] = schema_field("ds.feed/1")  # type: ignore[assignment]
    id: Id
    version: int = Field(ge=1, description="moves only forward")
    fetched_at: AwareDatetime  # when the CMS last had a good copy from the source
    title: ShortText = ""
    note: LongText = ""  # never shown to the public
    entries: Annotated[tuple[FeedEntry, ...], Field(max_length=MAX_FEED_ENTRIES)] = ()
