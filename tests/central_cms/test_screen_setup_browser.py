"""Issue 18 in headless Chromium against a real CMS server and the real Mosquitto: IT sets
a foyer screen to portrait with hours of its own; the manifest the screen gets says so,
and the preview draws the portrait frame in opening hours and a dark screen outside them.
Screenshots go to $DS_SCREENSHOTS, else to the test's tmp folder."""

from __future__ import annotations

import io
import secrets

import pytest
from PIL import Image
from playwright.sync_api import expect

from central_cms import db as cms_db
from central_cms import models as m
from central_cms.runtime import runtime
from devices.protocol import Channel, Manifest, device_topic, parse_signed
from testkit.brokers import RetainedWatcher, clear_retained
from testkit.browsers import assert_accessible, shot, sign_in
from testkit.city import make_world
from testkit.staff import make_user
from tests.central_cms.plan_city import FOYER, SPLASH, london_pool
from tests.central_cms.test_plan_preview_browser import server  # noqa: F401  (its clock)

pytestmark = pytest.mark.browser


def display_of(payload: bytes, key) -> tuple[int, bool]:
    """(rotation, has a power schedule) of a retained manifest."""
    manifest = parse_signed(Manifest, payload, [key])
    if manifest.display is None:
        return (0, False)
    return (manifest.display.rotation_deg, manifest.display.power_on is not None)


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_it_sets_a_portrait_screen_with_its_own_hours_and_the_preview_follows(
    server,  # noqa: F811
    browser,
    shots,
):
    app, base = server
    rt = runtime(app)
    key = rt.signing_key.public_key
    suffix = f"-{secrets.token_hex(3)}"
    session = cms_db.database(app).sessions()
    make_world(session, rt, suffix)
    london_pool(session, rt, suffix)
    make_user(session, rt, "it", m.Role.IT)
    session.close()
    foyer = FOYER + suffix
    topic = device_topic(foyer, Channel.MANIFEST)
    watcher = RetainedWatcher(topic)
    try:
        assert watcher.wait_for(lambda seen: bool(seen.get(topic)))
        assert display_of(watcher.latest[topic], key) == (0, False)  # no `display` yet

        page = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(page, base, "it")
        page.goto(f"{base}/devices/{foyer}/edit")
        page.get_by_label("How it is mounted").select_option("90")
        # The site has no opening hours yet: said beside the field, nothing saved.
        page.get_by_label("When the screen is on").select_option("opening-hours")
        page.get_by_role("button", name="Save").click()
        error = page.locator("#power_mode-error")
        expect(error).to_contain_text("This site has no opening hours yet")
        expect(page.get_by_label("When the screen is on")).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_label("How it is mounted")).to_have_value("90")  # kept
        shot(page, shots / "screen-setup-01-no-site-hours.png", full_page=True)
        assert_accessible(page, "device form with a power-mode error")

        page.get_by_label("When the screen is on").select_option("own")
        page.get_by_label("Saturday: on at").fill("09:00")
        page.get_by_label("Saturday: off at").fill("21:00")
        page.get_by_label("Sunday: on at").fill("10:00")
        page.get_by_label("Sunday: off at").fill("16:00")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text(f"Saved {foyer}.")).to_be_visible()
        assert watcher.wait_for(lambda seen: display_of(seen[topic], key) == (90, True))
        manifest = parse_signed(Manifest, watcher.latest[topic], [key])
        assert manifest.canvas == (1080, 1920)

        # Saturday noon: open, the default content upright on the portrait canvas.
        page.goto(f"{base}/calendar/screens/{foyer}/preview?at=2026-10-24T12:00")
        expect(page.locator("#showing")).to_have_text(
            "At Saturday 24 October 2026, 12:00: Default content: Welcome."
        )
        expect(page.get_by_text("1080\u00d71920, mounted at 90°")).to_be_visible()
        frame = page.get_by_role("img", name="The screen at Saturday 24 October 2026, 12:00")
        expect(frame).to_be_visible()
        noon = frame_image(page, frame.get_attribute("src") or "")
        assert noon.width < noon.height and noon.getbbox() is not None
        box = frame.bounding_box()
        assert box is not None and box["height"] > box["width"]  # shown portrait
        shot(page, shots / "screen-setup-02-portrait-preview-noon.png", full_page=True)
        assert_accessible(page, "portrait screen preview")

        # Saturday 22:00: the late swim is scheduled, but the screen is off by then.
        page.goto(f"{base}/calendar/screens/{foyer}/preview?at=2026-10-24T22:00")
        expect(page.locator("#showing")).to_have_text(
            "At Saturday 24 October 2026, 22:00: Screen off (outside its hours)."
        )
        late = page.get_by_role("img", name="The screen at Saturday 24 October 2026, 22:00")
        dark = frame_image(page, late.get_attribute("src") or "")
        assert dark.width < dark.height and dark.getbbox() is None
        shot(page, shots / "screen-setup-03-preview-off-hours.png", full_page=True)

        # The form on a phone keeps what was saved and fits the screen.
        phone = browser.new_page(viewport={"width": 390, "height": 844})
        sign_in(phone, base, "it")
        phone.goto(f"{base}/devices/{foyer}/edit")
        expect(phone.get_by_label("When the screen is on")).to_have_value("own")
        expect(phone.get_by_label("Saturday: off at")).to_have_value("21:00")
        expect(phone.get_by_label("Monday: on at")).to_have_value("")
        shot(phone, shots / "screen-setup-04-form-phone.png", full_page=True)
        wide = phone.evaluate(
            """() => [...document.querySelectorAll('main *')]
                .filter(e => e.getBoundingClientRect().right > 390)
                .map(e => e.tagName + '#' + e.id)"""
        )
        assert wide == []
        assert_accessible(phone, "device form on a phone")
    finally:
        watcher.stop()
        clear_retained([device_topic(d + suffix, Channel.MANIFEST) for d in (FOYER, SPLASH)])


def frame_image(page, src: str) -> Image.Image:
    """The preview frame the page shows, fetched with the page's own session."""
    response = page.request.get(
        src if src.startswith("http") else page.url.split("/calendar")[0] + src
    )
    assert response.ok
    return Image.open(io.BytesIO(response.body())).convert("RGB")
