"""The analytics CSV downloads name each row's site and campaign both by id and as staff
call them, with an empty campaign read as the default content and alerts."""

from __future__ import annotations

from central_cms.analytics.presenters import Names, csv_table
from central_cms.analytics.reports import DwellRow, PlayRow, PromoRow, Report, WifiRow

NAMES = Names(sites={"north-pool": "North Pool"}, campaigns={"swim": "Swim school"}, timezone="UTC")
REPORT = Report(
    plays=(
        PlayRow("2026-03-02", "north-pool", "swim", 4, 40.0, 48.0),
        PlayRow("2026-03-02", "", "", 1, 10.0, 10.0),
    ),
    wifi=(WifiRow("2026-03-02", "north-pool", 9, 7, 2),),
    dwell=(DwellRow("<5m", 3),),
    promos=(PromoRow("north-pool", "swim", "poster", 8, 2), PromoRow("x", "y", "z", 0, 0)),
)


def test_plays_and_promotions_name_the_site_and_campaign_beside_their_ids():
    assert csv_table("plays", REPORT, NAMES).splitlines() == [
        "day,site_id,site,campaign_id,campaign,plays,shown_s,scheduled_s",
        "2026-03-02,north-pool,North Pool,swim,Swim school,4,40.0,48.0",
        "2026-03-02,,No site,,Default content and alerts,1,10.0,10.0",
    ]
    assert csv_table("promos", REPORT, NAMES).splitlines() == [
        "site_id,site,campaign_id,campaign,item_id,shown,clicked,click_through",
        "north-pool,North Pool,swim,Swim school,poster,8,2,0.2500",
        "x,x,y,y,z,0,0,",
    ]
    assert (
        csv_table("wifi", REPORT, NAMES).splitlines()[1] == "2026-03-02,north-pool,North Pool,9,7,2"
    )
