"""How campaigns with zones combine on one screen (docs/layouts.md). Pure.

* A screen's layout is set by its site's default content: the highest-priority default
  campaign reaching the screen that chose a layout for the screen's kind (indoor or the
  Wi-Fi splash). Without one the screen is one full-screen zone, ``main``.
* Campaigns fill the zones by name. An item for a zone the screen's layout lacks plays
  in ``main``, except a widget (a clock or a ticker belongs in its own strip), which is
  left out.
* Roadside LED screens are always one full-screen zone and show only ``main`` items:
  their rules are made for one picture at a time, read from a moving car.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from devices.protocol import ContentItem, ItemKind, ProfileKind, Schedule
from devices.protocol.layouts import MAIN_ZONE, LayoutTemplate, template_zone_names

# What staff see for each template, in the order they are offered.
TEMPLATE_NAMES: dict[LayoutTemplate, str] = {
    LayoutTemplate.FULL: "Full screen",
    LayoutTemplate.MAIN_SIDE: "Main + side panel",
    LayoutTemplate.MAIN_TICKER: "Main + bottom ticker",
    LayoutTemplate.MAIN_SIDE_TICKER_CLOCK: "Main + side + ticker + clock",
}
ZONE_NAMES: dict[str, str] = {
    MAIN_ZONE: "Main",
    "side": "Side panel",
    "ticker": "Bottom ticker",
    "clock": "Clock corner",
}
# The kinds of screen that take layouts; roadside LED stays one zone.
LAYOUT_KINDS: tuple[ProfileKind, ...] = (ProfileKind.INDOOR, ProfileKind.PORTAL)
ALL_ZONES: tuple[str, ...] = template_zone_names(LayoutTemplate.MAIN_SIDE_TICKER_CLOCK)


def zones_of(template: LayoutTemplate | None) -> frozenset[str]:
    return frozenset(template_zone_names(template)) if template else frozenset({MAIN_ZONE})


def screen_template(
    kind: ProfileKind, defaults: Iterable[tuple[tuple[int, str], LayoutTemplate | None]]
) -> LayoutTemplate | None:
    """The layout of a screen of `kind`, from its default campaigns' (sort key, template);
    None: one full-screen zone (also for a "full" choice, which is the same thing)."""
    if kind not in LAYOUT_KINDS:
        return None
    chosen = [(key, t) for key, t in defaults if t is not None]
    if not chosen:
        return None
    template = min(chosen, key=lambda pair: pair[0])[1]
    return None if template is LayoutTemplate.FULL else template


def place_items(
    items: Sequence[ContentItem], template: LayoutTemplate | None, kind: ProfileKind
) -> tuple[ContentItem, ...]:
    """`items` as they play on a screen with `template` (see the module's rules)."""
    zones = zones_of(template)
    if all(item.zone in zones for item in items):
        return tuple(items)
    placed: list[ContentItem] = []
    for item in items:
        if item.zone in zones:
            placed.append(item)
        elif kind is not ProfileKind.ROADSIDE and item.kind is not ItemKind.WIDGET:
            placed.append(item.model_copy(update={"zone": MAIN_ZONE}))
    return tuple(placed)


def item_schedules(
    schedules: tuple[Schedule, ...], valid_from: date | None, valid_until: date | None
) -> tuple[Schedule, ...] | None:
    """The campaign's schedules narrowed to an item's validity dates; None if no day is
    left (the item never shows)."""
    if valid_from is None and valid_until is None:
        return schedules
    if not schedules:
        return (Schedule(starts_on=valid_from, ends_on=valid_until),)
    narrowed = []
    for schedule in schedules:
        starts = max((d for d in (schedule.starts_on, valid_from) if d), default=None)
        ends = min((d for d in (schedule.ends_on, valid_until) if d), default=None)
        if starts and ends and ends < starts:
            continue
        narrowed.append(schedule.model_copy(update={"starts_on": starts, "ends_on": ends}))
    return tuple(narrowed) or None
