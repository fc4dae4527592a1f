"""Issue 14's first Must-show, walked to the end in headless Chromium as staff would.

An editor registers the pool's booking calendar (iCal, from a real local HTTP server) and
the city's news (RSS), builds a playlist of six slides and reorders it by keyboard, gives
North Pool's screens a main + side + ticker (+ clock) layout with a playlist per zone (the
six slides, today's timetable, the news ticker, a clock), and sends a cross-promotion to
every site but its owner that skips the roadside sign, with the reason listed. A second
staff member approves. Then the foyer screen, a real device agent and player on the
test's own Mosquitto, shows each zone's right content at two chosen instants of its
injected clock, from the signed manifest it received; a new copy of the calendar redraws
only the timetable's zone; and the pool's Wi-Fi splash (the portal node and its app)
lists the calendar's classes under "What's on". Screenshots of the CMS steps, the frames
and the splash go to $DS_SCREENSHOTS (else the test's tmp folder).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import zxingcpp
from PIL import Image, ImageChops
from playwright.sync_api import Browser, Page, expect

from central_cms import db as cms_db
from central_cms import models as m
from central_cms.runtime import runtime
from devices.clock import ManualClock
from devices.protocol.layouts import LayoutTemplate, build_layout
from signage_player.tiles import TileKey
from testkit.browsers import assert_accessible, shot, sign_in
from testkit.city import make_world
from testkit.harness import eventually
from testkit.staff import make_user
from tests.central_cms.feed_bodies import day_classes_ics, news_rss
from tests.central_cms.feed_source import Answer, FeedSource, serve
from tests.central_cms.journey_devices import Screen, start_screen, start_splash

pytestmark = pytest.mark.browser
PERTH = ZoneInfo("Australia/Perth")
TITLES = ["Swim lessons", "Gym intro", "Yoga at ten", "Aqua fit", "Kids club", "Sauna open"]
REORDERED = ["Swim lessons", "Aqua fit", "Gym intro", "Yoga at ten", "Kids club", "Sauna open"]
SLIDE_S = 8
BOX = {z.name: z.box for z in build_layout(LayoutTemplate.MAIN_SIDE_TICKER_CLOCK, 1920, 1080).zones}


@pytest.fixture
def config(config, broker):
    """The CMS and the devices on the test's own Mosquitto (retained copies stay ours)."""
    url = f"mqtt://127.0.0.1:{broker.port}"
    return config.with_changes(mqtt_brokers=(url,), device_brokers=(url,))


@pytest.fixture
def bookings() -> Iterator[FeedSource]:
    yield from serve()


@pytest.fixture
def news() -> Iterator[FeedSource]:
    yield from serve()


def classes(first: date, second: date, *extra: tuple[str, str, str, int, str]) -> bytes:
    return day_classes_ics(
        [
            (first.isoformat(), "10:00", "Aquarobics", 45, "Program pool"),
            (first.isoformat(), "16:00", "Learn to swim", 30, "Learner pool"),
            (second.isoformat(), "08:30", "Yoga", 60, "Studio 2"),
            (second.isoformat(), "15:00", "Water polo", 45, "Main pool"),
            *extra,
        ],
        "Australia/Perth",
    )


# --- what staff do in the CMS -------------------------------------------------------------


def add_feed(page: Page, base: str, feed_id: str, name: str, url: str, kind: str, owner: str):
    page.goto(f"{base}/feeds/")
    page.get_by_role("link", name="Add a feed").click()
    page.get_by_label("Short id").fill(feed_id)
    page.get_by_label("Name").fill(name)
    page.get_by_label("Address of the feed").fill(url)
    page.get_by_label("Kind").select_option(kind)
    page.get_by_label("Owner").select_option(label=owner)
    page.get_by_label("Hide after (hours without a good copy)").fill("72")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text(f"Saved {name}.")).to_be_visible()


def fetch_now(page: Page, base: str, name: str) -> None:
    page.goto(f"{base}/feeds/")
    page.get_by_role("button", name=f"Fetch now {name}").click()
    expect(page.get_by_text(f"Fetched {name}:")).to_contain_text("sent to the screens")


