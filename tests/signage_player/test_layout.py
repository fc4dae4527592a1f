"""A foyer screen with a layout: main, side, ticker and clock zones, each with its own
rotation, drawn by the real player thread on a headless display with an injected clock.
The frames are checked pixel by pixel where each zone is."""

from __future__ import annotations

import base64
import io
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image, ImageChops

from devices.clock import ManualClock
from devices.feeds import FeedStore, FixedFeeds
from devices.protocol import (
    Alert,
    Command,
    CommandName,
    ContentItem,
    Fit,
    ItemKind,
    Manifest,
    PlayOutcome,
    Severity,
    SigningKey,
    sign,
)
from devices.protocol.feeds import FeedData, FeedEntry
from devices.protocol.layouts import (
    FeedRef,
    LayoutTemplate,
    QrCode,
    Widget,
    WidgetKind,
    build_layout,
)
from signage_player.display import HeadlessDisplay
from signage_player.player import SignagePlayer
from signage_player.render import hex_colour
from signage_player.widgets import FeedProvider, widget_tile
from testkit.player_fakes import FakeServices, FolderAssets, jpeg
from tests.signage_player.scenario import PERTH, image_item, week_manifest

NOON = datetime(2026, 12, 7, 12, tzinfo=PERTH)  # 04:00 UTC: a ticker step starts here
RED, GREEN, BLUE = (220, 0, 0), (0, 200, 0), (0, 0, 220)
LAYOUT = build_layout(LayoutTemplate.MAIN_SIDE_TICKER_CLOCK, 1920, 1080)
BOX = {zone.name: zone.box for zone in LAYOUT.zones}

CLOCK = Widget(kind=WidgetKind.CLOCK, background="#003a70")
TICKER = Widget(kind=WidgetKind.TICKER, feed="news", background="#222222")
TIMETABLE = Widget(kind=WidgetKind.TIMETABLE, feed="classes", background="#00524a")


def classes(version: int = 1) -> FeedData:
    def entry(title: str, hour: int, location: str) -> FeedEntry:
        start = NOON.replace(hour=hour)
        return FeedEntry(
            title=title, starts_at=start, ends_at=start + timedelta(hours=1), location=location
        )

    return FeedData(
        id="classes",
        version=version,
        fetched_at=NOON - timedelta(minutes=10),
        entries=(
            entry("Aqua aerobics", 9, "Pool"),
            entry("Yoga", 13, "Room 2"),
            entry("Code club", 16, "Library"),
        ),
    )


def news(*headlines: str, version: int = 1) -> FeedData:
    return FeedData(
        id="news",
        version=version,
        fetched_at=NOON - timedelta(minutes=10),
        entries=tuple(FeedEntry(title=h) for h in headlines),
    )


FEEDS = (FeedRef(id="classes", name="Classes"), FeedRef(id="news", name="News"))


class Feeds:
    """What the device's feed store holds, handed to the player as the agent does."""

    def __init__(self, services: FakeServices | None = None) -> None:
        self.services = services
        self.data: dict[str, FeedData] = {
            "classes": classes(),
            "news": news("Library open late on Thursday", "New e-books this week"),
        }
        self.publish()

    def publish(self) -> None:
        """The store's copies are now `data` (a new version arrived, or one was dropped)."""
        if self.services is not None:
            refs = {ref.id: ref for ref in FEEDS}
            self.services.feed_copies = FixedFeeds(
                (refs[feed_id], data) for feed_id, data in self.data.items()
            )

    def __call__(self, feed_id: str) -> FeedData | None:
        return self.data.get(feed_id)


class Rig:
    def __init__(self, tmp_path: Path, store: FeedStore | None = None) -> None:
        """`store`: the device's own feed store in place of fixed copies."""
        self.clock = ManualClock(NOON)
        self.assets = FolderAssets(tmp_path / "objects")
        self.services = FakeServices(self.clock, self.assets)
        self.display = HeadlessDisplay()
        self.feeds = Feeds(self.services)
        if store is not None:
            self.services.feed_copies = store
        self.player = SignagePlayer(self.display)
        self.player.start(self.services)

    def settle(self) -> Image.Image:
        assert self.player.wait_until_idle(5)
        return self.display.frame.copy()

    def at(self, seconds: float) -> Image.Image:
        self.clock.set(NOON + timedelta(seconds=seconds))
        self.player.wake()
        return self.settle()

    def manifest(self) -> Manifest:
        red, green, blue = (self.assets.add(jpeg(c)) for c in (RED, GREEN, BLUE))

        def widget(item_id: str, zone: str, w: Widget, duration_s: float) -> ContentItem:
            return ContentItem(
                id=item_id, kind=ItemKind.WIDGET, widget=w, duration_s=duration_s, zone=zone
            )

        return week_manifest(
            generated_at=NOON - timedelta(minutes=5),
            layout=LAYOUT,
            feeds=FEEDS,
            assets=(red, green, blue),
            items=(
                image_item("red", red, 10, fit=Fit.FILL),
                image_item("green", green, 10, fit=Fit.FILL),
                widget("timetable", "side", TIMETABLE, 15),
                image_item("blue", blue, 15, fit=Fit.FILL, zone="side"),
                widget("ticker", "ticker", TICKER, 300),
                widget("clock", "clock", CLOCK, 300),
            ),
            default_items=(),
        )


