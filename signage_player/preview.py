"""A screen at a chosen instant, drawn by the player's own code (issue 14, "Plan and
preview"): the CMS hands in a compiled manifest, the alerts, the asset bytes it holds and
the feeds it last fetched, and gets the frame the screen would show, every zone in place.

Pure: no thread, clock or display. The rotation starts fresh at `at`, so each zone shows
the first item its rotation would pick then (a screen that has been running may be a few
items further on); everything else (alerts, night blank, schedules, zones, widgets, QR
codes) is decided exactly as on the device.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from PIL import Image

from devices.protocol import Alert, Manifest, ProfileKind
from signage_player.frames import Frames
from signage_player.playback import Inputs
from signage_player.render import RenderError, black, hex_colour
from signage_player.tiles import Look, compose, draw_tile, tile_key
from signage_player.widgets import FeedProvider, no_feeds
from signage_player.zones import ScreenState, step_screen, zone_plans

log = logging.getLogger(__name__)


def render_screen(
    manifest: Manifest,
    at: datetime,
    *,
    asset_bytes: Callable[[str], bytes | None],
    feeds: FeedProvider = no_feeds,
    alerts: Sequence[Alert] = (),
    device_id: str | None = None,
) -> Image.Image:
    """The frame `manifest`'s screen shows at `at`, upright on its canvas: the profile's
    native one, portrait for a screen on its side (the player turns it only on the way
    to the panel, `panel.to_panel`). Outside its power schedule the panel is off: black.

    `asset_bytes`: an asset's bytes by sha256, or None when the CMS does not have it (its
    zone is then black, as a roadside panel fails black). Video zones are black: the
    device plays video through mpv over its frame."""
    profile = manifest.profile
    canvas = manifest.canvas
    roadside = profile.kind is ProfileKind.ROADSIDE
    plans = zone_plans(manifest)
    inputs = Inputs(manifest=manifest, alerts=tuple(alerts), video_ok=True)
    screen = step_screen(inputs, plans, ScreenState(), at)
    slot = screen.main.state.slot
    if screen.override is not None and slot is not None:
        return Frames().full(
            slot,
            canvas,
            roadside=roadside,
            device_id=device_id or manifest.device_id,
            site=manifest.site.name,
        )
    look = Look(hex_colour(manifest.site.brand_colour), roadside=roadside)
    tz = ZoneInfo(manifest.site.timezone)

    def verified(sha256: str) -> bytes:
        data = asset_bytes(sha256)
        if data is None or hashlib.sha256(data).hexdigest() != sha256:
            raise RenderError(f"asset {sha256[:12]} is not available to the preview")
        return data

    tiles = []
    for plan in plans:
        key = tile_key(screen.steps[plan.name].state.slot, plan.size, look, at, tz, feeds)
        try:
            tile = draw_tile(key, verified)
        except RenderError as error:
            log.info("preview of %s, zone %s: %s", manifest.device_id, plan.name, error)
            tile = black(plan.size)
        tiles.append((plan.box, tile))
    frame, _ = compose(canvas, None, tiles)
    return frame
