"""The week calendar: what plays when on a screen and at a site, in the site's time,
across midnight and the October clock change, with alerts from an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from central_cms import alerts, week_plan
from central_cms import models as m
from central_cms.screen_plans import planned_screens
from devices.protocol import Severity
from testkit.staff import ADMIN, login, make_user
from tests.central_cms.plan_city import FOYER, SITE, SPLASH, WEEK_OF_CLOCK_CHANGE, london_pool

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def pool(session, rt, world) -> dict[str, str]:
    return london_pool(session, rt)


def foyer_week(session, rt) -> list[week_plan.Day]:
    start, end = week_plan.week_bounds(WEEK_OF_CLOCK_CHANGE, LONDON)
    (screen,) = planned_screens(session, rt, [FOYER], start, end)
    found = week_plan.stretches(screen.manifest, screen.alerts, screen.device.kind, start, end)
    return week_plan.week_days({screen.name: found}, WEEK_OF_CLOCK_CHANGE, LONDON)


def described(day: week_plan.Day) -> list[tuple[str, str, str]]:
    return [
        (e.start.strftime("%H:%M"), e.end.strftime("%H:%M"), e.showing.describe())
        for e in day.entries
    ]


def test_a_late_swim_runs_across_midnight_into_the_night_the_clocks_go_back(session, rt, pool):
    days = foyer_week(session, rt)
    assert [d.day.isoformat() for d in days][5:] == ["2026-10-24", "2026-10-25"]
    saturday, sunday = days[5], days[6]
    assert described(saturday) == [
        ("00:00", "22:00", "Default content: Welcome"),
        ("22:00", "00:00", "Late swim"),
    ]
    assert saturday.entries[-1].into_next_day
    assert described(sunday) == [
        ("00:00", "02:00", "Late swim"),
        ("02:00", "00:00", "Default content: Welcome"),
    ]
    assert sunday.entries[0].from_day_before
    # 00:00 BST to 02:00 GMT: the swim's Sunday part lasts three real hours.
    first = sunday.entries[0]
    assert first.end.astimezone(UTC) - first.start.astimezone(UTC) == timedelta(hours=3)
    monday = days[0]
    assert described(monday) == [("00:00", "00:00", "Default content: Welcome")]


def test_an_alert_shows_from_when_it_is_sent_until_it_expires(session, rt, pool, clock):
    clock.set(datetime(2026, 10, 21, 10, 0, tzinfo=UTC))  # Wednesday 11:00 BST
    alerts.send_alert(
        session,
        rt,
        ADMIN,
        scope=SITE,
        title="Pool closed: water quality",
        body="",
        severity=Severity.WARNING,
        expires_at=clock.now() + timedelta(hours=2),
    )
    wednesday = foyer_week(session, rt)[2]
    assert described(wednesday) == [
        ("00:00", "11:00", "Default content: Welcome"),
        ("11:00", "13:00", "Alert: Pool closed: water quality"),
        ("13:00", "00:00", "Default content: Welcome"),
    ]


def test_the_site_calendar_page_lists_each_day_with_links_to_campaigns(session, rt, pool, client):
    make_user(session, rt, "viewer", m.Role.VIEWER)  # reading the plan needs no more
    login(client, "viewer")
    page = client.get(f"/calendar/sites/{SITE}?week=2026-10-21").text
    assert "Week of Monday 19 October 2026, in Europe/London time." in page
    assert "The clocks change today: this day has 25 hours." in page
    assert "22:00 \u2013 midnight (continues)" in page
    assert "00:00 (from the day before) \u2013 02:00" in page
    assert f'href="/campaigns/{pool["Late swim"]}"' in page
    assert "On Foyer screen, Wi-Fi splash" in page
    assert 'href="/calendar/sites/riverside-baths?week=2026-10-26" rel="next"' in page


def test_the_screen_calendar_links_each_stretch_to_its_preview(session, rt, pool, client):
    make_user(session, rt, "viewer", m.Role.VIEWER)  # reading the plan needs no more
    login(client, "viewer")
    page = client.get(f"/calendar/screens/{SPLASH}?week=2026-10-19").text
    assert f"/calendar/screens/{SPLASH}/preview?at=2026-10-24T22:00" in page
    assert "The clocks change today" in page