@pytest.fixture
def rig(tmp_path):
    made = Rig(tmp_path)
    yield made
    made.player.stop()


def crop(frame: Image.Image, zone: str) -> Image.Image:
    return frame.crop(BOX[zone])


def filled(frame: Image.Image, zone: str, colour: tuple[int, int, int], tol: int = 12) -> bool:
    """Every pixel of the zone is close to `colour` (an image filling its zone)."""
    low, high = zip(*crop(frame, zone).getextrema(), strict=True)
    return all(c - tol <= lo and hi <= c + tol for c, lo, hi in zip(colour, low, high, strict=True))


def same(a: Image.Image, b: Image.Image) -> bool:
    return ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox() is None


def expected(widget: Widget, zone: str, at: datetime, feeds: FeedProvider) -> Image.Image:
    box = BOX[zone]
    return widget_tile(widget, (box[2] - box[0], box[3] - box[1]), at, PERTH, feeds)


def test_each_zone_shows_its_own_rotation_at_two_instants(rig) -> None:
    rig.player.apply_manifest(rig.manifest())
    first = rig.settle()
    assert first.size == (1920, 1080)
    assert filled(first, "main", RED)
    assert same(crop(first, "side"), expected(TIMETABLE, "side", NOON, rig.feeds))
    assert same(crop(first, "clock"), expected(CLOCK, "clock", NOON, rig.feeds))
    assert same(crop(first, "ticker"), expected(TICKER, "ticker", NOON, rig.feeds))
    # The widgets are their colours with words on them, not blank boxes.
    side = crop(first, "side")
    assert side.getpixel((3, 3)) == hex_colour(TIMETABLE.background)
    assert (255, 255, 255) in {colour for _, colour in side.getcolors(1 << 20) or []}

    # 12:00:12: main has moved on to green; the side panel still shows the timetable.
    later = rig.at(12)
    assert filled(later, "main", GREEN)
    assert same(crop(later, "side"), crop(first, "side"))
    # 12:01:15: the clock says 12:01, the side panel has turned to its image.
    minute = rig.at(75)
    assert filled(minute, "side", BLUE)
    at = NOON + timedelta(seconds=75)
    assert same(crop(minute, "clock"), expected(CLOCK, "clock", at, rig.feeds))
    assert not same(crop(minute, "clock"), crop(first, "clock"))


def test_a_ticker_change_redraws_only_the_ticker_box(rig) -> None:
    rig.player.apply_manifest(rig.manifest())
    before = rig.at(7)
    drawn = rig.player.frames.tiles_drawn
    after = rig.at(8)  # the next headline; nothing else is due
    changed = ImageChops.difference(before, after).getbbox()
    assert changed is not None
    ticker = BOX["ticker"]
    assert ticker[0] <= changed[0] and ticker[1] <= changed[1]
    assert changed[2] <= ticker[2] and changed[3] <= ticker[3]
    assert rig.display.last_dirty == ticker
    assert rig.player.frames.tiles_drawn == drawn + 1
    at = NOON + timedelta(seconds=8)
    assert same(crop(after, "ticker"), expected(TICKER, "ticker", at, rig.feeds))

    # New feed data: the ticker shows it as soon as the store says so, and only it redraws.
    rig.feeds.data["news"] = news("Pool reopens Monday", version=2)
    rig.feeds.publish()
    rig.player.feeds_changed()
    fresh = rig.settle()
    assert rig.display.last_dirty == ticker
    assert same(crop(fresh, "ticker"), expected(TICKER, "ticker", at, rig.feeds))
    assert not same(crop(fresh, "ticker"), crop(after, "ticker"))


def test_a_copy_the_devices_feed_store_takes_redraws_only_its_zone_at_once(tmp_path) -> None:
    key = SigningKey.generate()
    store = FeedStore(tmp_path / "feeds", [key.public_key])
    store.use(FEEDS)
    for copy in (classes(), news("Library open late on Thursday")):
        assert store.accept(copy.id, sign(copy, key), persist=False)
    rig = Rig(tmp_path, store)
    try:
        rig.player.apply_manifest(rig.manifest())
        before = rig.settle()
        newer = classes(version=2).model_copy(
            update={"entries": (FeedEntry(title="Pool party", starts_at=NOON),)}
        )
        # As the agent's MQTT thread hands it in: no wake-up, no clock change.
        assert store.accept("classes", sign(newer, key), persist=True)
        after = rig.settle()
        assert rig.display.last_dirty == BOX["side"]
        fresh = expected(TIMETABLE, "side", NOON, lambda feed_id: store.latest(feed_id, NOON))
        assert same(crop(after, "side"), fresh)
        assert not same(crop(after, "side"), crop(before, "side"))
        for zone in ("main", "ticker", "clock"):
            assert same(crop(after, zone), crop(before, zone))
    finally:
        rig.player.stop()


