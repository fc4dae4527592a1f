"""QR codes on screen: what a phone's camera would read from the frame the player draws."""

from __future__ import annotations

import io
import logging
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from devices.clock import ManualClock
from devices.protocol import Fit, ProfileKind, ScreenProfile
from devices.protocol.layouts import QrCode
from signage_player.display import HeadlessDisplay
from signage_player.player import SignagePlayer
from signage_player.qr import MIN_MODULE_PX, QUIET_ZONE_MODULES, corner_box, draw_qr
from testkit.player_fakes import FakeServices, FolderAssets, colour_is, jpeg
from tests.signage_player.scenario import PERTH, image_item, week_manifest

NOON = datetime(2026, 12, 7, 12, tzinfo=PERTH)
RED = (220, 0, 0)
LINK = "https://cms.example.org/l/k3v9q2mxw7ha"


def scanned(image: Image.Image) -> list[str]:
    """Decode from the PNG bytes, as from a photo of the screen."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return [found.text for found in zxingcpp.read_barcodes(Image.open(buffer))]


def test_code_in_a_side_zone_scans_to_the_short_link_with_its_caption_below() -> None:
    frame = Image.new("RGB", (1920, 1080), (0, 58, 112))
    placed = draw_qr(frame, (1440, 540, 1920, 1080), LINK, "Scan to book")
    assert placed is not None
    assert scanned(frame) == [LINK]
    assert placed.module_px >= MIN_MODULE_PX
    left, top, right, bottom = placed.code_box
    quiet = QUIET_ZONE_MODULES * placed.module_px
    border = [
        frame.getpixel((x, y))
        for x in range(left, right)
        for y in (*range(top, top + quiet), *range(bottom - quiet, bottom))
    ]
    assert set(border) == {(255, 255, 255)}
    assert placed.caption_box is not None and placed.caption_box[1] == bottom
    caption = frame.crop(placed.caption_box)
    assert (0, 0, 0) in {colour for _, colour in caption.getcolors(1 << 16) or []}
    assert left >= 1440 and right <= 1920 and top >= 540 and placed.caption_box[3] <= 1080


def test_a_box_too_small_to_scan_gets_no_code_and_says_why(caplog) -> None:
    frame = Image.new("RGB", (320, 180), (10, 10, 10))
    before = frame.tobytes()
    with caplog.at_level(logging.WARNING, logger="signage_player.qr"):
        assert draw_qr(frame, (0, 0, 90, 90), LINK, "Scan to book") is None
    assert frame.tobytes() == before
    assert "under the 4 px a phone needs" in caplog.text


def test_the_full_screen_corner_code_scans_on_a_portrait_canvas() -> None:
    frame = Image.new("RGB", (1080, 1920), (255, 196, 0))
    assert draw_qr(frame, corner_box(frame.size), LINK) is not None
    assert scanned(frame) == [LINK]


def _manifest_with_code(assets: FolderAssets, *, roadside: bool):
    ref = assets.add(jpeg(RED))
    size = (192, 96) if roadside else (1280, 720)
    profile = ScreenProfile(
        name="test",
        kind=ProfileKind.ROADSIDE if roadside else ProfileKind.INDOOR,
        width_px=size[0],
        height_px=size[1],
        allow_video=not roadside,
    )
    item = image_item("swim", ref, 10, fit=Fit.FILL, qr=QrCode(url=LINK, caption="Scan to book"))
    return week_manifest(
        profile=profile,
        generated_at=NOON - timedelta(minutes=5),
        assets=(ref,),
        items=(item,),
        default_items=(),
    )


@pytest.mark.parametrize("roadside", [False, True])
def test_the_player_draws_an_items_code_on_indoor_screens_only(tmp_path: Path, roadside) -> None:
    assets = FolderAssets(tmp_path / "objects")
    display = HeadlessDisplay()
    player = SignagePlayer(display)
    player.start(FakeServices(ManualClock(NOON), assets))
    try:
        player.apply_manifest(_manifest_with_code(assets, roadside=roadside))
        assert display.wait_for(colour_is(RED, at=(2, 2)), 2)
        assert scanned(display.frame) == ([] if roadside else [LINK])
    finally:
        player.stop()
