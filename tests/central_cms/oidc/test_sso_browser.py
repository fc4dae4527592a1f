"""Single sign-on in headless Chromium through the real OpenID provider's own pages: an
editor of one site works on that site only, IT sees device health but approves nothing,
signing out ends the session (Back does not get in again), and with the provider down
the local admin still signs in."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect, sync_playwright
from werkzeug.serving import make_server

from central_cms import campaigns
from central_cms import db as cms_db
from central_cms import models as m
from central_cms.app import create_app
from central_cms.runtime import runtime
from central_cms.specs import Targets
from devices.clock import SystemClock
from devices.protocol import ItemKind, TextSlide
from testkit.browsers import launch_chromium
from testkit.city import make_world
from testkit.staff import ADMIN, PASSWORD, make_user
from tests.central_cms.oidc import provider as oidc
from tests.central_cms.oidc.journey import settings_for

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("db", ["sqlite"], indirect=True)]


@pytest.fixture
def serve(cms_port, request):
    """Start the CMS with `config` on the port the provider knows; returns its URL."""

    def start(config) -> tuple[object, str]:
        app = create_app(config, clock=SystemClock(), renewal=False)
        httpd = make_server("127.0.0.1", cms_port, app, threaded=True)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()

        def stop():
            httpd.shutdown()
            httpd.server_close()
            thread.join(10)
            runtime(app).publisher.stop()
            cms_db.database(app).engine.dispose()

        request.addfinalizer(stop)
        return app, f"http://127.0.0.1:{cms_port}"

    return start


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("DS_SCREENSHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def browser():
    with sync_playwright() as p:
        chromium = launch_chromium(p)
        yield chromium
        chromium.close()


def _city(app) -> str:
    """The world, plus a campaign owned by another site than the editor's."""
    session = cms_db.database(app).sessions()
    rt = runtime(app)
    make_world(session, rt)
    make_user(session, rt, "admin", m.Role.ADMIN)
    other = campaigns.save(
        session,
        rt,
        ADMIN,
        campaigns.CampaignInput(
            name="Library story time",
            owner_site_id="south-library",
            items=(
                campaigns.ItemInput(kind=ItemKind.TEXT, duration_s=12, text=TextSlide(title="Hi")),
            ),
            targets=Targets(sites=frozenset({"south-library"})),
        ),
    )
    session.close()
    return other.id


def assert_accessible(page: Page, what: str) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, f"{what}:\n{results.generate_report()}"


def sign_in_at_provider(page: Page, base: str, login: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_role("link", name="Sign in with your city account").click()
    expect(page.get_by_role("heading", name="City identity sign-in")).to_be_visible()
    page.get_by_label("Account").fill(login)
    page.get_by_label("Passphrase").fill(oidc.PASSPHRASE)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name=f"Hello, {login}")).to_be_visible()


def test_an_editor_signs_in_for_their_site_only_and_signs_out(
    config, provider, serve, browser, shots
):
    app, base = serve(config)
    other_campaign = _city(app)
    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    page.goto(f"{base}/login")
    assert_accessible(page, "sign-in page with single sign-on")
    page.screenshot(path=shots / "sso-login.png", full_page=True)
    sign_in_at_provider(page, base, "dana")
    expect(page.get_by_text("dana (editor)")).to_be_visible()
    page.goto(f"{base}/campaigns/new")
    owners = page.get_by_label("Owner site").locator("option").all_inner_texts()
    assert owners == ["North Pool"]
    # Another site's campaign: the edit is refused, naming the site.
    page.goto(f"{base}/campaigns/{other_campaign}/edit")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_text("you may not work on site south-library")).to_be_visible()

    page.goto(f"{base}/campaigns/")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Yes, sign me out").click()  # the provider's own page
    expect(page).to_have_url(f"{base}/login")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.go_back()
    page.go_back()
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(f"{base}/campaigns/")
    expect(page).to_have_url(re.compile(r"/login\?next=/campaigns/"))


def test_it_sees_device_health_and_approves_nothing(config, provider, serve, browser):
    app, base = serve(config)
    _city(app)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in_at_provider(page, base, "ivan")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Device health")).to_be_visible()
    expect(nav.get_by_role("link", name="Approvals")).to_have_count(0)
    nav.get_by_role("link", name="Device health").click()
    expect(page.get_by_role("heading", name=re.compile("Device health"))).to_be_visible()
    page.goto(f"{base}/campaigns/approvals")
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()


def test_provider_down_the_local_admin_still_signs_in(
    config, provider_folder, cms_port, serve, browser, tmp_path, shots
):
    own = oidc.start(provider_folder, tmp_path, f"http://127.0.0.1:{cms_port}", {})
    try:
        app, base = serve(config.with_changes(sso=settings_for(own.issuer, tmp_path)))
        _city(app)
        own.stop()
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/login")
        page.get_by_role("link", name="Sign in with your city account").click()
        expect(page.get_by_text("The city sign-in service cannot be reached")).to_be_visible()
        page.screenshot(path=shots / "sso-provider-down.png", full_page=True)
        page.get_by_label("User name").fill("admin")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Hello, admin")).to_be_visible()
    finally:
        own.stop()
