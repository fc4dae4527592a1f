"""Screenshots of the headless backend, through the real player thread.

.venv/bin/python -m tests.signage_player.screenshots docs/screenshots/player
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from PIL import Image, ImageDraw

from devices.clock import ManualClock
from devices.protocol import (
    Alert,
    ContentItem,
    Fit,
    ItemKind,
    Manifest,
    ProfileKind,
    ScreenProfile,
    Severity,
    TextSlide,
)
from signage_player.display import HeadlessDisplay
from signage_player.player import SignagePlayer
from testkit.player_fakes import FakeServices, FolderAssets
from tests.signage_player.scenario import PERTH, image_item, week_manifest

NOON = datetime(2026, 12, 9, 12, tzinfo=PERTH)


def poster(size: tuple[int, int]) -> bytes:
    """A stand-in photo: a sky-to-pool gradient with a sun, as a JPEG."""
    import io

    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(size[1]):
        t = y / size[1]
        draw.line(
            [(0, y), (size[0], y)], fill=(int(30 + 60 * t), int(120 + 60 * t), int(200 - 40 * t))
        )
    r = size[1] // 6
    draw.ellipse(
        (size[0] * 0.7, size[1] * 0.15, size[0] * 0.7 + 2 * r, size[1] * 0.15 + 2 * r),
        fill=(255, 210, 60),
    )
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=88)
    return buffer.getvalue()


def shoot(
    folder: Path,
    name: str,
    manifest_for: Callable[[FolderAssets], Manifest],
    *,
    mode: tuple[int, int] | None = None,
    alert: Alert | None = None,
    zoom: int = 1,
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        clock = ManualClock(NOON)
        assets = FolderAssets(Path(scratch))
        services = FakeServices(clock, assets, device_id="sig-riverton-lib-foyer-01")
        display = HeadlessDisplay(mode)
        player = SignagePlayer(display)
        player.start(services)
        player.apply_manifest(manifest_for(assets))
        if alert is not None:
            player.apply_alerts([alert])
        assert player.wait_until_idle(10)
        frame = display.frame
        player.stop()
    if zoom > 1:
        frame = frame.resize((frame.width * zoom, frame.height * zoom), Image.Resampling.NEAREST)
    frame.save(folder / f"{name}.png", optimize=True)
    print(f"{name}.png {frame.width}x{frame.height}")


def indoor_text(assets: FolderAssets) -> Manifest:
    return week_manifest(
        items=(
            ContentItem(
                id="holiday-programme",
                campaign_id="school-holidays",
                kind=ItemKind.TEXT,
                text=TextSlide(
                    title="School holiday programme",
                    when="Mon 4 \u2013 Fri 15 January, 9:00\u201315:00",
                    venue="Riverton Leisureplex and Library",
                    body="Swimming, climbing, art and games for 5 to 12 year olds. "
                    "Book at the front desk or online. Places are limited.",
                ),
                duration_s=15,
            ),
        ),
        default_items=(),
    )


def indoor_image(assets: FolderAssets) -> Manifest:
    ref = assets.add(poster((4000, 3000)))
    return week_manifest(
        assets=(ref,),
        items=(image_item("pool-poster", ref, 15, fit=Fit.FIT),),
        default_items=(),
    )


def roadside(assets: FolderAssets) -> Manifest:
    return week_manifest(
        device_id="sig-albany-hwy-led-01",
        profile=ScreenProfile(
            name="Roadside 192x96",
            kind=ProfileKind.ROADSIDE,
            width_px=192,
            height_px=96,
            min_dwell_s=8,
            allow_video=False,
            transitions=False,
        ),
        items=(
            ContentItem(
                id="holiday-road",
                campaign_id="school-holidays",
                kind=ItemKind.TEXT,
                text=TextSlide(
                    title="School holiday fun", when="4\u201315 Jan", background="#00594f"
                ),
                duration_s=8,
            ),
        ),
        default_items=(),
    )


ALERT = Alert(
    id="pool-closed",
    scope="riverton-lib",
    severity=Severity.WARNING,
    title="Pool closed this afternoon",
    body="Riverton Leisureplex pool reopens tomorrow at 6:00. Gym and courts are open as usual.",
    issued_at=NOON - timedelta(minutes=5),
    expires_at=NOON + timedelta(hours=3),
)
ROAD_ALERT = ALERT.model_copy(
    update={"id": "road-closed", "severity": Severity.EMERGENCY, "title": "ROAD CLOSED AHEAD"}
)


def main(argv: list[str]) -> int:
    folder = Path(argv[0] if argv else "docs/screenshots/player")
    folder.mkdir(parents=True, exist_ok=True)
    shoot(folder, "indoor-text-slide", indoor_text)
    shoot(folder, "indoor-image-fit", indoor_image)
    shoot(folder, "indoor-alert", indoor_text, alert=ALERT)
    shoot(folder, "roadside-canvas-192x96", roadside)
    shoot(folder, "roadside-canvas-192x96-zoom4", roadside, zoom=4)
    shoot(folder, "roadside-alert-192x96-zoom4", roadside, alert=ROAD_ALERT, zoom=4)
    shoot(folder, "roadside-output-1280x720", roadside, mode=(1280, 720))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
