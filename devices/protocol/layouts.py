"""Screen layouts, widgets and QR codes of the manifest (issue 14), and the layout templates.

A manifest without a `layout` is one full-screen zone named ``main``, as before layouts
existed. With one, every item names the zone whose rotation it plays in; each zone is a
rectangle in the screen's native pixels, so the player draws it zone by zone and a change
in one zone does not redraw the others.

The templates are what staff pick from; `build_layout` places a template's zones on a
profile's canvas, and is the one place those proportions are written down (the CMS compiles
with it and the preview renders what it gives).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import AwareDatetime, Field, model_validator

from devices.protocol.base import Colour, Frozen, HttpUrl, Id, ShortText

MAIN_ZONE = "main"
MAX_ZONES = 8


class Zone(Frozen):
    name: Id
    x_px: int = Field(ge=0)
    y_px: int = Field(ge=0)
    width_px: int = Field(ge=1)
    height_px: int = Field(ge=1)

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) as Pillow takes it."""
        return (self.x_px, self.y_px, self.x_px + self.width_px, self.y_px + self.height_px)


class Layout(Frozen):
    template: ShortText  # a LayoutTemplate value, kept as text so new templates stay readable
    zones: Annotated[tuple[Zone, ...], Field(min_length=1, max_length=MAX_ZONES)]

    @model_validator(mode="after")
    def _zones_well_formed(self) -> Self:
        names = [zone.name for zone in self.zones]
        if len(set(names)) != len(names):
            raise ValueError("zone names must be unique")
        if MAIN_ZONE not in names:
            raise ValueError(f"a layout needs a zone named {MAIN_ZONE!r}")
        return self

    def zone(self, name: str) -> Zone:
        for zone in self.zones:
            if zone.name == name:
                return zone
        raise KeyError(name)

    @property
    def zone_names(self) -> tuple[str, ...]:
        return tuple(zone.name for zone in self.zones)


class WidgetKind(StrEnum):
    CLOCK = "clock"  # the site's local time and date
    TICKER = "ticker"  # a feed's headlines, one after another
    NEXT_UP = "next-up"  # the next few entries of an events feed
    TIMETABLE = "timetable"  # today's entries of an events feed
    COUNTDOWN = "countdown"  # days/hours/minutes to `countdown_to`


FEED_WIDGETS = frozenset({WidgetKind.TICKER, WidgetKind.NEXT_UP, WidgetKind.TIMETABLE})


class Widget(Frozen):
    """Content the player draws itself from live data rather than from an asset."""

    kind: WidgetKind
    feed: Id | None = None  # a FeedRef id of the manifest; needed by FEED_WIDGETS
    title: ShortText = ""
    countdown_to: AwareDatetime | None = None
    background: Colour = "#003a70"
    foreground: Colour = "#ffffff"

    @model_validator(mode="after")
    def _inputs_present(self) -> Self:
        if self.kind in FEED_WIDGETS and self.feed is None:
            raise ValueError(f"a {self.kind.value} widget needs `feed`")
        if self.kind is WidgetKind.COUNTDOWN and self.countdown_to is None:
            raise ValueError("a countdown widget needs `countdown_to`")
        return self


class QrCode(Frozen):
    """A QR code drawn on the item: `url` is the CMS's short tracked link, never the
    destination itself, so a scan is attributed to campaign, site and screen."""

    url: HttpUrl
    caption: ShortText = ""


class FeedRef(Frozen):
    """A live feed the device keeps (ds.feed/1 on its feed topic) for the widgets."""

    id: Id
    name: ShortText
    # Older data than this is not shown: the widget says the information is unavailable.
    max_age_s: int = Field(default=24 * 3600, ge=60, le=30 * 24 * 3600)


class LayoutTemplate(StrEnum):
    FULL = "full"
    MAIN_SIDE = "main-side"
    MAIN_TICKER = "main-ticker"
    MAIN_SIDE_TICKER_CLOCK = "main-side-ticker-clock"


SIDE_FRACTION = 0.25  # of the width
TICKER_FRACTION = 0.1  # of the height
CLOCK_FRACTION = 0.15  # of the height, above the side panel


def template_zone_names(template: LayoutTemplate) -> tuple[str, ...]:
    return build_layout(template, 1920, 1080).zone_names


def build_layout(template: LayoutTemplate, width_px: int, height_px: int) -> Layout:
    """The template's zones on a `width_px` x `height_px` canvas, edge to edge."""
    side = round(width_px * SIDE_FRACTION)
    ticker = round(height_px * TICKER_FRACTION)
    clock = round(height_px * CLOCK_FRACTION)
    main_w = width_px - side
    zones: list[Zone]
    if template is LayoutTemplate.FULL:
        zones = [Zone(name=MAIN_ZONE, x_px=0, y_px=0, width_px=width_px, height_px=height_px)]
    elif template is LayoutTemplate.MAIN_SIDE:
        zones = [
            Zone(name=MAIN_ZONE, x_px=0, y_px=0, width_px=main_w, height_px=height_px),
            Zone(name="side", x_px=main_w, y_px=0, width_px=side, height_px=height_px),
        ]
    elif template is LayoutTemplate.MAIN_TICKER:
        body = height_px - ticker
        zones = [
            Zone(name=MAIN_ZONE, x_px=0, y_px=0, width_px=width_px, height_px=body),
            Zone(name="ticker", x_px=0, y_px=body, width_px=width_px, height_px=ticker),
        ]
    else:
        body = height_px - ticker
        zones = [
            Zone(name=MAIN_ZONE, x_px=0, y_px=0, width_px=main_w, height_px=body),
            Zone(name="clock", x_px=main_w, y_px=0, width_px=side, height_px=clock),
            Zone(name="side", x_px=main_w, y_px=clock, width_px=side, height_px=body - clock),
            Zone(name="ticker", x_px=0, y_px=body, width_px=width_px, height_px=ticker),
        ]
    return Layout(template=template.value, zones=tuple(zones))
