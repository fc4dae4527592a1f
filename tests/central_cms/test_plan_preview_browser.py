"""Plan and preview in headless Chromium against a real CMS server and the real Mosquitto:
an editor edits a published campaign and the screen keeps the approved version until a
second person approves; staff read the week calendar (desktop and phone) and preview a
screen and the splash at two instants. Every page passes axe. Screenshots go to
$DS_SCREENSHOTS, else to the test's tmp folder."""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from central_cms import db as cms_db
from central_cms import models as m
from central_cms.app import create_app
from central_cms.runtime import runtime
from devices.clock import ManualClock
from devices.protocol import Channel, Manifest, device_topic, parse_signed
from testkit.brokers import RetainedWatcher, clear_retained, free_port
from testkit.browsers import assert_accessible, shot, sign_in
from testkit.city import make_world
from testkit.staff import make_user
from tests.central_cms.plan_city import FOYER, SPLASH, london_pool

pytestmark = pytest.mark.browser

# Wednesday 21 October 2026, 10:00 BST: the week of the clock change.
NOW = datetime(2026, 10, 21, 9, 0, tzinfo=UTC)


@pytest.fixture
def server(config, request):
    port = free_port()
    app = create_app(
        config.with_changes(public_url=f"http://127.0.0.1:{port}"),
        clock=ManualClock(NOW),
        renewal=False,  # no renewal thread: it would outlive the test
    )
    httpd = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()

    def stop():
        httpd.shutdown()
        thread.join(10)
        runtime(app).publisher.stop()
        cms_db.database(app).engine.dispose()

    request.addfinalizer(stop)
    return app, f"http://127.0.0.1:{port}"


