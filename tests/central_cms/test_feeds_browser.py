"""An admin adds the pool's booking calendar on the Live feeds page in Chromium, fetches
it, and sees the entries counted; when the booking system breaks, the page says so and
what screens still show. The pages pass axe and fit a phone."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect, sync_playwright
from werkzeug.serving import make_server

from central_cms import db as cms_db
from central_cms import models as m
from central_cms.app import create_app
from central_cms.publisher import RecordingPublisher
from central_cms.runtime import parts, runtime
from tests.brokers import free_port
from tests.browsers import launch_chromium
from tests.central_cms.conftest import PASSWORD, make_user, make_world
from tests.central_cms.feed_bodies import classes_ics
from tests.central_cms.feed_source import Answer, FeedSource, serve

pytestmark = pytest.mark.browser


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = launch_chromium(p)
        yield chromium
        chromium.close()


@pytest.fixture
def source() -> Iterator[FeedSource]:
    yield from serve()


def accessible(page: Page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def fits(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_staff_add_a_booking_calendar_and_see_when_it_breaks(
    config, clock, browser, source, tmp_path
):
    port = free_port()
    app = create_app(config, clock=clock, publisher=RecordingPublisher())
    httpd = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    session = cms_db.database(app).sessions()
    make_world(session, runtime(app))
    make_user(session, runtime(app), "comms-lead", m.Role.ADMIN)
    session.commit()
    session.close()
    source.answer = Answer(body=classes_ics())
    shots = Path(os.environ.get("DS_SCREENSHOTS") or tmp_path)
    try:
        page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
        page.goto(f"{base}/login")
        page.get_by_label("User name").fill("comms-lead")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("link", name="Live feeds").click()
        page.get_by_role("link", name="Add a feed").click()
        page.get_by_label("Short id").fill("pool-classes")
        page.get_by_label("Name").fill("Pool classes")
        page.get_by_label("Address of the feed").fill("bookings")
        page.get_by_label("Owner").select_option(label="North Pool")
        page.get_by_role("button", name="Save").click()
        expect(page.locator("#url-error")).to_contain_text("starting with https://")
        expect(page.get_by_label("Address of the feed")).to_have_attribute("aria-invalid", "true")
        accessible(page)
        fits(page)
        page.screenshot(path=str(shots / "feed-form-error.png"), full_page=True)
        page.get_by_label("Address of the feed").fill(source.url())
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Saved Pool classes.")).to_be_visible()
        expect(page.get_by_text("Not fetched yet")).to_be_visible()

        page.get_by_role("button", name="Fetch now Pool classes").click()
        expect(page.get_by_text("Fetched Pool classes: 3 entries")).to_be_visible()
        expect(page.get_by_text("Up to date")).to_be_visible()
        accessible(page)
        fits(page)

        source.answer = Answer(body=b"<html>Maintenance</html>", status=503)
        page.get_by_role("button", name="Fetch now Pool classes").click()
        expect(
            page.get_by_text("Could not fetch Pool classes: the source answered HTTP 503")
        ).to_be_visible()
        expect(
            page.get_by_text("Screens show the last good copy, under a minute old")
        ).to_be_visible()
        expect(page.get_by_text("3 entries")).to_be_visible()
        accessible(page)
        fits(page)
        page.screenshot(path=str(shots / "feeds-failing.png"), full_page=True)
        page.get_by_role("link", name="Home").click()
        expect(page.get_by_text("1 live feed needs attention")).to_be_visible()
    finally:
        httpd.shutdown()
        parts(app).close()
