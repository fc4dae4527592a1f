"""What a screen plays when, over a week: alerts, campaigns, default content, dark hours
and the hours its power schedule has it off.

Pure: a compiled manifest and the alerts in, stretches of local time out. What plays at
an instant is decided by the devices' own rules (devices/schedule.py: night blanking,
`active_alert`, `eligible_items`), and the stretches end where `next_manifest_change`
says the device would look again, so the plan is what the screen does, not a second
opinion of it. Days are local days in the site's time zone: a stretch across midnight
shows on both days, and a day of a daylight-saving change has 23 or 25 hours.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from devices.protocol import Alert, ContentItem, DeviceKind, Manifest
from devices.schedule import (
    active_alert,
    eligible_items,
    next_manifest_change,
    open_items,
    power_on,
    window_open,
)

WEEK = 7


class Kind(StrEnum):
    ALERT = "alert"
    CAMPAIGNS = "campaigns"
    DEFAULT = "default"  # the site's default content: nothing else is scheduled
    DARK = "dark"  # the profile's night blanking
    OFF = "off"  # outside the screen's power schedule (issue 18): the panel in standby
    NOTHING = "nothing"  # no campaign and no default content: a black screen


@dataclass(frozen=True)
class Campaign:
    id: str | None  # None: default items that belong to no campaign
    name: str


@dataclass(frozen=True)
class Showing:
    kind: Kind
    alert_title: str = ""
    campaigns: tuple[Campaign, ...] = ()

    def describe(self) -> str:
        if self.kind is Kind.ALERT:
            return f"Alert: {self.alert_title}"
        if self.kind is Kind.DARK:
            return "Screen dark (night hours)"
        if self.kind is Kind.OFF:
            return "Screen off (outside its hours)"
        if self.kind is Kind.NOTHING:
            return "Nothing scheduled (black screen)"
        names = ", ".join(c.name for c in self.campaigns)
        return f"Default content: {names}" if self.kind is Kind.DEFAULT else names


@dataclass(frozen=True)
class Stretch:
    """`showing` from `start` (inclusive) to `end` (exclusive); instants in UTC."""

    start: datetime
    end: datetime
    showing: Showing


@dataclass(frozen=True)
class Entry:
    """A stretch as one local day shows it, on the screens it concerns."""

    start: datetime  # local, aware
    end: datetime
    showing: Showing
    screens: tuple[str, ...] = ()
    from_day_before: bool = False  # began before this day's midnight
    into_next_day: bool = False


@dataclass(frozen=True)
class Day:
    day: date
    entries: tuple[Entry, ...] = field(default_factory=tuple)


def _campaigns(items: Iterable[ContentItem]) -> tuple[Campaign, ...]:
    found = {(i.campaign_id, i.campaign_name or "Default content"): None for i in items}
    return tuple(Campaign(cid, name) for cid, name in sorted(found, key=lambda c: c[1]))


def showing_at(
    manifest: Manifest, alerts: Sequence[Alert], kind: DeviceKind, at: datetime
) -> Showing:
    """What a `kind` device with `manifest` shows at `at`, by the device's own rules."""
    tz = ZoneInfo(manifest.site.timezone)
    night = manifest.profile.night_blank
    if night is not None and window_open(night, at, tz):
        return Showing(Kind.DARK)
    alert = active_alert(alerts, at, kind)
    if alert is not None:
        return Showing(Kind.ALERT, alert_title=alert.title)
    if kind is DeviceKind.SIGNAGE and not power_on(manifest, at):
        return Showing(Kind.OFF)
    if kind is DeviceKind.PORTAL:
        # The splash lists every open promotion, of any priority (portal/view.py).
        playing = open_items(manifest.items, at, tz) or open_items(manifest.default_items, at, tz)
    else:
        playing = eligible_items(manifest.items, manifest.default_items, at, tz)
    if not playing:
        return Showing(Kind.NOTHING)
    scheduled = bool(open_items(manifest.items, at, tz))
    return Showing(Kind.CAMPAIGNS if scheduled else Kind.DEFAULT, campaigns=_campaigns(playing))


def stretches(
    manifest: Manifest,
    alerts: Sequence[Alert],
    kind: DeviceKind,
    start: datetime,
    end: datetime,
) -> list[Stretch]:
    """[start, end) cut where what shows changes, adjacent equal stretches joined."""
    found: list[Stretch] = []
    at = start.astimezone(UTC)
    end = end.astimezone(UTC)
    while at < end:
        showing = showing_at(manifest, alerts, kind, at)
        change = next_manifest_change(manifest, alerts, at, horizon=end - at)
        until = end if change is None else min(change, end)
        if found and found[-1].showing == showing:
            found[-1] = Stretch(found[-1].start, until, showing)
        else:
            found.append(Stretch(at, until, showing))
        at = until
    return found


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def week_bounds(monday: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return local_midnight(monday, tz), local_midnight(monday + timedelta(days=WEEK), tz)


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_days(
    by_screen: dict[str, list[Stretch]], monday: date, tz: ZoneInfo, *, skip_dark: bool = False
) -> list[Day]:
    """The week from `monday` as local days; stretches that are the same on several
    screens are one entry naming them all (a site's calendar)."""
    days: list[Day] = []
    for offset in range(WEEK):
        day = monday + timedelta(days=offset)
        opens, closes = local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
        grouped: dict[tuple[datetime, datetime, Showing], list[str]] = {}
        for screen, found in by_screen.items():
            for stretch in found:
                if stretch.end <= opens or stretch.start >= closes:
                    continue
                if skip_dark and stretch.showing.kind in (Kind.DARK, Kind.OFF):
                    continue
                key = (max(stretch.start, opens), min(stretch.end, closes), stretch.showing)
                grouped.setdefault(key, []).append(screen)
        entries = [
            Entry(
                start=start.astimezone(tz),
                end=end.astimezone(tz),
                showing=showing,
                screens=tuple(sorted(screens)),
                from_day_before=start == opens and _across(by_screen, screens, opens),
                into_next_day=end == closes and _across(by_screen, screens, closes),
            )
            for (start, end, showing), screens in grouped.items()
        ]
        entries.sort(key=lambda e: (e.start, e.end, e.showing.describe()))
        days.append(Day(day, tuple(entries)))
    return days


def _across(by_screen: dict[str, list[Stretch]], screens: list[str], at: datetime) -> bool:
    """Whether a stretch of these screens runs on through the instant `at` (a midnight)."""
    return any(s.start < at < s.end for screen in screens for s in by_screen[screen])