def build_playlist(page: Page, base: str, name: str, rows: list[dict[str, str]]) -> None:
    page.goto(f"{base}/playlists/new")
    page.get_by_label("Name (staff only)").fill(name)
    page.get_by_label("Owner site").select_option("north-pool")
    while page.locator("[data-playlist-item]").count() < len(rows):
        page.get_by_role("button", name="Add three more items").click()
    for n, row in enumerate(rows):
        for field, value in row.items():
            target = page.locator(f"#items-{n}-{field}")
            if field in ("kind", "widget", "feed", "media_id"):
                target.select_option(value)
            else:
                target.fill(value)


def save_playlist(page: Page, name: str, count: int) -> None:
    page.get_by_role("button", name="Save playlist").click()
    expect(page.get_by_text(f"Saved the playlist “{name}” ({count} items).")).to_be_visible()


def titles_shown(page: Page) -> list[str]:
    return [
        page.locator(f"#items-{n}-title").input_value()
        for n in range(page.locator("[data-playlist-item]").count())
        if page.locator(f"#items-{n}-kind").input_value()
    ]


def widget(kind: str, title: str, feed: str = "") -> dict[str, str]:
    row = {"kind": "widget", "widget": kind, "title": title, "duration_s": "600"}
    return row | ({"feed": feed} if feed else {})


def build_the_foyer(page: Page, base: str, shots) -> None:
    """Feeds, four playlists (six slides reordered by keyboard) and North Pool's layout."""
    build_playlist(
        page,
        base,
        "Foyer loop",
        [{"kind": "text", "title": t, "duration_s": str(SLIDE_S)} for t in TITLES],
    )
    page.locator("#items-3-title").focus()  # Aqua fit up two places, by keyboard only
    page.keyboard.press("Alt+ArrowUp")
    expect(page.get_by_text("Moved “Aqua fit” to position 3 of 8.")).to_be_visible()
    expect(page.locator("#move-2-up")).to_be_focused()
    page.keyboard.press("Alt+ArrowUp")
    expect(page.locator("#move-1-up")).to_be_focused()
    assert titles_shown(page) == REORDERED
    shot(page, shots / "14-01-playlist-reordered.png", full_page=True)
    assert_accessible(page, "playlist editor")
    save_playlist(page, "Foyer loop", 6)
    assert titles_shown(page) == REORDERED  # as saved, not as typed

    for name, row in (
        ("Pool timetable", widget("timetable", "Today at the pool", "pool-classes")),
        ("News strip", widget("ticker", "City news", "city-news")),
        ("Clock", widget("clock", "")),
    ):
        build_playlist(page, base, name, [row])
        save_playlist(page, name, 1)

    page.goto(f"{base}/campaigns/new")
    page.get_by_label("Name (staff only)").fill("North Pool screens")
    page.get_by_label("Owner site").select_option("north-pool")
    page.get_by_label("Default content").check()
    page.get_by_label("North Pool").check()
    page.get_by_label("Layout on indoor screens").select_option("main-side-ticker-clock")
    for zone, playlist in (
        ("main", "Foyer loop"),
        ("side panel", "Pool timetable"),
        ("bottom ticker", "News strip"),
        ("clock corner", "Clock"),
    ):
        page.get_by_label(f"Playlist for the {zone} zone").select_option(label=playlist)
    shot(page, shots / "14-02-layout-editor.png", full_page=True)
    assert_accessible(page, "campaign editor with layouts")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("as a draft")).to_be_visible()
    page.get_by_role("button", name="Send for approval").click()
    expect(page.get_by_text("for approval")).to_be_visible()


