"""How long the player waits on the schedule evaluator per item boundary.

A 50-item manifest, every item with its own schedule, evaluated in a daylight-saving
zone at instants spread over a week that includes a changeover, and the pick among
what is eligible with five items holding share of voice. Prints `name=value` lines:
microseconds per call (median, best of five rounds).

    .venv/bin/python bench/schedule.py
"""

from __future__ import annotations

import random
import statistics
import time as clock
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from devices.protocol import (
    ContentItem,
    ItemKind,
    Manifest,
    ProfileKind,
    Schedule,
    ScreenProfile,
    SiteInfo,
    TextSlide,
    TimeWindow,
    Weekday,
)
from devices.schedule import eligible_items, next_change, next_manifest_change
from devices.share_of_voice import next_on_air

TZ = ZoneInfo("Australia/Sydney")
START = datetime(2026, 4, 1, tzinfo=UTC)  # the week Sydney falls back (5 April)


def random_schedule(rng: random.Random) -> Schedule:
    """Shapes staff use: day-parts on some weekdays, morning and evening sessions,
    Friday and Saturday late nights, whole days, all inside a campaign's date range."""
    first = date(2026, 3, 20) + timedelta(days=rng.randrange(20))
    days = tuple(sorted(rng.sample(list(Weekday), rng.randint(1, 7)), key=list(Weekday).index))
    shape = rng.choice(("day-part", "day-part", "sessions", "late", "all-day"))
    hours: list[tuple[time, time]] = []
    if shape == "day-part":
        opens = rng.randrange(6, 19)
        hours = [(time(opens, rng.choice((0, 30))), time(min(opens + rng.randint(1, 6), 23)))]
    elif shape == "sessions":
        hours = [(time(7), time(9, 30)), (time(16, 30), time(19))]
    elif shape == "late":
        hours, days = [(time(22), time(2))], (Weekday.FRI, Weekday.SAT)
    windows = tuple(TimeWindow(start=start, end=end) for start, end in hours)
    return Schedule(
        starts_on=first,
        ends_on=first + timedelta(days=rng.randrange(1, 60)),
        days=days,
        windows=windows,
    )


def fifty_items(rng: random.Random) -> list[ContentItem]:
    return [
        ContentItem(
            id=f"item-{n}",
            campaign_id=f"campaign-{n}",
            kind=ItemKind.TEXT,
            text=TextSlide(title=f"Item {n}"),
            duration_s=10,
            priority=rng.choice((30, 50, 80)),
            weight=rng.randint(1, 5),
            # Each item its own schedule, none shared, so none is evaluated only once.
            schedules=(random_schedule(rng),),
        )
        for n in range(50)
    ]


def median_us(call: Callable[[datetime], object], instants: list[datetime]) -> float:
    """The best of five rounds of the median per call: the machine may be shared."""
    rounds = []
    for _ in range(5):
        timings = []
        for instant in instants:
            began = clock.perf_counter()
            call(instant)
            timings.append(clock.perf_counter() - began)
        rounds.append(statistics.median(timings))
    return min(rounds) * 1e6


def main() -> None:
    rng = random.Random(20261204)
    items = fifty_items(rng)
    schedules = [schedule for item in items for schedule in item.schedules]
    manifest = Manifest(
        device_id="bench-01",
        version=1,
        generated_at=START,
        valid_until=START + timedelta(days=7),
        site=SiteInfo(id="bench", name="Bench", timezone=TZ.key),
        profile=ScreenProfile(
            name="Indoor", kind=ProfileKind.INDOOR, width_px=1920, height_px=1080
        ),
        items=tuple(items),
    )
    instants = [START + timedelta(seconds=rng.randrange(7 * 86400)) for _ in range(500)]
    for instant in instants[:50]:  # warm up zoneinfo's caches
        next_change(schedules, instant, TZ)
    print(f"next_change_us={median_us(lambda t: next_change(schedules, t, TZ), instants):.0f}")
    print(
        "next_manifest_change_us="
        f"{median_us(lambda t: next_manifest_change(manifest, [], t), instants):.0f}"
    )
    print(
        f"eligible_items_us={median_us(lambda t: eligible_items(items, [], t, TZ), instants):.0f}"
    )
    rotation = [
        item.model_copy(update={"share_s_per_hour": 300}) if n % 10 == 0 else item
        for n, item in enumerate(items)
    ]
    print(f"next_on_air_us={median_us(lambda t: next_on_air(None, rotation, t, TZ), instants):.0f}")


if __name__ == "__main__":
    main()
