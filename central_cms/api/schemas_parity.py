"""The bodies of live feeds, short links and software releases (issue 17: API parity),
apart from schemas.py, which holds the older resources and is near its size limit.

Bounds follow the services' own checks (central_cms/feeds/service.py, releases.py), so a
request the document allows is refused further in only for what it names (a site, a
release, a screen) that does not exist, or an id already taken.
"""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, Date, File, Integer, List, Nested, String
from apiflask.validators import Length

from central_cms.api.fields import HTTP_URL, Choice, Id, Pattern, Text, Whole
from central_cms.feeds.models import DEFAULT_MAX_AGE_S, DEFAULT_REFRESH_MINUTES, FeedKind
from central_cms.feeds.service import MAX_AGE_HOURS, REFRESH_MINUTES
from devices.protocol.releases import VERSION_PATTERN

# --- live feeds ---------------------------------------------------------------------------


class FeedChangeIn(Schema):
    """A feed's settings; the path names the feed."""

    name = Text(max_length=200, required_text=True, required=True)
    url = String(
        required=True,
        validate=[Length(max=2000), Pattern(HTTP_URL, error="Use an http(s):// address.")],
        metadata={"example": "https://bookings.example.org/classes.ics"},
    )
    kind = Choice([k.value for k in FeedKind], required=True)
    site_id = Id(
        load_default=None,
        allow_none=True,
        metadata={"description": "the site whose staff keep it; null: city-wide (admins)"},
    )
    refresh_minutes = Whole(
        minimum=REFRESH_MINUTES[0], maximum=REFRESH_MINUTES[1], load_default=DEFAULT_REFRESH_MINUTES
    )
    max_age_hours = Whole(
        minimum=MAX_AGE_HOURS[0],
        maximum=MAX_AGE_HOURS[1],
        load_default=DEFAULT_MAX_AGE_S // 3600,
        metadata={"description": "screens stop showing a copy older than this"},
    )


class FeedIn(FeedChangeIn):
    id = Id(required=True, metadata={"example": "pool-classes"})


class FeedHealthOut(Schema):
    level = String(metadata={"description": "ok, pending, warning or error"})
    message = String()


class FeedOut(Schema):
    id = String()
    name = String()
    url = String()
    kind = String()
    site_id = String(allow_none=True)
    refresh_minutes = Integer()
    max_age_hours = Integer()
    created_at = String()
    last_attempt_at = String(allow_none=True)
    last_ok_at = String(allow_none=True)
    last_error = String(allow_none=True)
    title = String(metadata={"description": "as the source names itself"})
    entries = Integer(metadata={"description": "entries in the last good copy"})
    version = Integer(metadata={"description": "of the copy the screens were sent"})
    health = Nested(FeedHealthOut)


class FetchOut(Schema):
    ok = Boolean()
    changed = Boolean(metadata={"description": "the screens were sent a different copy"})
    published = Boolean()
    error = String(allow_none=True, metadata={"description": "why the fetch failed"})
    feed = Nested(FeedOut)


# --- short links --------------------------------------------------------------------------


class ScanRangeQuery(Schema):
    start = Date(load_default=None, metadata={"description": "first local day counted (site time)"})
    end = Date(load_default=None, metadata={"description": "last local day counted"})


class ShortLinkOut(Schema):
    code = String()
    url = String(metadata={"description": "what the screen's QR code says"})
    device_id = String()
    site_id = String()
    destination = String()
    issued_at = String()
    scans = Integer()


class ShortLinksOut(Schema):
    campaign_id = String()
    scans = Integer(metadata={"description": "of every code listed"})
    links = List(Nested(ShortLinkOut))


# --- software releases ----------------------------------------------------------------------


class ReleaseIn(Schema):
    wheel = File(  # type: ignore[no-untyped-call]
        required=True, metadata={"description": "a digital-spaces wheel (.whl)"}
    )
    notes = Text(max_length=200, load_default="")


class ReleaseOut(Schema):
    version = String()
    sha256 = String(attribute="wheel_sha256")
    size_bytes = Integer()
    notes = String()
    uploaded_at = String()
    uploaded_by = String()


class OfferIn(Schema):
    version = String(
        required=True,
        validate=Pattern(VERSION_PATTERN, error="Use a release version such as 1.4.0."),
        metadata={"description": "an uploaded release", "example": "1.4.0"},
    )
    pilots = List(
        Id(),
        load_default=[],
        validate=Length(max=200),
        metadata={"description": "screens offered it first; none: the rollout starts at once"},
    )
    percent = Whole(
        minimum=0,
        maximum=100,
        load_default=100,
        metadata={"description": "of the channel's other screens, once every pilot runs it"},
    )


class FailedOut(Schema):
    device_id = String()
    why = String()


class ChannelOut(Schema):
    name = String()
    version = String()
    stage = String(metadata={"description": "pilot, rollout or halted"})
    pilots = List(String())
    percent = Integer()
    halted_reason = String(allow_none=True)
    published_at = String()
    updated_at = String()
    running = List(String(), metadata={"description": "screens that report running it"})
    waiting = List(String(), metadata={"description": "offered it, not running it yet"})
    failed = List(Nested(FailedOut))
    not_offered = List(String())


class FollowIn(Schema):
    channel = Id(
        load_default=None,
        allow_none=True,
        metadata={"description": "null: the group's screens are updated by hand"},
    )


class FollowOut(Schema):
    group_id = String()
    channel = String(allow_none=True)
