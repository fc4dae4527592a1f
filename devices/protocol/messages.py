"""A typed model for every message of the MQTT contract (DESIGN.md), with strict parsing.

Every message carries ``schema`` (``ds.<name>/<version>``). Parsing refuses unknown
fields, wrong types and values out of range, and the error names the field. Instants
are RFC 3339 with an offset; times of day are local wall-clock ``HH:MM`` in the
site's time zone.
"""

from __future__ import annotations

import contextlib
import itertools
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal, Self, TypeVar

from pydantic import (
    AwareDatetime,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)

from devices.protocol.base import (
    Colour,
    Frozen,
    HttpUrl,
    Id,
    LocalTime,
    LongText,
    Message,
    Scalar,
    Sha256,
    ShortText,
    TimeZoneName,
    VisitorHash,
    schema_field,
)
from devices.protocol.canonical import JSONValue, canonical_json, loads
from devices.protocol.errors import ProtocolError
from devices.protocol.feeds import FeedData
from devices.protocol.layouts import MAIN_ZONE, FeedRef, Layout, QrCode, Widget
from devices.protocol.signing import PublicKey, SigningKey, signed_body, verify

# --- schedules ---------------------------------------------------------------------------


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def number(self) -> int:
        """Monday is 0, as in ``date.weekday()``."""
        return _WEEKDAY_ORDER.index(self.value)


_WEEKDAY_ORDER = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class TimeWindow(Frozen):
    """``[start, end)`` local wall-clock time; ``end <= start`` crosses midnight and
    belongs to the day it starts on (DESIGN.md, schedule semantics)."""

    start: LocalTime
    end: LocalTime


class Schedule(Frozen):
    """When an item may show. Empty `days` means every day; empty `windows` all day."""

    starts_on: date | None = None
    ends_on: date | None = None
    days: tuple[Weekday, ...] = ()
    windows: tuple[TimeWindow, ...] = ()

    @model_validator(mode="after")
    def _range_in_order(self) -> Self:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        return self


# --- manifest ------------------------------------------------------------------------------


class DeviceKind(StrEnum):
    SIGNAGE = "signage"
    PORTAL = "portal"


class ProfileKind(StrEnum):
    INDOOR = "indoor"
    ROADSIDE = "roadside"
    PORTAL = "portal"


class ItemKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    TEXT = "text"
    WIDGET = "widget"  # drawn by the player from live data (devices/protocol/layouts.py)


class Fit(StrEnum):
    FIT = "fit"  # whole image, centred, bars in the item's background colour
    FILL = "fill"  # cover the canvas, cropping the overflow
    LETTERBOX = "letterbox"  # whole image, centred, black bars


class BrightnessStep(Frozen):
    """From `at` (local time) on, the panel runs at `percent` until the next step."""

    at: LocalTime
    percent: int = Field(ge=0, le=100)


class ScreenProfile(Frozen):
    name: ShortText
    kind: ProfileKind
    width_px: int = Field(ge=16, le=7680)
    height_px: int = Field(ge=16, le=4320)
    min_dwell_s: float = Field(default=0, ge=0, le=3600)
    allow_video: bool = True
    transitions: bool = True
    night_blank: TimeWindow | None = None
    brightness: tuple[BrightnessStep, ...] = ()
    max_content_age_s: int | None = Field(default=None, ge=60)


class AssetRef(Frozen):
    sha256: Sha256
    url: HttpUrl
    size_bytes: int = Field(ge=0)
    content_type: Annotated[str, Field(pattern=r"^[a-z]+/[a-z0-9.+-]+$")]


