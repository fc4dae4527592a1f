"""IT sets a site's Wi-Fi policy in the CMS on a phone-sized Chromium (axe clean), a
mistake is shown with its fix, and the saved policy reaches the portal's manifest."""

from __future__ import annotations

import pytest

from central_cms import db as cms_db
from central_cms import models as m
from central_cms.manifests import sync_manifests
from central_cms.runtime import runtime
from central_cms.wifi_policy import saved_policy
from testkit.browsers import assert_accessible, shot, sign_in
from testkit.city import make_world
from testkit.staff import make_user

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_it_sets_the_wifi_policy_on_a_phone(server, browser, shots):
    app, base = server
    rt = runtime(app)
    session = cms_db.database(app).sessions()
    make_world(session, rt)
    site = session.get(m.Site, "north-pool")
    assert site is not None
    site.portal_settings = {"ssid": "City Free WiFi", "terms": {"version": "1", "text": {}}}
    session.commit()
    sync_manifests(session, rt, ["portal-north-pool"])
    make_user(session, rt, "it-person", m.Role.IT)
    session.close()

    page = browser.new_page(viewport={"width": 390, "height": 844})
    sign_in(page, base, "it-person")
    page.goto(f"{base}/sites/")
    page.get_by_role("link", name="Wi-Fi policy of North Pool").click()
    page.get_by_label("Session length (minutes)").fill("90")
    page.get_by_label("Download speed (Mbit/s)").fill("five")
    page.get_by_role("button", name="Save the Wi-Fi policy").click()
    assert page.get_by_text("Download speed: 'five' is not a number").is_visible()
    assert_accessible(page, "Wi-Fi policy with a mistake")

    page.get_by_label("Download speed (Mbit/s)").fill("5")
    page.get_by_label("Only during service hours").check()
    page.get_by_label("Monday opens").fill("09:00")
    page.get_by_label("Monday closes").fill("17:00")
    page.get_by_label("Sites reachable before accepting").fill("bookings.example.org")
    page.get_by_role("button", name="Save the Wi-Fi policy").click()
    assert page.get_by_text("Saved the Wi-Fi policy of North Pool").is_visible()
    assert_accessible(page, "saved Wi-Fi policy")
    shot(page, shots / "wifi-policy-phone.png", full_page=True)

    session = cms_db.database(app).sessions()
    minutes, policy = saved_policy(session.get(m.Site, "north-pool"))
    session.close()
    assert minutes == 90 and policy is not None
    assert policy.download_kbps == 5000 and policy.walled_garden == ("bookings.example.org",)
    assert [h.day.value for h in policy.service_hours] == ["mon"]
