"""The Newsletter sign-ups page in headless Chromium: reached from the navigation, passes
an axe-core scan, finds an address and deletes it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from central_cms import db as cms_db
from central_cms import models as m
from central_cms import newsletter
from central_cms.runtime import runtime
from testkit.browsers import assert_accessible, shot, sign_in
from testkit.city import make_world
from testkit.staff import make_user

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_an_editor_finds_and_deletes_a_signup(server, browser, shots):
    app, base = server
    rt = runtime(app)
    session = cms_db.database(app).sessions()
    world = make_world(session, rt, "-nl")
    portal = session.get(m.Device, next(d for d in world.devices if d.startswith("portal-")))
    for address in ("ann@example.org", "bo@example.org", "=2+3@example.org"):
        data = newsletter.SignupInput(address, portal.site_id, "vi", "2026-1")
        newsletter.store_signup(session, portal, data, rt.clock.now())
    make_user(session, rt, "editor", m.Role.EDITOR)
    session.close()

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, base, "editor")
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Newsletter sign-ups"
    ).click()
    expect(page.get_by_role("heading", name="Newsletter sign-ups")).to_be_visible()
    table = page.get_by_role("table", name="Newsletter sign-ups, newest first")
    expect(table.get_by_role("row")).to_have_count(4)  # the header and three
    shot(page, shots / "11-newsletter-signups.png", full_page=True)
    assert_accessible(page, "newsletter sign-ups")

    page.get_by_label("Email address contains").fill("ann@")
    page.get_by_role("button", name="Show").click()
    expect(table.get_by_role("row")).to_have_count(2)
    page.get_by_role("button", name="Delete ann@example.org").click()
    expect(page.get_by_text(re.compile(r"^Deleted sign-up \d+\.$"))).to_be_visible()
    expect(table.get_by_text("No sign-ups match.")).to_be_visible()
    assert_accessible(page, "newsletter sign-ups after a delete")

    phone = browser.new_page(viewport={"width": 390, "height": 844})
    sign_in(phone, base, "editor")
    phone.goto(f"{base}/newsletter/")
    expect(phone.get_by_role("table").get_by_role("row")).to_have_count(3)
