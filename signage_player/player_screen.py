"""What the player works out once per manifest (its zones, canvas, time zone and look),
and the small lookups its loop makes through the agent's services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from devices.device_kind import AgentServices
from devices.protocol import ContentItem, ItemKind, Manifest, ProfileKind
from signage_player.playback import Slot
from signage_player.render import Size, hex_colour
from signage_player.tiles import Look
from signage_player.video_handover import stills_through_mpv
from signage_player.widgets import FeedProvider
from signage_player.zones import ZonePlan, zone_plans


@dataclass(frozen=True)
class PlayerScreen:
    """What the player works out once per manifest: its zones, canvas, time zone and look."""

    manifest: Manifest | None
    plans: tuple[ZonePlan, ...]
    canvas: Size
    tz: ZoneInfo
    look: Look
    stills_on_mpv: bool = False  # video_handover.stills_through_mpv

    @property
    def zoned(self) -> bool:
        return len(self.plans) > 1

    @classmethod
    def of(cls, manifest: Manifest | None, blank_canvas: Size, *, mpv: bool) -> PlayerScreen:
        """`manifest`'s screen; with none yet, a black `blank_canvas`. `mpv`: the player
        hands video (and, where that avoids a black gap, stills) to mpv."""
        if manifest is None:
            return cls(None, (), blank_canvas, ZoneInfo("UTC"), Look((0, 0, 0), roadside=False))
        roadside = manifest.profile.kind is ProfileKind.ROADSIDE
        plans = zone_plans(manifest)
        return cls(
            manifest,
            plans,
            manifest.canvas,
            ZoneInfo(manifest.site.timezone),
            Look(hex_colour(manifest.site.brand_colour), roadside=roadside),
            mpv and stills_through_mpv(manifest, len(plans) > 1),
        )


def feeds_at(services: AgentServices, now: datetime) -> FeedProvider:
    """The widgets' view of the device's feed store at `now`: the last good copy of a
    feed, or None when there is none or it is older than the manifest allows."""
    return lambda feed_id: services.feeds.latest(feed_id, now)


def video_file(services: AgentServices, item: ContentItem | None) -> Path | None:
    if item is None or item.kind is not ItemKind.VIDEO:
        return None
    return services.assets.path(item.asset or "")


def describe(slot: Slot | None) -> str:
    if slot is None:
        return "nothing"
    if slot.item is not None:
        return f"item {slot.item.id}"
    if slot.alert is not None:
        return f"alert {slot.alert.id}"
    return f"{slot.screen.value} ({slot.reason.value if slot.reason else ''})"