def cross_promote(page: Page, base: str, day: date, shots) -> None:
    """The library's open day on `day` at every other site; the roadside sign refuses a
    link, so it is skipped and listed with the reason instead of blocking the campaign."""
    page.goto(f"{base}/campaigns/new")
    page.get_by_label("Name (staff only)").fill("Library open day")
    page.get_by_label("Owner site").select_option("south-library")
    page.get_by_label("Every other site: all sites but its owner").check()
    page.get_by_label("First day").fill(f"{day:%d/%m/%Y}")
    page.get_by_label("Last day").fill(f"{day:%d/%m/%Y}")
    page.locator("#items-0-kind").select_option("text")
    page.locator("#items-0-title").fill("Library open day")
    page.locator("#items-0-body").fill("South Library, 10 to 2. All welcome")
    page.locator("#items-0-link_url").fill("https://example.org/open-day")
    page.get_by_role("button", name="Save draft").click()
    rule = "breaks the rule “no QR codes, phone numbers or URLs”"
    expect(page.locator("#items-0-link_url-error")).to_contain_text(
        f"Item 1 (Library open day) {rule}"
    )
    page.get_by_label("Skip screens that cannot show this").check()
    page.get_by_role("button", name="Save draft").click()
    skipped = page.get_by_role("region", name="Screens skipped")
    expect(skipped).to_contain_text("led-east-hall")
    expect(skipped).to_contain_text("no QR codes, phone numbers or URLs")
    shot(page, shots / "14-03-cross-promotion-skips-roadside.png", full_page=True)
    assert_accessible(page, "campaign detail with skipped screens")
    page.get_by_role("button", name="Send for approval").click()
    expect(page.get_by_text("for approval")).to_be_visible()


def approve(page: Page, base: str, *names: str) -> None:
    for name in names:
        page.goto(f"{base}/campaigns/approvals")
        page.get_by_role("link", name=name).click()
        page.get_by_role("button", name="Approve and publish").click()
        expect(page.get_by_text("Approved and published")).to_be_visible()


# --- what the screen reports it drew ----------------------------------------------------


def words(key: TileKey) -> list[str]:
    assert key.view is not None, f"{key.kind} tile is not a widget"
    return [block.text for block in key.view.blocks]


def slide(key: TileKey) -> str:
    assert key.item is not None and key.item.text is not None, f"{key.kind} tile is no slide"
    return key.item.text.title


def only_in(before: Image.Image, after: Image.Image, zone: str) -> bool:
    changed = ImageChops.difference(before.convert("RGB"), after.convert("RGB")).getbbox()
    box = BOX[zone]
    return changed is not None and all(
        (box[0] <= changed[0], box[1] <= changed[1], changed[2] <= box[2], changed[3] <= box[3])
    )


