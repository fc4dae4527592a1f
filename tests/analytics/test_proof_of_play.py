"""Per-screen proof of play (issue 17): what the ingest files per screen and item, and
the campaign report's arithmetic (time on air from the schedule, the guarantee, what
counts as short, alerts apart from default content)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from central_cms.analytics.model import DeviceInfo, Filters
from central_cms.analytics.proof_of_play import (
    ALERT,
    DEFAULT,
    CampaignPlan,
    Screen,
    ScreenPlay,
    build_campaign_report,
    screen_plays,
)
from central_cms.analytics.sqlite_events import backfill_screen_plays
from central_cms.analytics.sqlite_file import SqliteFile
from devices.protocol import Schedule, TimeWindow
from devices.protocol.events_wire import from_model
from tests.analytics.events import batch, play

PERTH = DeviceInfo("sig-a", "riverton", "signage", "Australia/Perth")
T0 = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)  # 09:00 in Perth


def test_plays_are_filed_per_screen_item_and_what_showed_them():
    events = from_model(
        batch(
            "sig-a",
            [
                play(1, T0, item="a", shown_s=10),
                play(2, T0 + timedelta(minutes=1), item="a", shown_s=4, scheduled_s=10),
                play(3, T0, campaign=None, item="alert-1", alert="fire"),
                play(4, T0, campaign=None, item="default-1"),
                play(5, T0 + timedelta(hours=16), item="b"),  # 01:00 the next day in Perth
            ],
        )
    ).events
    rows = screen_plays(events, "sig-a", PERTH)
    assert rows == [
        ScreenPlay("2026-03-01", "riverton", "sig-a", "", "alert-1", "fire", 1, 10, 10),
        ScreenPlay("2026-03-01", "riverton", "sig-a", "", "default-1", "", 1, 10, 10),
        ScreenPlay("2026-03-01", "riverton", "sig-a", "swim-school", "a", "", 2, 14, 20),
        ScreenPlay("2026-03-02", "riverton", "sig-a", "swim-school", "b", "", 1, 10, 10),
    ]
    assert [r.source for r in rows[:2]] == [ALERT, DEFAULT]


def _plan(guarantee: int | None = None, published: datetime | None = None) -> CampaignPlan:
    return CampaignPlan(
        campaign_id="swim-school",
        name="Swim school",
        schedules=(Schedule(windows=(TimeWindow(start=time(9), end=time(11)),)),),
        items={"a": "1. Poster"},
        guarantee_s=guarantee,
        published_at=published,
        screens=(
            Screen("sig-a", "Foyer", "riverton", "Riverton", "Australia/Perth"),
            Screen("sig-b", "Pool", "riverton", "Riverton", "Australia/Perth"),
            Screen("portal", "Wi-Fi", "riverton", "Riverton", "Australia/Perth", signage=False),
        ),
    )


def _played(device: str, day: str, plays: int, shown: float) -> ScreenPlay:
    return ScreenPlay(day, "riverton", device, "swim-school", "a", "", plays, shown, plays * 10.0)


def test_time_on_air_comes_from_the_schedule_from_publication_until_now():
    now = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)  # 10:00 on 3 March in Perth
    published = datetime(2026, 3, 1, 2, 30, tzinfo=UTC)  # 10:30 on 1 March
    report = build_campaign_report(
        _plan(published=published), date(2026, 3, 1), date(2026, 3, 4), [], now
    )
    on_air = {row.key: row.figures.window_s for row in report.by_day}
    # two screens (the portal has no airtime): half an hour, two hours, one hour, none
    assert on_air == {
        "2026-03-01": 2 * 1800,
        "2026-03-02": 2 * 7200,
        "2026-03-03": 2 * 3600,
        "2026-03-04": 0,
    }
    assert report.screens_targeted == 2 and report.screens_reached == 0
    assert all(row.figures.short for row in report.by_screen)  # on air, never played


def test_a_guarantee_says_which_screens_fell_short():
    now = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    days = (date(2026, 3, 1), date(2026, 3, 1))
    plays = [_played("sig-a", "2026-03-01", 120, 1200), _played("sig-b", "2026-03-01", 100, 1000)]
    # 600 s an hour for the two open hours: 1,200 s owed per screen
    report = build_campaign_report(_plan(guarantee=600), *days, plays, now)
    screens = {row.key: row.figures for row in report.by_screen}
    assert screens["sig-a"].guaranteed_s == 1200 and screens["sig-a"].achieved == 1.0
    assert not screens["sig-a"].short
    assert screens["sig-b"].short and screens["sig-b"].achieved == 1000 / 1200
    assert report.total.share == 2200 / (2 * 7200)
    assert [row.label for row in report.by_item] == ["1. Poster"]
    assert report.sites_reached == 1 and report.screens_reached == 2


def test_alerts_and_default_content_are_reported_apart_and_not_as_the_campaign():
    now = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    plays = [
        _played("sig-a", "2026-03-01", 3, 30),
        ScreenPlay("2026-03-01", "riverton", "sig-a", "", "alert-1", "fire", 2, 60, 60),
        ScreenPlay("2026-03-01", "riverton", "sig-b", "", "alert-1", "fire", 1, 30, 30),
        ScreenPlay("2026-03-01", "riverton", "sig-b", "", "default-1", "", 5, 50, 50),
        ScreenPlay("2026-03-01", "riverton", "sig-b", "other-campaign", "x", "", 9, 90, 90),
    ]
    report = build_campaign_report(_plan(), date(2026, 3, 1), date(2026, 3, 1), plays, now)
    assert report.total.plays == 3
    assert [(o.source, o.key, o.plays, o.screens) for o in report.other] == [
        (ALERT, "fire", 3, 2),
        (DEFAULT, "", 5, 1),
    ]


def test_the_store_keeps_per_screen_plays_once_and_fills_them_for_an_older_file(store, tmp_path):
    store.register_devices([PERTH])
    sent = from_model(batch("sig-a", [play(n, T0 + timedelta(minutes=n)) for n in (1, 2, 3)]))
    store.store_batches([(sent, PERTH)])
    store.store_batches([(sent, PERTH)])  # a re-send
    march = Filters(date(2026, 3, 1), date(2026, 3, 31), campaign_id="swim-school")
    assert [(p.device_id, p.plays) for p in store.screen_plays(march)] == [("sig-a", 3)]
    assert store.screen_plays(march, ["sig-b"]) == []
    # a file from before the table: its raw batches fill it once
    db = SqliteFile(store.path)
    with db.transaction() as conn:
        conn.execute("DELETE FROM screen_plays")
        conn.execute("PRAGMA user_version = 0")
    backfill_screen_plays(db)
    backfill_screen_plays(db)
    assert [(p.device_id, p.plays, p.site_id) for p in store.screen_plays(march)] == [
        ("sig-a", 3, "riverton")
    ]
    db.close()


def test_a_long_period_is_also_summed_by_month():
    now = datetime(2026, 6, 1, tzinfo=UTC)
    plays = [_played("sig-a", "2026-03-31", 2, 20), _played("sig-a", "2026-04-01", 3, 30)]
    report = build_campaign_report(_plan(), date(2026, 3, 1), date(2026, 5, 31), plays, now)
    assert [(r.label, r.figures.plays) for r in report.by_month] == [
        ("March 2026", 2),
        ("April 2026", 3),
        ("May 2026", 0),
    ]
    assert report.by_month[1].figures.window_s == 2 * 30 * 7200  # two screens, 30 days


def test_influxdb_points_of_alert_plays_carry_the_alert():
    from central_cms.analytics.influx_store import event_lines
    from central_cms.analytics.model import flatten

    sent = from_model(
        batch("sig-a", [play(1, T0, campaign=None, item="alert-1", alert="fire"), play(2, T0)])
    )
    lines = event_lines(sent, flatten(sent.events, PERTH), PERTH)
    assert ",alert=fire," in lines[0] and "alert=" not in lines[1]
