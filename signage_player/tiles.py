"""A zone's tile: what one zone's slot looks like at its size (issue 14), and the frame
composed from the tiles. Pure apart from reading the asset bytes it is handed.

A tile is keyed by everything that decides its pixels (`tile_key`), so the player redraws a
zone only when its key changes, and pastes just that tile over the frame on screen: the
clock's minute turning redraws the clock's box and nothing else. An item's QR code goes in
the bottom-right corner of its own zone, as on a full screen (`qr_box`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from PIL import Image

from devices.protocol import ContentItem, ItemKind
from signage_player.playback import Screen, Slot
from signage_player.qr import MIN_MODULE_PX, QUIET_ZONE_MODULES, corner_box, draw_qr, qr_modules
from signage_player.render import (
    RGB,
    Size,
    black,
    render_image,
    render_text_slide,
)
from signage_player.widgets import FeedProvider, WidgetView, draw_widget, widget_view
from signage_player.zones import Box

log = logging.getLogger(__name__)

AssetBytes = Callable[[str], bytes]  # sha256 -> verified bytes, or RenderError


@dataclass(frozen=True)
class Look:
    """What the screen's own settings add to every tile."""

    bars: RGB  # the site's brand colour, round an image that does not fill its zone
    roadside: bool  # title-only text, no QR code (nobody scans a code from a moving car)


@dataclass(frozen=True)
class TileKey:
    kind: str  # "item", "widget" or "black"
    size: Size
    item: ContentItem | None = None
    view: WidgetView | None = None
    look: Look | None = None


def tile_key(
    slot: Slot | None, size: Size, look: Look, now: datetime, tz: ZoneInfo, feeds: FeedProvider
) -> TileKey:
    """The key of what `slot` shows in a zone of `size` at `now`."""
    item = slot.item if slot is not None and slot.screen is Screen.ITEM else None
    if item is None:
        return TileKey("black", size)
    if item.kind is ItemKind.WIDGET:
        assert item.widget is not None
        view = widget_view(item.widget, now, tz, feeds)
        return TileKey("widget", size, item, view, look)
    return TileKey("item", size, item, None, look)


def draw_tile(key: TileKey, asset_bytes: AssetBytes) -> Image.Image:
    """The tile for `key`; raises RenderError when it cannot be made (never half a tile)."""
    item, look = key.item, key.look
    if item is None or look is None:
        return black(key.size)
    if item.kind is ItemKind.WIDGET:
        assert item.widget is not None and key.view is not None
        tile = draw_widget(item.widget, key.view, key.size)
    elif item.kind is ItemKind.TEXT:
        assert item.text is not None
        tile = render_text_slide(item.text, key.size, title_only=look.roadside)
    elif item.kind is ItemKind.VIDEO:
        return black(key.size)  # mpv draws over it
    else:
        tile = render_image(asset_bytes(item.asset or ""), key.size, item.fit, bars=look.bars)
    if item.qr is not None and not look.roadside:
        url = str(item.qr.url)
        draw_qr(tile, qr_box(key.size, url), url, item.qr.caption)
    return tile


# A code with its caption is about this much taller than the code alone.
_CAPTION_ALLOWANCE = 1.3


def qr_box(size: Size, url: str) -> Box:
    """Where an item's QR code goes in its tile: the bottom-right corner a full screen
    uses, grown in a narrow zone (a side panel) to what a phone can still scan."""
    box = corner_box(size)
    modules = len(qr_modules(url)) + 2 * QUIET_ZONE_MODULES
    needed = round(modules * MIN_MODULE_PX * _CAPTION_ALLOWANCE)
    if box[2] - box[0] >= needed:
        return box
    side = min(needed, *size)  # too small even then: draw_qr skips it and says why
    return (size[0] - side, size[1] - side, size[0], size[1])


def compose(
    canvas: Size, previous: Image.Image | None, tiles: Sequence[tuple[Box, Image.Image]]
) -> tuple[Image.Image, Box | None]:
    """The frame with `tiles` pasted over `previous` (None: over black), and the box that
    changed (None: all of it). A tile covering the whole canvas is the frame itself."""
    if len(tiles) == 1 and tiles[0][0] == (0, 0, *canvas):
        return tiles[0][1], None
    frame = previous.copy() if previous is not None else black(canvas)
    for box, tile in tiles:
        frame.paste(tile, box[:2])
    if previous is None:
        return frame, None
    return frame, union(box for box, _ in tiles)


def union(boxes: Iterable[Box]) -> Box | None:
    found = list(boxes)
    if not found:
        return None
    return (
        min(b[0] for b in found),
        min(b[1] for b in found),
        max(b[2] for b in found),
        max(b[3] for b in found),
    )
