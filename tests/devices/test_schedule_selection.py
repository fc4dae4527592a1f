"""What the schedule evaluator selects: brightness steps, priorities and default content,
alerts, and the next moment a device must look at its manifest again."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from devices.protocol import Alert, BrightnessStep, DeviceKind, ScreenProfile, Severity
from devices.schedule import (
    active_alert,
    brightness_at,
    eligible_items,
    next_brightness_change,
    next_manifest_change,
    open_items,
)
from testkit.messages import manifest
from tests.devices.schedules import (
    FRIDAY,
    OFFICE_HOURS,
    PERTH,
    SATURDAY,
    alert,
    at,
    daily,
    item,
    window,
)

# --- brightness ----------------------------------------------------------------------------

DAY_NIGHT = (
    BrightnessStep(at=time(20), percent=30),
    BrightnessStep(at=time(6), percent=80),
)


def test_brightness_before_the_first_step_is_the_previous_evenings() -> None:
    assert brightness_at(DAY_NIGHT, at(PERTH, SATURDAY, 2), PERTH) == 30
    assert brightness_at(DAY_NIGHT, at(PERTH, SATURDAY, 6), PERTH) == 80
    assert brightness_at(DAY_NIGHT, at(PERTH, SATURDAY, 19, 59), PERTH) == 80
    assert brightness_at(DAY_NIGHT, at(PERTH, SATURDAY, 20), PERTH) == 30


def test_brightness_without_steps_is_the_default() -> None:
    assert brightness_at((), at(PERTH, SATURDAY, 2), PERTH) == 100
    assert brightness_at((), at(PERTH, SATURDAY, 2), PERTH, default=70) == 70


def test_next_brightness_change_wraps_to_the_next_morning() -> None:
    assert next_brightness_change(DAY_NIGHT, at(PERTH, FRIDAY, 21), PERTH) == at(PERTH, SATURDAY, 6)
    same_everywhere = (BrightnessStep(at=time(6), percent=50),)
    assert next_brightness_change(same_everywhere, at(PERTH, FRIDAY, 21), PERTH) is None


# --- priorities and alerts -----------------------------------------------------------------

SWIM = item("swim", OFFICE_HOURS, priority=50)
STORYTIME = item("storytime", daily("10:00", "11:00"), priority=80)
HOLIDAYS = item("holidays", OFFICE_HOURS, priority=50, weight=3)
WELCOME = item("welcome")
AFTER_HOURS = item("after-hours", daily("17:00", "09:00"))


def test_higher_priority_hides_lower_while_it_is_open() -> None:
    items = [SWIM, STORYTIME, HOLIDAYS]
    assert eligible_items(items, [WELCOME], at(PERTH, FRIDAY, 10, 30), PERTH) == [STORYTIME]
    assert eligible_items(items, [WELCOME], at(PERTH, FRIDAY, 11), PERTH) == [SWIM, HOLIDAYS]
    assert open_items(items, at(PERTH, FRIDAY, 10, 30), PERTH) == items


def test_default_content_plays_only_when_nothing_is_open() -> None:
    items = [SWIM, STORYTIME]
    assert eligible_items(items, [WELCOME], at(PERTH, FRIDAY, 12), PERTH) == [SWIM]
    assert eligible_items(items, [WELCOME], at(PERTH, FRIDAY, 18), PERTH) == [WELCOME]


def test_scheduled_default_content_plays_only_inside_its_window() -> None:
    defaults = [WELCOME, AFTER_HOURS]
    assert eligible_items([], defaults, at(PERTH, FRIDAY, 18), PERTH) == defaults
    assert eligible_items([], defaults, at(PERTH, FRIDAY, 12), PERTH) == [WELCOME]
    assert eligible_items([SWIM], [AFTER_HOURS], at(PERTH, FRIDAY, 12), PERTH) == [SWIM]
    assert eligible_items([SWIM], [AFTER_HOURS], at(PERTH, FRIDAY, 8, 59), PERTH) == [AFTER_HOURS]


NOON = at(PERTH, FRIDAY, 12)


def test_emergency_alert_beats_a_newer_warning_and_expires_on_time() -> None:
    fire = alert("fire", NOON - timedelta(hours=1), NOON + timedelta(hours=1), severity="emergency")
    heat = alert("heat", NOON - timedelta(minutes=5), NOON + timedelta(hours=5))
    assert active_alert([heat, fire], NOON, DeviceKind.SIGNAGE) == fire
    assert active_alert([heat, fire], NOON + timedelta(hours=1), DeviceKind.SIGNAGE) == heat
    assert active_alert([heat, fire], NOON + timedelta(hours=5), DeviceKind.SIGNAGE) is None


def test_newest_alert_wins_among_equally_severe() -> None:
    older = alert("closed-pool", NOON - timedelta(hours=2), NOON + timedelta(hours=2))
    newer = alert("closed-gym", NOON - timedelta(hours=1), NOON + timedelta(hours=2))
    assert active_alert([newer, older], NOON, DeviceKind.PORTAL) == newer
    assert newer.severity is Severity.WARNING


def test_cleared_future_and_other_kind_alerts_do_not_override() -> None:
    cleared = alert("a", NOON - timedelta(hours=1), NOON + timedelta(hours=1), cleared=True)
    future = alert("b", NOON + timedelta(minutes=1), NOON + timedelta(hours=1))
    portal_only = alert("c", NOON - timedelta(hours=1), NOON + timedelta(hours=1), kinds=["portal"])
    alerts = [cleared, future, portal_only]
    assert active_alert(alerts, NOON, DeviceKind.SIGNAGE) is None
    assert active_alert(alerts, NOON, DeviceKind.PORTAL) == portal_only


# --- the next moment a device must look again ----------------------------------------------


def perth_manifest(**changes: object):
    site = manifest().site.model_copy(update={"timezone": "Australia/Perth"})
    fields: dict[str, object] = {
        "site": site,
        "items": (item("swim", daily("09:00", "17:00")),),
        "default_items": (item("welcome", daily("06:00", "22:00")),),
        "valid_until": at(PERTH, FRIDAY + timedelta(days=7), 0),
    }
    fields.update(changes)
    return manifest("sig-test-01", 1, **fields)


def roadside(**changes: object) -> ScreenProfile:
    fields: dict[str, object] = {
        "name": "Roadside",
        "kind": "roadside",
        "width_px": 192,
        "height_px": 96,
    }
    fields.update(changes)
    return ScreenProfile.model_validate(fields)


@pytest.mark.parametrize(
    ("source", "changes", "alerts", "after", "expected"),
    [
        ("item schedule", {}, [], at(PERTH, FRIDAY, 8), at(PERTH, FRIDAY, 9)),
        ("default schedule", {}, [], at(PERTH, FRIDAY, 18), at(PERTH, FRIDAY, 22)),
        (
            "alert issued",
            {},
            [alert("heat", at(PERTH, FRIDAY, 8, 30), at(PERTH, FRIDAY, 20))],
            at(PERTH, FRIDAY, 8),
            at(PERTH, FRIDAY, 8, 30),
        ),
        (
            "alert expiry",
            {},
            [alert("heat", at(PERTH, FRIDAY, 7), at(PERTH, FRIDAY, 8, 45))],
            at(PERTH, FRIDAY, 8),
            at(PERTH, FRIDAY, 8, 45),
        ),
        (
            "night blank",
            {"profile": roadside(night_blank=window("23:00", "05:00"))},
            [],
            at(PERTH, FRIDAY, 22, 30),
            at(PERTH, FRIDAY, 23),
        ),
        (
            "brightness step",
            {"profile": roadside(brightness=DAY_NIGHT)},
            [],
            at(PERTH, FRIDAY, 19),
            at(PERTH, FRIDAY, 20),
        ),
        (
            "valid until",
            {"valid_until": at(PERTH, FRIDAY, 8, 10)},
            [],
            at(PERTH, FRIDAY, 8),
            at(PERTH, FRIDAY, 8, 10),
        ),
    ],
)
def test_next_manifest_change_is_the_earliest_source(
    source: str,
    changes: dict[str, object],
    alerts: list[Alert],
    after: datetime,
    expected: datetime,
) -> None:
    found = next_manifest_change(perth_manifest(**changes), alerts, after)
    assert found == expected, source


def test_cleared_alert_does_not_wake_the_device() -> None:
    cleared = alert("heat", at(PERTH, FRIDAY, 8, 30), at(PERTH, FRIDAY, 20), cleared=True)
    found = next_manifest_change(perth_manifest(), [cleared], at(PERTH, FRIDAY, 8))
    assert found == at(PERTH, FRIDAY, 9)
