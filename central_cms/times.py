"""Times and dates as staff read and write them (issue 13 point 20). Pure.

Every instant the CMS shows is in a site's time zone, with the zone named ("14:05 AWST"),
through the one Jinja filter `local_time` (registered by `central_cms.views.timefmt`).
Dates are written the city's way (`CITY_LOCALE`; en-AU: "2 December 2026", entered as
02/12/2026). Browsers format `<input type="date">` by their own locale (Chromium shows
mm/dd/yyyy on an en-US machine whatever the page's `lang`), so date fields are text
fields with the format spelt out, parsed here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, tzinfo
from enum import StrEnum
from zoneinfo import ZoneInfo

from babel.dates import format_date

CITY_LOCALE = "en_AU"
DATE_HINT = "day/month/year, e.g. 02/12/2026"


class Style(StrEnum):
    DATETIME = "datetime"  # 2 December 2026, 14:05 AWST
    SECONDS = "seconds"  # 2 December 2026, 14:05:09 AWST
    TIME = "time"  # 14:05 AWST
    TIME_SECONDS = "time_seconds"  # 14:05:09 AWST
    WEEKDAY = "weekday"  # Wed 2 December 2026, 14:05 AWST
    DATE = "date"  # 2 December 2026


def zone_of(name: str | None) -> tzinfo:
    """The zone for an IANA name; UTC for none (and the label then says UTC)."""
    return ZoneInfo(name) if name else UTC


def zone_label(local: datetime) -> str:
    """The zone's abbreviation where it has a real one (AWST, AEDT, UTC), else its
    offset (zones like Asia/Dubai abbreviate to "+04", which says nothing more)."""
    abbreviation = local.tzname() or ""
    if abbreviation.isalpha():
        return abbreviation
    offset = local.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def city_date(day: date, locale: str = CITY_LOCALE) -> str:
    """A date the way the city writes it in running text: 2 December 2026."""
    return format_date(day, format="long", locale=locale)


def local_time(
    at: datetime | None, zone: tzinfo, style: Style = Style.DATETIME, locale: str = CITY_LOCALE
) -> str:
    """`at` on `zone`'s wall clock, with the zone named (except for a bare date)."""
    if at is None:
        return "\N{EN DASH}"
    local = at.astimezone(zone)
    label = zone_label(local)
    if style is Style.DATE:
        return city_date(local.date(), locale)
    if style is Style.TIME:
        return f"{local:%H:%M} {label}"
    if style is Style.TIME_SECONDS:
        return f"{local:%H:%M:%S} {label}"
    day = city_date(local.date(), locale)
    if style is Style.WEEKDAY:
        day = f"{format_date(local.date(), 'EEE', locale=locale)} {day}"
    clock = f"{local:%H:%M:%S}" if style is Style.SECONDS else f"{local:%H:%M}"
    return f"{day}, {clock} {label}"


def date_field(day: date | None) -> str:
    """A date as it goes into a date text field: 02/12/2026 (en-AU order)."""
    return f"{day:%d/%m/%Y}" if day else ""


_CITY_DATE = re.compile(r"^\s*(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})\s*$")
_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})\s*$")


def parse_date(text: str) -> date:
    """A date typed as day/month/year (02/12/2026, 2/12/2026, 2.12.2026), or ISO
    2026-12-02 (links and API clients). ValueError says what to type."""
    iso = _ISO_DATE.match(text)
    city = _CITY_DATE.match(text)
    try:
        if iso:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        if city:
            return date(int(city[3]), int(city[2]), int(city[1]))
    except ValueError:  # 31/02/2026, or a month-first 12/31/2026
        raise ValueError(f"{text.strip()!r} is not a date: write {DATE_HINT}") from None
    raise ValueError(f"write dates as {DATE_HINT}")


def home_zone(site_zones: Iterable[str]) -> str | None:
    """The zone for times that belong to no one site (audit log, alerts to every site):
    the sites' zone when they all share one, else None (UTC, labelled)."""
    zones = set(site_zones)
    return zones.pop() if len(zones) == 1 else None