def titles(payload: bytes, key) -> list[str]:
    if not payload:
        return []
    manifest = parse_signed(Manifest, payload, [key])
    return sorted(i.text.title for i in (*manifest.items, *manifest.default_items) if i.text)


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_an_edit_plays_only_after_a_second_person_approves(server, browser, shots):
    app, base = server
    rt = runtime(app)
    key = rt.signing_key.public_key
    suffix = f"-{secrets.token_hex(3)}"
    session = cms_db.database(app).sessions()
    make_world(session, rt, suffix)
    ids = london_pool(session, rt, suffix)
    make_user(session, rt, "editor", m.Role.EDITOR)
    make_user(session, rt, "approver", m.Role.APPROVER)
    session.close()
    foyer = device_topic(FOYER + suffix, Channel.MANIFEST)
    watcher = RetainedWatcher(foyer)
    old, new = "Welcome to Riverside Baths", "Welcome: pool open until 10 pm"
    try:
        assert watcher.wait_for(lambda seen: old in titles(seen.get(foyer, b""), key))
        editor = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(editor, base, "editor")
        editor.goto(f"{base}/campaigns/{ids['Welcome']}")
        editor.get_by_role("link", name="Edit").click()
        editor.locator("#items-0-title").fill(new)
        editor.get_by_role("button", name="Save draft").click()
        expect(editor.get_by_text("as a draft")).to_be_visible()
        editor.get_by_role("button", name="Send for approval").click()
        notice = editor.locator("#approved-playing")
        expect(notice).to_contain_text(
            "The approved version is playing; your edit awaits approval."
        )
        shot(editor, shots / "plan-01-edit-awaits-approval.png", full_page=True)
        assert_accessible(editor, "campaign with an edit awaiting approval")
        with cms_db.database(app).sessions() as check:
            state = check.get(m.ManifestState, FOYER + suffix)
            assert state is not None and state.payload is not None
            assert titles(state.payload, key) == sorted([old, "Late swim tonight"])
        assert titles(watcher.latest[foyer], key) == sorted([old, "Late swim tonight"])

        approver = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(approver, base, "approver")
        approver.get_by_role("link", name="Approvals").click()
        approver.get_by_role("button", name="Approve and publish").click()
        expect(approver.get_by_text("Approved and published")).to_be_visible()
        assert watcher.wait_for(lambda seen: new in titles(seen[foyer], key))
        assert old not in titles(watcher.latest[foyer], key)
    finally:
        watcher.stop()
        clear_retained([device_topic(d + suffix, Channel.MANIFEST) for d in (FOYER, SPLASH)])


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_the_week_calendar_and_previews_at_two_instants(server, browser, shots):
    app, base = server
    rt = runtime(app)
    suffix = f"-{secrets.token_hex(3)}"
    session = cms_db.database(app).sessions()
    make_world(session, rt, suffix)
    london_pool(session, rt, suffix)
    make_user(session, rt, "viewer", m.Role.VIEWER)
    session.close()
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(page, base, "viewer")
        page.get_by_role("link", name="What plays when").click()
        page.get_by_role("link", name="Riverside Baths").click()
        expect(
            page.get_by_role("heading", name="What plays when at Riverside Baths")
        ).to_be_visible()
        sunday = page.get_by_role("region", name="Sunday 25 October")
        expect(sunday).to_contain_text("this day has 25 hours")
        expect(sunday.get_by_role("row").nth(1)).to_contain_text(
            "00:00 (from the day before) \u2013 02:00"
        )
        shot(page, shots / "plan-02-site-week.png", full_page=True)
        assert_accessible(page, "site week")
        page.get_by_role("link", name="Next week").click()
        expect(page.get_by_text("Week of Monday 26 October 2026")).to_be_visible()

        phone = browser.new_page(viewport={"width": 390, "height": 844})
        sign_in(phone, base, "viewer")
        phone.goto(f"{base}/calendar/screens/{FOYER}{suffix}?week=2026-10-19")
        saturday = phone.get_by_role("region", name="Saturday 24 October")
        expect(saturday).to_contain_text("22:00 \u2013 midnight (continues)")
        box = saturday.bounding_box()
        assert box is not None and box["width"] <= 390  # one day per row on a phone
        shot(phone, shots / "plan-03-screen-week-phone.png", full_page=True)
        assert_accessible(phone, "screen week on a phone")

        # The foyer at two instants, chosen in the form.
        saturday.get_by_role("link", name="Preview Saturday 22:00").click()
        expect(phone.locator("#showing")).to_have_text(
            "At Saturday 24 October 2026, 22:00: Late swim."
        )
        shot(phone, shots / "plan-04-foyer-2200.png", full_page=True)
        assert_accessible(phone, "foyer preview")
        phone.get_by_label("Show it at (Europe/London time)").fill("2026-10-24T12:00")
        phone.get_by_role("button", name="Show").click()
        expect(phone.locator("#showing")).to_have_text(
            "At Saturday 24 October 2026, 12:00: Default content: Welcome."
        )
        frame = phone.get_by_role("img", name="The screen at Saturday 24 October 2026, 12:00")
        expect(frame).to_be_visible()
        shot(phone, shots / "plan-05-foyer-1200.png", full_page=True)

        # The splash on a phone, at the same two instants.
        page.goto(f"{base}/calendar/screens/{SPLASH}{suffix}/preview?at=2026-10-24T22:30")
        splash = page.frame_locator("iframe[title^='The Wi-Fi splash page']")
        expect(splash.get_by_text("Late swim tonight")).to_be_visible()
        iframe = page.locator("iframe").bounding_box()
        assert iframe is not None and (iframe["width"], iframe["height"]) == (390, 844)
        shot(page, shots / "plan-06-splash-2230.png", full_page=True)
        assert_accessible(page, "splash preview")
        page.goto(f"{base}/calendar/screens/{SPLASH}{suffix}/preview?at=2026-10-24T12:00")
        expect(splash.get_by_text("Welcome to Riverside Baths")).to_be_visible()
        expect(splash.get_by_text("Late swim tonight")).to_have_count(0)
        shot(page, shots / "plan-07-splash-1200.png", full_page=True)
    finally:
        clear_retained([device_topic(d + suffix, Channel.MANIFEST) for d in (FOYER, SPLASH)])
