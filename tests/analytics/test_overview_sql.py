"""The analytics page's figures summed in SQL (issue 17) are the pure pivot's.

`SqliteStore.overview` groups and sums the play rollups in SQLite (`sqlite_overview`) so
a fortnight of 5,000 campaigns never crosses into Python row by row. Here random rollups
(keys with only some of the three play figures, fractional seconds, items, default
content under campaign "", Wi-Fi and promotions) plus raw Wi-Fi joins stored through
`store_batches` are read both ways, for random periods, sites and campaigns, and the
SQL is held to `overview(report(store, filters))`, what the page showed before.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import date, timedelta

import pytest

from central_cms.analytics import sqlite_overview
from central_cms.analytics.model import DeviceInfo, Filters
from central_cms.analytics.ports import report
from central_cms.analytics.reports import (
    DWELL_BUCKETS,
    DWELL_PREFIX,
    PLAYS,
    PROMO_CLICKED,
    PROMO_SHOWN,
    RETURNING,
    SCHEDULED_S,
    SESSIONS,
    SHOWN_S,
    VISITORS,
    overview,
)
from central_cms.analytics.sqlite_events import ADD_TO_ROLLUP
from central_cms.analytics.sqlite_store import SqliteStore
from devices.protocol.events_wire import from_model
from testkit.messages import T0
from tests.analytics.events import batch, joined, play

FIRST_DAY = date(2026, 11, 20)
DAYS = 12
SITES = ["", "site-a", "site-b", "site-c"]
CAMPAIGNS = ["", "camp-1", "camp-2", "camp-3", "camp-4"]
PORTAL = DeviceInfo("portal-a-01", "site-a", "portal", "UTC")
SCREEN = DeviceInfo("sig-b-01", "site-b", "signage", "UTC")


def random_rollups(rng: random.Random) -> list[tuple[str, str, str, str, str, float]]:
    rows = []
    for _ in range(900):
        day = (FIRST_DAY + timedelta(days=rng.randrange(DAYS))).isoformat()
        site, campaign = rng.choice(SITES), rng.choice(CAMPAIGNS)
        kind = rng.random()
        if kind < 0.6:  # some keys lack one of the figures: the pivot counts it as 0
            for metric in rng.sample([PLAYS, SHOWN_S, SCHEDULED_S], rng.randint(1, 3)):
                value = rng.randint(1, 500) if metric == PLAYS else rng.uniform(0, 5000)
                rows.append((day, site, campaign, rng.choice(["", "item-1"]), metric, value))
        elif kind < 0.85:
            metric = rng.choice(
                [SESSIONS, VISITORS, RETURNING, DWELL_PREFIX + rng.choice(DWELL_BUCKETS)]
            )
            rows.append((day, site, "", "", metric, rng.randint(1, 40)))
        else:
            metric = rng.choice([PROMO_SHOWN, PROMO_CLICKED])
            rows.append((day, site, campaign, rng.choice(["p1", "p2"]), metric, rng.randint(1, 9)))
    return rows


@pytest.fixture
def store(tmp_path):
    rng = random.Random(17)
    s = SqliteStore(tmp_path / "analytics.sqlite3")
    s.register_devices([PORTAL, SCREEN])
    with s.db.transaction() as conn:
        conn.executemany(ADD_TO_ROLLUP, random_rollups(rng))
    # Raw days too: visitors counted from the joins kept, plays added on arrival.
    at = T0.replace(year=2026, month=11, day=25)
    joins = [joined(n + 1, at + timedelta(hours=n), f"{n % 3:02d}" * 8) for n in range(6)]
    s.store_batches([(from_model(batch(PORTAL.device_id, joins)), PORTAL)])
    screens = [play(n + 1, at + timedelta(hours=n), shown_s=7.125) for n in range(5)]
    s.store_batches([(from_model(batch(SCREEN.device_id, screens)), SCREEN)])
    yield s
    s.close()


def same(sql: object, pure: object, where: str = "overview") -> None:
    """Equal, floats to rounding (SQLite sums in another order than Python)."""
    if isinstance(pure, float):
        assert sql == pytest.approx(pure, rel=1e-9, abs=1e-9), where
    elif isinstance(pure, tuple):
        assert isinstance(sql, tuple) and len(sql) == len(pure), where
        for n, (a, b) in enumerate(zip(sql, pure, strict=True)):
            same(a, b, f"{where}[{n}]")
    else:
        assert sql == pure, where


def test_the_sql_overview_is_the_pure_pivots_for_random_filters(store):
    rng = random.Random(1717)
    checked_rows = 0
    for _ in range(60):
        start = FIRST_DAY + timedelta(days=rng.randrange(-2, DAYS))
        end = start + timedelta(days=rng.randrange(0, DAYS))
        filters = Filters(
            start,
            end,
            rng.choice([None, None, *SITES]),
            rng.choice([None, None, "camp-9", *CAMPAIGNS]),
        )
        shown = rng.choice([0, 1, 5, 200])
        sql = store.overview(filters, shown)
        pure = overview(report(store, filters), shown)
        same(dataclasses.astuple(sql), dataclasses.astuple(pure), str(filters))
        assert sql.total_plays == pure.total_plays
        checked_rows += pure.play_rows
    assert checked_rows > 500  # the filters selected plenty, not only empty periods


def test_a_fortnight_of_every_campaign_sums_per_day_and_per_campaign_and_site(store):
    filters = Filters(FIRST_DAY, FIRST_DAY + timedelta(days=DAYS - 1), None, None)
    result = store.overview(filters, 3)
    whole = report(store, filters)
    assert result.play_rows == len(whole.plays) and len(result.first_plays) == 3
    assert result.total_plays == sum(row.plays for row in whole.plays) > 0
    assert ("site-b", "") in {(s, c) for c, s, _ in result.by_campaign_site}  # raw plays
    assert result.wifi == whole.wifi and result.promos == whole.promos


# --- the play figures kept summed per (day, site, campaign) --------------------------------

MIRRORED = (
    "SELECT day, site_id, campaign_id, plays, shown_s, scheduled_s, row_plays, row_shown_s, "
    "row_scheduled_s FROM daily_campaign_plays ORDER BY 1, 2, 3"
)
GROUPED = (
    "SELECT day, site_id, campaign_id, total(CASE WHEN metric = 'plays' THEN value END) AS p, "
    "total(CASE WHEN metric = 'shown_s' THEN value END) AS s, "
    "total(CASE WHEN metric = 'scheduled_s' THEN value END) AS c, "
    "CAST(total(CASE WHEN metric = 'plays' THEN value END) AS INTEGER), "
    "round(total(CASE WHEN metric = 'shown_s' THEN value END), 3), "
    "round(total(CASE WHEN metric = 'scheduled_s' THEN value END), 3) FROM daily_rollups "
    "WHERE metric IN ('plays', 'shown_s', 'scheduled_s') GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
)


KEYED = (
    "SELECT day, campaign_id, site_id, row_plays, row_shown_s, row_scheduled_s "
    "FROM daily_key_plays JOIN play_keys USING (key) ORDER BY 1, 2, 3"
)
ROWS = (
    "SELECT day, campaign_id, site_id, row_plays, row_shown_s, row_scheduled_s "
    "FROM daily_campaign_plays ORDER BY 1, 2, 3"
)
SITE_SUMS = "SELECT day, site_id, plays FROM daily_site_plays ORDER BY 1, 2"
SITE_GROUPED = (
    "SELECT day, site_id, sum(row_plays) FROM daily_campaign_plays GROUP BY 1, 2 ORDER BY 1, 2"
)


def assert_mirrored(conn) -> None:
    """`daily_campaign_plays` is the rollups' play figures grouped per (day, site,
    campaign), each row's plays truncated and seconds rounded as `build_report` does;
    `daily_site_plays` its plays per (day, site), a row for each (day, site) it has;
    `daily_key_plays` its rows under their (campaign, site) key."""
    assert conn.execute(SITE_SUMS).fetchall() == conn.execute(SITE_GROUPED).fetchall()
    assert conn.execute(KEYED).fetchall() == conn.execute(ROWS).fetchall()
    mirrored, grouped = conn.execute(MIRRORED).fetchall(), conn.execute(GROUPED).fetchall()
    assert [r[:3] for r in mirrored] == [r[:3] for r in grouped]
    for kept, summed in zip(mirrored, grouped, strict=True):
        assert kept[3:6] == pytest.approx(summed[3:6], rel=1e-12, abs=1e-9), kept[:3]
        assert kept[6] == summed[6], kept[:3]  # plays are whole counts: exact
        assert kept[7:] == pytest.approx(summed[7:], abs=1.5e-3), kept[:3]


def test_every_write_to_the_rollups_is_mirrored_in_the_same_transaction(store):
    conn = store.db.conn()
    assert_mirrored(conn)  # the fixture's upserts and the batches' plays
    rng = random.Random(5)
    with store.db.transaction() as tx:
        # the ingest's upsert adding to keys already there, Wi-Fi figures left out
        existing = tx.execute("SELECT * FROM daily_rollups ORDER BY random() LIMIT 200").fetchall()
        tx.executemany(ADD_TO_ROLLUP, [(*r[:5], rng.uniform(0, 9)) for r in existing])
        tx.executemany(ADD_TO_ROLLUP, random_rollups(rng))
    assert_mirrored(conn)
    with store.db.transaction() as tx:
        # nothing deletes or re-keys rollups today; if anything ever does, the sums follow
        tx.execute("DELETE FROM daily_rollups WHERE day = ? AND metric = ?", ("2026-11-22", PLAYS))
        tx.execute("DELETE FROM daily_rollups WHERE day = ?", ("2026-11-23",))
        tx.execute(
            "UPDATE daily_rollups SET site_id = 'site-z' "
            "WHERE day = '2026-11-24' AND site_id = 'site-a'"
        )
        tx.execute(
            "UPDATE daily_rollups SET metric = 'shown_s' WHERE day = '2026-11-26' "
            "AND metric = 'scheduled_s' AND site_id = 'site-a' AND campaign_id = 'camp-1' "
            "AND item_id = 'item-1' AND NOT EXISTS (SELECT 1 FROM daily_rollups d WHERE "
            "d.day = '2026-11-26' AND d.site_id = 'site-a' AND d.campaign_id = 'camp-1' "
            "AND d.item_id = 'item-1' AND d.metric = 'shown_s')"
        )
    assert_mirrored(conn)
    gone = "SELECT count(*) FROM daily_campaign_plays WHERE day = '2026-11-23'"
    assert conn.execute(gone).fetchone() == (0,)
    with pytest.raises(RuntimeError), store.db.transaction() as tx:
        tx.executemany(ADD_TO_ROLLUP, random_rollups(rng))
        raise RuntimeError("the batch fails: neither table keeps any of it")
    assert_mirrored(conn)
    test_the_sql_overview_is_the_pure_pivots_for_random_filters(store)


def test_pruning_raw_events_keeps_the_figures(store):
    store.prune(T0.replace(year=2027))
    assert store.count_events() == 0
    assert_mirrored(store.db.conn())
    test_the_sql_overview_is_the_pure_pivots_for_random_filters(store)


def test_a_file_from_before_the_table_is_filled_from_its_rollups_once(store, tmp_path):
    conn = store.db.conn()
    before = conn.execute(MIRRORED).fetchall()
    assert before
    # The file as the previous release left it: rollups, no table, no triggers.
    for name, kind in conn.execute(
        "SELECT name, type FROM sqlite_master WHERE name LIKE 'daily_rollups_%_plays' "
        "OR name = 'daily_campaign_plays'"
    ).fetchall():
        conn.execute(f"DROP {kind.upper()} {name}")
    rollups = conn.execute("SELECT count(*) FROM daily_rollups").fetchone()
    store.close()
    for _ in range(2):  # a second opening finds it there and adds nothing
        reopened = SqliteStore(tmp_path / "analytics.sqlite3")
        again = reopened.db.conn()
        assert [r[:3] for r in again.execute(MIRRORED)] == [r[:3] for r in before]
        assert again.execute("SELECT count(*) FROM daily_rollups").fetchone() == rollups
        assert_mirrored(again)
        reopened.close()
    reopened = SqliteStore(tmp_path / "analytics.sqlite3")
    with reopened.db.transaction() as tx:  # and the triggers are in place
        tx.execute(ADD_TO_ROLLUP, ("2026-11-21", "site-q", "camp-q", "", PLAYS, 4.0))
    assert reopened.db.conn().execute(
        "SELECT row_plays FROM daily_campaign_plays WHERE site_id = 'site-q'"
    ).fetchone() == (4,)
    reopened.close()


PERIOD = "PRIMARY KEY (day>? AND day<?)"
BY_SITE = "daily_campaign_plays USING INDEX daily_campaign_plays_by_site (site_id=? AND day>?"
BY_CAMPAIGN = "daily_campaign_plays USING INDEX daily_campaign_plays_by_campaign (campaign_id=?"


@pytest.mark.parametrize(
    ("site", "campaign", "per_day", "first_rows", "totals"),
    [
        (
            None,
            None,
            f"daily_site_plays USING {PERIOD}",
            f"daily_campaign_plays USING {PERIOD}",
            f"daily_key_plays USING {PERIOD}",
        ),
        ("site-a", None, f"daily_site_plays USING {PERIOD}", BY_SITE, BY_SITE),
        (None, "camp-1", BY_CAMPAIGN, BY_CAMPAIGN, BY_CAMPAIGN),
    ],
)
def test_the_page_s_queries_read_by_index_for_its_common_filters(
    store, site, campaign, per_day, first_rows, totals
):
    """The period alone, with a site, or with a campaign: each play query searches an
    index (no table scan), and the other figures use the index that skips plays."""
    conn = store.db.conn()
    filters = Filters(FIRST_DAY, FIRST_DAY + timedelta(days=13), site, campaign)
    queries = [
        (sqlite_overview.per_day_query(filters), per_day),
        (sqlite_overview.first_rows_query(filters, 5), first_rows),
        (sqlite_overview.totals_query(filters), totals),
    ]
    for (query, args), expected in queries:
        plan = " / ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {query}", args))
        assert f"SEARCH {expected}" in plan, plan
        assert "SCAN" not in plan.replace("SCAN t", ""), plan  # t: the sums, once grouped
    traced: list[str] = []
    conn.set_trace_callback(traced.append)
    store.overview(filters, 5)
    conn.set_trace_callback(None)
    (others,) = [q for q in traced if "FROM daily_rollups" in q and "NOT IN" in q]
    plan = " / ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {others}"))
    if campaign is None:
        assert "USING INDEX daily_rollups_not_plays" in plan, plan
    assert "SCAN" not in plan, plan
