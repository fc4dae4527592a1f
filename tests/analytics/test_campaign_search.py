"""The analytics page's campaign filter is a search by name (issue 17: 5,000 campaigns
made a drop-down nobody could use): the pure choice, and the page's plain form through
the CMS (SQLite and PostgreSQL) with the month of plays of one campaign."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from central_cms import db as cms_db
from central_cms import models as m
from central_cms.analytics.campaign_search import MATCHES_LISTED, choose_campaign
from testkit.staff import login

CAMPAIGNS = {
    "swim": "Swim school enrolments",
    "holidays": "School holiday programme",
    "slow": "Slow down near schools",
    "story": "Storytime",
    "story-2": "Storytime at Bentley",
}


def test_a_link_keeps_its_campaign_and_the_box_shows_its_name():
    assert choose_campaign("swim", None, CAMPAIGNS).campaign_id == "swim"
    assert choose_campaign("swim", None, CAMPAIGNS).text == "Swim school enrolments"
    assert choose_campaign(None, None, CAMPAIGNS).campaign_id is None
    # a campaign since deleted: still the filter, shown by its id
    assert choose_campaign("gone", "gone", CAMPAIGNS).campaign_id == "gone"


def test_the_box_still_holding_the_chosen_name_keeps_it_and_an_empty_box_means_all():
    assert choose_campaign("swim", "Swim school enrolments ", CAMPAIGNS).campaign_id == "swim"
    assert choose_campaign("swim", "  ", CAMPAIGNS).campaign_id is None


def test_a_part_of_one_name_picks_that_campaign_whatever_the_case():
    choice = choose_campaign("story", "swim SCHOOL", CAMPAIGNS)
    assert (choice.campaign_id, choice.text, choice.matches) == ("swim", CAMPAIGNS["swim"], ())


def test_a_whole_name_picks_its_campaign_though_others_contain_it():
    assert choose_campaign(None, "storytime", CAMPAIGNS).campaign_id == "story"


def test_a_part_of_several_names_lists_them_in_name_order_and_filters_nothing_yet():
    choice = choose_campaign("swim", "school", CAMPAIGNS)
    assert choice.campaign_id is None and choice.text == "school"
    assert choice.matches == (
        ("holidays", "School holiday programme"),
        ("slow", "Slow down near schools"),
        ("swim", "Swim school enrolments"),
    )


def test_thousands_of_matches_list_the_first_few_and_say_how_many_more():
    many = {f"c{n:04d}": f"Campaign {n:04d}" for n in range(5000)}
    choice = choose_campaign(None, "campaign", many)
    assert len(choice.matches) == MATCHES_LISTED and choice.unlisted == 5000 - MATCHES_LISTED
    assert choice.matches[0] == ("c0000", "Campaign 0000")


def test_a_name_nobody_has_says_so_and_shows_every_campaign():
    choice = choose_campaign("swim", "aquarobics", CAMPAIGNS)
    assert choice.campaign_id is None and "aquarobics" in choice.problem


def _report_rows(page: str) -> set[str]:
    """The campaigns named in the per-campaign-and-site table."""
    table = page.split("<h3>By campaign and site</h3>", 1)[1].split("</table>", 1)[0]
    return {html.unescape(c) for c in re.findall(r"<tr><td>([^<]+)</td>", table)}


def test_staff_find_a_campaign_by_part_of_its_name_without_javascript(month):
    app, campaign_id, tally, _store = month
    with cms_db.database(app).sessions() as session:
        campaign = session.get(m.Campaign, campaign_id)
        assert campaign is not None
        name, at = campaign.name, datetime(2026, 3, 1, tzinfo=UTC)
        for n, other in enumerate(["Autumn swim carnival", "Autumn book week"]):
            session.add(
                m.Campaign(
                    id=f"other-{n}",
                    name=other,
                    owner_site_id=campaign.owner_site_id,
                    created_by="test",
                    created_at=at,
                    updated_at=at,
                )
            )
        session.commit()
    client = app.test_client()
    login(client, "comms")
    period = {"start": "01/03/2026", "end": "31/03/2026"}

    page = client.get("/analytics/", query_string=period).text
    assert '<select id="campaign"' not in page and 'name="find"' in page
    assert '<label for="campaign">Campaign</label>' in page

    listed = client.get("/analytics/", query_string={**period, "find": "autumn"}).text
    assert "3 campaigns match “autumn”" in listed
    matches = listed.split('class="campaign-matches"', 1)[1].split("</section>", 1)[0]
    links = re.findall(r'<li><a href="([^"]+)">([^<]+)</a></li>', matches)
    assert [text for _, text in links] == sorted([name, "Autumn book week", "Autumn swim carnival"])
    assert _report_rows(listed) == {name, "Default content and alerts"}  # every campaign yet

    chosen_url = html.unescape(next(url for url, text in links if text == name))
    chosen = client.get(chosen_url).text
    assert f'name="find" type="search" value="{name}"' in chosen
    assert f'<input type="hidden" name="campaign" value="{campaign_id}">' in chosen
    assert _report_rows(chosen) == {name}
    assert f"<strong>{tally.total_plays:,}</strong> plays" in chosen

    # The form sent again as the page left it (a new period, the same box) keeps it ...
    again = {**period, "find": name, "campaign": campaign_id, "end": "15/03/2026"}
    assert _report_rows(client.get("/analytics/", query_string=again).text) == {name}
    # ... an emptied box means every campaign, and another name is searched for.
    emptied = client.get("/analytics/", query_string={**again, "find": ""}).text
    assert 'type="hidden" name="campaign"' not in emptied
    other = client.get("/analytics/", query_string={**again, "find": "book"}).text
    assert '<input type="hidden" name="campaign" value="other-1">' in other
    assert "No plays in this period." in other
    missing = client.get("/analytics/", query_string={**again, "find": "zumba"}).text
    assert "No campaign&#39;s name contains “zumba”" in missing
