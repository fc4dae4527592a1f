from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest

from central_cms.analytics.model import DeviceInfo, Filters
from central_cms.analytics.reports import DwellRow, PlayRow, PromoRow, WifiRow
from central_cms.analytics.sqlite_store import SqliteStore
from central_cms.analytics.store import report
from devices.protocol.events_wire import from_model
from tests.analytics.events import (
    EPOCH,
    batch,
    joined,
    new_epoch,
    play,
    plays,
    promo,
    session_ended,
)

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 09:00 in Perth
RIVERTON = DeviceInfo("sig-riverton-01", "riverton-lib", "signage", "Australia/Perth")
PORTAL = DeviceInfo("portal-riverton-01", "riverton-lib", "portal", "Australia/Perth")
BENTLEY = DeviceInfo("sig-bentley-01", "bentley-lib", "signage", "Australia/Perth")


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "analytics.sqlite3")
    s.register_devices([RIVERTON, PORTAL, BENTLEY])
    yield s
    s.close()


def store_one(store, b, device=RIVERTON):
    (outcome,) = store.store_batches([(from_model(b), device)])
    return outcome


def test_a_batch_sent_twice_is_stored_once_and_acknowledged_both_times(store):
    b = plays("sig-riverton-01", range(1, 101), T0)
    first = store_one(store, b)
    again = store_one(store, b)
    assert (first.inserted, first.duplicates, first.up_to_seq) == (100, 0, 100)
    assert (again.inserted, again.duplicates, again.up_to_seq) == (0, 100, 100)
    assert store.count_events() == 100


def test_ack_stays_below_a_lost_batch_until_the_device_sends_it_again(store):
    assert store_one(store, plays("sig-riverton-01", range(1, 11), T0)).up_to_seq == 10
    # seqs 11-20 were lost on the way; later batches must not acknowledge past the hole
    assert store_one(store, plays("sig-riverton-01", range(21, 31), T0)).up_to_seq == 10
    assert store_one(store, plays("sig-riverton-01", range(31, 41), T0)).up_to_seq == 10
    assert store_one(store, plays("sig-riverton-01", range(11, 21), T0)).up_to_seq == 40
    assert store.count_events() == 40


def test_a_second_process_continues_the_watermark_the_first_one_stored(tmp_path):
    path = tmp_path / "shared.sqlite3"
    a, b = SqliteStore(path), SqliteStore(path)
    try:
        assert store_one(a, plays("sig-riverton-01", range(1, 11), T0)).up_to_seq == 10
        assert store_one(b, plays("sig-riverton-01", range(21, 31), T0)).up_to_seq == 10
        assert store_one(a, plays("sig-riverton-01", range(11, 21), T0)).up_to_seq == 30
        assert store_one(b, plays("sig-riverton-01", range(11, 21), T0)).duplicates == 10
    finally:
        a.close()
        b.close()


def test_two_writers_racing_on_one_file_store_everything_once_and_agree_on_the_ack(tmp_path):
    path = tmp_path / "race.sqlite3"
    stores = [SqliteStore(path), SqliteStore(path)]
    batches = [plays("sig-riverton-01", range(n * 50 + 1, n * 50 + 51), T0) for n in range(40)]
    outcomes: list[int] = []
    lock = threading.Lock()

    def writer(index: int) -> None:
        # each writer sends every batch, in a different order: all arrive twice
        order = batches if index == 0 else list(reversed(batches))
        for b in order:
            up_to = store_one(stores[index], b).up_to_seq
            with lock:
                outcomes.append(up_to)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert stores[0].count_events() == 2000
        assert stores[0].watermark("sig-riverton-01", EPOCH) == 2000
        assert max(outcomes) == 2000
    finally:
        for s in stores:
            s.close()


def test_a_reprovisioned_device_starts_a_new_epoch_at_seq_one(store):
    store_one(store, plays("sig-riverton-01", range(1, 6), T0))
    other = new_epoch()
    outcome = store_one(store, plays("sig-riverton-01", range(1, 4), T0, epoch=other))
    assert (outcome.inserted, outcome.up_to_seq) == (3, 3)
    assert store.count_events() == 8


def days(start: str, end: str, **kw):
    return Filters(date.fromisoformat(start), date.fromisoformat(end), **kw)


