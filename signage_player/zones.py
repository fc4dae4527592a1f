"""The screen as zones, each with its own rotation (issue 14). Pure, like `playback`.

A manifest's `layout` splits the canvas into zones; every item names its zone. Each zone
is planned by the very same `playback.step` as a whole screen was, on the manifest cut
down to that zone's items, so the schedule, priority, rotation (and share of voice) rules
are the ones every screen already follows, zone by zone. A manifest without a layout is
one zone, ``main``, covering the canvas, planned on the manifest as it is: exactly the
screen before layouts existed. Roadside panels are always that one zone.

What beats the schedule (display off, identify, night blank, an alert, stale content) is
the same instant for every zone, because every zone looks at the same inputs; the player
then shows the main zone's slot full screen. Each zone's items end with their own
proof-of-play, tagged with the zone when the layout has more than one; an alert's
proof-of-play is the main zone's only, since the alert took the whole screen once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from devices.protocol import Manifest, PlayData, ProfileKind
from devices.protocol.layouts import MAIN_ZONE
from signage_player.playback import Inputs, PlayState, Reason, Screen, Slot, Step, finish, step

Box = tuple[int, int, int, int]  # left, top, right, bottom, as Pillow takes it


@dataclass(frozen=True)
class ZonePlan:
    """One zone of the screen: where it is, and the manifest its rotation plays."""

    name: str
    box: Box
    manifest: Manifest

    @property
    def size(self) -> tuple[int, int]:
        return (self.box[2] - self.box[0], self.box[3] - self.box[1])


def full_screen(manifest: Manifest) -> bool:
    """Whether the screen is one zone: no layout, a one-zone layout, or a roadside panel
    (LED panels stay single-zone whatever a manifest says)."""
    layout = manifest.layout
    return layout is None or len(layout.zones) == 1 or manifest.profile.kind is ProfileKind.ROADSIDE


def zone_plans(manifest: Manifest) -> tuple[ZonePlan, ...]:
    """The zones of `manifest`, main first (its slot is what an override shows). The
    player computes them once per manifest."""
    canvas: Box = (0, 0, *manifest.canvas)  # portrait for a screen on its side
    if manifest.layout is None:
        return (ZonePlan(MAIN_ZONE, canvas, manifest),)
    zones = manifest.layout.zones
    if full_screen(manifest):
        zones = tuple(z for z in zones if z.name == MAIN_ZONE)
    ordered = sorted(zones, key=lambda zone: zone.name != MAIN_ZONE)
    return tuple(
        ZonePlan(
            zone.name,
            canvas if len(ordered) == 1 else zone.box,
            _cut_to(manifest, zone.name),
        )
        for zone in ordered
    )


def _cut_to(manifest: Manifest, zone: str) -> Manifest:
    return manifest.model_copy(
        update={
            "items": tuple(item for item in manifest.items if item.zone == zone),
            "default_items": tuple(item for item in manifest.default_items if item.zone == zone),
        }
    )


def zone_inputs(inputs: Inputs, plan: ZonePlan, *, zoned: bool) -> Inputs:
    """The planner's inputs for one zone. Video plays full screen through mpv, so a zone
    of a multi-zone layout never picks a video."""
    if not zoned:
        return replace(inputs, manifest=plan.manifest)
    return replace(inputs, manifest=plan.manifest, video_ok=False)


@dataclass(frozen=True)
class ScreenState:
    """Each zone's play state, by zone name."""

    zones: tuple[tuple[str, PlayState], ...] = ()

    def of(self, zone: str) -> PlayState:
        return dict(self.zones).get(zone, PlayState())


@dataclass(frozen=True)
class ScreenStep:
    state: ScreenState
    steps: Mapping[str, Step]  # each zone's step, main first
    events: tuple[PlayData, ...]
    wake_at: datetime
    override: Slot | None  # what takes the whole screen (alert, black, identify), if anything

    @property
    def main(self) -> Step:
        return self.steps[MAIN_ZONE]

    def changed(self) -> list[str]:
        return [name for name, zone_step in self.steps.items() if zone_step.changed]


# Black for a reason of the whole screen's, not of one zone's turn.
_SCREEN_BLACK = frozenset(
    {
        Reason.DISPLAY_OFF,
        Reason.SCHEDULED_OFF,
        Reason.NO_MANIFEST,
        Reason.NIGHT_BLANK,
        Reason.STALE,
    }
)


def is_override(slot: Slot | None) -> bool:
    """A slot that takes the whole screen rather than one zone's turn."""
    if slot is None:
        return False
    if slot.screen in (Screen.ALERT, Screen.IDENTIFY):
        return True
    return slot.screen is Screen.BLACK and slot.reason in _SCREEN_BLACK


def step_screen(
    inputs: Inputs, plans: tuple[ZonePlan, ...], state: ScreenState, now: datetime
) -> ScreenStep:
    """Every zone's `playback.step` at `now` (`plans`: the manifest's `zone_plans`)."""
    if inputs.manifest is None or not plans:  # one zone, for the override it shows
        return _screen_step({MAIN_ZONE: step(inputs, state.of(MAIN_ZONE), now)}, zoned=False)
    zoned = len(plans) > 1
    steps = {
        plan.name: step(zone_inputs(inputs, plan, zoned=zoned), state.of(plan.name), now)
        for plan in plans
    }
    return _screen_step(steps, zoned=zoned)


def with_zone(screen: ScreenStep, zone: str, result: Step, *, zoned: bool) -> ScreenStep:
    """`screen` with one zone's step replaced (its item failed to render and the zone
    moved on); the events are that new step's only, the rest are already recorded."""
    steps = dict(screen.steps)
    steps[zone] = result
    merged = _screen_step(steps, zoned=zoned)
    return replace(merged, events=tuple(_tagged(zone, result.events, zoned)))


def _screen_step(steps: dict[str, Step], *, zoned: bool) -> ScreenStep:
    events = [event for name, s in steps.items() for event in _tagged(name, s.events, zoned)]
    main = steps[MAIN_ZONE]
    slot = main.state.slot
    return ScreenStep(
        state=ScreenState(tuple((name, s.state) for name, s in steps.items())),
        steps=steps,
        events=tuple(events),
        wake_at=min(s.wake_at for s in steps.values()),
        override=slot if is_override(slot) else None,
    )


def _tagged(zone: str, events: tuple[PlayData, ...], zoned: bool) -> list[PlayData]:
    if not zoned:
        return list(events)
    tagged = []
    for event in events:
        if event.alert_id is not None:
            if zone == MAIN_ZONE:  # one alert, one proof-of-play
                tagged.append(event)
            continue
        tagged.append(event.model_copy(update={"zone": zone}))
    return tagged


def finish_screen(state: ScreenState, now: datetime, *, zoned: bool) -> tuple[PlayData, ...]:
    """Every zone's showing item ends (the player is stopping)."""
    events: list[PlayData] = []
    for name, zone_state in state.zones:
        _, ended = finish(zone_state, now)
        events.extend(_tagged(name, ended, zoned))
    return tuple(events)
