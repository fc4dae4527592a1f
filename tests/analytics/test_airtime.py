"""Proof of play for share of voice: seconds shown per campaign and clock hour, counted in
the site's local hour each play started in, never twice, and read against the guarantee."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from central_cms.analytics.airtime import HourFigure, guarantee_by_day
from central_cms.analytics.model import DeviceInfo
from central_cms.analytics.sqlite_store import SqliteStore
from devices.protocol import Schedule, TimeWindow
from devices.protocol.events_wire import from_model
from tests.analytics.events import batch, new_epoch, play

ADELAIDE = DeviceInfo("sig-adelaide-01", "adelaide-hub", "signage", "Australia/Adelaide")
# 10:00 in Adelaide (UTC+10:30): its clock hours start at half past UTC hours.
TEN_AM = datetime(2026, 12, 1, 23, 30, tzinfo=UTC) - timedelta(days=1)


def test_plays_count_in_the_local_clock_hour_they_started_in_and_never_twice(
    store: SqliteStore,
) -> None:
    epoch = new_epoch()
    # `play` ends at `at`: these start at 10:59:50 (15 s, into 11:00), 11:00:00 and 11:10.
    events = [
        play(1, TEN_AM + timedelta(minutes=59, seconds=65), shown_s=15),
        play(2, TEN_AM + timedelta(hours=1, seconds=10)),
        play(3, TEN_AM + timedelta(hours=1, minutes=10, seconds=10), campaign="other"),
        play(4, TEN_AM + timedelta(hours=1, minutes=20), campaign=None),  # default content
    ]
    first = batch(ADELAIDE.device_id, events[:2], epoch)
    store.store_batches([(from_model(first), ADELAIDE)])
    # The device re-sends (its ack was lost) along with what came next: counted once.
    store.store_batches([(from_model(batch(ADELAIDE.device_id, events, epoch)), ADELAIDE)])
    day = (TEN_AM - timedelta(hours=10), TEN_AM + timedelta(hours=14))
    assert store.airtime("swim-school", *day) == {TEN_AM: 15.0, TEN_AM + timedelta(hours=1): 10.0}
    assert store.airtime("other", *day) == {TEN_AM + timedelta(hours=1): 10.0}
    assert store.airtime("swim-school", *day, site_id="elsewhere") == {}


def test_the_guarantee_is_pro_rata_of_the_open_part_of_each_hour() -> None:
    zone = ZoneInfo("Australia/Adelaide")
    window = Schedule(windows=(TimeWindow(start=time(8, 20), end=time(9, 40)),))
    eight = datetime(2026, 12, 1, 8, tzinfo=zone).astimezone(UTC)
    nine = eight + timedelta(hours=1)
    achieved = {eight: 800.0, nine: 793.0}  # two screens
    (day,) = guarantee_by_day(
        600, [window], 2, zone, [date(2026, 12, 1)], achieved, until=nine + timedelta(days=1)
    )
    assert [(h.start, h.guaranteed_s, h.met) for h in day.hours] == [
        (eight, 800.0, True),  # 40 minutes open: two thirds of 600 s, on each screen
        (nine, 800.0, True),  # 793 s is within 1 % (792 is the least)
    ]
    assert (day.hours_met, day.hours_scheduled) == (2, 2)
    assert not HourFigure(nine, 800.0, 791.0).met
    (early,) = guarantee_by_day(600, [window], 2, zone, [date(2026, 12, 1)], achieved, until=nine)
    assert [h.start for h in early.hours] == [eight]  # the 09:00 hour is not over yet


def test_a_fall_back_day_has_twenty_five_hours_to_guarantee() -> None:
    zone = ZoneInfo("Australia/Sydney")  # clocks go back at 03:00 on 5 April 2026
    (day,) = guarantee_by_day(
        60, [], 1, zone, [date(2026, 4, 5)], {}, until=datetime(2026, 4, 6, tzinfo=UTC)
    )
    assert len(day.hours) == 25
    assert day.guaranteed_s == 25 * 60
    assert day.hours_met == 0
