"""The whole system as `digital-spaces demo` runs it, driven as people use it.

Editor and approver in the CMS, screens checked from their own frames, a visitor on the
Wi-Fi splash at a phone viewport, an alert to one site sent and cleared, then the
analytics page.
"""

from __future__ import annotations

import io
import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from testkit.harness import eventually
from tests.e2e.support import alert_showing, player, save_frame, sign_in

pytestmark = pytest.mark.browser

TARGETED = ("sig-cannington-lp-foyer-01", "sig-bentley-lib-foyer-01")
CAMPAIGN = "Summer swim carnival"
CLOSED = "Cannington Leisureplex closed"
MAGENTA = (230, 0, 126)


def poster() -> bytes:
    image = Image.new("RGB", (1600, 900), MAGENTA)
    ImageDraw.Draw(image).text((80, 80), CAMPAIGN, fill="white")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def shows_campaign(frame):
    r, g, b = frame.convert("RGB").getpixel((frame.width // 2, frame.height // 2))
    return r > 190 and g < 60 and 90 < b < 170


def test_campaign_reaches_exactly_its_screens_then_visitor_alert_and_analytics(
    stack, browser, shots
):
    base = stack.cms_url
    today = datetime.now(ZoneInfo("Australia/Perth")).date()

    # 1. The editor uploads a poster and makes an urgent campaign for two sites.
    editor = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(editor, base, "editor")
    editor.get_by_role("link", name="Media").click()
    editor.get_by_label("Picture or video").set_input_files(
        files=[{"name": "carnival.png", "mimeType": "image/png", "buffer": poster()}]
    )
    editor.get_by_label("Title").fill(CAMPAIGN)
    editor.get_by_role("button", name="Upload").click()
    expect(editor.get_by_text(f"Uploaded “{CAMPAIGN}”.")).to_be_visible()

    editor.get_by_role("link", name="Campaigns").click()
    editor.get_by_role("link", name="New campaign").click()
    editor.get_by_label("Name").fill(CAMPAIGN)
    editor.get_by_label("Owner site").select_option("cannington-leisureplex")
    editor.get_by_label("Priority").select_option("90")
    editor.get_by_label("First day").fill(today.isoformat())
    editor.get_by_label("Last day").fill((today + timedelta(days=7)).isoformat())
    editor.get_by_label("Cannington Leisureplex").check()
    editor.get_by_label("Bentley Library").check()
    editor.get_by_label("Screens", exact=True).check()
    editor.get_by_label("Wi-Fi splash pages").check()
    editor.locator("#items-0-kind").select_option("image")
    editor.locator("#items-0-media_id").select_option(label=f"{CAMPAIGN} (image)")
    editor.locator("#items-0-duration_s").fill("10")
    editor.locator("#items-0-alt_text").fill("Summer swim carnival, all welcome")
    editor.locator("#items-0-link_url").fill("https://www.example.org/carnival")
    editor.get_by_role("button", name="Save draft").click()
    expect(editor.get_by_text("as a draft")).to_be_visible()
    editor.get_by_role("button", name="Send for approval").click()
    expect(editor.get_by_text("for approval")).to_be_visible()
    editor.screenshot(path=str(shots / "01-campaign-sent-for-approval.png"), full_page=True)

    # 2. The approver publishes it.
    approver = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(approver, base, "approver")
    approver.get_by_role("link", name="Approvals").click()
    approver.get_by_role("button", name="Approve and publish").click()
    expect(approver.get_by_text("Approved and published")).to_be_visible()

    # 3. Within seconds the two sites' screens show it, checked from their own frames.
    for device_id in TARGETED:
        frame = stack.display(device_id).wait_for(shows_campaign, timeout_s=45)
        assert frame is not None, f"{device_id} never showed the campaign"
        save_frame(stack, device_id, shots / f"02-screen-{device_id}.png")
    others = [d.device_id for d in stack.devices if d.display and d.device_id not in TARGETED]
    for device_id in others:
        assert not shows_campaign(stack.display(device_id).wait_for(lambda f: True, 5))
        manifest = (
            player(stack, device_id)._manifest
            if hasattr(player(stack, device_id), "_manifest")
            else None
        )
        assert manifest is None or all(i.campaign_name != CAMPAIGN for i in manifest.items)
    save_frame(stack, "sig-riverton-lp-foyer-01", shots / "03-screen-not-targeted.png")

    # 4. A visitor on a phone: the splash shows the promotion; they follow it, come back
    #    and accept the terms.
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone.route(
        "https://www.example.org/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body="<h1>Carnival</h1>"),
    )

    def splash_has_promo():
        phone.goto(stack.visitor_url)  # the node swaps manifests once the poster is cached
        return phone.get_by_role("heading", name="What's on").count() > 0

    assert eventually(splash_has_promo, 45, every_s=1)
    expect(phone.get_by_alt_text("Summer swim carnival, all welcome")).to_be_visible(timeout=30_000)
    phone.screenshot(path=str(shots / "04-visitor-splash.png"), full_page=True)
    promo = phone.get_by_role("link", name=re.compile(r"^Find out more"))
    promo.click()
    expect(phone.get_by_role("heading", name="Carnival")).to_be_visible()
    phone.go_back()
    phone.get_by_label("I accept the terms of use").check()
    phone.get_by_role("button", name="Accept and go online").click()
    expect(phone.get_by_role("heading", name="You are online")).to_be_visible()
    phone.screenshot(path=str(shots / "05-visitor-online.png"), full_page=True)

    # 5. An alert to one site takes over its screens and its Wi-Fi splash, and only that
    #    site's; cleared, both are back on their schedule within 5 s (issue 13).
    admin = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(admin, base, "admin")
    admin.get_by_role("link", name="Alerts").click()
    admin.get_by_label("Send to").select_option("cannington-leisureplex")
    admin.get_by_label("Title").fill(CLOSED)
    admin.get_by_label("Message").fill("The centre is closed after a power failure.")
    admin.get_by_label("Lasts (minutes)").fill("60")
    admin.get_by_role("button", name="Send alert").click()
    expect(admin.get_by_text(f"Alert “{CLOSED}” sent")).to_be_visible()
    alerted = player(stack, "sig-cannington-lp-foyer-01")
    bentley = player(stack, "sig-bentley-lib-foyer-01")
    display = stack.display("sig-cannington-lp-foyer-01")
    assert display.wait_for(lambda f: not shows_campaign(f) and alert_showing(alerted), 15)
    save_frame(stack, "sig-cannington-lp-foyer-01", shots / "06-screen-alert.png")
    assert not alert_showing(bentley)

    def splash_has_alert():
        phone.goto(stack.visitor_url)
        return phone.get_by_role("heading", name=CLOSED).count() == 1

    assert eventually(splash_has_alert, 15, every_s=0.5), "the splash never showed the alert"
    # A warning replaces promotions and opening hours; going online still works.
    assert phone.get_by_role("heading", name="What's on").count() == 0
    assert phone.get_by_role("heading", name="Opening hours").count() == 0
    expect(phone.get_by_role("button", name="Accept and go online")).to_be_visible()
    phone.screenshot(path=str(shots / "06-visitor-splash-alert.png"), full_page=True)

    admin.get_by_role("button", name=f"Clear {CLOSED}").click()
    expect(admin.get_by_text(f"Cleared “{CLOSED}”.")).to_be_visible()
    cleared_at = time.monotonic()

    def left_s():
        return max(0.0, 5.0 - (time.monotonic() - cleared_at))

    assert display.wait_for(lambda f: shows_campaign(f) and not alert_showing(alerted), 5), (
        "the cleared alert stayed on the Cannington screen"
    )

    def splash_is_back():
        phone.goto(stack.visitor_url)
        return (
            phone.get_by_role("heading", name=CLOSED).count() == 0
            and phone.get_by_role("heading", name="What's on").count() == 1
        )

    assert eventually(splash_is_back, left_s(), every_s=0.5), (
        "the cleared alert stayed on the splash"
    )
    assert time.monotonic() - cleared_at <= 5.0
    expect(phone.get_by_alt_text("Summer swim carnival, all welcome")).to_be_visible()
    save_frame(stack, "sig-cannington-lp-foyer-01", shots / "06-screen-alert-cleared.png")

    # 6. The analytics page shows the campaign's plays and the Wi-Fi session.
    plays = editor.locator(
        "table", has=editor.get_by_role("columnheader", name="Shown / scheduled")
    )
    sessions = editor.get_by_role("table", name="Wi-Fi sessions and visitors per site per day")

    def analytics_ready():
        editor.goto(f"{base}/analytics/")
        return (
            plays.get_by_role("row", name=re.compile(CAMPAIGN)).count() >= 2  # both sites
            and sessions.get_by_role("row", name=re.compile(r"Cannington Leisureplex 1 ")).count()
            == 1
        )

    if not eventually(analytics_ready, 60, every_s=1):
        editor.screenshot(path=str(shots / "07-analytics.png"), full_page=True)
        raise AssertionError("plays or the Wi-Fi session never reached analytics")
    editor.screenshot(path=str(shots / "07-analytics.png"), full_page=True)


def test_the_demo_foyers_show_todays_classes_and_the_city_news_from_their_feeds(stack, shots):
    """The seed's layouts at work: the leisureplex foyer's side panel shows today's classes
    from the site's booking calendar, its ticker the city's news, both fetched by the
    CMS from the demo's stand-in sources and drawn by the player from its feed store."""
    from digital_spaces.demo.bookings import CLASSES, NEWS

    foyer = player(stack, "sig-riverton-lp-foyer-01")
    classes = {name for name, *_ in CLASSES["leisureplex"]}
    headlines = {f"News: {title}" for title, _ in NEWS}

    def words(zone: str) -> list[str]:
        key = foyer.zones_on_screen().get(zone)
        return [b.text for b in key.view.blocks] if key and key.view else []

    def shows_the_feeds() -> bool:
        side, ticker = words("side"), words("ticker")
        return (
            side[:1] == ["Today's classes"]
            and len(side) > 1
            and all(any(name in row for name in classes) for row in side[1:])
            and bool(ticker)
            and set(ticker) <= headlines
        )

    # The side panel's playlist turns to the timetable for 30 s a minute.
    assert eventually(shows_the_feeds, 90, every_s=0.5), (words("side"), words("ticker"))
    save_frame(stack, "sig-riverton-lp-foyer-01", shots / "08-foyer-feeds.png")
