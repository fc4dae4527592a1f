"""The analytics page's play figures summed in SQLite (issue 17, scale).

A fortnight of 5,000 campaigns is 210,000 rollup rows; `reports.overview` sums them in
Python after reading every one. The file keeps the play rollups summed per (day, site,
campaign) as they are written (`daily_campaign_plays`, `sqlite_file`): 70,000 rows for
that fortnight with one item a campaign, read through its primary key (the period), or
its site or campaign index. For the whole city two views of it are kept as well: plays
per (day, site) for the plays per day, and its rows under one integer per (campaign,
site) to group the totals by. Each row's plays truncated to a whole number and its
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


def per_day_query(filters: Filters) -> tuple[str, list[object]]:
    """Plays per day: from the per-site sums (`daily_site_plays`, a hundred rows a day)
    unless a campaign is chosen, whose own rows are few."""
    if filters.campaign_id is None:
        where, args = rollup_where(filters)
        table, plays = "daily_site_plays", "plays"
    else:
        where, args = play_where(filters)
        table, plays = "daily_campaign_plays", _PLAYS
    return f"SELECT day, sum({plays}) FROM {table} WHERE {where} GROUP BY day ORDER BY day", args


def totals_query(filters: Filters) -> tuple[str, list[object]]:
    """Totals per (campaign, site) and how many day rows each has.

    Every campaign at every site: `daily_key_plays`, grouped by the integer that stands
    for (campaign, site), named after. With a site or a campaign, its own rows through
    their index, grouped by +campaign_id, +site_id (the same, to SQLite's planner
    opaque): else it walks the campaign index to skip the sort, every campaign's days
    one look-up at a time. Unordered: Python orders the sums."""
    where, args = play_where(filters)
    if filters.site_id is None and filters.campaign_id is None:
        return (
            "SELECT k.campaign_id, k.site_id, t.plays, t.shown_s, t.scheduled_s, t.days FROM "
            f"(SELECT key, sum({_PLAYS}) AS plays, total({_SHOWN}) AS shown_s, "
            f"total({_SCHEDULED}) AS scheduled_s, count(*) AS days FROM daily_key_plays "
            f"WHERE {where} GROUP BY +key) t JOIN play_keys k USING (key)",
            args,
        )
    return (
        f"SELECT campaign_id, site_id, sum({_PLAYS}), total({_SHOWN}), total({_SCHEDULED}), "
        f"count(*) FROM daily_campaign_plays WHERE {where} GROUP BY +campaign_id, +site_id",
        args,
    )


def first_rows_query(filters: Filters, rows_shown: int) -> tuple[str, list[object]]:
    where, args = play_where(filters)
    return (
        f"SELECT day, site_id, campaign_id, {_PLAYS}, {_SHOWN}, {_SCHEDULED} "
        f"FROM daily_campaign_plays WHERE {where} ORDER BY day, site_id, campaign_id LIMIT ?",
        [*args, rows_shown],
    )


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
    per_day_sql, per_day_args = per_day_query(filters)
    per_day = tuple(conn.execute(per_day_sql, per_day_args))
    first_sql, first_args = first_rows_query(filters, rows_shown)
    first = tuple(PlayRow(*row) for row in conn.execute(first_sql, first_args))
    totals_sql, totals_args = totals_query(filters)
    sums = sorted(conn.execute(totals_sql, totals_args))
    by_campaign_site = tuple(
        (campaign, site, PlayTotals(plays, shown, scheduled))
        for campaign, site, plays, shown, scheduled, _ in sums
    )
    return per_day, by_campaign_site, first, sum(row[5] for row in sums)
