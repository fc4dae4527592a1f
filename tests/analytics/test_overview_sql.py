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
