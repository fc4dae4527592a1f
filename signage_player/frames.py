"""The player's frames and tiles, made once and kept while they may show again.

Full-screen frames are what takes the whole screen (an alert, the identify card, black);
tiles are zones' slots (`tiles.py`), a screen without a layout being one tile the size of
the canvas. Both are kept in one small cache: the ones on screen and the next ones,
rendered ahead so a change is only a copy to the display.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Hashable

from PIL import Image

from devices.app import AssetStore
from signage_player.playback import Screen, Slot
from signage_player.render import (
    RenderError,
    Size,
    black,
    render_alert,
    render_identify,
)
from signage_player.tiles import TileKey, draw_tile

# The frame showing and the next one per zone: 6 MB each at 1080p for a full screen.
FRAMES_PER_ZONE = 2


class Frames:
    def __init__(self) -> None:
        self._cache: OrderedDict[Hashable, Image.Image] = OrderedDict()
        self.limit = FRAMES_PER_ZONE
        self.tiles_drawn = 0  # tiles actually rendered (not from the cache): tests, bench

    def clear(self) -> None:
        self._cache.clear()

    def full(
        self, slot: Slot, canvas: Size, *, roadside: bool, device_id: str, site: str | None
    ) -> Image.Image:
        """What takes the whole screen: the alert, the identify card, or black."""
        if slot.screen is Screen.ALERT and slot.alert is not None:
            alert = slot.alert
            key: Hashable = ("alert", alert.id, alert.order, canvas, roadside)
            return self._get(key, lambda: render_alert(alert, canvas, title_only=roadside))
        if slot.screen is Screen.IDENTIFY:
            name = site or "no manifest yet"
            return self._get(
                ("identify", name, canvas), lambda: render_identify(device_id, name, canvas)
            )
        return black(canvas)

    def tile(self, key: TileKey, assets: AssetStore) -> Image.Image:
        """A zone's tile; RenderError when its asset is missing, altered or undecodable."""

        def draw() -> Image.Image:
            self.tiles_drawn += 1
            return draw_tile(key, lambda sha256: verified(assets, sha256))

        return self._get(key, draw)

    def _get(self, key: Hashable, make: Callable[[], Image.Image]) -> Image.Image:
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        frame = make()
        self._cache[key] = frame
        while len(self._cache) > self.limit:
            self._cache.popitem(last=False)
        release_freed_memory()
        return frame


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def release_freed_memory() -> None:
    """Give the decoder's freed buffers back to the OS. A 12-megapixel JPEG decodes into
    tens of MB that glibc would otherwise keep in its heap: on a Pi that is memory the
    player holds for nothing (issue 5 target: 80 MB steady state)."""
    trim = getattr(_libc(), "malloc_trim", None)  # glibc only
    if trim is not None:
        trim(0)


def verified(assets: AssetStore, sha256: str) -> bytes:
    """The asset's bytes, re-hashed before they are decoded: the cache verified the file
    when it was installed, but a frame on a roadside screen is worth one more check to
    rule out a file changed or damaged on disk since. The bytes hashed are the bytes
    decoded, so nothing can change in between."""
    path = assets.path(sha256)
    if path is None:
        raise RenderError(f"asset {sha256[:12]} is not in the cache")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise RenderError(f"asset {sha256[:12]}: {error}") from error
    if hashlib.sha256(data).hexdigest() != sha256:
        raise RenderError(f"asset {sha256[:12]} does not match its hash; not shown")
    return data
