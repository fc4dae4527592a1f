"""Issue 13 point 20: every time in a site's zone with the zone named, dates the way
the city writes them, typed day/month/year whatever the browser's locale."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from central_cms.times import Style, date_field, home_zone, local_time, parse_date, zone_of

AT = datetime(2026, 12, 2, 6, 5, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        ("Australia/Perth", "2 December 2026, 14:05 AWST"),
        ("Pacific/Auckland", "2 December 2026, 19:05 NZDT"),  # daylight saving
        ("America/New_York", "2 December 2026, 01:05 EST"),
        ("Asia/Dubai", "2 December 2026, 10:05 UTC+04:00"),  # no letters to its name
        (None, "2 December 2026, 06:05 UTC"),
    ],
)
def test_a_time_is_on_its_zones_clock_with_the_zone_named(zone, shown):
    assert local_time(AT, zone_of(zone)) == shown


def test_styles_for_tables_tiles_and_schedules():
    perth = zone_of("Australia/Perth")
    assert local_time(AT, perth, Style.SECONDS) == "2 December 2026, 14:05:09 AWST"
    assert local_time(AT, perth, Style.TIME) == "14:05 AWST"
    assert local_time(AT, perth, Style.WEEKDAY) == "Wed 2 December 2026, 14:05 AWST"
    assert local_time(AT, perth, Style.DATE) == "2 December 2026"
    # 23:30 UTC is already the next day in Perth.
    late = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    assert local_time(late, perth, Style.DATE) == "2 December 2026"


@pytest.mark.parametrize(
    "typed", ["02/12/2026", "2/12/2026", " 2.12.2026 ", "2-12-2026", "2026-12-02"]
)
def test_dates_are_typed_day_first(typed):
    assert parse_date(typed) == date(2026, 12, 2)


@pytest.mark.parametrize("typed", ["12/31/2026", "31/02/2026", "tomorrow", "2026/12/02"])
def test_a_date_that_is_not_day_month_year_says_how_to_write_it(typed):
    with pytest.raises(ValueError, match=r"day/month/year, e\.g\. 02/12/2026"):
        parse_date(typed)


def test_a_date_goes_into_its_field_day_first():
    assert date_field(date(2026, 12, 2)) == "02/12/2026"
    assert parse_date(date_field(date(2027, 1, 9))) == date(2027, 1, 9)


def test_times_of_no_one_site_use_the_zone_all_sites_share_else_utc():
    assert home_zone(["Australia/Perth", "Australia/Perth"]) == "Australia/Perth"
    assert home_zone(["Australia/Perth", "Pacific/Auckland"]) is None
    assert home_zone([]) is None
