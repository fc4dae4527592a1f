"""QR links as staff and visitors meet them, in headless Chromium against a running CMS:
an editor's link to a site the city has not approved is refused beside the field; after
phones scan a screen's code, staff find the scans on the campaign's analytics; a scan of
an ended promotion shows a friendly page on a phone. Each page passes axe."""

from __future__ import annotations

import http.client
import threading
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from central_cms import campaigns
from central_cms import db as cms_db
from central_cms import models as m
from central_cms.app import create_app
from central_cms.compiler import Targets
from central_cms.publisher import RecordingPublisher
from central_cms.runtime import parts, runtime
from devices.protocol import ItemKind, Manifest, parse_signed
from testkit.brokers import free_port
from testkit.browsers import assert_accessible, sign_in
from testkit.city import make_world
from testkit.staff import ADMIN, APPROVER, make_user

pytestmark = pytest.mark.browser

BOOKING = "https://bookings.example.org/swim-school"


@pytest.fixture
def cms(config, clock, request):
    port = free_port()
    publisher = RecordingPublisher()
    app = create_app(
        config.with_changes(public_url=f"http://127.0.0.1:{port}"),
        publisher=publisher,
        clock=clock,
        renewal=False,
    )
    httpd = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()

    def stop():
        httpd.shutdown()
        thread.join(10)
        parts(app).close()

    request.addfinalizer(stop)
    return app, publisher, port


def phone_scan(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_an_unapproved_destination_is_refused_beside_the_link_field(cms, browser, shots):
    app, _, port = cms
    base = f"http://127.0.0.1:{port}"
    session = cms_db.database(app).sessions()
    make_world(session, runtime(app))
    make_user(session, runtime(app), "editor", m.Role.EDITOR)
    session.close()
    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    sign_in(page, base, "editor")
    page.goto(f"{base}/campaigns/new")
    page.get_by_label("Name").fill("Swim school enrolments")
    page.get_by_label("Owner site").select_option("north-pool")
    page.get_by_label("North Pool").check()
    page.locator("#items-0-kind").select_option("image")
    page.locator("#items-0-media_id").select_option(label="Poster (image)")
    page.locator("#items-0-duration_s").fill("12")
    page.locator("#items-0-alt_text").fill("Swim school poster")
    page.locator("#items-0-link_url").fill("https://shop.example.com/deals")
    page.get_by_role("button", name="Save draft").click()
    error = page.locator("#items-0-link_url-error")
    expect(error).to_contain_text("Item 1 (Swim school poster): shop.example.com is not one of")
    expect(page.locator("#items-0-link_url")).to_have_attribute("aria-invalid", "true")
    error.scroll_into_view_if_needed()
    page.screenshot(path=shots / "qr-link-refused.png")
    assert_accessible(page, "campaign editor with a refused link")


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_staff_find_a_screens_scans_on_the_campaigns_analytics(cms, browser, shots):
    app, publisher, port = cms
    base = f"http://127.0.0.1:{port}"
    rt = runtime(app)
    session = cms_db.database(app).sessions()
    world = make_world(session, rt)
    make_user(session, rt, "editor", m.Role.EDITOR)
    campaign = campaigns.save(
        session,
        rt,
        ADMIN,
        campaigns.CampaignInput(
            name="Swim school enrolments",
            owner_site_id="north-pool",
            items=(
                campaigns.ItemInput(
                    kind=ItemKind.IMAGE,
                    media_id=world.media["poster"],
                    duration_s=12,
                    link_url=BOOKING,
                ),
            ),
            targets=Targets(sites=frozenset({"north-pool"})),
        ),
    )
    campaigns.submit(session, rt, ADMIN, campaign.id)
    campaigns.approve(session, rt, APPROVER, campaign.id)
    campaign_id = campaign.id
    session.close()
    key = rt.signing_key.public_key
    manifest = next(
        parse_signed(Manifest, payload, [key])
        for topic, payload, _ in reversed(publisher.sent)
        if topic.endswith("/sig-north-pool/manifest")
    )
    qr = manifest.items[0].qr
    assert qr is not None
    for _ in range(3):
        assert phone_scan(port, urlsplit(qr.url).path) == 302

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, base, "editor")
    page.goto(f"{base}/campaigns/{campaign_id}")
    page.get_by_role("link", name="Plays, promotion clicks and QR code scans").click()
    expect(page.get_by_role("heading", name="QR code scans")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="sig-north-pool")
    expect(row).to_contain_text("Swim school enrolments")
    expect(row).to_contain_text("North Pool")
    expect(row.get_by_role("cell").last).to_have_text("3")
    expect(page.get_by_text("QR code scans", exact=False).first).to_be_visible()
    page.locator("#scans").scroll_into_view_if_needed()
    page.screenshot(path=shots / "qr-scans-analytics.png")
    assert_accessible(page, "analytics with QR code scans")

    phone = browser.new_page(viewport={"width": 390, "height": 844})
    response = phone.goto(f"{base}/l/abcdefghijkm")
    assert response is not None and response.status == 404
    expect(phone.get_by_role("heading", name="This promotion has ended")).to_be_visible()
    phone.screenshot(path=shots / "qr-link-ended.png")
    assert_accessible(phone, "ended promotion page")
