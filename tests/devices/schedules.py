"""Builders for the schedule tests: the sites' zones, fixed dates, instants on a site's
wall clock, windows, schedules, items and alerts."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from devices.protocol import Alert, ContentItem, ItemKind, Schedule, TextSlide, TimeWindow, Weekday

PERTH = ZoneInfo("Australia/Perth")
SYDNEY = ZoneInfo("Australia/Sydney")
NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # half-hour daylight saving

FRIDAY = date(2026, 12, 4)
SATURDAY = date(2026, 12, 5)


def at(
    tz: ZoneInfo, day: date, hour: int, minute: int = 0, second: int = 0, fold: int = 0
) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=tz, fold=fold)


def utc(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def window(start: str, end: str) -> TimeWindow:
    return TimeWindow(start=time.fromisoformat(start), end=time.fromisoformat(end))


def daily(start: str, end: str, *days: Weekday, **dates: date) -> Schedule:
    return Schedule(windows=(window(start, end),), days=days, **dates)


def item(item_id: str, *schedules: Schedule, priority: int = 50, weight: int = 1) -> ContentItem:
    return ContentItem(
        id=item_id,
        kind=ItemKind.TEXT,
        text=TextSlide(title=item_id),
        duration_s=10,
        priority=priority,
        weight=weight,
        schedules=schedules,
    )


def alert(alert_id: str, issued: datetime, expires: datetime, **fields: object) -> Alert:
    return Alert.model_validate(
        {
            "id": alert_id,
            "scope": "all",
            "title": alert_id,
            "issued_at": issued,
            "expires_at": expires,
            **fields,
        }
    )


OFFICE_HOURS = daily("09:00", "17:00")
