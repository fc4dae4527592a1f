"""The request and response bodies of the REST API (marshmallow, via APIFlask).

Bounds follow the database columns (central_cms/models.py) and the wire contract
(devices/protocol), so a request the document allows never fails further in. What a
schema cannot say (rules across fields) is added to the document in `spec.py`.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from apiflask import Schema
from apiflask.fields import (
    Boolean,
    Date,
    DateTime,
    Dict,
    File,
    Float,
    Function,
    Integer,
    List,
    Nested,
    String,
)
from apiflask.validators import Length, Range
from marshmallow import ValidationError

from central_cms.api.fields import (
    HHMM,
    HTTP_URL,
    INT32_MAX,
    NO_NUL,
    Choice,
    Flag,
    Id,
    Number,
    Pattern,
    Scalar,
    Text,
    Whole,
)
from central_cms.campaigns import zone_playlists as campaign_zone_playlists
from central_cms.models import Role
from central_cms.zones import ALL_ZONES, LAYOUT_KINDS
from devices.protocol import (
    CommandName,
    DeviceKind,
    Fit,
    ItemKind,
    ProfileKind,
    Severity,
    Weekday,
)
from devices.protocol.base import SHORT_TEXT_MAX
from devices.protocol.layouts import MAIN_ZONE, LayoutTemplate


class SiteOut(Schema):
    id = String()
    name = String()
    address = String()
    timezone = String()
    requires_approval = Boolean()


class SiteIn(Schema):
    id = Id(required=True)
    name = Text(max_length=200, required_text=True, required=True)
    address = Text(max_length=300, load_default="")
    timezone = Choice(sorted(available_timezones()), load_default="Australia/Perth")
    requires_approval = Flag(load_default=True)


class DeviceOut(Schema):
    id = String()
    name = String()
    kind = String()
    site_id = String()
    profile_id = String()
    tags = List(String())


class DeviceIn(Schema):
    id = Id(required=True)
    name = Text(max_length=200, load_default="")
    kind = Choice([k.value for k in DeviceKind], required=True)
    site_id = Text(max_length=64, required=True)
    profile_id = Text(max_length=64, required=True)
    tags = List(Id(), load_default=[], validate=Length(max=50))


def _at_most_20_args(args: dict[str, Any]) -> None:
    if len(args) > 20:
        raise ValidationError("Send at most 20 arguments.")


class CommandIn(Schema):
    name = Choice([c.value for c in CommandName], required=True)
    args = Dict(
        keys=String(validate=Length(max=64)),
        values=Scalar(),
        load_default={},
        validate=_at_most_20_args,
        metadata={
            "description": 'flat: strings, numbers, booleans or null, e.g. {"seconds": 30}',
            "maxProperties": 20,
        },
    )


class CommandOut(Schema):
    id = String()
    device_id = String()
    name = String()
    expires_at = String()


class RegistrationOut(Schema):
    device = Nested(DeviceOut)
    config_toml = String(metadata={"description": "shown once: copy it onto the Pi"})


class BrightnessStepSchema(Schema):
    at = String(required=True, validate=Pattern(HHMM, error="Use HH:MM, e.g. 06:00."))
    percent = Whole(minimum=0, maximum=100, required=True)


class ProfilePath(Schema):
    profile_id = Id(required=True)


class ProfileSchema(Schema):
    id = String(
        load_default=None,
        metadata={
            "description": "ignored: the path names the profile (once required here)",
            "deprecated": True,
        },
    )
    name = Text(max_length=200, required_text=True, required=True)
    kind = Choice([k.value for k in ProfileKind], required=True)
    width_px = Whole(minimum=16, maximum=7680, required=True)
    height_px = Whole(minimum=16, maximum=4320, required=True)
    min_dwell_s = Number(minimum=0, maximum=3600, load_default=0)
    allow_video = Flag(load_default=True)
    transitions = Flag(load_default=True)
    forbid_contact_text = Flag(
        load_default=False, metadata={"description": "no QR codes, phone numbers or URLs"}
    )
    night_blank_start = String(
        load_default=None,
        allow_none=True,
        validate=Pattern(HHMM, error="Use HH:MM, e.g. 23:00."),
        metadata={"example": "23:00"},
    )
    night_blank_end = String(
        load_default=None,
        allow_none=True,
        validate=Pattern(HHMM, error="Use HH:MM, e.g. 05:00."),
        metadata={"example": "05:00"},
    )
    brightness = List(
        Nested(BrightnessStepSchema),
        load_default=[],
        validate=Length(max=48),
        metadata={"example": [{"at": "06:00", "percent": 80}]},
    )


class MediaOut(Schema):
    id = Integer()
    title = String()
    kind = String()
    sha256 = String()
    width_px = Integer(allow_none=True)
    height_px = Integer(allow_none=True)
    duration_s = Float(allow_none=True, metadata={"description": "a video's probed length"})
    video_codec = String(allow_none=True)
    frame_rate = Float(allow_none=True)


class MediaIn(Schema):
    file = File(required=True)  # type: ignore[no-untyped-call]
    title = Text(max_length=200, load_default="")
    site_id = String(load_default=None, allow_none=True, validate=Length(max=64))


class TextIn(Schema):
    title = Text(max_length=SHORT_TEXT_MAX, required_text=True, required=True)
    body = Text(max_length=5000, load_default="")
    when = Text(max_length=SHORT_TEXT_MAX, load_default="")
    venue = Text(max_length=SHORT_TEXT_MAX, load_default="")
    shrink_to_fit = Flag(load_default=False)


class ItemIn(Schema):
    kind = Choice([k.value for k in ItemKind], required=True)
    duration_s = Number(minimum=1, maximum=3600, required=True)
    media_id = Whole(
        minimum=1,
        maximum=INT32_MAX,
        load_default=None,
        allow_none=True,
        metadata={"description": "an image or video from /media (not for text slides)"},
    )
    text = Nested(
        TextIn,
        load_default=None,
        allow_none=True,
        metadata={"description": "the slide's words (text slides only)"},
    )
    alt_text = Text(max_length=200, load_default="")
    weight = Whole(minimum=1, maximum=100, load_default=1)
    fit = Choice([f.value for f in Fit], load_default="fit")
    link_url = String(
        load_default=None,
        allow_none=True,
        validate=[Length(max=2048), Pattern(HTTP_URL, error="Use an http(s):// URL.")],
    )
    zone = Choice(list(ALL_ZONES), load_default=MAIN_ZONE, metadata={"description": "its zone"})


class WindowIn(Schema):
    start = String(required=True, validate=Pattern(HHMM, error="Use HH:MM, e.g. 09:00."))
    end = String(required=True, validate=Pattern(HHMM, error="Use HH:MM, e.g. 17:30."))


class ScheduleIn(Schema):
    starts_on = Date(load_default=None, allow_none=True)
    ends_on = Date(
        load_default=None, allow_none=True, metadata={"description": "on or after starts_on"}
    )
    days = List(Choice([d.value for d in Weekday]), load_default=[], validate=Length(max=7))
    windows = List(Nested(WindowIn), load_default=[], validate=Length(max=24))


class TargetsIn(Schema):
    sites = List(Id(), load_default=[], validate=Length(max=200))
    tags = List(Id(), load_default=[], validate=Length(max=200))
    kinds = List(Choice([k.value for k in DeviceKind]), load_default=[])
    profiles = List(Id(), load_default=[], validate=Length(max=200))


class CampaignIn(Schema):
    name = Text(max_length=200, required_text=True, required=True)
    owner_site_id = Text(max_length=64, required=True)
    priority = Whole(minimum=0, maximum=100, load_default=50)
    is_default = Flag(load_default=False)
    share_s_per_hour = Whole(
        minimum=1,
        maximum=3600,
        load_default=None,
        allow_none=True,
        metadata={"description": "guaranteed seconds of every clock hour it is scheduled"},
    )
    schedules = List(
        Nested(ScheduleIn),
        load_default=[],
        validate=Length(max=50),
        metadata={"description": "when it may show (site time); none: always"},
    )
    targets = Nested(
        TargetsIn,
        required=True,
        metadata={"description": "at least one site, tag, kind or profile"},
    )
    items = List(Nested(ItemIn), required=True, validate=Length(min=1, max=100))
    # Issue 14's layouts, zones and "skip screens that cannot show it"; left out (null),
    # an update keeps what the campaign has.
    layouts = Dict(
        keys=Choice([k.value for k in LAYOUT_KINDS]),
        values=Choice([t.value for t in LayoutTemplate]),
        load_default=None,
        allow_none=True,
        metadata={"description": "layout per kind of screen", "example": {"indoor": "full"}},
    )
    zone_playlists = Dict(
        keys=Choice(list(ALL_ZONES)),
        values=Id(),
        load_default=None,
        allow_none=True,
        metadata={"description": "the playlist each zone of the layouts plays (zone: id)"},
    )
    skip_unable = Flag(
        load_default=None,
        allow_none=True,
        metadata={"description": "skip the screens whose rules it breaks, not refuse it"},
    )


class CampaignOut(Schema):
    id = String()
    name = String()
    owner_site_id = String()
    status = String()
    priority = Integer()
    is_default = Boolean()
    share_s_per_hour = Integer(allow_none=True)
    schedules = List(Dict())
    targets = Dict()
    created_by = String()
    approved_by = String(allow_none=True)
    layouts = Dict()
    zone_playlists = Function(lambda c: campaign_zone_playlists(c), metadata={"type": "object"})
    skip_unable = Function(
        lambda c: bool(c.targets.get("skip_unable")), metadata={"type": "boolean"}
    )


class RejectIn(Schema):
    note = Text(max_length=2000, load_default="")


class AlertIn(Schema):
    scope = Text(max_length=64, required=True, metadata={"description": "'all' or a site id"})
    title = Text(max_length=200, required_text=True, required=True)
    body = Text(max_length=5000, load_default="")
    severity = Choice([s.value for s in Severity], load_default="warning")
    minutes = Whole(minimum=1, maximum=7 * 24 * 60, load_default=60)


class AlertOut(Schema):
    id = String()
    scope = String()
    severity = String()
    title = String()
    body = String()
    issued_at = String()
    expires_at = String()
    cleared = Boolean()


# --- device groups, fleet health, users (issue 17: API parity) ---------------------------


class GroupIn(Schema):
    name = Text(max_length=200, required_text=True, required=True)
    device_ids = List(Id(), load_default=[], validate=Length(max=10_000))


class GroupOut(Schema):
    id = String()
    name = String()
    device_ids = List(String())
    updated_at = String()


class FleetQuery(Schema):
    """What the Device health page filters and sorts by, and which page of 50."""

    site = Text(max_length=64, load_default="")
    kind = Choice(["", *(k.value for k in DeviceKind)], load_default="")
    state = Choice(["", "online", "offline", "problems"], load_default="")
    sort = Choice(
        ["problems", "device", "site", "kind", "state", "last_seen", "temperature", "disk",
         "memory"],
        load_default="problems",
    )  # fmt: skip
    page = Integer(load_default=1, validate=Range(1, INT32_MAX))


class FindingOut(Schema):
    rule = String(metadata={"description": "offline, never-seen, temperature, disk, ..."})
    level = String(metadata={"description": "warning or critical"})
    message = String()


class FleetDeviceOut(Schema):
    device_id = String()
    site_id = String(allow_none=True)
    kind = String(allow_none=True)
    online = Boolean()
    worst = String(metadata={"description": "ok, warning or critical"})
    findings = List(Nested(FindingOut))
    last_seen = String(allow_none=True)
    software_version = String(allow_none=True)
    software_current = Boolean(allow_none=True)
    manifest_version = Integer(allow_none=True)
    manifest_current = Boolean(allow_none=True)
    temperature_c = Float(allow_none=True)
    disk_used_percent = Float(allow_none=True)
    memory_used_percent = Float(allow_none=True)
    events_lost = Integer()


class FleetOut(Schema):
    devices = Integer(metadata={"description": "devices the filters choose, on every page"})
    online = Integer()
    problems = Integer()
    page = Integer()
    pages = Integer()
    rows = List(Nested(FleetDeviceOut))


class CommandResultOut(Schema):
    command_id = String()
    ok = Boolean()
    detail = String()
    at = String()
    screenshot = Boolean(metadata={"description": "carries a screenshot (GET .../screenshot)"})


class DeviceHealthOut(Schema):
    device = Nested(FleetDeviceOut)
    command_results = List(Nested(CommandResultOut))


USERNAME = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$"


class UserIn(Schema):
    username = String(
        required=True, validate=Pattern(USERNAME, error="Use letters, digits and . _ @ -.")
    )
    password = String(required=True, validate=[Length(min=10, max=200), Pattern(NO_NUL)])
    role = Choice([r.value for r in Role], required=True)
    display_name = Text(max_length=200, load_default="")
    sites = List(Id(), load_default=[], validate=Length(max=200))


class RoleIn(Schema):
    role = Choice([r.value for r in Role], required=True)
    sites = List(
        Id(), load_default=[], validate=Length(max=200), metadata={"description": "editors"}
    )


class PasswordIn(Schema):
    password = String(required=True, validate=[Length(min=10, max=200), Pattern(NO_NUL)])


class UserOut(Schema):
    username = String()
    display_name = String()
    role = String()
    sites = List(String())
    active = Boolean()


class SignedOutOut(Schema):
    sessions_ended = Integer()


class PlaylistItemIn(Schema):
    kind = Choice([ItemKind.IMAGE.value, ItemKind.VIDEO.value, ItemKind.TEXT.value], required=True)
    duration_s = Number(minimum=1, maximum=3600, required=True)
    media_id = Whole(minimum=1, maximum=INT32_MAX, load_default=None, allow_none=True)
    text = Nested(TextIn, load_default=None, allow_none=True)
    alt_text = Text(max_length=200, load_default="")
    fit = Choice([f.value for f in Fit], load_default="fit")
    valid_from = Date(load_default=None, allow_none=True)
    valid_until = Date(
        load_default=None, allow_none=True, metadata={"description": "on or after valid_from"}
    )


class PlaylistIn(Schema):
    name = Text(max_length=200, required_text=True, required=True)
    owner_site_id = Text(max_length=64, required=True)
    items = List(Nested(PlaylistItemIn), required=True, validate=Length(min=1, max=200))


class PlaylistItemOut(Schema):
    id = String()
    kind = String()
    duration_s = Float()
    media_id = Integer(allow_none=True)
    text = Dict(allow_none=True)
    alt_text = String()
    fit = String()
    valid_from = Date(allow_none=True)
    valid_until = Date(allow_none=True)


class PlaylistOut(Schema):
    id = String()
    name = String()
    owner_site_id = String()
    updated_by = String()
    updated_at = DateTime()
    items = List(Nested(PlaylistItemOut))
