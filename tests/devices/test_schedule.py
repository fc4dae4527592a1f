"""The schedule evaluator at chosen instants: windows, the next change, daylight saving.

Fixed dates: Friday 2026-12-04 in Perth (UTC+8, no daylight saving); Sydney springs
forward 02:00 -> 03:00 on Sunday 2026-10-04 and falls back 03:00 -> 02:00 on Sunday
2026-04-05; New York falls back 02:00 -> 01:00 on Sunday 2026-11-01.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from devices.protocol import Schedule, Weekday
from devices.schedule import item_open, next_change, next_window_change, schedule_open, window_open
from tests.devices.schedules import (
    FRIDAY,
    LONDON,
    NEW_YORK,
    OFFICE_HOURS,
    PERTH,
    SATURDAY,
    SYDNEY,
    at,
    daily,
    item,
    utc,
    window,
)

# --- windows -------------------------------------------------------------------------------


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
