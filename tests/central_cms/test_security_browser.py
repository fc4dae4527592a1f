"""Issue 13 in headless Chromium against a real CMS server: an admin signs a user out
everywhere from the Users page and that user's open browser is signed out at once; the
Users page, the site form and the approval queue pass axe-core and work on a phone."""

from __future__ import annotations

import threading

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from central_cms import campaigns
from central_cms import db as cms_db
from central_cms import models as m
from central_cms.app import create_app
from central_cms.compiler import Targets
from central_cms.policy import Actor
from central_cms.runtime import parts, runtime
from devices.clock import SystemClock
from devices.protocol import ItemKind, TextSlide
from testkit.brokers import free_port
from testkit.browsers import assert_accessible, sign_in
from testkit.city import make_world
from testkit.staff import make_user

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def server(config, request):
    port = free_port()
    app = create_app(
        config.with_changes(public_url=f"http://127.0.0.1:{port}"), clock=SystemClock()
    )
    httpd = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        httpd.shutdown()
        thread.join(10)
        parts(app).close()  # the renewer and feed refresher too, not only the publisher

    request.addfinalizer(stop)
    return app, f"http://127.0.0.1:{port}"


def test_an_admin_signs_a_user_out_everywhere(server, browser, shots):
    app, base = server
    session = cms_db.database(app).sessions()
    rt = runtime(app)
    make_user(session, rt, "boss", m.Role.ADMIN)
    make_user(session, rt, "ed", m.Role.EDITOR)
    session.close()
    ed = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(ed, base, "ed")
    boss = browser.new_page(viewport=PHONE)
    sign_in(boss, base, "boss")
    boss.goto(f"{base}/users/")
    assert_accessible(boss, "users")
    boss.get_by_role("button", name="Sign out everywhere (ed)").click()
    expect(boss.get_by_text("Signed ed out everywhere (1 session ended)")).to_be_visible()
    boss.screenshot(path=shots / "users-sign-out-everywhere.png", full_page=True)
    ed.goto(f"{base}/campaigns/")
    expect(ed.get_by_role("heading", name="Sign in")).to_be_visible()


def test_self_approval_pages_are_accessible(server, browser, shots):
    app, base = server
    session = cms_db.database(app).sessions()
    rt = runtime(app)
    make_world(session, rt)
    make_user(session, rt, "boss", m.Role.ADMIN)
    made = campaigns.save(
        session,
        rt,
        Actor("boss", m.Role.ADMIN),
        campaigns.CampaignInput(
            name="Late night swim",
            owner_site_id="north-pool",
            items=(
                campaigns.ItemInput(
                    kind=ItemKind.TEXT, duration_s=12, text=TextSlide(title="Late swim")
                ),
            ),
            targets=Targets(sites=frozenset({"north-pool"})),
        ),
    )
    campaigns.submit(session, rt, Actor("boss", m.Role.ADMIN), made.id)
    session.close()
    page = browser.new_page(viewport=PHONE)
    sign_in(page, base, "boss")
    page.goto(f"{base}/campaigns/approvals")
    expect(page.get_by_text("another approver must approve it")).to_be_visible()
    expect(page.get_by_role("button", name="Approve and publish")).to_have_count(0)
    assert_accessible(page, "approvals")
    page.screenshot(path=shots / "approvals-own-campaign.png", full_page=True)
    page.goto(f"{base}/sites/north-pool/edit")
    box = page.get_by_label("The person who sends a campaign may also approve it")
    expect(box).not_to_be_checked()
    assert_accessible(page, "site form")
    page.screenshot(path=shots / "site-self-approval.png", full_page=True)
