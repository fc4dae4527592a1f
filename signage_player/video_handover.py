"""What the player hands to mpv, and the proof-of-play mpv's events give back (issue 18).

On a full-screen indoor screen whose manifest has video, every item goes through the one
mpv: videos as they are, stills (pictures, text slides, widgets, drawn by the player as
always) as the player's own frame written to a file. So image→video, video→video and
video→image are changes inside mpv, prepared ahead, and no other window comes up in
between to show black. What beats the schedule (an alert, identify, black) stops mpv and
shows on the framebuffer as before. Zoned layouts keep mpv for the main zone's videos only.
"""

from __future__ import annotations

import itertools
import logging
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from PIL import Image

from devices.protocol import ContentItem, EventData, ItemKind, Manifest, PlayData
from signage_player.mpv_ipc import MpvIpcError
from signage_player.playback import Screen, Slot, Step
from signage_player.video import VideoBackend

log = logging.getLogger(__name__)

# How long a finished item's proof-of-play waits for mpv's end-file: it comes at once
# after a switch, or within video.HAND_OVER_S when mpv ends a video by itself.
_PROOF_WAIT_S = 2.0
_KEEP_FRAMES = 4  # on screen, prepared, and a spare of each
# mpv's first frame of a video comes a little after its turn began; its turn ends when mpv
# ends it, so the next item starts when mpv moves on to it and nothing drifts from clip to
# clip. Past this, the player moves on without mpv (a clip longer than its item).
_VIDEO_GRACE = timedelta(seconds=0.5)


@dataclass(frozen=True)
class Showing:
    """What went to mpv: the item and the play's handle."""

    item_id: str
    handle: int


def stills_through_mpv(manifest: Manifest | None, zoned: bool) -> bool:
    """Does this screen hand its stills to mpv too (see the module docstring)?"""
    return (
        manifest is not None
        and not zoned
        and any(item.kind is ItemKind.VIDEO for item in manifest.items)
    )


class VideoHandover:
    def __init__(self, video: VideoBackend) -> None:
        self.video = video
        self._made = tempfile.TemporaryDirectory(prefix="ds-frames-")  # private, 0700
        self._folder = Path(self._made.name)
        self._frames: dict[int, tuple[Image.Image, Path]] = {}  # id(frame) -> file
        self._names = itertools.count()
        self.showing: Showing | None = None

    def show(
        self, item: ContentItem | None, asset: Path | None, frame: Image.Image, *, stills: bool
    ) -> None:
        """Put `item` on mpv (`asset`: a video's file), or stop mpv for anything else."""
        path = self._path_of(item, asset, frame, stills=stills)
        if item is None or path is None:
            self.stop()
            return
        try:
            self.showing = Showing(item.id, self.video.play(path))
        except MpvIpcError as error:
            log.warning("mpv could not show item %s: %s", item.id, error)
            self.showing = None

    def again(self, step: Step, *, stills: bool) -> bool:
        """Is the main zone's new turn the item mpv shows already (a rotation of one)? Its
        tile is the same, but mpv must play it again: a video would hold its last frame."""
        slot = step.state.slot
        item = slot.item if slot is not None and slot.screen is Screen.ITEM else None
        shown = self.showing
        return (
            step.changed
            and item is not None
            and shown is not None
            and shown.item_id == item.id
            and (item.kind is ItemKind.VIDEO or stills)
        )

    def wake_at(self, slot: Slot | None, wake_at: datetime) -> datetime:
        """When the player looks again: a video mpv still plays has its turn end at mpv's
        end of it (`watch` wakes the player), up to _VIDEO_GRACE past the planned end."""
        shown = self.showing
        if (
            slot is None
            or slot.item is None
            or slot.item.kind is not ItemKind.VIDEO
            or slot.until != wake_at
            or shown is None
            or shown.item_id != slot.item.id
            or self.video.played(shown.handle, 0) is not None
        ):
            return wake_at
        return wake_at + _VIDEO_GRACE

    def stop(self) -> None:
        self.showing = None
        try:
            self.video.stop()
        except MpvIpcError as error:
            log.warning("mpv could not stop: %s", error)

    def close(self) -> None:
        self.stop()
        self.video.close()
        self._made.cleanup()

    def prepare(
        self, item: ContentItem, asset: Path | None, frame: Image.Image, *, stills: bool
    ) -> None:
        path = self._path_of(item, asset, frame, stills=stills)
        if path is None:
            return
        try:
            self.video.prepare(path)
        except MpvIpcError as error:
            log.warning("mpv could not prepare item %s: %s", item.id, error)

    def proof(self, event: EventData, shown: Showing | None) -> EventData:
        """`event` with the time mpv had it on screen, when `shown` is its play on mpv."""
        if not isinstance(event, PlayData) or shown is None or shown.item_id != event.item_id:
            return event
        played = self.video.played(shown.handle, _PROOF_WAIT_S)
        if played is None:
            log.warning("no end from mpv for item %s; proof-of-play by the clock", event.item_id)
            return event
        return event.model_copy(update={"shown_s": round(played.shown_s, 3)})

    def _path_of(
        self, item: ContentItem | None, asset: Path | None, frame: Image.Image, *, stills: bool
    ) -> Path | None:
        if item is None:
            return None
        if item.kind is ItemKind.VIDEO:
            return asset
        return self._frame_file(frame) if stills else None

    def _frame_file(self, frame: Image.Image) -> Path:
        """`frame` as a file mpv can show; the player hands the same frame object for the
        same tile, so a frame is written once however often it is prepared."""
        known = self._frames.get(id(frame))
        if known is not None and known[0] is frame:
            return known[1]
        path = self._folder / f"frame-{next(self._names)}.bmp"  # uncompressed: quick both ways
        frame.convert("RGB").save(path, format="BMP")
        self._frames[id(frame)] = (frame, path)
        while len(self._frames) > _KEEP_FRAMES:
            _, (_, old) = next(iter(self._frames.items()))
            del self._frames[next(iter(self._frames))]
            old.unlink(missing_ok=True)
        return path
