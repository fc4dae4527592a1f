"""The analytics page's play figures summed in SQLite (issue 17, scale).

A fortnight of 5,000 campaigns is 210,000 rollup rows; `reports.overview` sums them in
Python after reading every one. Here SQLite groups them to (day, site, campaign) rows as
`build_report` does (plays truncated to whole numbers, seconds rounded to the
millisecond) and sums those per day and per (campaign, site), so only the sums and the
first rows shown cross into Python. tests/analytics/test_overview_sql.py holds these
queries to `overview(build_report(...))` over random rollups.
"""

# SQL here is assembled only from constant clauses; every value is bound as a parameter.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3

from central_cms.analytics.model import Filters
from central_cms.analytics.reports import PLAYS, SCHEDULED_S, SHOWN_S, PlayRow, PlayTotals

PLAY_METRICS = (PLAYS, SHOWN_S, SCHEDULED_S)


def rollup_where(filters: Filters) -> tuple[str, list[object]]:
    """The rollups the filters select (`daily_rollups`), without the campaign."""
    where = "day BETWEEN ? AND ?"
    args: list[object] = [filters.start.isoformat(), filters.end.isoformat()]
    if filters.site_id is not None:
        where += " AND site_id = ?"
        args.append(filters.site_id)
    return where, args


def _play_where(filters: Filters) -> tuple[str, list[object]]:
    """The filters' play rollups (`daily_rollups`, the campaign too)."""
    where, args = rollup_where(filters)
    if filters.campaign_id is not None:
        where += " AND campaign_id = ?"
        args.append(filters.campaign_id)
    return f"{where} AND metric IN (?, ?, ?)", [*args, *PLAY_METRICS]


# The play rows per (day, site, campaign) as `build_report` makes them, in key order
# (the primary key's, so a LIMIT stops early).
_PER_ROW = (
    "SELECT day, site_id, campaign_id, "
    "CAST(total(CASE WHEN metric = ? THEN value END) AS INTEGER) AS plays, "
    "round(total(CASE WHEN metric = ? THEN value END), 3) AS shown_s, "
    "round(total(CASE WHEN metric = ? THEN value END), 3) AS scheduled_s "
    "FROM daily_rollups WHERE {where} GROUP BY day, site_id, campaign_id"
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
    where, args = _play_where(filters)
    per_row = _PER_ROW.format(where=where)
    row_args = [*PLAY_METRICS, *args]
    # Plays are whole counts, so summing them per day straight from the rollups gives
    # what summing the rows' whole plays does (a day of only seconds has 0), without
    # grouping every row first.
    per_day = tuple(
        (day, plays)
        for day, plays in conn.execute(
            "SELECT day, CAST(total(CASE WHEN metric = ? THEN value END) AS INTEGER) "
            f"FROM daily_rollups WHERE {where} GROUP BY day ORDER BY day",
            [PLAYS, *args],
        )
    )
    rows = 0
    by_campaign_site = []
    for campaign, site, plays, shown, scheduled, days in conn.execute(
        f"SELECT campaign_id, site_id, sum(plays), total(shown_s), total(scheduled_s), "
        f"count(*) FROM ({per_row}) GROUP BY campaign_id, site_id "
        "ORDER BY campaign_id, site_id",
        row_args,
    ):
        by_campaign_site.append((campaign, site, PlayTotals(plays, shown, scheduled)))
        rows += days
    first = tuple(
        PlayRow(*row)
        for row in conn.execute(
            f"{per_row} ORDER BY day, site_id, campaign_id LIMIT ?", [*row_args, rows_shown]
        )
    )
    return per_day, tuple(by_campaign_site), first, rows
