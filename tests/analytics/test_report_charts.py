"""The analytics page's shown-time chart at 5,000 campaigns (issue 17): the campaigns cut
shortest, not a bar for every one."""

from __future__ import annotations

from datetime import date

from central_cms.analytics.model import Filters
from central_cms.analytics.presenters import SHARE_BARS, Names, report_charts
from central_cms.analytics.reports import Overview, PlayTotals


def _overview(shares: dict[str, float]) -> Overview:
    return Overview(
        plays_per_day=(),
        by_campaign_site=tuple(
            (campaign, site, PlayTotals(1, share * 100 / 2, 100 / 2))
            for campaign, share in shares.items()
            for site in ("site-a", "site-b")
        ),
        first_plays=(),
        play_rows=0,
        wifi=(),
        dwell=(),
        promos=(),
    )


FILTERS = Filters(date(2026, 12, 1), date(2026, 12, 14))


def test_a_few_campaigns_are_charted_every_one_by_name():
    shares = {"b": 0.5, "a": 0.9, "c": 1.0}
    names = Names(sites={}, campaigns={"a": "Alpha", "b": "Bravo", "c": "Charlie"}, timezone="UTC")
    charts = report_charts(_overview(shares), names, FILTERS)
    assert charts["shown_campaigns"] == charts["shown_bars"] == 3
    svg = str(charts["shown"])
    assert svg.index("Alpha: 90%") < svg.index("Bravo: 50%") < svg.index("Charlie: 100%")


def test_thousands_of_campaigns_chart_the_lowest_shares_lowest_first():
    shares = {f"c{n:04d}": 1 - (n % 997) / 1000 for n in range(5000)}
    names = Names(sites={}, campaigns={c: f"Campaign {c}" for c in shares}, timezone="UTC")
    charts = report_charts(_overview(shares), names, FILTERS)
    assert (charts["shown_campaigns"], charts["shown_bars"]) == (5000, SHARE_BARS)
    svg = str(charts["shown"])
    assert svg.count("<rect") < 5 * SHARE_BARS
    lowest = sorted(shares, key=lambda c: (shares[c], c))[:SHARE_BARS]
    positions = [svg.index(f"Campaign {c}: ") for c in lowest]
    assert positions == sorted(positions)
    assert "Campaign c0000: " not in svg  # 100% shown: not among the lowest
