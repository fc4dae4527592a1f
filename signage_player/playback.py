"""What the screen shows, decided purely: manifest, alerts and play state in, the next
state, the proof-of-play events and the moment to look again out.

No clock, thread, file or display here. The player thread calls `step` whenever it wakes
(at the `wake_at` this returned, or earlier on a new manifest, alert or command), and the
7-day simulation test drives the same function with a manual clock.

Order of precedence at an instant (first that applies wins):

1. display turned off by command                      -> black, reason ``display-off``
   the `identify` command, for its few seconds         -> device id and site
2. no manifest yet                                    -> black, reason ``no-manifest``
3. the profile's night_blank window is open           -> black, reason ``night-blank``
   (a road-safety rule the city sets per panel; it is absolute, alerts included)
4. an active alert for signage                        -> the alert (it wakes a screen
   that its power schedule has off, issue 18)
   the screen's power schedule has the panel off       -> black, reason ``scheduled-off``
   (outside the site's opening hours or its own; the player puts the panel in standby)
5. content older than the profile's max_content_age_s -> black, reason ``stale``
6. the schedule: highest open priority, weighted rotation with share of voice
   (devices/share_of_voice.py); the site's defaults when nothing is open; black
   (``nothing-scheduled``) when there are no defaults either.

An item plays for its duration, raised to the profile's `min_dwell_s` (roadside panels),
then the rotation picks the next. It is cut short, with the reason recorded, when it
stops being eligible: its window closed (``schedule``), a higher-priority campaign
opened (``priority``), a new manifest dropped or changed it (``manifest``), or an
override above began (``alert``, ``night-blank``, ``display-off``, ``scheduled-off``,
``stale``). Black shows nothing, so a screen that is off counts no plays. A new
manifest that still holds the showing item unchanged does not interrupt it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from devices.protocol import (
    Alert,
    ContentItem,
    DeviceKind,
    ItemKind,
    Manifest,
    PlayData,
    PlayOutcome,
    ProfileKind,
)
from devices.schedule import (
    Rotation,
    active_alert,
    brightness_at,
    eligible_items,
    item_open,
    next_manifest_change,
    power_on,
    window_open,
)
from devices.share_of_voice import next_on_air

# With nothing scheduled to change, look again this often anyway: harmless, and it
# bounds the damage of any mistake in a computed boundary.
MAX_SLEEP = timedelta(hours=1)


class Screen(StrEnum):
    ITEM = "item"
    ALERT = "alert"
    BLACK = "black"
    IDENTIFY = "identify"  # the device id and site, on the `identify` command


class Reason(StrEnum):
    """Why an item or alert ended early, or why the screen is black."""

    SCHEDULE = "schedule"
    PRIORITY = "priority"
    MANIFEST = "manifest"
    ALERT = "alert"
    CLEARED = "cleared"
    NIGHT_BLANK = "night-blank"
    DISPLAY_OFF = "display-off"
    SCHEDULED_OFF = "scheduled-off"  # outside the screen's power schedule
    STALE = "stale"
    NO_MANIFEST = "no-manifest"
    NOTHING_SCHEDULED = "nothing-scheduled"
    RENDER_ERROR = "render-error"
    IDENTIFY = "identify"
    STOPPED = "stopped"


@dataclass(frozen=True)
class Slot:
    """One stretch of the screen showing one thing."""

    screen: Screen
    started_at: datetime
    until: datetime | None = None  # an item's planned end; None: until something changes
    item: ContentItem | None = None
    alert: Alert | None = None
    reason: Reason | None = None  # why black

    def same_as(self, other: Slot) -> bool:
        """Whether `other` (a freshly decided slot) continues this one."""
        if self.screen is not other.screen:
            return False
        if self.screen is Screen.ALERT:
            assert self.alert is not None and other.alert is not None
            # An edit (a higher revision of the same alert) is a new slot: new words on screen.
            return (self.alert.id, self.alert.order) == (other.alert.id, other.alert.order)
        return self.reason is other.reason


@dataclass(frozen=True)
class Inputs:
    """What the planner looks at besides the clock."""

    manifest: Manifest | None
    alerts: tuple[Alert, ...] = ()
    display_on: bool = True
    video_ok: bool = False  # a video backend (mpv) is installed
    failed_items: frozenset[str] = frozenset()  # items that could not be rendered (indoor)
    identify_until: datetime | None = None


@dataclass(frozen=True)
class PlayState:
    slot: Slot | None = None
    rotation: Rotation | None = None
    # next_manifest_change is the costly call: keep its answer while it is still ahead and
    # the manifest and alerts it was computed for have not changed.
    boundary: datetime | None = None
    boundary_key: tuple[object, ...] | None = None


@dataclass(frozen=True)
class Step:
    state: PlayState
    events: tuple[PlayData, ...]
    wake_at: datetime
    changed: bool  # a new slot began: the display needs a new frame
    brightness: int | None  # percent for a panel with a brightness schedule


# --- the rules -------------------------------------------------------------------------------


def dwell_s(item: ContentItem, manifest: Manifest) -> float:
    """An item's time on screen: its duration, never less than the profile's minimum
    (a roadside manifest asking for 3 s still plays for the panel's minimum)."""
    return max(item.duration_s, manifest.profile.min_dwell_s)


def playable(item: ContentItem, manifest: Manifest, inputs: Inputs) -> bool:
    if item.id in inputs.failed_items:
        return False
    if item.kind is ItemKind.VIDEO:
        profile = manifest.profile
        return profile.allow_video and profile.kind is not ProfileKind.ROADSIDE and inputs.video_ok
    return True


def _eligible(manifest: Manifest, inputs: Inputs, at: datetime) -> list[ContentItem]:
    tz = ZoneInfo(manifest.site.timezone)
    items = [item for item in manifest.items if playable(item, manifest, inputs)]
    defaults = [item for item in manifest.default_items if playable(item, manifest, inputs)]
    return eligible_items(items, defaults, at, tz)


def stale_at(manifest: Manifest) -> datetime | None:
    """When the content becomes too old to show on this profile, if it ever does."""
    if manifest.profile.max_content_age_s is None:
        return None
    return manifest.generated_at + timedelta(seconds=manifest.profile.max_content_age_s)


def _override(inputs: Inputs, at: datetime) -> Slot | None:
    """A slot that beats the schedule at `at`, or None when the schedule decides."""
    if not inputs.display_on:
        return Slot(Screen.BLACK, at, reason=Reason.DISPLAY_OFF)
    if inputs.identify_until is not None and at < inputs.identify_until:
        return Slot(Screen.IDENTIFY, at, reason=Reason.IDENTIFY)
    manifest = inputs.manifest
    if manifest is None:
        return Slot(Screen.BLACK, at, reason=Reason.NO_MANIFEST)
    night = manifest.profile.night_blank
    if night is not None and window_open(night, at, ZoneInfo(manifest.site.timezone)):
        return Slot(Screen.BLACK, at, reason=Reason.NIGHT_BLANK)
    alert = active_alert(inputs.alerts, at, DeviceKind.SIGNAGE)
    if alert is not None:
        return Slot(Screen.ALERT, at, alert=alert)
    if not power_on(manifest, at):
        return Slot(Screen.BLACK, at, reason=Reason.SCHEDULED_OFF)
    stale = stale_at(manifest)
    if stale is not None and at >= stale:
        return Slot(Screen.BLACK, at, reason=Reason.STALE)
    return None


def _find(manifest: Manifest, item_id: str) -> ContentItem | None:
    for item in (*manifest.items, *manifest.default_items):
        if item.id == item_id:
            return item
    return None


def _ended(
    slot: Slot, at: datetime, outcome: PlayOutcome, reason: Reason | None
) -> PlayData | None:
    """The proof-of-play for a slot that ends at `at`; black shows nothing, so none."""
    shown_s = max(0.0, (at - slot.started_at).total_seconds())
    if slot.screen is Screen.ITEM and slot.item is not None and slot.until is not None:
        item = slot.item
        return PlayData(
            item_id=item.id,
            campaign_id=item.campaign_id,
            asset_sha256=item.asset,
            started_at=slot.started_at,
            ended_at=at,
            shown_s=shown_s,
            scheduled_s=(slot.until - slot.started_at).total_seconds(),
            outcome=outcome,
            reason=None if outcome is PlayOutcome.COMPLETED else reason,
        )
    if slot.screen is Screen.ALERT and slot.alert is not None:
        alert = slot.alert
        return PlayData(
            item_id=alert.id,
            alert_id=alert.id,
            started_at=slot.started_at,
            ended_at=at,
            shown_s=shown_s,
            scheduled_s=max(0.0, (alert.expires_at - slot.started_at).total_seconds()),
            outcome=outcome,
            reason=None if outcome is PlayOutcome.COMPLETED else reason,
        )
    return None


def _interruption(
    slot: Slot, inputs: Inputs, eligible: Sequence[ContentItem], at: datetime
) -> Reason | None:
    """Why the showing item may not go on, or None if it may."""
    manifest = inputs.manifest
    assert slot.item is not None and manifest is not None
    current = _find(manifest, slot.item.id)
    if current != slot.item:
        return Reason.MANIFEST
    if any(item.id == slot.item.id for item in eligible):
        return None
    if not playable(slot.item, manifest, inputs):
        return Reason.MANIFEST
    if item_open(slot.item, at, ZoneInfo(manifest.site.timezone)):
        return Reason.PRIORITY
    return Reason.SCHEDULE


def _next_item(
    inputs: Inputs, rotation: Rotation | None, eligible: Sequence[ContentItem], at: datetime
) -> tuple[Slot, Rotation | None]:
    manifest = inputs.manifest
    assert manifest is not None
    if not eligible:
        return Slot(Screen.BLACK, at, reason=Reason.NOTHING_SCHEDULED), rotation
    tz = ZoneInfo(manifest.site.timezone)
    item, rotation = next_on_air(
        rotation, eligible, at, tz, min_dwell_s=manifest.profile.min_dwell_s
    )
    until = at + timedelta(seconds=dwell_s(item, manifest))
    return Slot(Screen.ITEM, at, until=until, item=item), rotation


def brightness(manifest: Manifest | None, at: datetime) -> int | None:
    """The panel's brightness at `at` if its profile schedules one."""
    if manifest is None or not manifest.profile.brightness:
        return None
    return brightness_at(manifest.profile.brightness, at, ZoneInfo(manifest.site.timezone))


def _boundary(state: PlayState, inputs: Inputs, at: datetime) -> tuple[datetime, PlayState]:
    """The next instant the schedule, alerts, night blank or brightness can change."""
    manifest = inputs.manifest
    if manifest is None:
        return at + MAX_SLEEP, state
    key: tuple[object, ...] = (
        manifest.device_id,
        manifest.version,
        manifest.generated_at,
        tuple((a.id, a.order, a.cleared, a.expires_at) for a in inputs.alerts),
    )
    if state.boundary_key == key and state.boundary is not None and state.boundary > at:
        return state.boundary, state
    found = next_manifest_change(manifest, inputs.alerts, at)
    candidates = [at + MAX_SLEEP]
    if found is not None:
        candidates.append(found)
    stale = stale_at(manifest)
    if stale is not None and stale > at:
        candidates.append(stale.astimezone(UTC))
    boundary = min(candidates)
    return boundary, replace(state, boundary=boundary, boundary_key=key)


def step(inputs: Inputs, state: PlayState, now: datetime) -> Step:
    """Decide what shows at `now`."""
    slot = state.slot
    rotation = state.rotation
    events: list[PlayData] = []

    def end(outcome: PlayOutcome, reason: Reason | None) -> None:
        assert slot is not None
        event = _ended(slot, now, outcome, reason)
        if event is not None:
            events.append(event)

    override = _override(inputs, now)
    new: Slot | None = None
    if override is not None:
        if slot is not None and slot.same_as(override):
            new = slot
        else:
            if slot is not None and slot.until is not None and now >= slot.until:
                end(PlayOutcome.COMPLETED, None)  # its turn was up at this very instant
            elif slot is not None:
                reason = Reason.ALERT if override.screen is Screen.ALERT else override.reason
                end(PlayOutcome.INTERRUPTED, reason)
            new = override
    else:
        manifest = inputs.manifest
        assert manifest is not None  # no manifest is an override
        eligible = _eligible(manifest, inputs, now)
        if slot is not None and slot.screen is Screen.ITEM and slot.until is not None:
            if now >= slot.until:
                end(PlayOutcome.COMPLETED, None)
            else:
                why = _interruption(slot, inputs, eligible, now)
                if why is None:
                    new = slot
                else:
                    end(PlayOutcome.INTERRUPTED, why)
        elif slot is not None and slot.screen is Screen.ALERT and slot.alert is not None:
            alert = slot.alert
            current = next((a for a in inputs.alerts if a.id == alert.id), alert)
            if current.cleared:
                end(PlayOutcome.INTERRUPTED, Reason.CLEARED)
            elif now >= alert.expires_at:
                end(PlayOutcome.COMPLETED, None)
            else:  # replaced by a newer message that no longer applies, or withdrawn
                end(PlayOutcome.INTERRUPTED, Reason.CLEARED)
        elif (
            slot is not None
            and slot.reason is Reason.RENDER_ERROR
            and slot.until is not None
            and now < slot.until
        ):
            new = slot  # fail-black holds for the failed item's turn
        if new is None:
            new, rotation = _next_item(inputs, rotation, eligible, now)

    boundary, state = _boundary(state, inputs, now)
    if inputs.identify_until is not None and inputs.identify_until > now:
        boundary = min(boundary, inputs.identify_until)
    wake_at = boundary if new.until is None else min(boundary, new.until)
    return Step(
        state=replace(state, slot=new, rotation=rotation),
        events=tuple(events),
        wake_at=wake_at,
        changed=new is not slot,
        brightness=brightness(inputs.manifest, now),
    )


def render_failed(inputs: Inputs, state: PlayState, now: datetime) -> tuple[Inputs, Step]:
    """The frame for the item just started could not be made (render error, asset gone).

    Roadside panels fail black for that item's turn: never a partial or white frame,
    and no guessing at what else to show. Indoor screens skip the item until the next
    manifest and show the next one. The failed item was never shown, so no proof-of-play.
    """
    slot = state.slot
    if slot is None or slot.item is None:
        return inputs, step(inputs, state, now)
    manifest = inputs.manifest
    if manifest is not None and manifest.profile.kind is ProfileKind.ROADSIDE:
        black = Slot(Screen.BLACK, slot.started_at, until=slot.until, reason=Reason.RENDER_ERROR)
        boundary, state = _boundary(state, inputs, now)
        wake_at = min(boundary, slot.until) if slot.until is not None else boundary
        return inputs, Step(
            state=replace(state, slot=black),
            events=(),
            wake_at=wake_at,
            changed=True,
            brightness=brightness(manifest, now),
        )
    inputs = replace(inputs, failed_items=inputs.failed_items | {slot.item.id})
    return inputs, step(inputs, replace(state, slot=None), now)


def finish(
    state: PlayState, now: datetime, reason: Reason = Reason.STOPPED
) -> tuple[PlayState, tuple[PlayData, ...]]:
    """End whatever shows (the player is stopping): its proof-of-play, interrupted."""
    if state.slot is None:
        return state, ()
    slot = state.slot
    done = slot.until is not None and now >= slot.until
    event = _ended(slot, now, PlayOutcome.COMPLETED if done else PlayOutcome.INTERRUPTED, reason)
    return replace(state, slot=None), (() if event is None else (event,))