def test_plays_are_counted_per_campaign_per_site_per_local_day(store):
    before_midnight = datetime(2026, 12, 1, 15, 59, tzinfo=UTC)  # 23:59 on 1 Dec in Perth
    after_midnight = datetime(2026, 12, 1, 16, 1, tzinfo=UTC)  # 00:01 on 2 Dec in Perth
    store_one(
        store,
        batch(
            "sig-riverton-01",
            [
                play(1, before_midnight),
                play(2, before_midnight, shown_s=4, scheduled_s=10),
                play(3, after_midnight),
                play(4, after_midnight, campaign=None),
            ],
        ),
    )
    store_one(store, batch("sig-bentley-01", [play(1, before_midnight)]), BENTLEY)
    result = report(store, days("2026-12-01", "2026-12-02"))
    assert result.plays == (
        PlayRow("2026-12-01", "bentley-lib", "swim-school", 1, 10.0, 10.0),
        PlayRow("2026-12-01", "riverton-lib", "swim-school", 2, 14.0, 20.0),
        PlayRow("2026-12-02", "riverton-lib", "", 1, 10.0, 10.0),
        PlayRow("2026-12-02", "riverton-lib", "swim-school", 1, 10.0, 10.0),
    )
    assert result.plays[1].shown_ratio == pytest.approx(0.7)
    only_bentley = report(store, days("2026-12-01", "2026-12-02", site_id="bentley-lib"))
    assert [row.site_id for row in only_bentley.plays] == ["bentley-lib"]
    assert report(store, days("2026-12-02", "2026-12-02", campaign_id="swim-school")).plays == (
        PlayRow("2026-12-02", "riverton-lib", "swim-school", 1, 10.0, 10.0),
    )


def portal_fortnight(store):
    """Two days of Wi-Fi at Riverton: visitor A on both days, B on day one, C on day two,
    in a batch a day."""
    a, b, c = "aa" * 8, "bb" * 8, "cc" * 8
    day1, day2 = T0, T0 + timedelta(days=1)
    events = [
        joined(1, day1, a),
        joined(2, day1, b),
        joined(3, day1 + timedelta(hours=2), a),  # A joins twice on day one: one visitor
        session_ended(4, day1, a, 3 * 60),
        session_ended(5, day1, b, 45 * 60),
        promo(6, day1, clicked=False),
        promo(7, day1, clicked=False),
        promo(8, day1, clicked=True),
    ]
    store_one(store, batch("portal-riverton-01", events), PORTAL)
    events = [
        joined(9, day2, a),
        joined(10, day2, c),
        session_ended(11, day2, c, 3 * 3600),
        promo(12, day2, clicked=False),
    ]
    store_one(store, batch("portal-riverton-01", events), PORTAL)


def test_wifi_sessions_visitors_and_returning_visitors_per_site_per_day(store):
    portal_fortnight(store)
    result = report(store, days("2026-12-01", "2026-12-02"))
    assert result.wifi == (
        WifiRow("2026-12-01", "riverton-lib", sessions=3, visitors=2, returning=0),
        WifiRow("2026-12-02", "riverton-lib", sessions=2, visitors=2, returning=1),
    )
    assert DwellRow("under 5 min", 1) in result.dwell
    assert DwellRow("30-60 min", 1) in result.dwell
    assert DwellRow("over 2 h", 1) in result.dwell
    assert result.promos == (PromoRow("riverton-lib", "holiday-programme", "holiday-1", 3, 1),)
    assert result.promos[0].click_through == pytest.approx(1 / 3)


def test_pruned_days_report_the_same_from_rollups_and_resends_do_not_come_back(store):
    portal_fortnight(store)
    old_plays = plays("sig-riverton-01", range(1, 51), T0, step=timedelta(minutes=30))
    store_one(store, old_plays)
    whole = days("2026-11-01", "2026-12-31")
    before = report(store, whole)
    removed = store.prune(older_than=datetime(2026, 12, 2, 0, 0, tzinfo=UTC))
    assert removed == 8  # the portal's day-one batch; the rest reaches into day two
    assert report(store, whole) == before
    # a late re-send of pruned events is known by the watermark, never counted again
    assert store_one(store, old_plays).inserted == 0
    assert report(store, whole) == before
    store.prune(older_than=datetime(2027, 1, 1, tzinfo=UTC))
    assert store.count_events() == 0
    assert report(store, whole) == before


def test_events_of_an_unknown_device_are_kept_under_no_site(store):
    outcome = store_one(store, plays("sig-unknown-01", range(1, 3), T0), None)
    assert outcome.up_to_seq == 2
    assert {row.site_id for row in report(store, days("2026-12-01", "2026-12-01")).plays} == {""}
