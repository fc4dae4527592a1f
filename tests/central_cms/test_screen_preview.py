"""A screen previewed at a chosen instant: the frame the player would draw then, and the
splash page the portal would serve then, from the compiled manifest and the alerts."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image, ImageChops

from central_cms import alerts, screen_preview
from central_cms import models as m
from devices.protocol import Severity, TextSlide
from devices.protocol.feeds import FeedData, FeedEntry
from devices.protocol.layouts import LayoutTemplate, WidgetKind
from signage_player.render import render_alert, render_text_slide
from testkit.staff import ADMIN, login, make_user
from tests.central_cms.plan_city import FOYER, SITE, SPLASH, london_pool
from tests.central_cms.test_zones import NOW, compile_all, default, text, widget

CANVAS = (1920, 1080)


@pytest.fixture
def staff(session, rt, world, client):
    london_pool(session, rt)
    make_user(session, rt, "viewer", m.Role.VIEWER)
    login(client, "viewer")
    return client


def frame(client, device_id: str, at: str) -> Image.Image:
    response = client.get(f"/calendar/screens/{device_id}/frame.png?at={at}")
    assert response.status_code == 200 and response.mimetype == "image/png"
    return Image.open(io.BytesIO(response.data)).convert("RGB")


def drawn_by_player(image: Image.Image) -> Image.Image:
    return Image.open(io.BytesIO(screen_preview.png(image))).convert("RGB")


def same(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and ImageChops.difference(a, b).getbbox() is None


def test_the_foyer_at_two_instants_shows_what_the_player_would(staff):
    late = frame(staff, FOYER, "2026-10-24T23:00")  # Saturday night, BST
    midday = frame(staff, FOYER, "2026-10-24T12:00")
    assert late.size == (960, 540)
    assert same(
        late, drawn_by_player(render_text_slide(TextSlide(title="Late swim tonight"), CANVAS))
    )
    welcome = render_text_slide(TextSlide(title="Welcome to Riverside Baths"), CANVAS)
    assert same(midday, drawn_by_player(welcome))
    # Past 02:00 GMT on the night the clocks go back, the late swim has ended.
    assert same(frame(staff, FOYER, "2026-10-25T02:30"), drawn_by_player(welcome))


def test_an_alert_replaces_the_content_while_it_lasts(staff, session, rt, clock):
    clock.set(datetime(2026, 10, 24, 21, 0, tzinfo=UTC))  # 22:00 BST
    sent = alerts.send_alert(
        session,
        rt,
        ADMIN,
        scope=SITE,
        title="Pool closed: water quality",
        body="",
        severity=Severity.WARNING,
        expires_at=clock.now() + timedelta(hours=3),
    )
    drawn = frame(staff, FOYER, "2026-10-24T23:00")
    assert same(drawn, drawn_by_player(render_alert(alerts.to_message(sent), CANVAS)))
    page = staff.get(f"/calendar/screens/{FOYER}/preview?at=2026-10-24T23:00").text
    assert "At Saturday 24 October 2026, 23:00: Alert: Pool closed: water quality." in page


def test_the_splash_at_an_instant_is_the_portals_own_page(staff):
    late = staff.get(f"/calendar/screens/{SPLASH}/splash?at=2026-10-24T23:00")
    midday = staff.get(f"/calendar/screens/{SPLASH}/splash?at=2026-10-24T12:00").text
    assert "Late swim tonight" in late.text and "Riverside Baths" in late.text
    assert "Late swim tonight" not in midday and "Welcome to Riverside Baths" in midday
    policy = late.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in policy and "script-src 'none'" in policy
    page = staff.get(f"/calendar/screens/{SPLASH}/preview?at=2026-10-24T23:00").text
    assert 'width="390" height="844" sandbox="allow-same-origin"' in page


def test_a_mistyped_instant_is_named_beside_its_field(staff):
    page = staff.get(f"/calendar/screens/{FOYER}/preview?at=Saturday").text
    assert 'aria-invalid="true" aria-describedby="at-error"' in page
    assert "\u201cSaturday\u201d is not a date and time; showing now instead." in page


def test_previews_need_a_signed_in_staff_member(client, session, rt, world):
    london_pool(session, rt)
    response = client.get(f"/calendar/screens/{FOYER}/frame.png?at=2026-10-24T23:00")
    assert response.status_code in (302, 401)


def test_a_layout_screen_is_previewed_zone_by_zone_with_its_feed():
    """The preview draws with the player's zone renderer: the main zone's slide and the
    ticker's headline from the feed's last good copy, in their boxes, not one full-screen
    item (issue 14, "rendered by the player's own code")."""
    pool = compile_all(
        default(
            "foyer",
            LayoutTemplate.MAIN_TICKER,
            text("welcome"),
            widget("news-ticker", "ticker", WidgetKind.TICKER, feed="news"),
        )
    )["sig-pool"]
    assert pool.layout is not None
    ticker = pool.layout.zone("ticker").box
    news = FeedData(
        id="news",
        version=1,
        fetched_at=NOW,
        entries=(FeedEntry(title="Library opens late on Thursday"),),
    )
    at = NOW + timedelta(minutes=5)
    with_feed = screen_preview.frame_at(pool, (), at, lambda _sha: b"", lambda _id: news)
    without = screen_preview.frame_at(pool, (), at, lambda _sha: b"")
    assert with_feed.size == (1920, 1080)
    main = (0, 0, 1920, ticker[1])
    assert same(with_feed.crop(main), without.crop(main))  # the slide, unchanged
    assert ImageChops.difference(with_feed.crop(ticker), without.crop(ticker)).getbbox()
    assert same(with_feed.crop(main), render_text_slide(TextSlide(title="welcome"), main[2:]))
