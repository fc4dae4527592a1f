"""The schedule evaluator at chosen instants, and properties against a brute-force oracle.

Fixed dates: Friday 2026-12-04 in Perth (UTC+8, no daylight saving); Sydney springs
forward 02:00 -> 03:00 on Sunday 2026-10-04 and falls back 03:00 -> 02:00 on Sunday
2026-04-05; New York falls back 02:00 -> 01:00 on Sunday 2026-11-01.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.protocol import (
    Alert,
    BrightnessStep,
    ContentItem,
    DeviceKind,
    ItemKind,
    Schedule,
    ScreenProfile,
    Severity,
    TextSlide,
    TimeWindow,
    Weekday,
)
from devices.schedule import (
    active_alert,
    brightness_at,
    eligible_items,
    item_open,
    next_brightness_change,
    next_change,
    next_manifest_change,
    next_window_change,
    open_items,
    schedule_open,
    window_open,
)
from testkit.messages import manifest

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


# --- windows -------------------------------------------------------------------------------

OFFICE_HOURS = daily("09:00", "17:00")


def test_window_is_open_from_its_start_until_just_before_its_end() -> None:
    assert schedule_open(OFFICE_HOURS, at(PERTH, FRIDAY, 9), PERTH)
    assert schedule_open(OFFICE_HOURS, at(PERTH, FRIDAY, 16, 59, 59), PERTH)
    assert not schedule_open(OFFICE_HOURS, at(PERTH, FRIDAY, 17), PERTH)
    assert not schedule_open(OFFICE_HOURS, at(PERTH, FRIDAY, 8, 59, 59), PERTH)


def test_instant_in_any_offset_is_judged_by_the_sites_wall_clock() -> None:
    instant = utc(2026, 12, 3, 23, 0)  # 07:00 in Perth, 10:00 in Sydney (AEDT)
    assert not schedule_open(OFFICE_HOURS, instant, PERTH)
    assert schedule_open(OFFICE_HOURS, instant, SYDNEY)
    assert schedule_open(OFFICE_HOURS, instant.astimezone(NEW_YORK), SYDNEY)


def test_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        schedule_open(OFFICE_HOURS, datetime(2026, 12, 4, 9), PERTH)
    with pytest.raises(ValueError, match="aware"):
        next_change([OFFICE_HOURS], datetime(2026, 12, 4, 9), PERTH)


FRIDAY_LATE = daily("22:00", "02:00", Weekday.FRI)


def test_friday_late_window_is_open_early_saturday() -> None:
    assert schedule_open(FRIDAY_LATE, at(PERTH, FRIDAY, 22), PERTH)
    assert schedule_open(FRIDAY_LATE, at(PERTH, SATURDAY, 1), PERTH)
    assert schedule_open(FRIDAY_LATE, at(PERTH, SATURDAY, 1, 59, 59), PERTH)


def test_friday_late_window_is_closed_at_two_exactly_on_saturday() -> None:
    assert not schedule_open(FRIDAY_LATE, at(PERTH, SATURDAY, 2), PERTH)


def test_friday_late_window_does_not_open_on_saturday_night() -> None:
    assert not schedule_open(FRIDAY_LATE, at(PERTH, SATURDAY, 22, 30), PERTH)
    assert not schedule_open(FRIDAY_LATE, at(PERTH, FRIDAY, 1), PERTH)  # Thursday's night


def test_late_window_on_the_last_day_of_a_range_runs_into_the_day_after() -> None:
    ending_friday = daily("22:00", "02:00", ends_on=FRIDAY)
    assert schedule_open(ending_friday, at(PERTH, SATURDAY, 1), PERTH)
    assert not schedule_open(ending_friday, at(PERTH, SATURDAY, 22), PERTH)


def test_range_starting_saturday_excludes_fridays_late_window_on_saturday_morning() -> None:
    starting_saturday = daily("22:00", "02:00", starts_on=SATURDAY)
    assert not schedule_open(starting_saturday, at(PERTH, SATURDAY, 1), PERTH)
    assert schedule_open(starting_saturday, at(PERTH, SATURDAY, 22), PERTH)


def test_date_range_runs_from_midnight_of_the_first_day_to_the_end_of_the_last() -> None:
    school_holidays = Schedule(starts_on=date(2026, 12, 1), ends_on=date(2026, 12, 4))
    assert not schedule_open(school_holidays, at(PERTH, date(2026, 11, 30), 23, 59, 59), PERTH)
    assert schedule_open(school_holidays, at(PERTH, date(2026, 12, 1), 0), PERTH)
    assert schedule_open(school_holidays, at(PERTH, date(2026, 12, 4), 23, 59, 59), PERTH)
    assert not schedule_open(school_holidays, at(PERTH, date(2026, 12, 5), 0), PERTH)


def test_window_with_equal_start_and_end_lasts_24_hours_from_its_start() -> None:
    friday_from_six = daily("06:00", "06:00", Weekday.FRI)
    assert not schedule_open(friday_from_six, at(PERTH, FRIDAY, 5, 59), PERTH)
    assert schedule_open(friday_from_six, at(PERTH, FRIDAY, 6), PERTH)
    assert schedule_open(friday_from_six, at(PERTH, SATURDAY, 5, 59), PERTH)
    assert not schedule_open(friday_from_six, at(PERTH, SATURDAY, 6), PERTH)


def test_item_without_schedules_is_always_open_and_with_several_any_one_suffices() -> None:
    assert item_open(item("always"), at(PERTH, FRIDAY, 3), PERTH)
    two_sessions = item("two", daily("07:00", "08:00"), daily("18:00", "19:00"))
    assert item_open(two_sessions, at(PERTH, FRIDAY, 18, 30), PERTH)
    assert not item_open(two_sessions, at(PERTH, FRIDAY, 12), PERTH)


def test_bare_daily_window_such_as_night_blank_crosses_midnight() -> None:
    night_blank = window("23:00", "05:00")
    assert window_open(night_blank, at(PERTH, SATURDAY, 4, 59), PERTH)
    assert not window_open(night_blank, at(PERTH, SATURDAY, 5), PERTH)
    assert next_window_change(night_blank, at(PERTH, SATURDAY, 5), PERTH) == at(PERTH, SATURDAY, 23)


def test_window_open_around_the_clock_is_looked_at_again_a_day_later() -> None:
    always = window("00:00", "00:00")
    assert window_open(always, at(PERTH, FRIDAY, 12), PERTH)
    assert next_window_change(always, at(PERTH, FRIDAY, 12), PERTH) == at(PERTH, SATURDAY, 12)


# --- next change ---------------------------------------------------------------------------


def test_next_change_is_the_next_open_then_the_next_close() -> None:
    assert next_change([OFFICE_HOURS], at(PERTH, FRIDAY, 7), PERTH) == at(PERTH, FRIDAY, 9)
    assert next_change([OFFICE_HOURS], at(PERTH, FRIDAY, 9), PERTH) == at(PERTH, FRIDAY, 17)


def test_next_change_is_the_earliest_of_several_schedules() -> None:
    schedules = [OFFICE_HOURS, daily("12:30", "13:00"), FRIDAY_LATE]
    assert next_change(schedules, at(PERTH, FRIDAY, 10), PERTH) == at(PERTH, FRIDAY, 12, 30)
    assert next_change(schedules, at(PERTH, FRIDAY, 17), PERTH) == at(PERTH, FRIDAY, 22)
    assert next_change(schedules, at(PERTH, FRIDAY, 22), PERTH) == at(PERTH, SATURDAY, 2)


def test_back_to_back_windows_do_not_change_where_they_meet() -> None:
    morning_then_afternoon = Schedule(windows=(window("09:00", "12:00"), window("12:00", "15:00")))
    assert next_change([morning_then_afternoon], at(PERTH, FRIDAY, 10), PERTH) == at(
        PERTH, FRIDAY, 15
    )


def test_next_change_skips_days_not_in_the_schedule() -> None:
    fridays = daily("09:00", "17:00", Weekday.FRI)
    assert next_change([fridays], at(PERTH, FRIDAY, 17), PERTH) == at(
        PERTH, FRIDAY + timedelta(days=7), 9
    )


def test_change_exactly_a_day_or_a_horizon_later_is_found() -> None:
    saturdays = daily("09:00", "17:00", Weekday.SAT)
    assert next_change([saturdays], at(PERTH, FRIDAY, 9), PERTH) == at(PERTH, SATURDAY, 9)
    assert next_change([saturdays], at(PERTH, FRIDAY, 9), PERTH, horizon=timedelta(days=1)) == at(
        PERTH, SATURDAY, 9
    )
    assert (
        next_change([saturdays], at(PERTH, FRIDAY, 8, 59, 59), PERTH, horizon=timedelta(days=1))
        is None
    )


def test_next_change_is_none_beyond_the_horizon_or_when_nothing_ever_changes() -> None:
    next_month = Schedule(starts_on=date(2027, 1, 10))
    assert next_change([next_month], at(PERTH, FRIDAY, 12), PERTH) is None
    assert next_change(
        [next_month], at(PERTH, FRIDAY, 12), PERTH, horizon=timedelta(days=40)
    ) == at(PERTH, date(2027, 1, 10), 0)
    assert next_change([Schedule()], at(PERTH, FRIDAY, 12), PERTH) is None
    assert next_change([], at(PERTH, FRIDAY, 12), PERTH) is None


def test_perth_keeps_the_same_utc_opening_all_year() -> None:
    for day in (date(2026, 4, 5), date(2026, 10, 4), date(2026, 12, 25)):
        opened = next_change([OFFICE_HOURS], at(PERTH, day, 0), PERTH)
        assert opened == datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)


# --- daylight saving -----------------------------------------------------------------------

SPRING_FORWARD = date(2026, 10, 4)  # Sydney: 02:00 AEST (+10) becomes 03:00 AEDT (+11)
FALL_BACK = date(2026, 4, 5)  # Sydney: 03:00 AEDT (+11) becomes 02:00 AEST (+10)


def test_window_skipped_by_spring_forward_does_not_open_that_day() -> None:
    skipped = daily("02:00", "03:00")
    assert not schedule_open(skipped, utc(2026, 10, 3, 15, 59, 59), SYDNEY)  # 01:59:59 AEST
    assert not schedule_open(skipped, utc(2026, 10, 3, 16, 0), SYDNEY)  # 03:00 AEDT
    after_midnight = at(SYDNEY, SPRING_FORWARD, 0)
    assert next_change([skipped], after_midnight, SYDNEY) == at(SYDNEY, date(2026, 10, 5), 2)


def test_local_time_that_does_not_exist_is_judged_as_the_instant_it_stands_for() -> None:
    skipped = daily("02:00", "03:00")
    imaginary = at(SYDNEY, SPRING_FORWARD, 2, 30)  # no such wall time; PEP 495 reads +10
    assert imaginary.astimezone(UTC) == utc(2026, 10, 3, 16, 30)  # 03:30 AEDT
    assert not schedule_open(skipped, imaginary, SYDNEY)


def test_window_whose_start_is_skipped_opens_at_the_transition() -> None:
    half_past_two = daily("02:30", "04:00")
    opened = next_change([half_past_two], at(SYDNEY, SPRING_FORWARD, 0), SYDNEY)
    assert opened == utc(2026, 10, 3, 16, 0)  # 03:00 AEDT, the first wall time inside
    assert opened.astimezone(SYDNEY).hour == 3
    assert schedule_open(half_past_two, opened, SYDNEY)
    assert not schedule_open(half_past_two, opened - timedelta(microseconds=1), SYDNEY)
    assert next_change([half_past_two], opened, SYDNEY) == utc(2026, 10, 3, 17, 0)  # 04:00


def test_late_window_whose_end_is_skipped_closes_at_the_transition() -> None:
    saturday_late = daily("22:00", "02:30", Weekday.SAT)
    closed = next_change([saturday_late], at(SYDNEY, date(2026, 10, 3), 23), SYDNEY)
    assert closed == utc(2026, 10, 3, 16, 0)


def test_all_day_schedule_on_spring_forward_day_lasts_23_hours() -> None:
    that_sunday = Schedule(starts_on=SPRING_FORWARD, ends_on=SPRING_FORWARD)
    opened = next_change([that_sunday], at(SYDNEY, date(2026, 10, 3), 12), SYDNEY)
    assert opened is not None
    closed = next_change([that_sunday], opened, SYDNEY)
    assert closed is not None
    assert closed - opened == timedelta(hours=23)


def test_repeated_wall_time_is_inside_the_window_both_times() -> None:
    two_to_half_past = daily("02:00", "02:30")
    first = at(SYDNEY, FALL_BACK, 2, 15, fold=0)  # 15:15 UTC, AEDT
    second = at(SYDNEY, FALL_BACK, 2, 15, fold=1)  # 16:15 UTC, AEST
    assert schedule_open(two_to_half_past, first, SYDNEY)
    assert schedule_open(two_to_half_past, second, SYDNEY)
    changes = []
    instant = at(SYDNEY, FALL_BACK, 0)
    for _ in range(4):
        found = next_change([two_to_half_past], instant, SYDNEY)
        assert found is not None
        changes.append(found)
        instant = found
    assert changes == [
        utc(2026, 4, 4, 15, 0),  # opens 02:00 AEDT
        utc(2026, 4, 4, 15, 30),  # closes 02:30 AEDT
        utc(2026, 4, 4, 16, 0),  # opens again: clocks go back to 02:00 AEST
        utc(2026, 4, 4, 16, 30),  # closes 02:30 AEST
    ]


def test_window_spanning_the_repeated_hour_closes_when_clocks_go_back() -> None:
    half_past_two = daily("02:30", "04:00")
    instant = at(SYDNEY, FALL_BACK, 0)
    changes = []
    for _ in range(4):
        found = next_change([half_past_two], instant, SYDNEY)
        assert found is not None
        changes.append(found)
        instant = found
    assert changes == [
        utc(2026, 4, 4, 15, 30),  # 02:30 AEDT
        utc(2026, 4, 4, 16, 0),  # back to 02:00 AEST, before the window
        utc(2026, 4, 4, 16, 30),  # 02:30 AEST
        utc(2026, 4, 4, 18, 0),  # 04:00 AEST
    ]


def test_new_york_one_to_two_is_open_for_two_real_hours_on_fall_back_day() -> None:
    one_to_two = daily("01:00", "02:00")
    day = date(2026, 11, 1)
    opened = next_change([one_to_two], at(NEW_YORK, day, 0), NEW_YORK)
    assert opened == utc(2026, 11, 1, 5, 0)  # 01:00 EDT
    closed = next_change([one_to_two], opened, NEW_YORK)
    assert closed == utc(2026, 11, 1, 7, 0)  # 02:00 EST
    assert schedule_open(one_to_two, utc(2026, 11, 1, 6, 30), NEW_YORK)  # 01:30 EST


def test_london_spring_forward_skips_one_to_two() -> None:
    one_to_half_past = daily("01:00", "01:30")
    day = date(2026, 3, 29)
    found = next_change([one_to_half_past], at(LONDON, day, 0), LONDON)
    assert found == at(LONDON, day + timedelta(days=1), 1)


# --- brightness ----------------------------------------------------------------------------

DAY_NIGHT = (
    BrightnessStep(at=time(20), percent=30),
    BrightnessStep(at=time(6), percent=80),
)


def test_brightness_before_the_first_step_is_the_previous_evenings() -> None:
    assert brightness_at(DAY_NIGHT, at(PERTH, SATURDAY, 2), PERTH) == 30
    assert brightness_at(DAY_NIGHT, at(PERTH, SATURDAY, 6), PERTH) == 80
    assert brightness_at(DAY_NIGHT, at(PERTH, SATURDAY, 19, 59), PERTH) == 80
    assert brightness_at(DAY_NIGHT, at(PERTH, SATURDAY, 20), PERTH) == 30


def test_brightness_without_steps_is_the_default() -> None:
    assert brightness_at((), at(PERTH, SATURDAY, 2), PERTH) == 100
    assert brightness_at((), at(PERTH, SATURDAY, 2), PERTH, default=70) == 70


def test_next_brightness_change_wraps_to_the_next_morning() -> None:
    assert next_brightness_change(DAY_NIGHT, at(PERTH, FRIDAY, 21), PERTH) == at(PERTH, SATURDAY, 6)
    same_everywhere = (BrightnessStep(at=time(6), percent=50),)
    assert next_brightness_change(same_everywhere, at(PERTH, FRIDAY, 21), PERTH) is None


# --- priorities and alerts -----------------------------------------------------------------

SWIM = item("swim", OFFICE_HOURS, priority=50)
STORYTIME = item("storytime", daily("10:00", "11:00"), priority=80)
HOLIDAYS = item("holidays", OFFICE_HOURS, priority=50, weight=3)
WELCOME = item("welcome")
AFTER_HOURS = item("after-hours", daily("17:00", "09:00"))


def test_higher_priority_hides_lower_while_it_is_open() -> None:
    items = [SWIM, STORYTIME, HOLIDAYS]
    assert eligible_items(items, [WELCOME], at(PERTH, FRIDAY, 10, 30), PERTH) == [STORYTIME]
    assert eligible_items(items, [WELCOME], at(PERTH, FRIDAY, 11), PERTH) == [SWIM, HOLIDAYS]
    assert open_items(items, at(PERTH, FRIDAY, 10, 30), PERTH) == items


def test_default_content_plays_only_when_nothing_is_open() -> None:
    items = [SWIM, STORYTIME]
    assert eligible_items(items, [WELCOME], at(PERTH, FRIDAY, 12), PERTH) == [SWIM]
    assert eligible_items(items, [WELCOME], at(PERTH, FRIDAY, 18), PERTH) == [WELCOME]


def test_scheduled_default_content_plays_only_inside_its_window() -> None:
    defaults = [WELCOME, AFTER_HOURS]
    assert eligible_items([], defaults, at(PERTH, FRIDAY, 18), PERTH) == defaults
    assert eligible_items([], defaults, at(PERTH, FRIDAY, 12), PERTH) == [WELCOME]
    assert eligible_items([SWIM], [AFTER_HOURS], at(PERTH, FRIDAY, 12), PERTH) == [SWIM]
    assert eligible_items([SWIM], [AFTER_HOURS], at(PERTH, FRIDAY, 8, 59), PERTH) == [AFTER_HOURS]


NOON = at(PERTH, FRIDAY, 12)


def test_emergency_alert_beats_a_newer_warning_and_expires_on_time() -> None:
    fire = alert("fire", NOON - timedelta(hours=1), NOON + timedelta(hours=1), severity="emergency")
    heat = alert("heat", NOON - timedelta(minutes=5), NOON + timedelta(hours=5))
    assert active_alert([heat, fire], NOON, DeviceKind.SIGNAGE) == fire
    assert active_alert([heat, fire], NOON + timedelta(hours=1), DeviceKind.SIGNAGE) == heat
    assert active_alert([heat, fire], NOON + timedelta(hours=5), DeviceKind.SIGNAGE) is None


def test_newest_alert_wins_among_equally_severe() -> None:
    older = alert("closed-pool", NOON - timedelta(hours=2), NOON + timedelta(hours=2))
    newer = alert("closed-gym", NOON - timedelta(hours=1), NOON + timedelta(hours=2))
    assert active_alert([newer, older], NOON, DeviceKind.PORTAL) == newer
    assert newer.severity is Severity.WARNING


def test_cleared_future_and_other_kind_alerts_do_not_override() -> None:
    cleared = alert("a", NOON - timedelta(hours=1), NOON + timedelta(hours=1), cleared=True)
    future = alert("b", NOON + timedelta(minutes=1), NOON + timedelta(hours=1))
    portal_only = alert("c", NOON - timedelta(hours=1), NOON + timedelta(hours=1), kinds=["portal"])
    alerts = [cleared, future, portal_only]
    assert active_alert(alerts, NOON, DeviceKind.SIGNAGE) is None
    assert active_alert(alerts, NOON, DeviceKind.PORTAL) == portal_only


# --- the next moment a device must look again ----------------------------------------------


def perth_manifest(**changes: object):
    site = manifest().site.model_copy(update={"timezone": "Australia/Perth"})
    fields: dict[str, object] = {
        "site": site,
        "items": (item("swim", daily("09:00", "17:00")),),
        "default_items": (item("welcome", daily("06:00", "22:00")),),
        "valid_until": at(PERTH, FRIDAY + timedelta(days=7), 0),
    }
    fields.update(changes)
    return manifest("sig-test-01", 1, **fields)


def roadside(**changes: object) -> ScreenProfile:
    fields: dict[str, object] = {
        "name": "Roadside",
        "kind": "roadside",
        "width_px": 192,
        "height_px": 96,
    }
    fields.update(changes)
    return ScreenProfile.model_validate(fields)


@pytest.mark.parametrize(
    ("source", "changes", "alerts", "after", "expected"),
    [
        ("item schedule", {}, [], at(PERTH, FRIDAY, 8), at(PERTH, FRIDAY, 9)),
        ("default schedule", {}, [], at(PERTH, FRIDAY, 18), at(PERTH, FRIDAY, 22)),
        (
            "alert issued",
            {},
            [alert("heat", at(PERTH, FRIDAY, 8, 30), at(PERTH, FRIDAY, 20))],
            at(PERTH, FRIDAY, 8),
            at(PERTH, FRIDAY, 8, 30),
        ),
        (
            "alert expiry",
            {},
            [alert("heat", at(PERTH, FRIDAY, 7), at(PERTH, FRIDAY, 8, 45))],
            at(PERTH, FRIDAY, 8),
            at(PERTH, FRIDAY, 8, 45),
        ),
        (
            "night blank",
            {"profile": roadside(night_blank=window("23:00", "05:00"))},
            [],
            at(PERTH, FRIDAY, 22, 30),
            at(PERTH, FRIDAY, 23),
        ),
        (
            "brightness step",
            {"profile": roadside(brightness=DAY_NIGHT)},
            [],
            at(PERTH, FRIDAY, 19),
            at(PERTH, FRIDAY, 20),
        ),
        (
            "valid until",
            {"valid_until": at(PERTH, FRIDAY, 8, 10)},
            [],
            at(PERTH, FRIDAY, 8),
            at(PERTH, FRIDAY, 8, 10),
        ),
    ],
)
def test_next_manifest_change_is_the_earliest_source(
    source: str,
    changes: dict[str, object],
    alerts: list[Alert],
    after: datetime,
    expected: datetime,
) -> None:
    found = next_manifest_change(perth_manifest(**changes), alerts, after)
    assert found == expected, source


def test_cleared_alert_does_not_wake_the_device() -> None:
    cleared = alert("heat", at(PERTH, FRIDAY, 8, 30), at(PERTH, FRIDAY, 20), cleared=True)
    found = next_manifest_change(perth_manifest(), [cleared], at(PERTH, FRIDAY, 8))
    assert found == at(PERTH, FRIDAY, 9)


# --- properties against an independent, brute-force reading of the rules ------------------

# Each zone with the days it changes offset in 2026 (Perth: Sydney's, where it does not),
# and an ordinary Friday.
ZONE_DAYS = {
    PERTH: [date(2026, 4, 5), date(2026, 10, 4)],
    SYDNEY: [date(2026, 4, 5), date(2026, 10, 4)],
    LORD_HOWE: [date(2026, 4, 5), date(2026, 10, 4)],  # 02:00 -> 01:30, 02:00 -> 02:30
    NEW_YORK: [date(2026, 3, 8), date(2026, 11, 1)],
    LONDON: [date(2026, 3, 29), date(2026, 10, 25)],
}
_WEEKDAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def naive_open(schedule: Schedule, instant: datetime, tz: ZoneInfo) -> bool:
    return naive_open_at_wall(schedule, instant.astimezone(tz).replace(tzinfo=None))


def naive_open_at_wall(schedule: Schedule, wall: datetime) -> bool:
    """The rules read literally: list each occurrence as a wall-clock interval."""
    for start_day in (wall.date() - timedelta(days=1), wall.date()):
        if schedule.starts_on is not None and start_day < schedule.starts_on:
            continue
        if schedule.ends_on is not None and start_day > schedule.ends_on:
            continue
        if schedule.days and _WEEKDAY_NAMES[start_day.weekday()] not in schedule.days:
            continue
        if not schedule.windows:
            if start_day == wall.date():
                return True
            continue
        for each in schedule.windows:
            opens = datetime.combine(start_day, each.start)
            length = datetime.combine(start_day, each.end) - opens
            if length <= timedelta(0):
                length += timedelta(days=1)
            if opens <= wall < opens + length:
                return True
    return False


# Whole minutes, often on the quarter hours and around the small hours where clocks change.
times_of_day = st.one_of(
    st.sampled_from([time(h, m) for h in (0, 1, 2, 3) for m in (0, 15, 30, 45)]),
    st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]) | st.integers(0, 59)),
)


# Strategies built once: rebuilding them inside every draw costs more than the test.
zones = st.sampled_from(list(ZONE_DAYS))
day_offsets = st.lists(st.integers(-3, 3), max_size=2)
window_lists = st.lists(st.builds(TimeWindow, start=times_of_day, end=times_of_day), max_size=3)
weekday_lists = st.lists(st.sampled_from(list(Weekday)), unique=True, max_size=7)
minutes_from_midnight = st.integers(-6 * 60, 6 * 60) | st.integers(-36 * 60, 36 * 60)
odd_microseconds = st.sampled_from([0, 0, 1, 30_000_000, 59_999_999])


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Schedule], datetime, ZoneInfo]:
    tz = draw(zones)
    base = draw(st.sampled_from([*ZONE_DAYS[tz], date(2026, 12, 4)]))
    schedules = []
    for _ in range(draw(st.integers(1, 3))):
        dates = sorted(base + timedelta(days=offset) for offset in draw(day_offsets))
        keep_first, keep_last = draw(st.booleans()), draw(st.booleans())
        schedules.append(
            Schedule(
                starts_on=dates[0] if dates and keep_first else None,
                ends_on=dates[-1] if dates and keep_last else None,
                days=tuple(draw(weekday_lists)),
                windows=tuple(draw(window_lists)),
            )
        )
    local = datetime.combine(base, time(0)) + timedelta(minutes=draw(minutes_from_midnight))
    instant = local.replace(tzinfo=tz, fold=draw(st.integers(0, 1))).astimezone(UTC)
    return schedules, instant + timedelta(microseconds=draw(odd_microseconds)), tz


HORIZON = timedelta(hours=36)


def oracle_next_change(schedules: list[Schedule], after: datetime, tz: ZoneInfo) -> datetime | None:
    """Step whole UTC minutes: every boundary and offset change here falls on one."""
    state = [naive_open(s, after, tz) for s in schedules]
    minute = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while minute <= after + HORIZON:
        wall = minute.astimezone(tz).replace(tzinfo=None)
        if [naive_open_at_wall(s, wall) for s in schedules] != state:
            return minute
        minute += timedelta(minutes=1)
    return None


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_next_change_matches_a_minute_by_minute_oracle(
    scenario: tuple[list[Schedule], datetime, ZoneInfo],
) -> None:
    schedules, after, tz = scenario
    assert next_change(schedules, after, tz, horizon=HORIZON) == oracle_next_change(
        schedules, after, tz
    )


@settings(max_examples=150, deadline=None)
@given(scenarios(), st.lists(st.floats(0, 1), min_size=1, max_size=8))
def test_open_state_is_constant_until_next_change_and_differs_after_it(
    scenario: tuple[list[Schedule], datetime, ZoneInfo], fractions: list[float]
) -> None:
    schedules, after, tz = scenario

    def state(instant: datetime) -> list[bool]:
        return [schedule_open(s, instant, tz) for s in schedules]

    found = next_change(schedules, after, tz, horizon=HORIZON)
    end = found if found is not None else after + HORIZON
    samples = [after + (end - after) * f for f in fractions] + [end - timedelta(microseconds=1)]
    for sample in samples:
        if after <= sample < end:
            assert state(sample) == state(after), sample
    if found is not None:
        assert found > after
        assert state(found) != state(found - timedelta(microseconds=1))


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_nothing_is_reported_open_outside_its_window(
    scenario: tuple[list[Schedule], datetime, ZoneInfo],
) -> None:
    schedules, instant, tz = scenario
    for schedule in schedules:
        assert schedule_open(schedule, instant, tz) == naive_open(schedule, instant, tz)
    assert item_open(item("x", *schedules), instant, tz) == any(
        naive_open(s, instant, tz) for s in schedules
    )
