from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, date, datetime, timedelta

import pytest

from central_cms.analytics.model import EVENT_COLUMNS, DeviceInfo, Filters, flatten
from central_cms.analytics.ports import report
from central_cms.analytics.reports import (
    RETURNING,
    VISITORS,
    DwellRow,
    PlayRow,
    PromoRow,
    WifiRow,
    daily_rollups,
    daily_sums,
)
from central_cms.analytics.sqlite_store import SqliteStore
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


def mixed_events():
    a, b = "aa" * 8, "bb" * 8
    late = datetime(2026, 12, 1, 16, 30, tzinfo=UTC)  # 00:30 on 2 Dec in Perth
    return batch(
        "portal-riverton-01",
        [
            play(1, T0),
            play(2, T0, campaign=None, shown_s=3),
            joined(3, T0, a),
            joined(4, T0, b),
            joined(5, late, a),
            session_ended(6, T0, a, 20 * 60),
            session_ended(7, late, b, 3 * 3600),
            promo(8, T0, clicked=False),
            promo(9, late, clicked=True),
        ],
    )


def test_figures_summed_on_arrival_match_the_rollup_of_the_raw_events():
    """SQLite sums as events arrive; InfluxDB and the first format roll up raw rows: the
    same events must give the same figures either way."""
    events = from_model(mixed_events()).events
    on_arrival = daily_sums(events, PORTAL)
    from_rows = daily_rollups(flatten(events, PORTAL), {})
    distinct = {(d, s, VISITORS): 0.0 for d, s, _ in on_arrival.joins}
    for day, site, _ in on_arrival.joins:
        distinct[(day, site, VISITORS)] += 1
    assert sorted(on_arrival.metrics) == [m for m in from_rows if m[4] not in (VISITORS, RETURNING)]
    assert distinct == {(m[0], m[1], m[4]): m[5] for m in from_rows if m[4] == VISITORS}
    assert on_arrival.last_day == "2026-12-02"


def test_a_store_in_the_first_format_opens_with_its_figures_and_watermarks(tmp_path):
    events = from_model(mixed_events())
    path = tmp_path / "first-format.sqlite3"
    with sqlite3.connect(path) as old:
        old.executescript(
            f"CREATE TABLE events ({', '.join(EVENT_COLUMNS)});"
            "CREATE TABLE streams (stream INTEGER PRIMARY KEY, device_id TEXT, epoch TEXT, "
            "up_to_seq INTEGER NOT NULL DEFAULT 0, UNIQUE (device_id, epoch));"
            "CREATE TABLE ledger (key INTEGER PRIMARY KEY);"
            "CREATE TABLE first_visits (site_id, visitor_hash, first_day, last_day, "
            "PRIMARY KEY (site_id, visitor_hash));"
        )
        old.executemany(
            "INSERT INTO first_visits VALUES ('riverton-lib', ?, '2026-12-01', ?)",
            [("aa" * 8, "2026-12-02"), ("bb" * 8, "2026-12-01")],
        )
        old.execute("INSERT INTO streams VALUES (1, 'portal-riverton-01', ?, 9)", (EPOCH,))
        old.executemany(
            f"INSERT INTO events VALUES ({', '.join('?' for _ in EVENT_COLUMNS)})",
            flatten(events.events, PORTAL, stream=1),
        )
        # an InfluxDB install's ledger: seqs 12-13 stored beyond a gap in stream 2
        old.execute("INSERT INTO streams VALUES (2, 'sig-riverton-01', ?, 10)", (EPOCH,))
        old.executemany("INSERT INTO ledger VALUES (?)", [(2 << 32 | 12,), (2 << 32 | 13,)])
    fresh = SqliteStore(tmp_path / "fresh.sqlite3")
    store_one(fresh, mixed_events(), PORTAL)
    migrated = SqliteStore(path)
    try:
        window = days("2026-12-01", "2026-12-02")
        assert report(migrated, window) == report(fresh, window)
        assert migrated.ledger_known("sig-riverton-01", EPOCH, [11, 12, 13, 14]) == {12, 13}
        assert migrated.ledger_add("sig-riverton-01", EPOCH, [11]) == 13
        assert store_one(migrated, mixed_events(), PORTAL).inserted == 0  # seqs 1-9 kept
    finally:
        fresh.close()
        migrated.close()
