"""The schedule evaluator against an independent, brute-force reading of the rules
(Hypothesis), across zones with and without daylight saving."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.protocol import Schedule, TimeWindow, Weekday
from devices.schedule import item_open, next_change, schedule_open
from tests.devices.schedules import LONDON, LORD_HOWE, NEW_YORK, PERTH, SYDNEY, item

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
