"""The manifest: everything a device shows and how, signed by the CMS (``ds.manifest/1``).

New fields have defaults and are left out of the wire form when unused (`_omit_defaults`),
so manifests from before them stay byte-for-byte what they were.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal, Self

from pydantic import (
    AwareDatetime,
    Field,
    SerializerFunctionWrapHandler,
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
    Sha256,
    ShortText,
    TimeZoneName,
    schema_field,
)
from devices.protocol.layouts import MAIN_ZONE, FeedRef, Layout, QrCode, Widget
from devices.protocol.schedules import Schedule, TimeWindow, Weekday


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
# Issue 18's `display` and `software_channel` too: a manifest that does not use them stays
# byte-identical.
_MANIFEST_ISSUE14_DEFAULTS: dict[str, object] = {
    "layout": None,
    "feeds": (),
    "display": None,
    "software_channel": None,
}


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


# A walled-garden entry: an IPv4 address, or a host name the node resolves (issue 16).
WalledGardenHost = Annotated[
    str,
    Field(
        max_length=253,
        pattern=r"^(\d{1,3}(\.\d{1,3}){3}|([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})$",
    ),
]


class WifiPolicy(Frozen):
    """A site's Wi-Fi service policy (issue 16), applied to openNDS by the portal node.
    None everywhere means "openNDS's own setting" (no limit in this project's config)."""

    idle_minutes: int | None = Field(default=None, ge=1, le=24 * 60)
    download_kbps: int | None = Field(default=None, ge=64, le=1_000_000)  # kbit/s
    upload_kbps: int | None = Field(default=None, ge=64, le=1_000_000)
    download_quota_mb: int | None = Field(default=None, ge=1, le=1_000_000)  # per session
    upload_quota_mb: int | None = Field(default=None, ge=1, le=1_000_000)
    # When the portal accepts visitors, in the site's time zone; () = always.
    service_hours: tuple[OpeningHours, ...] = ()
    walled_garden: tuple[WalledGardenHost, ...] = Field(default=(), max_length=32)
    # How often a returning visitor sees the terms again; None: every visit.
    splash_every_days: int | None = Field(default=None, ge=1, le=365)


class PortalSettings(Frozen):
    ssid: ShortText
    terms: Terms
    session_minutes: int = Field(default=240, ge=1, le=7 * 24 * 60)
    newsletter: bool = False
    languages: tuple[Annotated[str, Field(pattern=r"^[a-z]{2}(_[A-Z]{2})?$")], ...] = ("en",)
    wifi: WifiPolicy | None = None

    @model_serializer(mode="wrap")
    def _omit_no_policy(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        # A site without a Wi-Fi policy signs the same bytes as before issue 16.
        data: dict[str, object] = handler(self)
        return _omit_defaults(data, {"wifi": None})


class DisplaySetup(Frozen):
    """How this one screen is mounted and when it is on (issue 18), set per device by staff.

    `rotation_deg` turns the picture clockwise on its way to the panel (as the Pi's
    `display_rotate` and `wlr-randr --transform` count): at 90 or 270 the canvas content
    is laid out on is the profile's panel turned on its side, portrait for a landscape
    panel. `power_on`: the panel is on while any of these is open (the CMS writes the
    site's opening hours or the screen's own schedule here); None is always on.
    """

    rotation_deg: Literal[0, 90, 180, 270] = 0
    power_on: Annotated[tuple[Schedule, ...], Field(min_length=1, max_length=28)] | None = None


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
    display: DisplaySetup | None = None  # None: landscape as the profile, always on
    # The release channel (ds.release/1) the device follows; None: it is updated by hand.
    software_channel: Id | None = None

    @model_serializer(mode="wrap")
    def _omit_issue14_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        data: dict[str, object] = handler(self)
        return _omit_defaults(data, _MANIFEST_ISSUE14_DEFAULTS)

    @property
    def rotation_deg(self) -> int:
        return self.display.rotation_deg if self.display is not None else 0

    @property
    def canvas(self) -> tuple[int, int]:
        """The size content is laid out and drawn at: the profile's panel, turned on its
        side for a screen mounted at 90 or 270 degrees."""
        width, height = self.profile.width_px, self.profile.height_px
        return (height, width) if self.rotation_deg in (90, 270) else (width, height)

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
            width, height = self.canvas
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
