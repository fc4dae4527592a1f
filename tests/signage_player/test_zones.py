"""The screen as zones, planned purely: which zones a manifest has, and that each runs the
screen's own rules on its own items (no thread, no display)."""

from __future__ import annotations

from datetime import datetime, timedelta

from devices.protocol import (
    Alert,
    ContentItem,
    ItemKind,
    PlayOutcome,
    ProfileKind,
    ScreenProfile,
    Severity,
)
from devices.protocol.layouts import LayoutTemplate, Widget, WidgetKind, build_layout
from signage_player.playback import Inputs, Screen
from signage_player.zones import ScreenState, step_screen, zone_plans
from tests.signage_player.scenario import PERTH, fake_asset, image_item, week_manifest

NOON = datetime(2026, 12, 7, 12, tzinfo=PERTH)
LAYOUT = build_layout(LayoutTemplate.MAIN_SIDE, 1920, 1080)
A, B, C = (fake_asset(name) for name in ("a", "b", "c"))


def two_zones(**changes: object):
    fields: dict[str, object] = {
        "generated_at": NOON - timedelta(hours=1),
        "layout": LAYOUT,
        "assets": (A, B, C),
        "items": (
            image_item("a", A, 10),
            image_item("b", B, 10),
            image_item("side-c", C, 25, zone="side"),
            ContentItem(
                id="clock",
                kind=ItemKind.WIDGET,
                widget=Widget(kind=WidgetKind.CLOCK),
                duration_s=30,
                zone="side",
            ),
        ),
        "default_items": (),
    }
    fields.update(changes)
    return week_manifest(**fields)


def test_a_manifest_without_layout_is_one_full_screen_zone_of_the_manifest_itself() -> None:
    plain = week_manifest()
    (plan,) = zone_plans(plain)
    assert (plan.name, plan.box, plan.manifest) == ("main", (0, 0, 1920, 1080), plain)
    assert plan.manifest is plain  # planned exactly as before layouts


def test_zones_get_their_own_items_main_first() -> None:
    plans = zone_plans(two_zones())
    assert [(p.name, p.box) for p in plans] == [
        ("main", (0, 0, 1440, 1080)),
        ("side", (1440, 0, 1920, 1080)),
    ]
    assert [i.id for i in plans[0].manifest.items] == ["a", "b"]
    assert [i.id for i in plans[1].manifest.items] == ["side-c", "clock"]


def test_a_roadside_panel_stays_one_zone_whatever_the_manifest_says() -> None:
    roadside = ScreenProfile(
        name="LED", kind=ProfileKind.ROADSIDE, width_px=1920, height_px=1080, min_dwell_s=8
    )
    (plan,) = zone_plans(two_zones(profile=roadside))
    assert (plan.name, plan.box) == ("main", (0, 0, 1920, 1080))
    assert [i.id for i in plan.manifest.items] == ["a", "b"]


def test_each_zone_rotates_on_its_own_clock_and_tags_its_plays() -> None:
    manifest = two_zones()
    plans = zone_plans(manifest)
    inputs = Inputs(manifest=manifest)
    first = step_screen(inputs, plans, ScreenState(), NOON)
    slots = {name: s.state.slot for name, s in first.steps.items()}
    assert {name: slot.item.id for name, slot in slots.items() if slot and slot.item} == {
        "main": "a",
        "side": "side-c",
    }
    assert first.wake_at == NOON + timedelta(seconds=10)
    second = step_screen(inputs, plans, first.state, first.wake_at)
    assert second.changed() == ["main"]  # the side zone goes on with its item
    assert [(e.zone, e.item_id, e.shown_s) for e in second.events] == [("main", "a", 10.0)]
    third = step_screen(inputs, plans, second.state, NOON + timedelta(seconds=20))
    assert third.changed() == ["main"] and third.wake_at == NOON + timedelta(seconds=25)
    fourth = step_screen(inputs, plans, third.state, third.wake_at)
    assert fourth.changed() == ["side"]
    assert fourth.steps["side"].state.slot.item.id == "clock"  # type: ignore[union-attr]
    assert [(e.zone, e.item_id, e.shown_s) for e in fourth.events] == [("side", "side-c", 25.0)]


def test_an_alert_takes_the_whole_screen_once() -> None:
    manifest = two_zones()
    plans = zone_plans(manifest)
    alert = Alert(
        id="smoke",
        scope="all",
        severity=Severity.EMERGENCY,
        title="Leave now",
        issued_at=NOON + timedelta(seconds=5),
        expires_at=NOON + timedelta(seconds=20),
    )
    inputs = Inputs(manifest=manifest, alerts=(alert,))
    before = step_screen(inputs, plans, ScreenState(), NOON)
    assert before.override is None
    during = step_screen(inputs, plans, before.state, NOON + timedelta(seconds=5))
    assert during.override is not None and during.override.screen is Screen.ALERT
    assert sorted((e.zone, e.item_id, e.outcome, e.reason) for e in during.events) == [
        ("main", "a", PlayOutcome.INTERRUPTED, "alert"),
        ("side", "side-c", PlayOutcome.INTERRUPTED, "alert"),
    ]
    after = step_screen(inputs, plans, during.state, NOON + timedelta(seconds=20))
    assert after.override is None
    alert_plays = [e for e in after.events if e.alert_id == "smoke"]
    assert [(e.zone, e.shown_s) for e in alert_plays] == [(None, 15.0)]