class TextSlide(Frozen):
    title: ShortText
    body: LongText = ""
    when: ShortText = ""
    venue: ShortText = ""
    background: Colour = "#003a70"
    foreground: Colour = "#ffffff"
    # Staff chose "shrink to fit" (issue 13, point 18): the player may shrink the type down
    # to its legibility floor. Otherwise the CMS has checked it fits at the design size.
    shrink_to_fit: bool = False

    @model_serializer(mode="wrap")
    def _omit_default_shrink(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        # Left out unless chosen, so manifests without it are byte-for-byte what they were
        # (no republish, and players from before the field still parse them).
        data: dict[str, object] = handler(self)
        if not self.shrink_to_fit:
            data.pop("shrink_to_fit", None)
        return data


LanguageCode = Annotated[str, Field(pattern=r"^[a-z]{2}(_[A-Z]{2})?$")]


class ContentItem(Frozen):
    id: Id
    campaign_id: Id | None = None  # None for the site's default content
    campaign_name: ShortText = ""  # staff's name for the campaign: never shown to the public
    # What visitors and passers-by are shown as the item's heading (issue 13 point 17),
    # in the CMS's default language, and its translations by language code.
    public_title: ShortText = ""
    public_titles: dict[LanguageCode, ShortText] = Field(default_factory=dict)
    kind: ItemKind
    asset: Sha256 | None = None
    text: TextSlide | None = None
    alt_text: ShortText = ""
    duration_s: float = Field(gt=0, le=3600)
    weight: int = Field(default=1, ge=1, le=100)
    priority: int = Field(default=50, ge=0, le=100)
    fit: Fit = Fit.FIT
    schedules: tuple[Schedule, ...] = ()  # any one open is enough; none means always
    link_url: HttpUrl | None = None
    # Issue 14. Which zone of the manifest's layout plays the item (``main`` without one).
    zone: Id = MAIN_ZONE
    widget: Widget | None = None
    qr: QrCode | None = None
    # Guaranteed airtime in its zone: this many seconds of every clock hour while the item
    # is scheduled, ahead of the rest of the zone's rotation (share of voice).
    share_s_per_hour: int | None = Field(default=None, ge=1, le=3600)

    @model_serializer(mode="wrap")
    def _omit_issue14_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        # Left out unless used, so manifests without them stay byte-for-byte what they were
        # (no republish, and players from before the fields still parse them).
        data: dict[str, object] = handler(self)
        return _omit_defaults(data, _ITEM_ISSUE14_DEFAULTS)

    def __hash__(self) -> int:
        # Players key frame caches by item; `public_titles` is a dict, so hash its items.
        rest = tuple(v for k, v in self.__dict__.items() if k != "public_titles")
        return hash((rest, tuple(sorted(self.public_titles.items()))))

    @model_validator(mode="after")
    def _content_matches_kind(self) -> Self:
        if self.kind is ItemKind.TEXT and self.text is None:
            raise ValueError("a text item needs `text`")
        if self.kind is ItemKind.WIDGET and self.widget is None:
            raise ValueError("a widget item needs `widget`")
        if self.kind in (ItemKind.IMAGE, ItemKind.VIDEO) and self.asset is None:
            raise ValueError(f"an {self.kind.value} item needs `asset` (a sha256)")
        return self


_ITEM_ISSUE14_DEFAULTS: dict[str, object] = {
    "zone": MAIN_ZONE,
    "widget": None,
    "qr": None,
    "share_s_per_hour": None,
}
_MANIFEST_ISSUE14_DEFAULTS: dict[str, object] = {"layout": None, "feeds": ()}


def _zone_and_feed_problem(item: ContentItem, zones: set[str], feeds: set[str]) -> str | None:
    if item.zone not in zones:
        return f"is for zone {item.zone!r}, not in the layout"
    if item.widget is not None and item.widget.feed is not None and item.widget.feed not in feeds:
        return f"shows feed {item.widget.feed!r}, not in `feeds`"
    return None


def _omit_defaults(data: dict[str, object], defaults: dict[str, object]) -> dict[str, object]:
    for name, default in defaults.items():
        if name in data and data[name] in (default, [] if default == () else default):
            del data[name]
    return data


class OpeningHours(Frozen):
    day: Weekday
    opens: LocalTime
    closes: LocalTime


class SiteInfo(Frozen):
    id: Id
    name: ShortText
    timezone: TimeZoneName
    opening_hours: tuple[OpeningHours, ...] = ()
    brand_colour: Colour = "#003a70"
    logo: Sha256 | None = None


class Terms(Frozen):
    version: Annotated[str, Field(min_length=1, max_length=40)]
    text: dict[Annotated[str, Field(pattern=r"^[a-z]{2}(_[A-Z]{2})?$")], LongText]


# The languages a portal node's splash ships (portal/translations), in the form
# PortalSettings.languages uses; the CMS offers each site any of them (issue 13).
PORTAL_LANGUAGES: tuple[str, ...] = ("en", "zh", "vi", "ar", "it")


class PortalSettings(Frozen):
    ssid: ShortText
    terms: Terms
    session_minutes: int = Field(default=240, ge=5, le=7 * 24 * 60)
    newsletter: bool = False
    languages: tuple[Annotated[str, Field(pattern=r"^[a-z]{2}(_[A-Z]{2})?$")], ...] = ("en",)


class Manifest(Message):
    SCHEMA: ClassVar[str] = "ds.manifest/1"
    schema_name: Literal["ds.manifest/1"] = schema_field("ds.manifest/1")  # type: ignore[assignment]
    device_id: Id
    version: int = Field(ge=1, description="moves only forward")
    generated_at: AwareDatetime
    valid_until: AwareDatetime
    site: SiteInfo
    profile: ScreenProfile
    assets: tuple[AssetRef, ...] = ()
    items: tuple[ContentItem, ...] = ()
    default_items: tuple[ContentItem, ...] = ()
    portal: PortalSettings | None = None
    layout: Layout | None = None  # None: one full-screen zone, ``main``
    feeds: tuple[FeedRef, ...] = ()

    @model_serializer(mode="wrap")
    def _omit_issue14_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        data: dict[str, object] = handler(self)
        return _omit_defaults(data, _MANIFEST_ISSUE14_DEFAULTS)

    @property
    def zone_names(self) -> tuple[str, ...]:
        return self.layout.zone_names if self.layout is not None else (MAIN_ZONE,)

    @model_validator(mode="after")
    def _references_resolve(self) -> Self:
        known = {asset.sha256 for asset in self.assets}
        zones = set(self.zone_names)
        feeds = {feed.id for feed in self.feeds}
        seen: set[str] = set()
        for index, item in enumerate((*self.items, *self.default_items)):
            if item.id in seen:
                raise ValueError(f"item id {item.id!r} appears twice")
            seen.add(item.id)
            if item.asset is not None and item.asset not in known:
                raise ValueError(f"item {index} ({item.id}) refers to an asset not in `assets`")
            problem = _zone_and_feed_problem(item, zones, feeds)
            if problem is not None:
                raise ValueError(f"item {index} ({item.id}) {problem}")
        if self.layout is not None:
            width, height = self.profile.width_px, self.profile.height_px
            for zone in self.layout.zones:
                if zone.box[2] > width or zone.box[3] > height:
                    raise ValueError(f"zone {zone.name!r} is outside the {width}x{height} canvas")
        if self.site.logo is not None and self.site.logo not in known:
            raise ValueError("site.logo refers to an asset not in `assets`")
        return self

    def asset(self, sha256: str) -> AssetRef:
        for asset in self.assets:
            if asset.sha256 == sha256:
                return asset
        raise KeyError(sha256)


# --- alerts and commands -------------------------------------------------------------------


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    EMERGENCY = "emergency"


class Alert(Message):
    """Overrides scheduled content on the targeted devices until it expires or is cleared.

    One alert is retained per scope. The CMS stamps every message it sends on a scope
    (send, edit, clear) with a higher `revision`, under a lock shared by its processes,
    and signs it with the rest; a device keeps the message that is latest by `order`
    (issue 13), so a clear or an edit always supersedes, and replaying an older signed
    message, retained or not, cannot roll it back. An alert with `cleared` true ends it
    early.
    """

    SCHEMA: ClassVar[str] = "ds.alert/1"
    schema_name: Literal["ds.alert/1"] = schema_field("ds.alert/1")  # type: ignore[assignment]
    id: Id
    scope: Id
    severity: Severity = Severity.WARNING
    title: ShortText
    body: LongText = ""
    issued_at: AwareDatetime
    expires_at: AwareDatetime
    cleared: bool = False
    kinds: tuple[DeviceKind, ...] = ()  # empty: every kind of device
    # 0: sent before revisions existed (those are ordered by issued_at alone).
    revision: Annotated[int, Field(ge=0)] = 0

    @property
    def order(self) -> tuple[int, datetime]:
        """Where this message stands among those sent on its scope: a higher revision is
        newer; between messages without one, the later `issued_at`."""
        return (self.revision, self.issued_at)

    def active_at(self, at: datetime) -> bool:
        return not self.cleared and self.issued_at <= at < self.expires_at

    def applies_to(self, kind: DeviceKind) -> bool:
        return not self.kinds or kind in self.kinds


class CommandName(StrEnum):
    REBOOT = "reboot"
    REFRESH = "refresh"
    SCREENSHOT = "screenshot"
    DISPLAY_ON = "display-on"
    DISPLAY_OFF = "display-off"
    IDENTIFY = "identify"
    DEAUTHORISE = "deauthorise"


class Command(Message):
    SCHEMA: ClassVar[str] = "ds.command/1"
    schema_name: Literal["ds.command/1"] = schema_field("ds.command/1")  # type: ignore[assignment]
    id: Id
    device_id: Id
    name: CommandName
    args: dict[Annotated[str, Field(max_length=64)], Scalar] = Field(default_factory=dict)
    issued_at: AwareDatetime
    expires_at: AwareDatetime


class CommandResult(Message):
    SCHEMA: ClassVar[str] = "ds.command-result/1"
    schema_name: Literal["ds.command-result/1"] = schema_field("ds.command-result/1")  # type: ignore[assignment]
    command_id: Id
    device_id: Id
    ok: bool
    detail: LongText = ""
    data: dict[Annotated[str, Field(max_length=64)], Scalar] = Field(default_factory=dict)
    at: AwareDatetime


# --- status and health ---------------------------------------------------------------------


class DeviceState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"


class NowShowing(Frozen):
    item_id: Id | None
    campaign_id: Id | None = None
    alert_id: Id | None = None
    since: AwareDatetime


class Status(Message):
    SCHEMA: ClassVar[str] = "ds.status/1"
    schema_name: Literal["ds.status/1"] = schema_field("ds.status/1")  # type: ignore[assignment]
    device_id: Id
    kind: DeviceKind
    state: DeviceState
    software_version: ShortText
    manifest_version: int | None = None
    now_showing: NowShowing | None = None
    at: AwareDatetime


class Throttling(Frozen):
    """`vcgencmd get_throttled`, as the raw bit field and its decoded flag names."""

    raw: int = Field(ge=0)
    flags: tuple[ShortText, ...] = ()


class Health(Message):
    SCHEMA: ClassVar[str] = "ds.health/1"
    schema_name: Literal["ds.health/1"] = schema_field("ds.health/1")  # type: ignore[assignment]
    device_id: Id
    at: AwareDatetime
    uptime_s: float = Field(ge=0)
    cpu_percent: float = Field(ge=0, le=100)
    load_1m: float = Field(ge=0)
    memory_used_percent: float = Field(ge=0, le=100)
    memory_available_bytes: int = Field(ge=0)
    disk_used_percent: float = Field(ge=0, le=100)
    disk_free_bytes: int = Field(ge=0)
    net_bytes_sent: int = Field(ge=0)
    net_bytes_recv: int = Field(ge=0)
    temperature_c: float | None = None
    throttling: Throttling | None = None
    outbox_pending: int = Field(default=0, ge=0)
    outbox_dropped: int = Field(default=0, ge=0)
    cache_used_bytes: int = Field(default=0, ge=0)
    manifest_version: int | None = None


# --- analytics events ----------------------------------------------------------------------


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
        data: dict[str, object] = handler(self)
        if info.mode_is_json() and data.get("zone") is None:
            data.pop("zone", None)
        return data


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


UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class EventType(StrEnum):
    """What an event in a ``ds.events/1`` batch records: its `type`, which picks its `data`."""

    PLAY = "play"
    SPLASH_SHOWN = "portal.splash_shown"
    TERMS_ACCEPTED = "portal.terms_accepted"
    PROMO_SHOWN = "portal.promo_shown"
    PROMO_CLICKED = "portal.promo_clicked"
    SESSION_ENDED = "portal.session_ended"


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


Event = Annotated[
    PlayEvent
    | SplashShownEvent
    | TermsAcceptedEvent
    | PromoShownEvent
    | PromoClickedEvent
    | SessionEndedEvent,
    Field(discriminator="type"),
]
EventData = (
    PlayData
    | SplashShownData
    | TermsAcceptedData
    | PromoShownData
    | PromoClickedData
    | SessionEndedData
)
EVENT_TYPE_OF_DATA: dict[type[Frozen], EventType] = {
    PlayData: EventType.PLAY,
    SplashShownData: EventType.SPLASH_SHOWN,
    TermsAcceptedData: EventType.TERMS_ACCEPTED,
    PromoShownData: EventType.PROMO_SHOWN,
    PromoClickedData: EventType.PROMO_CLICKED,
    SessionEndedData: EventType.SESSION_ENDED,
}
EVENT_TYPES: dict[EventType, type[_EventBase]] = {
    EventType.PLAY: PlayEvent,
    EventType.SPLASH_SHOWN: SplashShownEvent,
    EventType.TERMS_ACCEPTED: TermsAcceptedEvent,
    EventType.PROMO_SHOWN: PromoShownEvent,
    EventType.PROMO_CLICKED: PromoClickedEvent,
    EventType.SESSION_ENDED: SessionEndedEvent,
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


MESSAGE_TYPES: tuple[type[Message], ...] = (
    Manifest,
    Alert,
    Command,
    CommandResult,
    Status,
    Health,
    EventBatch,
    EventAck,
    FeedData,
)

# --- parsing -------------------------------------------------------------------------------

M = TypeVar("M", bound=Message)


def parse(model: type[M], payload: bytes | str) -> M:
    """Parse one message; anything wrong raises ProtocolError naming the field."""
    return validate(model, loads(payload))


def validate(model: type[M], value: JSONValue) -> M:
    if not isinstance(value, dict):
        raise ProtocolError("$", f"{model.SCHEMA} must be a JSON object")
    schema = value.get("schema")
    if schema != model.SCHEMA:
        raise ProtocolError("schema", f"expected {model.SCHEMA!r}, got {schema!r}")
    try:
        return model.model_validate(value)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "$"
        raise ProtocolError(field, first["msg"]) from None
    except ProtocolError as error:  # raised by a validator such as validate_id
        raise ProtocolError(error.field, error.reason) from None


def parse_signed(model: type[M], payload: bytes | str, trusted: list[PublicKey]) -> M:
    """Verify the signature over exactly what was received, then parse."""
    raw = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
    body_bytes = signed_body(raw, trusted)
    if body_bytes is not None:
        # The usual case, in about half the time: the bytes are the CMS's canonical
        # JSON, checked as they are and parsed once by pydantic-core.
        with contextlib.suppress(ValidationError, ProtocolError):
            return model.model_validate_json(body_bytes)
        # Signed but not valid: the general path below names the field at fault.
    body = verify(loads(raw), trusted)
    return validate(model, body)


def sign(message: Message, key: SigningKey) -> bytes:
    return canonical_json(key.sign(message.to_json()))
