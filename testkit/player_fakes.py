"""The agent's side of the seam, faked for player tests (and bench/video_handover.py)
that need no broker, and small helpers to make real image assets with Pillow."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from devices.clock import Clock
from devices.feeds import FeedReader, FixedFeeds
from devices.protocol import AssetRef, DeviceKind, EventData, PlayData
from testkit.messages import asset_for


def jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (640, 360)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def asset_ref(data: bytes, url: str = "http://127.0.0.1:1/asset") -> AssetRef:
    """A JPEG's reference (see jpeg)."""
    return asset_for(data, url, "image/jpeg")


class FolderAssets:
    """Assets as files named by their sha256 in a folder, like the cache's objects/."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def add(self, data: bytes, *, stored: bytes | None = None) -> AssetRef:
        """Store `stored` (default `data`) under the hash of `data`: a tampered file."""
        ref = asset_ref(data)
        (self.folder / ref.sha256).write_bytes(data if stored is None else stored)
        return ref

    def path(self, sha256: str) -> Path | None:
        path = self.folder / sha256
        return path if path.exists() else None


class FakeServices:
    def __init__(self, clock: Clock, assets: FolderAssets, device_id: str = "sig-test-01") -> None:
        self._clock = clock
        self._assets = assets
        self._device_id = device_id
        self.records: list[EventData] = []
        self.status_changes = 0
        self._changed = threading.Condition()
        self.feed_copies: FeedReader = FixedFeeds()  # replace to give widgets live data

    @property
    def device_id(self) -> str:
        return self._device_id

    @property
    def kind(self) -> DeviceKind:
        return DeviceKind.SIGNAGE

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def assets(self) -> FolderAssets:
        return self._assets

    def record(self, data: EventData) -> None:
        with self._changed:
            self.records.append(data)
            self._changed.notify_all()

    def status_changed(self) -> None:
        with self._changed:
            self.status_changes += 1
            self._changed.notify_all()

    @property
    def feeds(self) -> FeedReader:
        return self.feed_copies

    @property
    def plays(self) -> list[PlayData]:
        with self._changed:
            return [r for r in self.records if isinstance(r, PlayData)]

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 5) -> bool:
        with self._changed:
            return self._changed.wait_for(predicate, timeout_s)


def colour_is(
    colour: tuple[int, int, int], at: tuple[int, int] = (5, 5), tolerance: int = 12
) -> Callable[[Image.Image], bool]:
    """A frame predicate: the pixel at `at` is close to `colour`."""

    def check(frame: Image.Image) -> bool:
        pixel = frame.getpixel(at)
        assert isinstance(pixel, tuple)
        return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))

    return check
