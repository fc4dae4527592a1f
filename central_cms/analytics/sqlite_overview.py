"""The analytics page's play figures summed in SQLite (issue 17, scale).

A fortnight of 5,000 campaigns is 210,000 rollup rows; `reports.overview` sums them in
Python after reading every one. The file keeps the play rollups summed per (day, site,
campaign) as they are written (`daily_campaign_plays`, `sqlite_file`): 70,000 rows for
that fortnight with one item a campaign, read through its primary key (the period), or
its site or campaign index. Each row's plays truncated to a whole number and its
seconds rounded to the millisecond, as `build_report` makes its rows, are summed per
day and per (campaign, site), so only the sums and the first rows shown cross into
Python. tests/analytics/test_overview_sql.py holds these queries to
`overview(build_report(...))` over random rollups.
"""

# SQL here is assembled only from constant clauses; every value is bound as a parameter.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3

from central_cms.analytics.model import Filters
from central_cms.analytics.reports import PLAYS, SCHEDULED_S, SHOWN_S, PlayRow, PlayTotals

PLAY_METRICS = (PLAYS, SHOWN_S, SCHEDULED_S)
# The rollups other than plays, in the words of the index on them (`daily_rollups_not_plays`):
# SQLite uses a partial index only for a query that repeats its condition, literals and all.
NOT_PLAYS = " AND metric NOT IN (" + ", ".join(f"'{m}'" for m in PLAY_METRICS) + ")"


def rollup_where(filters: Filters) -> tuple[str, list[object]]:
    """The rows the filters select, without the campaign (`daily_rollups`, and
    `daily_campaign_plays`)."""
    where = "day BETWEEN ? AND ?"
    args: list[object] = [filters.start.isoformat(), filters.end.isoformat()]
    if filters.site_id is not None:
        where += " AND site_id = ?"
        args.append(filters.site_id)
    return where, args


def play_where(filters: Filters) -> tuple[str, list[object]]:
    """The `daily_campaign_plays` rows the filters select, the campaign too."""
    where, args = rollup_where(filters)
    if filters.campaign_id is not None:
        where += " AND campaign_id = ?"
        args.append(filters.campaign_id)
    return where, args


# One row's figures as `build_report` makes them (kept in the row as it is written).
_PLAYS = "row_plays"
_SHOWN = "row_shown_s"
_SCHEDULED = "row_scheduled_s"


def play_figures(
    conn: sqlite3.Connection, filters: Filters, rows_shown: int
) -> tuple[
    tuple[tuple[str, int], ...],
    tuple[tuple[str, str, PlayTotals], ...],
    tuple[PlayRow, ...],
    int,
]:
    """Plays per day, totals per (campaign, site), the first `rows_shown` rows per day,
    site and campaign, and how many such rows: `Overview`'s play fields."""
    where, args = play_where(filters)
    per_day = tuple(
        conn.execute(
            f"SELECT day, sum({_PLAYS}) FROM daily_campaign_plays WHERE {where} "
            "GROUP BY day ORDER BY day",
            args,
        )
    )
    rows = 0
    by_campaign_site = []
    # Grouped by +campaign_id, +site_id (the same, to SQLite's planner opaque): else it
    # walks the campaign index to skip the sort, every campaign's days one look-up at a
    # time, 130 ms for the fortnight of 5,000 campaigns against 46 ms through the period.
    for campaign, site, plays, shown, scheduled, days in conn.execute(
        f"SELECT campaign_id, site_id, sum({_PLAYS}), total({_SHOWN}), total({_SCHEDULED}), "
        f"count(*) FROM daily_campaign_plays WHERE {where} GROUP BY +campaign_id, +site_id "
        "ORDER BY campaign_id, site_id",
        args,
    ):
        by_campaign_site.append((campaign, site, PlayTotals(plays, shown, scheduled)))
        rows += days
    first = tuple(
        PlayRow(*row)
        for row in conn.execute(
            f"SELECT day, site_id, campaign_id, {_PLAYS}, {_SHOWN}, {_SCHEDULED} "
            f"FROM daily_campaign_plays WHERE {where} "
            "ORDER BY day, site_id, campaign_id LIMIT ?",
            [*args, rows_shown],
        )
    )
    return per_day, tuple(by_campaign_site), first, rows