def main_rotation(screen: Screen, start: datetime) -> list[str]:
    """The main zone's slides, one per turn, for two rounds of the six."""
    shown = []
    for turn in range(12):
        screen.at(start + timedelta(seconds=turn * SLIDE_S))
        shown.append(slide(screen.zones()["main"]))
    return shown


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_staff_build_a_foyer_screen_and_it_shows_each_zone_then_the_splash_lists_the_classes(
    server, browser: Browser, shots, bookings, news, tmp_path
):
    app, base = server
    rt = runtime(app)
    first = datetime.now(PERTH).date() + timedelta(days=1)
    second = first + timedelta(days=1)
    at_first = datetime.combine(first, time(9, 30), PERTH)  # the open day, in the morning
    at_second = datetime.combine(second, time(14, 30), PERTH)  # the next afternoon
    bookings.answer = Answer(body=classes(first, second), etag='"week-1"')
    news.answer = Answer(body=news_rss(3), content_type="application/rss+xml")

    session = cms_db.database(app).sessions()
    make_world(session, rt)
    make_user(session, rt, "editor", m.Role.EDITOR)
    make_user(session, rt, "approver", m.Role.APPROVER)
    # IT installs the pool's foyer screen and Wi-Fi node with the files the CMS hands out.
    screen = start_screen(session, rt, "sig-north-pool", tmp_path, ManualClock(at_first))
    splash = start_splash(session, rt, "portal-north-pool", tmp_path, ManualClock(at_first))
    session.close()
    try:
        editor = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(editor, base, "editor")
        add_feed(editor, base, "pool-classes", "Pool classes", bookings.url(), "ical", "North Pool")
        fetch_now(editor, base, "Pool classes")
        add_feed(editor, base, "city-news", "City news", news.url("/news.xml"), "rss", "Whole city")
        fetch_now(editor, base, "City news")
        expect(editor.get_by_text("4 entries")).to_be_visible()
        shot(editor, shots / "14-00-feeds.png", full_page=True)
        build_the_foyer(editor, base, shots)
        cross_promote(editor, base, first, shots)

        phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
        sign_in(phone, base, "editor")
        phone.goto(f"{base}/playlists/")
        phone.get_by_role("link", name="Foyer loop").click()
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the playlist editor scrolls sideways on a phone ({width} px)"
        assert_accessible(phone, "playlist editor on a phone")

        approver = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(approver, base, "approver")
        approve(approver, base, "North Pool screens", "Library open day")

        # The screen runs the manifest it verified and whose assets it fetched.
        assert screen.wait_for_manifest(
            lambda got: (
                got.layout is not None
                and any(i.campaign_name == "Library open day" for i in got.items)
            )
        ), "the approved layout and cross-promotion did not reach the foyer screen"

        # First instant: the open day in the main zone, with its tracked link as a QR code.
        frame = screen.at(at_first)
        frame.save(shots / "14-10-frame-open-day-morning.png")
        zones = screen.zones()
        assert set(zones) == {"main", "side", "ticker", "clock"}
        assert slide(zones["main"]) == "Library open day"
        [code] = zxingcpp.read_barcodes(frame.crop(BOX["main"]))
        assert code.text.startswith(f"{base}/l/")
        assert words(zones["side"]) == [
            "Today at the pool",
            "10:00\N{EN DASH}10:45  Aquarobics · Program pool",
            "16:00\N{EN DASH}16:30  Learn to swim · Learner pool",
        ]
        headlines = {f"City news: Headline {n}" for n in (1, 2, 3)}
        assert set(words(zones["ticker"])) <= headlines
        assert "09:30" in words(zones["clock"])

        # Second instant, the next afternoon: no open day; the six slides take turns in
        # the order the editor saved, and the timetable is that day's.
        frame = screen.at(at_second)
        frame.save(shots / "14-11-frame-next-afternoon.png")
        zones = screen.zones()
        assert words(zones["side"]) == [
            "Today at the pool",
            "08:30\N{EN DASH}09:30  Yoga · Studio 2",
            "15:00\N{EN DASH}15:45  Water polo · Main pool",
        ]
        assert "14:30" in words(zones["clock"])
        assert set(words(zones["ticker"])) <= headlines
        turns = main_rotation(screen, at_second)
        begin = REORDERED.index(turns[0])
        assert turns == (REORDERED[begin:] + REORDERED[:begin]) * 2

        # The booking system adds a class; staff fetch it now. The screen takes the new
        # signed copy and redraws the timetable's zone, and nothing else, by itself.
        before, others = screen.settled(), {z: k for z, k in screen.zones().items() if z != "side"}
        bookings.answer = Answer(
            body=classes(first, second, (second.isoformat(), "17:00", "Family swim", 60, "Pool")),
            etag='"week-2"',
        )
        fetch_now(editor, base, "Pool classes")
        assert eventually(lambda: "Family swim" in " ".join(words(screen.zones()["side"])), 5)
        after = screen.settled()
        after.save(shots / "14-12-frame-new-class.png")
        assert only_in(before, after, "side")
        assert {z: k for z, k in screen.zones().items() if z != "side"} == others

        # The pool's Wi-Fi splash lists the classes from the same feed, as the node got it.
        assert eventually(
            lambda: (
                splash.agent.current is not None
                and [f.id for f in splash.agent.current.feeds] == ["pool-classes"]
            ),
            20,
        ), "the splash's manifest does not name the pool's feed"
        visitor = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, bypass_csp=True
        ).new_page()

        def lists_the_classes() -> bool:
            visitor.goto(splash.visitor_url())
            return visitor.get_by_text("Family swim").count() > 0

        assert eventually(lists_the_classes, 10), "What's on does not list the feed"
        whats_on = visitor.get_by_role("heading", name="What's on")
        expect(whats_on).to_be_visible()
        page_text = visitor.locator("main").inner_text()
        for title in ("Aquarobics", "Learn to swim", "Yoga", "Water polo", "Family swim"):
            assert title in page_text
        assert page_text.index("Aquarobics") < page_text.index("Water polo")
        shot(visitor, shots / "14-20-splash-whats-on.png", full_page=True)
        assert_accessible(visitor, "splash with What's on")
    finally:
        screen.stop()
        splash.stop()
