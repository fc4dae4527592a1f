"""The CMS's preview of a screen at a chosen instant, drawn by the player's own code."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from PIL import ImageChops

from devices.protocol import Alert, ContentItem, Fit, ItemKind, Manifest, Schedule, Severity
from devices.protocol.layouts import LayoutTemplate, Widget, WidgetKind, build_layout
from signage_player.preview import render_screen
from signage_player.widgets import widget_tile
from testkit.player_fakes import asset_ref, jpeg
from tests.signage_player.scenario import PERTH, image_item, week_manifest, window

RED, BLUE = (220, 0, 0), (0, 0, 220)
LAYOUT = build_layout(LayoutTemplate.MAIN_TICKER, 1920, 1080)
MAIN, TICKER = (zone.box for zone in LAYOUT.zones)
CLOCK = Widget(kind=WidgetKind.CLOCK, background="#222222")
ASSETS = {hashlib.sha256(data).hexdigest(): data for data in (jpeg(RED), jpeg(BLUE))}


def manifest(**changes: object) -> Manifest:
    red, blue = (asset_ref(jpeg(colour)) for colour in (RED, BLUE))
    breakfast = Schedule(windows=(window("06:00", "10:00"),))
    fields: dict[str, object] = {
        "generated_at": datetime(2026, 12, 7, tzinfo=PERTH),
        "layout": LAYOUT,
        "assets": (red, blue),
        "items": (
            image_item("breakfast", blue, 15, breakfast, fit=Fit.FILL, priority=60),
            ContentItem(
                id="clock", kind=ItemKind.WIDGET, widget=CLOCK, duration_s=60, zone="ticker"
            ),
        ),
        "default_items": (image_item("welcome", red, 20, fit=Fit.FILL, campaign_id=None),),
    }
    fields.update(changes)
    return week_manifest(**fields)


def centre(frame, box) -> tuple[int, int, int]:
    x, y = (box[0] + box[2]) // 2, (box[1] + box[3]) // 2
    pixel = frame.getpixel((x, y))
    assert isinstance(pixel, tuple)
    return (int(pixel[0]), int(pixel[1]), int(pixel[2]))


def close(colour: tuple[int, int, int], wanted: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 12 for a, b in zip(colour, wanted, strict=True))


def test_the_preview_shows_every_zone_at_the_chosen_instant() -> None:
    morning = datetime(2026, 12, 8, 8, 15, tzinfo=PERTH)
    noon = datetime(2026, 12, 8, 12, 40, tzinfo=PERTH)
    first = render_screen(manifest(), morning, asset_bytes=ASSETS.get)
    second = render_screen(manifest(), noon, asset_bytes=ASSETS.get)
    assert first.size == second.size == (1920, 1080)
    assert close(centre(first, MAIN), BLUE)  # breakfast, 06:00-10:00
    assert close(centre(second, MAIN), RED)  # the site's default after it
    size = (TICKER[2] - TICKER[0], TICKER[3] - TICKER[1])
    for frame, at in ((first, morning), (second, noon)):
        clock = widget_tile(CLOCK, size, at, PERTH, lambda _id: None)
        assert ImageChops.difference(frame.crop(TICKER), clock).getbbox() is None


def test_an_alert_previews_full_screen_and_a_missing_asset_black() -> None:
    at = datetime(2026, 12, 8, 12, tzinfo=PERTH)
    alert = Alert(
        id="flood",
        scope="all",
        severity=Severity.EMERGENCY,
        title="Flood warning",
        issued_at=at - timedelta(minutes=1),
        expires_at=at + timedelta(hours=1),
    )
    frame = render_screen(manifest(), at, asset_bytes=ASSETS.get, alerts=[alert])
    assert frame.getpixel((2, 2)) == frame.getpixel((1917, 1077)) == (190, 0, 0)
    gone = render_screen(manifest(), at, asset_bytes=lambda _sha: None)
    assert centre(gone, MAIN) == (0, 0, 0)
    assert gone.crop(TICKER).getbbox() is not None  # the clock still shows


def test_a_manifest_without_layout_previews_full_screen() -> None:
    at = datetime(2026, 12, 8, 12, tzinfo=PERTH)
    plain = manifest(layout=None, items=())
    frame = render_screen(plain, at, asset_bytes=ASSETS.get)
    assert close(centre(frame, (0, 0, 1920, 1080)), RED)
    assert close(centre(frame, TICKER), RED)  # no ticker zone: the image fills the screen
