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


def _play_rows(filters: Filters) -> tuple[str, list[object]]:
    """A WITH clause naming `p`: the filters' play rows per (day, site, campaign)."""
    where, args = rollup_where(filters)
    if filters.campaign_id is not None:
        where += " AND campaign_id = ?"
        args.append(filters.campaign_id)
    return (
        "WITH p AS (SELECT day, site_id, campaign_id, "
        "CAST(total(CASE WHEN metric = ? THEN value END) AS INTEGER) AS plays, "
        "round(total(CASE WHEN metric = ? THEN value END), 3) AS shown_s, "
        "round(total(CASE WHEN metric = ? THEN value END), 3) AS scheduled_s "
        f"FROM daily_rollups WHERE {where} AND metric IN (?, ?, ?) "
        "GROUP BY day, site_id, campaign_id) ",
        [*PLAY_METRICS, *args, *PLAY_METRICS],
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
    with_p, args = _play_rows(filters)
    per_day = conn.execute(
        f"{with_p} SELECT day, sum(plays), count(*) FROM p GROUP BY day ORDER BY day", args
    ).fetchall()
    by_campaign_site = tuple(
        (campaign, site, PlayTotals(plays, shown, scheduled))
        for campaign, site, plays, shown, scheduled in conn.execute(
            f"{with_p} SELECT campaign_id, site_id, sum(plays), total(shown_s), "
            "total(scheduled_s) FROM p GROUP BY campaign_id, site_id "
            "ORDER BY campaign_id, site_id",
            args,
        )
    )
    first = tuple(
        PlayRow(day, site, campaign, plays, shown, scheduled)
        for day, site, campaign, plays, shown, scheduled in conn.execute(
            f"{with_p} SELECT day, site_id, campaign_id, plays, shown_s, scheduled_s FROM p "
            "ORDER BY day, site_id, campaign_id LIMIT ?",
            [*args, rows_shown],
        )
    )
    return (
        tuple((day, plays) for day, plays, _ in per_day),
        by_campaign_site,
        first,
        sum(rows for _, _, rows in per_day),
    )
