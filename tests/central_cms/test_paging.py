"""Long staff lists come a page at a time (issue 17, scale): campaigns, devices, the audit
log, Screens and Device health show 50 rows, say where they are, and link to the other
pages with their filters kept; in Chromium the page links are reachable, named and pass
axe, on a desktop and on a phone."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from central_cms import db as cms_db
from central_cms import models as m
from central_cms.paging import Page, requested_page
from central_cms.runtime import runtime
from testkit.browsers import assert_accessible, shot, sign_in
from testkit.city import add_profile, add_site
from testkit.messages import T0
from testkit.staff import ADMIN, login, make_user

DASH = "\N{EN DASH}"  # the pager writes ranges as "Showing 1 (en dash) 50 of 120"


def test_page_numbers_show_the_ends_and_the_neighbours_with_gaps_between():
    assert Page(1, 0).count == 1 and Page(1, 0).first_row == 0
    assert Page(7, 1000).nearby() == [1, None, 5, 6, 7, 8, 9, None, 20]
    assert Page(1, 120).nearby() == [1, 2, 3]
    assert Page(3, 120).previous == 2 and Page(3, 120).next is None
    assert (Page(3, 120).first_row, Page(3, 120).last_row) == (101, 120)
    assert requested_page({"page": "9"}, 120).number == 3  # a stale link: the last page
    assert requested_page({"page": "-2"}, 120).number == 1
    assert requested_page({"page": "two"}, 120).number == 1


def rows_of(html: str) -> list[str]:
    return re.findall(r"<tr><td>", html)


def add_campaigns(session, count: int) -> None:
    site = session.get(m.Site, "north-pool")
    assert site is not None
    for n in range(count):
        session.add(
            m.Campaign(
                id=f"camp-{n:03d}",
                name=f"Campaign {n:03d}",
                owner_site_id=site.id,
                status="published" if n % 2 else "draft",
                created_by="test",
                created_at=T0,
                # Pairs updated at the same instant: the id keeps the order total.
                updated_at=T0 + timedelta(minutes=n // 2),
            )
        )
    session.commit()


@pytest.fixture
def city(session, rt):
    add_site(session, rt, "north-pool", actor=ADMIN)
    add_profile(session, rt, "indoor", actor=ADMIN)
    session.commit()
    make_user(session, rt, "boss", m.Role.ADMIN)
    return session


def test_the_campaign_list_pages_newest_first_without_repeating_or_skipping(city, client):
    add_campaigns(city, 120)
    login(client, "boss")
    seen: list[str] = []
    for number in (1, 2, 3):
        html = client.get(f"/campaigns/?page={number}").text
        seen += re.findall(r'href="/campaigns/(camp-\d+)"', html)
        assert f"Showing {(number - 1) * 50 + 1}{DASH}{min(number * 50, 120)} of 120" in html
    assert seen == [f"camp-{n:03d}" for n in range(119, -1, -1)]
    first = client.get("/campaigns/").text
    assert '<nav class="pager" aria-label="Pages">' in first
    assert 'aria-current="page"><span class="visually-hidden">Page </span>1<' in first
    assert 'href="/campaigns/?page=2" rel="next"' in first
    # A filter is kept in the page links, and a stale page number shows the last page.
    published = client.get("/campaigns/?status=published&page=5").text
    assert f"Showing 51{DASH}60 of 60" in published
    assert 'href="/campaigns/?status=published&amp;page=1"' in published
    assert all(int(n) % 2 for n in re.findall(r'href="/campaigns/camp-(\d+)"', published))


def test_the_audit_log_and_devices_page_too(city, client, rt):
    now = rt.clock.now()
    for n in range(130):
        city.add(
            m.AuditEntry(
                at=now, username="boss", action="x.save", entity_type="x", entity_id=f"e{n % 2}"
            )
        )
    for n in range(55):
        city.add(
            m.Device(
                id=f"sig-{n:02d}",
                kind="signage",
                site_id="north-pool",
                profile_id="indoor",
                created_at=now,
            )
        )
    city.commit()
    total = city.scalar(select(func.count()).select_from(m.AuditEntry))
    assert total is not None and 130 < total <= 150  # and what setting up the city wrote
    login(client, "boss")
    audit = client.get("/audit/?page=3").text
    assert f"Showing 101{DASH}{total} of {total}" in audit
    assert 'rel="prev"' in audit and 'rel="next"' not in audit
    only = client.get("/audit/?entity=e1&page=2").text
    assert f"Showing 51{DASH}65 of 65" in only
    assert 'href="/audit/?entity=e1&amp;page=1"' in only
    devices = client.get("/devices/?page=2").text
    assert f"Showing 51{DASH}55 of 55" in devices
    assert re.findall(r"<code>(sig-\d+)</code>", devices) == [f"sig-{n}" for n in range(50, 55)]


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_device_health_and_screens_page_in_a_browser_on_a_desktop_and_a_phone(
    server, browser, shots
):
    app, base = server
    rt = runtime(app)
    session = cms_db.database(app).sessions()
    add_site(session, rt, "north-pool", name="North Pool", actor=ADMIN)
    add_profile(session, rt, "indoor", actor=ADMIN)
    session.commit()
    now = rt.clock.now()
    for n in range(120):
        session.add(
            m.Device(
                id=f"sig-{n:03d}",
                name=f"Screen {n:03d}",
                kind="signage",
                site_id="north-pool",
                profile_id="indoor",
                created_at=now,
            )
        )
    session.commit()  # the directory follows the commit into the fleet store
    make_user(session, rt, "it-ops", m.Role.IT)
    session.close()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, base, "it-ops")
    page.goto(f"{base}/analytics/fleet?sort=device")
    expect(page.get_by_text(f"Showing 1{DASH}50 of 120")).to_be_visible()
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("sig-000")
    pager = page.get_by_role("navigation", name="Pages")
    pager.get_by_role("link", name="Next page").click()
    expect(page.get_by_text(f"Showing 51{DASH}100 of 120")).to_be_visible()
    expect(rows.first).to_contain_text("sig-050")
    expect(pager.get_by_role("link", name="Page 2")).to_have_attribute("aria-current", "page")
    # The chosen sort survives paging; choosing another starts again at page 1.
    assert "sort=device" in page.url
    assert_accessible(page, "device health, page 2")
    shot(page, shots / "fleet-page-2.png", full_page=True)

    page.goto(f"{base}/screens/?paused=1&page=3")
    expect(page.get_by_text(f"Showing 101{DASH}120 of 120")).to_be_visible()
    expect(page.locator("ul.screens > li")).to_have_count(20)
    screens_pager = page.get_by_role("navigation", name="Pages of screens")
    expect(screens_pager.get_by_role("link", name="Previous page")).to_be_visible()
    assert_accessible(page, "screens, page 3")

    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    sign_in(phone, base, "it-ops")
    phone.goto(f"{base}/analytics/fleet?sort=device&page=2")
    link = phone.get_by_role("navigation", name="Pages").get_by_role("link", name="Page 3")
    box = link.bounding_box()
    assert box is not None and box["width"] >= 44 and box["height"] >= 44  # a finger's size
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1, "the page links must not push the page sideways"
    assert_accessible(phone, "device health on a phone")
    shot(phone, shots / "fleet-phone.png", full_page=True)