def test_a_feed_the_device_does_not_have_says_so_politely(rig) -> None:
    del rig.feeds.data["classes"]
    rig.feeds.publish()
    rig.player.apply_manifest(rig.manifest())
    frame = rig.settle()
    assert same(crop(frame, "side"), expected(TIMETABLE, "side", NOON, rig.feeds))
    assert not same(crop(frame, "side"), expected(TIMETABLE, "side", NOON, Feeds()))


def test_a_feed_older_than_the_manifest_allows_is_not_shown(rig) -> None:
    old = classes().model_copy(update={"fetched_at": NOON - timedelta(days=2)})
    rig.feeds.data["classes"] = old
    rig.feeds.publish()
    rig.player.apply_manifest(rig.manifest())
    frame = rig.settle()
    unavailable = expected(TIMETABLE, "side", NOON, lambda _id: None)
    assert same(crop(frame, "side"), unavailable)


def test_proof_of_play_is_recorded_per_zone(rig) -> None:
    rig.player.apply_manifest(rig.manifest())
    rig.settle()
    rig.at(10)
    rig.at(15)
    assert rig.services.wait_for(lambda: len(rig.services.plays) >= 2)
    plays = {(p.zone, p.item_id): p for p in rig.services.plays}
    assert plays[("main", "red")].outcome is PlayOutcome.COMPLETED
    assert plays[("main", "red")].shown_s == 10
    assert plays[("side", "timetable")].shown_s == 15
    assert ("main", "green") not in plays  # still playing

    # An alert takes the whole screen: every zone's item ends, the alert plays once.
    alert = Alert(
        id="evacuate",
        scope="all",
        severity=Severity.EMERGENCY,
        title="Leave the building now",
        issued_at=NOON + timedelta(seconds=16),
        expires_at=NOON + timedelta(seconds=30),
    )
    rig.player.apply_alerts([alert])
    frame = rig.at(16)
    assert frame.getpixel((2, 2)) == (190, 0, 0)
    assert frame.getpixel((1915, 1075)) == (190, 0, 0)  # over the ticker too
    rig.at(30)
    assert rig.services.wait_for(lambda: any(p.alert_id == "evacuate" for p in rig.services.plays))
    interrupted = {
        (p.zone, p.item_id) for p in rig.services.plays if p.outcome is PlayOutcome.INTERRUPTED
    }
    assert {("main", "green"), ("side", "blue"), ("ticker", "ticker"), ("clock", "clock")} <= (
        interrupted
    )
    alerts = [p for p in rig.services.plays if p.alert_id == "evacuate"]
    assert len(alerts) == 1 and alerts[0].zone is None
    # After the alert every zone is back.
    back = rig.settle()
    assert back.getpixel((2, 2)) != (190, 0, 0)
    assert same(
        crop(back, "clock"), expected(CLOCK, "clock", NOON + timedelta(seconds=30), rig.feeds)
    )


def test_a_promotion_in_the_side_zone_carries_its_qr_code_in_that_zone(rig) -> None:
    link = "https://cms.example.org/l/k3v9q2mxw7ha"
    screen = rig.manifest()
    items = tuple(
        item.model_copy(update={"qr": QrCode(url=link, caption="Scan to book")})
        if item.id == "blue"
        else item
        for item in screen.items
    )
    rig.player.apply_manifest(screen.model_copy(update={"items": items}))
    rig.settle()
    frame = rig.at(15)  # the side zone turns to the promotion
    side = crop(frame, "side")
    found = [code.text for code in zxingcpp.read_barcodes(side)]
    assert found == [link]
    main = crop(frame, "main")
    assert not zxingcpp.read_barcodes(main)  # on the side zone's item only
    # The code sits in the side zone's bottom-right corner, over the promotion's image.
    white = side.convert("L").point(lambda v: 255 if v == 255 else 0).getbbox()
    assert white is not None
    assert white[0] >= side.width // 2 and white[1] >= side.height // 2
    top_left = side.getpixel((10, 10))
    assert isinstance(top_left, tuple)
    assert all(abs(a - b) <= 12 for a, b in zip(top_left, BLUE, strict=True))


def test_a_screenshot_shows_every_zone(rig) -> None:
    rig.player.apply_manifest(rig.manifest())
    frame = rig.settle()
    command = Command(
        id="cmd-shot",
        device_id="sig-test-01",
        name=CommandName.SCREENSHOT,
        issued_at=NOON,
        expires_at=NOON + timedelta(minutes=5),
    )
    outcome = rig.player.run_command(command)
    assert outcome.ok and outcome.data["showing_item_id"] == "red"
    png = base64.b64decode(str(outcome.data["png_base64"]))
    shot = Image.open(io.BytesIO(png)).convert("RGB")
    # Scaled down to the configured size, each zone where it is on the screen.
    scale = shot.width / 1920
    small = frame.resize(shot.size, Image.Resampling.LANCZOS)
    for zone, box in BOX.items():
        x = round((box[0] + 12) * scale)
        y = round((box[1] + 12) * scale)
        assert shot.getpixel((x, y)) == small.getpixel((x, y)), zone
    assert shot.getpixel((5, 5)) == small.getpixel((5, 5))
    assert filled(frame, "main", RED)
