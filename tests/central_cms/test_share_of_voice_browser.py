"""Share of voice in headless Chromium on a phone: an editor asks for too much, reads the
error beside the field, gives a quarter of the hour, an approver publishes it, and after
a day of the screen's own playback the campaign's airtime page shows each hour met.
Every page passes axe. Screenshots go to $DS_SCREENSHOTS, else the test's tmp folder."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright
from werkzeug.serving import make_server

from central_cms import db as cms_db
from central_cms import models as m
from central_cms.app import create_app
from central_cms.config import CmsConfig
from central_cms.publisher import RecordingPublisher
from central_cms.runtime import parts, runtime
from devices.clock import ManualClock
from testkit.brokers import free_port
from testkit.browsers import launch_chromium
from testkit.city import make_world
from testkit.messages import T0
from testkit.staff import PASSWORD, make_user
from tests.central_cms.share_of_voice_steps import (
    PERTH_MIDNIGHT,
    SCREEN,
    ingest,
    latest_manifest,
    play_a_day,
    publish,
)

pytestmark = pytest.mark.browser
PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = launch_chromium(p)
        yield chromium
        chromium.close()


def _sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _accessible(page: Page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_an_editor_guarantees_a_quarter_of_the_hour_and_sees_it_met(
    config: CmsConfig, browser: Browser, tmp_path: Path
) -> None:
    port = free_port()
    clock = ManualClock(T0)
    publisher = RecordingPublisher()
    app = create_app(
        config.with_changes(public_url=f"http://127.0.0.1:{port}"),
        publisher=publisher,
        clock=clock,
    )
    httpd = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    rt = runtime(app)
    session = cms_db.database(app).sessions()
    make_world(session, rt)
    publish(session, rt, "Pool opening hours", None)
    make_user(session, rt, "comms", m.Role.EDITOR)
    make_user(session, rt, "approver", m.Role.APPROVER)
    session.close()
    shots = Path(os.environ.get("DS_SCREENSHOTS") or tmp_path)
    try:
        page = browser.new_page(viewport=PHONE)
        _sign_in(page, base, "comms")
        page.goto(f"{base}/campaigns/new")
        page.get_by_label("Name (staff only)").fill("Swim school term 1")
        page.get_by_label("North Pool").check()
        page.get_by_label("Screens", exact=True).check()
        page.get_by_label("Time window 1 from").fill("08:00")
        page.locator("#window-0-end").fill("18:00")
        for row, (title, seconds) in enumerate((("Learn to swim", "10"), ("Enrol now", "15"))):
            page.locator(f"#items-{row}-kind").select_option("text")
            page.locator(f"#items-{row}-title").fill(title)
            page.locator(f"#items-{row}-duration_s").fill(seconds)
        airtime = page.get_by_label("Guaranteed airtime", exact=True)
        airtime.fill("150")
        page.get_by_label("Given as").select_option(label="% of each hour")
        page.get_by_role("button", name="Save draft").click()

        beside = page.locator("#share_s_per_hour-error")
        expect(beside).to_have_text(
            "Guaranteed airtime: a percentage of the hour is from 1 to 100."
        )
        expect(airtime).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#items-1-title")).to_have_value("Enrol now")  # nothing lost
        page.screenshot(path=str(shots / "share-of-voice-error.png"), full_page=True)
        _accessible(page)

        airtime.fill("25")
        page.get_by_role("button", name="Save draft").click()
        expect(page.get_by_text("15 min an hour (25 %): 36 plays of item 1 (10 s)")).to_be_visible()
        _accessible(page)
        page.get_by_role("button", name="Send for approval").click()
        expect(page.get_by_text("Sent “Swim school term 1” for approval.")).to_be_visible()
        campaign_url = page.url

        approver = browser.new_page(viewport=PHONE)
        _sign_in(approver, base, "approver")
        approver.goto(campaign_url)
        approver.get_by_role("button", name="Approve and publish").click()
        expect(approver.get_by_text("Approved and published “Swim school term 1”.")).to_be_visible()

        ingest(app, SCREEN, play_a_day(latest_manifest(publisher, rt, SCREEN)))
        clock.set(PERTH_MIDNIGHT + timedelta(days=1, hours=7))  # early the morning after
        page.goto(campaign_url)
        page.get_by_role("link", name="guaranteed and achieved, hour by hour").click()
        expect(page.get_by_role("heading", name="Hour by hour, 01/12/2026")).to_be_visible()
        hours = page.locator("#hours + .table-scroll tbody tr")
        expect(hours).to_have_count(10)
        expect(hours.filter(has_text="Met")).to_have_count(10)
        expect(hours.first).to_contain_text("08:00 AWST")
        expect(page.get_by_role("cell", name="10 of 10")).to_be_visible()
        page.screenshot(path=str(shots / "share-of-voice-airtime.png"), full_page=True)
        _accessible(page)
    finally:
        httpd.shutdown()
        parts(app).close()
