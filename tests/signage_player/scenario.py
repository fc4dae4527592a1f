"""A realistic week at Riverton Library's foyer screen, shared by the simulation tests.

Perth (UTC+8, no daylight saving). The week runs Monday 2026-12-07 00:00 to Monday
2026-12-14 00:00 local time.

- defaults: `welcome` (text, 20 s) and `hours` (image, 35 s), equal weights
- `breakfast` (cafe, 15 s, priority 60): every day 06:00-10:00
- `storytime` (20 s, priority 70): Tuesday and Thursday 09:30-10:30
- `late-swim` (15 s, priority 60): Friday and Saturday 21:00-01:00, across midnight
- `holidays` (40 s, priority 60, weight 2): all day from Wednesday 9 to Sunday 20 December
- alert `pool-closed` (warning): Thursday 13:45-14:15, runs to expiry
- alert `evacuate` (emergency): Saturday 09:00, to expire 11:00, cleared at 09:20
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from devices.protocol import (
    Alert,
    AssetRef,
    ContentItem,
    ItemKind,
    Manifest,
    Schedule,
    Severity,
    SiteInfo,
    TextSlide,
    TimeWindow,
    Weekday,
)
from testkit.messages import screen_profile

PERTH = ZoneInfo("Australia/Perth")
WEEK_START = datetime(2026, 12, 7, tzinfo=PERTH)  # a Monday
WEEK_END = WEEK_START + timedelta(days=7)


def local(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """Day 0 is Monday 7 December."""
    return WEEK_START + timedelta(days=day, hours=hour, minutes=minute, seconds=second)


def fake_asset(name: str) -> AssetRef:
    return AssetRef(
        sha256=hashlib.sha256(name.encode()).hexdigest(),
        url=f"http://127.0.0.1:1/{name}.jpg",
        size_bytes=1000,
        content_type="image/jpeg",
    )


def window(start: str, end: str) -> TimeWindow:
    return TimeWindow(start=time.fromisoformat(start), end=time.fromisoformat(end))


def image_item(
    item_id: str, asset: AssetRef, duration_s: float, *schedules: Schedule, **fields: object
) -> ContentItem:
    return ContentItem.model_validate(
        {
            "id": item_id,
            "campaign_id": fields.pop("campaign_id", item_id),
            "kind": ItemKind.IMAGE,
            "asset": asset.sha256,
            "duration_s": duration_s,
            "schedules": schedules,
            **fields,
        }
    )


def week_manifest(**changes: object) -> Manifest:
    hours, breakfast, late_swim, holidays = (
        fake_asset(name) for name in ("hours", "breakfast", "late-swim", "holidays")
    )
    fields: dict[str, object] = {
        "device_id": "sig-riverton-lib-foyer-01",
        "version": 7,
        "generated_at": WEEK_START - timedelta(hours=2),
        "valid_until": WEEK_END + timedelta(days=7),
        "site": SiteInfo(id="riverton-lib", name="Riverton Library", timezone="Australia/Perth"),
        "profile": screen_profile(),
        "assets": (hours, breakfast, late_swim, holidays),
        "items": (
            image_item(
                "breakfast",
                breakfast,
                15,
                Schedule(windows=(window("06:00", "10:00"),)),
                campaign_id="cafe",
                priority=60,
            ),
            ContentItem(
                id="storytime",
                campaign_id="storytime",
                kind=ItemKind.TEXT,
                text=TextSlide(
                    title="Storytime", when="Tuesdays and Thursdays 9:30", venue="Children's area"
                ),
                duration_s=20,
                priority=70,
                schedules=(
                    Schedule(days=(Weekday.TUE, Weekday.THU), windows=(window("09:30", "10:30"),)),
                ),
            ),
            image_item(
                "late-swim",
                late_swim,
                15,
                Schedule(days=(Weekday.FRI, Weekday.SAT), windows=(window("21:00", "01:00"),)),
                priority=60,
            ),
            image_item(
                "holidays",
                holidays,
                40,
                Schedule(starts_on=date(2026, 12, 9), ends_on=date(2026, 12, 20)),
                campaign_id="school-holidays",
                priority=60,
                weight=2,
            ),
        ),
        "default_items": (
            ContentItem(
                id="welcome",
                kind=ItemKind.TEXT,
                text=TextSlide(title="Welcome to Riverton Library"),
                duration_s=20,
            ),
            image_item("hours", hours, 35, campaign_id=None),
        ),
    }
    fields.update(changes)
    return Manifest.model_validate(fields)


POOL_CLOSED = Alert(
    id="pool-closed",
    scope="riverton-lib",
    severity=Severity.WARNING,
    title="Pool closed this afternoon",
    body="Riverton Leisureplex pool reopens tomorrow at 6:00.",
    issued_at=local(3, 13, 45),
    expires_at=local(3, 14, 15),
)
EVACUATE = Alert(
    id="evacuate",
    scope="all",
    severity=Severity.EMERGENCY,
    title="Leave the building now",
    body="Use the nearest exit and follow staff directions.",
    issued_at=local(5, 9),
    expires_at=local(5, 11),
)
EVACUATE_CLEARED = EVACUATE.model_copy(update={"cleared": True})

# (delivered at, the alerts the device then holds: one per scope, as retained)
ALERT_DELIVERIES: tuple[tuple[datetime, tuple[Alert, ...]], ...] = (
    (local(3, 13, 44, 58), (POOL_CLOSED,)),  # published just ahead of its start
    (local(5, 9), (POOL_CLOSED, EVACUATE)),
    (local(5, 9, 20), (POOL_CLOSED, EVACUATE_CLEARED)),
)
