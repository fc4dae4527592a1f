"""The player's frames and tiles, made once and kept while they may show again.

Full-screen frames are what takes the whole screen (an alert, the identify card, black);
tiles are zones' slots (`tiles.py`), a screen without a layout being one tile the size of
the canvas. Each zone keeps one tile: the one it shows until the next is rendered ahead
(the one showing is already in the frame on screen), so a change is only a paste and a
copy to the display. Alerts keep two full frames (an edit is a new frame).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable

from PIL import Image

from devices.device_kind import AssetStore
from signage_player.playback import Screen, Slot
from signage_player.render import (
    RenderError,
    Size,
    black,
    render_alert,
    render_identify,
)
from signage_player.tiles import TileKey, draw_tile

FULL_FRAMES = 2  # 6 MB each at 1080p
TILES_PER_ZONE = 1  # the next tile, rendered ahead; the one showing is in the frame

# glibc's dynamic mmap threshold rises after the first large free, after which images
# (MBs each) come from the heap and fragment it; fixed at 1 MiB, every image is its own
# mapping and goes back to the OS when freed (issue 14: four zones in 80 MB).
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_BYTES = 1 << 20


class Frames:
    def __init__(self) -> None:
        self._full: OrderedDict[Hashable, Image.Image] = OrderedDict()
        # One cache per zone: a zone whose tile stays on screen for an hour keeps it, however
        # often the main zone changes.
        self._tiles: dict[str, OrderedDict[Hashable, Image.Image]] = {}
        self.tiles_drawn = 0  # tiles actually rendered (not from the cache): tests, bench

    def clear(self) -> None:
        self._full.clear()
        self._tiles.clear()

    def keep_zones(self, zones: Iterable[str]) -> None:
        """Forget the tiles of zones the screen no longer has (a new layout)."""
        wanted = set(zones)
        for zone in [zone for zone in self._tiles if zone not in wanted]:
            del self._tiles[zone]

    def full(
        self, slot: Slot, canvas: Size, *, roadside: bool, device_id: str, site: str | None
    ) -> Image.Image:
        """What takes the whole screen: the alert, the identify card, or black."""
        if slot.screen is Screen.ALERT and slot.alert is not None:
            alert = slot.alert
            key: Hashable = ("alert", alert.id, alert.order, canvas, roadside)
            return _get(
                self._full,
                key,
                lambda: render_alert(alert, canvas, title_only=roadside),
                FULL_FRAMES,
            )
        if slot.screen is Screen.IDENTIFY:
            name = site or "no manifest yet"
            return _get(
                self._full,
                ("identify", name, canvas),
                lambda: render_identify(device_id, name, canvas),
                FULL_FRAMES,
            )
        return black(canvas)

    def tile(self, zone: str, key: TileKey, assets: AssetStore) -> Image.Image:
        """A zone's tile; RenderError when its asset is missing, altered or undecodable."""

        def draw() -> Image.Image:
            self.tiles_drawn += 1
            return draw_tile(key, lambda sha256: verified(assets, sha256))

        return _get(self._tiles.setdefault(zone, OrderedDict()), key, draw, TILES_PER_ZONE)


def _get(
    cache: OrderedDict[Hashable, Image.Image],
    key: Hashable,
    make: Callable[[], Image.Image],
    limit: int,
) -> Image.Image:
    cached = cache.get(key)
    if cached is not None:
        cache.move_to_end(key)
        return cached
    frame = make()
    cache[key] = frame
    while len(cache) > limit:
        cache.popitem(last=False)
    release_freed_memory()
    return frame


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def map_images_apart() -> None:
    """Make every large allocation its own mapping (glibc; elsewhere nothing happens)."""
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)


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
