"""A screen at a chosen instant, drawn by the devices' own code.

Pure: a compiled manifest, the alerts and an instant in; a Pillow frame (signage) or the
splash page's HTML (portal) out. What shows is decided by the player's planner
(`signage_player.playback.step`, from a fresh start at the instant: the first item of
the rotation) and drawn by the player's renderers; the splash is the portal's own view
and template. `frame_at` is the one place a whole signage screen is drawn, so when the
player draws layouts zone by zone, the zone renderer is called from here alone.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Sequence
from datetime import datetime

from PIL import Image

from central_cms.media import video_poster
from devices.protocol import Alert, ItemKind, Manifest
from portal.i18n import LANGUAGES, environments
from portal.pages import chrome_for, render_splash_without_visitor
from portal.view import splash_view
from signage_player.playback import Inputs, PlayState, Screen, Slot, step
from signage_player.preview import render_screen
from signage_player.render import render_image
from signage_player.widgets import FeedProvider, no_feeds

ReadAsset = Callable[[str], bytes]  # sha256 -> the file's bytes
FRAME_MAX_PX = 960
# The portal's Jinja environments (one per language), made once per process.
_portal_templates = functools.cache(environments)


def slot_at(manifest: Manifest, alerts: Sequence[Alert], at: datetime) -> Slot:
    """What the player puts on screen at `at`, starting afresh then (video is assumed
    playable: the preview shows its poster)."""
    inputs = Inputs(manifest=manifest, alerts=tuple(alerts), video_ok=True)
    slot = step(inputs, PlayState(), at).state.slot
    assert slot is not None  # a step always decides a slot
    return slot


def frame_at(
    manifest: Manifest,
    alerts: Sequence[Alert],
    at: datetime,
    read_asset: ReadAsset,
    feeds: FeedProvider = no_feeds,
) -> Image.Image:
    """The signage screen's frame at `at`, as the player draws it (every zone in place,
    portrait for a screen on its side: `signage_player.preview.render_screen`)."""
    slot = slot_at(manifest, alerts, at)
    item = slot.item
    if slot.screen is Screen.ITEM and item is not None and item.kind is ItemKind.VIDEO:
        # The player leaves the frame black under mpv; staff see the poster instead.
        return render_image(video_poster().data, manifest.canvas, item.fit)

    def asset_bytes(sha256: str) -> bytes | None:
        try:
            return read_asset(sha256)
        except (OSError, KeyError):
            return None

    return render_screen(manifest, at, asset_bytes=asset_bytes, feeds=feeds, alerts=alerts)


def png(frame: Image.Image, max_px: int = FRAME_MAX_PX) -> bytes:
    """The frame as PNG, scaled down to `max_px` wide; tiny LED canvases are enlarged
    with hard edges so staff see the real pixels."""
    width, height = frame.size
    if width > max_px:
        frame = frame.resize((max_px, max(1, height * max_px // width)))
    elif width < 240:
        factor = max_px // 2 // width
        frame = frame.resize((width * factor, height * factor), Image.Resampling.NEAREST)
    out = io.BytesIO()
    frame.convert("RGB").save(out, format="PNG")
    return out.getvalue()


def splash_at(
    manifest: Manifest,
    alerts: Sequence[Alert],
    at: datetime,
    *,
    language: str,
    css_url: str,
    asset_url: Callable[[str], str],
) -> str:
    """The Wi-Fi splash page a visitor would get at `at`, as the portal renders it
    (without a visit: no sign-in state, nothing to submit)."""
    view = splash_view(manifest, tuple(alerts), at, fallback_name=manifest.site.name)
    chrome = chrome_for(view, css_url, asset_url(view.logo_sha256) if view.logo_sha256 else None)
    offered = {lang.code for lang in chrome.languages}
    code = language if language in offered else next(iter(sorted(offered)), "en")
    env = _portal_templates()[code]
    return render_splash_without_visitor(
        env, view, chrome, LANGUAGES[code], asset_url=asset_url, accept_url="#"
    )
