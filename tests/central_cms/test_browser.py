"""Staff in headless Chromium against a real CMS server and the real Mosquitto.

An editor uploads a picture and creates a campaign for two sites; an approver approves
it; the retained manifests on the broker change for exactly the targeted devices. A
roadside campaign with a video or a 3 s dwell is refused, naming the rule. Every main
page passes an axe-core scan. Screenshots go to $DS_SCREENSHOTS (docs/screenshots/cms
when refreshing the docs), else to the test's tmp folder.
"""

from __future__ import annotations

import secrets

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from central_cms import db as cms_db
from central_cms import models as m
from central_cms.runtime import runtime
from central_cms.seed import poster
from devices.protocol import Channel, Manifest, device_topic, parse_signed
from testkit.brokers import RetainedWatcher, clear_retained
from testkit.browsers import assert_accessible, shot, sign_in
from testkit.city import make_world
from testkit.staff import make_user
from testkit.videos import h264_mp4

pytestmark = pytest.mark.browser


def versions(watcher: RetainedWatcher, topics: dict[str, str], key) -> dict[str, int]:
    return {
        device: parse_signed(Manifest, watcher.latest[topic], [key]).version
        for device, topic in topics.items()
        if watcher.latest.get(topic)
    }


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_editor_to_approver_to_the_devices(server, browser, shots):
    app, base = server
    rt = runtime(app)
    key = rt.signing_key.public_key
    suffix = f"-{secrets.token_hex(3)}"
    session = cms_db.database(app).sessions()
    world = make_world(session, rt, suffix)
    make_user(session, rt, "editor", m.Role.EDITOR)
    make_user(session, rt, "approver", m.Role.APPROVER)
    session.close()
    topics = {d: device_topic(d, Channel.MANIFEST) for d in world.devices}
    watcher = RetainedWatcher("ds/v1/devices/+/manifest")
    try:
        assert watcher.wait_for(lambda seen: all(t in seen for t in topics.values()))
        before = versions(watcher, topics, key)

        editor = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(editor, base, "editor")
        shot(editor, shots / "01-home.png")
        assert_accessible(editor, "home")

        # Upload a picture (the page shows a progress bar, then reloads).
        editor.get_by_role("link", name="Media").click()
        editor.get_by_label("Picture or video").set_input_files(
            files=[
                {
                    "name": "swim.png",
                    "mimeType": "image/png",
                    "buffer": poster(
                        "Swim school enrolments open",
                        "Book at reception",
                        (0, 94, 165),
                        size=(1600, 900),
                    ),
                }
            ]
        )
        editor.get_by_label("Title").fill("Swim school poster")
        editor.get_by_role("button", name="Upload").click()
        expect(editor.get_by_text("Uploaded “Swim school poster”.")).to_be_visible()
        expect(editor.locator(".gallery").get_by_text("Swim school poster")).to_be_visible()
        shot(editor, shots / "02-media-library.png", full_page=True)
        assert_accessible(editor, "media library")

        # A campaign for two sites' screens.
        editor.get_by_role("link", name="Campaigns").click()
        editor.get_by_role("link", name="New campaign").click()
        editor.get_by_label("Name").fill("Swim school enrolments open")
        # Issue 13 point 17: what visitors see is its own field, with translations.
        editor.get_by_label("Public title", exact=True).fill("Learn to swim this summer")
        editor.get_by_text("Public title in other languages (optional)", exact=True).click()
        editor.locator("#public_title-vi").fill("Học bơi mùa hè này")
        editor.get_by_label("Owner site").select_option("north-pool")
        editor.get_by_label("First day").fill("01/01/2026")
        editor.get_by_label("Last day").fill("31/12/2030")
        editor.get_by_label("Time window 1 from").fill("06:00")
        editor.get_by_label("until").first.fill("12:00")
        editor.get_by_label("North Pool").check()
        editor.get_by_label("South Library").check()
        editor.get_by_label("Screens", exact=True).check()
        editor.locator("#items-0-kind").select_option("image")
        editor.locator("#items-0-media_id").select_option(label="Swim school poster (image)")
        editor.locator("#items-0-duration_s").fill("12")
        editor.locator("#items-0-alt_text").fill("Swim school enrolments are open")
        shot(editor, shots / "03-campaign-editor.png", full_page=True)
        assert_accessible(editor, "campaign editor")
        editor.get_by_role("button", name="Save draft").click()
        expect(editor.get_by_text("as a draft")).to_be_visible()
        expect(editor.get_by_alt_text("Preview of item 1 on Indoor")).to_be_visible()
        editor.get_by_role("button", name="Send for approval").click()
        expect(editor.get_by_text("for approval")).to_be_visible()
        shot(editor, shots / "04-campaign-detail-pending.png", full_page=True)
        assert_accessible(editor, "campaign detail")
        assert versions(watcher, topics, key) == before  # nothing published before approval

        approver = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(approver, base, "approver")
        approver.get_by_role("link", name="Approvals").click()
        expect(approver.get_by_role("heading", name="Swim school enrolments open")).to_be_visible()
        shot(approver, shots / "05-approval-queue.png", full_page=True)
        assert_accessible(approver, "approvals")
        approver.get_by_role("button", name="Approve and publish").click()
        expect(approver.get_by_text("Approved and published")).to_be_visible()

        targeted = {f"sig-north-pool{suffix}", f"sig-south-library{suffix}"}
        assert watcher.wait_for(
            lambda seen: all(
                parse_signed(Manifest, seen[topics[d]], [key]).version > before[d] for d in targeted
            )
        ), "the targeted devices did not get new manifests"
        after = versions(watcher, topics, key)
        changed = {d for d in topics if after[d] != before[d]}
        assert changed == targeted
        assert all(after[d] == before[d] + 1 for d in targeted)
        for device in targeted:
            manifest = parse_signed(Manifest, watcher.latest[topics[device]], [key])
            assert [i.campaign_name for i in manifest.items] == ["Swim school enrolments open"]
            assert [(i.public_title, i.public_titles) for i in manifest.items] == [
                ("Learn to swim this summer", {"vi": "Học bơi mùa hè này"})
            ]
        with app.app_context():
            s = cms_db.database(app).sessions()
            stored = dict(
                s.execute(select(m.ManifestState.device_id, m.ManifestState.version)).all()
            )
            s.close()
        assert {d: stored[d] for d in topics} == after

        approver.goto(f"{base}/audit/")
        shot(approver, shots / "06-audit-log.png", full_page=True)
        assert_accessible(approver, "audit log")

        # Roadside: a video, then a 3 s dwell, are refused with the rule named.
        editor.goto(f"{base}/media/")
        editor.get_by_label("Picture or video").set_input_files(
            files=[{"name": "promo.mp4", "mimeType": "video/mp4", "buffer": h264_mp4()}]
        )
        editor.get_by_label("Title").fill("Pool promo video")
        editor.get_by_role("button", name="Upload").click()
        expect(editor.get_by_text("Uploaded “Pool promo video”.")).to_be_visible()
        editor.goto(f"{base}/campaigns/new")
        editor.get_by_label("Name").fill("Roadside pool promo")
        editor.get_by_label("Owner site").select_option("east-hall")
        editor.get_by_label("East Hall").check()
        editor.get_by_label("Led-Small").check()
        editor.locator("#items-0-kind").select_option("video")
        editor.locator("#items-0-media_id").select_option(label="Pool promo video (video)")
        editor.locator("#items-0-duration_s").fill("15")
        editor.get_by_role("button", name="Save draft").click()
        expect(editor.get_by_text("still images only")).to_be_visible()
        shot(editor, shots / "07-roadside-video-refused.png", full_page=True)
        editor.locator("#items-0-kind").select_option("text")
        editor.locator("#items-0-media_id").select_option("")
        editor.locator("#items-0-title").fill("Bin night")
        editor.locator("#items-0-duration_s").fill("3")
        editor.get_by_role("button", name="Save draft").click()
        expect(editor.get_by_text("minimum dwell 10 s")).to_be_visible()
        shot(editor, shots / "08-roadside-dwell-refused.png")
        # Fixed: 12 s of plain text is fine on the road; the preview shows the LED canvas.
        editor.locator("#items-0-duration_s").fill("12")
        editor.locator("#items-0-body").fill("7:30-9 and 2:30-4")
        editor.get_by_role("button", name="Save draft").click()
        expect(editor.get_by_text("as a draft")).to_be_visible()
        expect(editor.get_by_alt_text("Preview of item 1 on Led-Small")).to_be_visible()
        shot(editor, shots / "08b-roadside-text-preview.png", full_page=True)

        # A tablet: the editor fits 768 px without sideways scrolling.
        tablet = browser.new_page(viewport={"width": 768, "height": 1024})
        sign_in(tablet, base, "editor")
        tablet.goto(f"{base}/campaigns/new")
        assert tablet.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        shot(tablet, shots / "09-editor-tablet-768.png")
        for path in ("/devices/", "/alerts/", "/sites/"):
            tablet.goto(f"{base}{path}")
            assert_accessible(tablet, path)
        tablet.goto(f"{base}/alerts/")
        shot(tablet, shots / "10-alerts-tablet.png", full_page=True)
        login_page = browser.new_page(viewport={"width": 1280, "height": 700})
        login_page.goto(f"{base}/login")
        assert_accessible(login_page, "login")
        shot(login_page, shots / "00-login.png")
    finally:
        watcher.stop()
        clear_retained(topics.values())


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_editor_sees_a_title_too_long_for_the_led_refused_beside_the_field(server, browser, shots):
    """Issue 13, point 18: "School holidays at Riverton Leisureplex — sports camps…" showed
    as "School holidays at Riverton" on the LED, and nobody was told."""
    app, base = server
    rt = runtime(app)
    session = cms_db.database(app).sessions()
    make_world(session, rt, f"-{secrets.token_hex(3)}")
    make_user(session, rt, "editor", m.Role.EDITOR)
    session.close()
    title = "School holidays at Riverton Leisureplex — sports camps…"
    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    sign_in(page, base, "editor")
    page.goto(f"{base}/campaigns/new")
    page.get_by_label("Name").fill("Riverton school holidays - cross-promo")
    page.get_by_label("Owner site").select_option("east-hall")
    page.get_by_label("East Hall").check()
    page.get_by_label("Led-Small").check()
    page.locator("#items-0-kind").select_option("text")
    page.locator("#items-0-title").fill(title)
    page.locator("#items-0-duration_s").fill("12")
    page.get_by_role("button", name="Save draft").click()

    title_field = page.locator("#items-0-title")
    expect(title_field).to_have_attribute("aria-invalid", "true")
    beside = page.locator("#items-0-title-error")
    expect(beside).to_be_visible()
    expect(beside).to_contain_text("cut it off at “School holidays at…”")
    expect(beside).to_contain_text("tick “Shrink to fit”")
    # Announced with the field it belongs to, and right under it on the page.
    assert title_field.evaluate("f => f.getAttribute('aria-describedby') === 'items-0-title-error'")
    field_box, error_box = title_field.bounding_box(), beside.bounding_box()
    assert field_box and error_box
    assert 0 <= error_box["y"] - (field_box["y"] + field_box["height"]) < 40
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    beside.scroll_into_view_if_needed()
    shot(page, shots / "11-led-title-refused-beside-field.png")
    assert_accessible(page, "editor with a refused title")

    page.get_by_label("Shrink to fit").first.check()
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("as a draft")).to_be_visible()
    expect(page.get_by_alt_text("Preview of item 1 on Led-Small")).to_be_visible()
    shot(page, shots / "12-led-title-shrunk-to-fit.png", full_page=True)
