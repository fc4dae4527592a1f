"""Roadside profile rules: each refusal names the item, the profile and the rule."""

from __future__ import annotations

import pytest

from central_cms.compiler import ItemSpec
from central_cms.rules import ProfileRules, check_items
from devices.protocol import ItemKind, TextSlide

LED = ProfileRules(
    "led", "Roadside LED 192x96", min_dwell_s=10, allow_video=False, forbid_contact_text=True
)
STATE_ROAD = ProfileRules(
    "led-state", "Roadside LED 384x192", min_dwell_s=40, allow_video=False, forbid_contact_text=True
)
INDOOR = ProfileRules("indoor", "Indoor 1080p")


def text(title: str, body: str = "", duration_s: float = 12) -> ItemSpec:
    return ItemSpec(
        id="t",
        kind=ItemKind.TEXT,
        duration_s=duration_s,
        text=TextSlide(title=title, body=body),
        label=title,
    )


def test_a_video_is_refused_on_a_roadside_screen_naming_the_rule():
    video = ItemSpec(id="v", kind=ItemKind.VIDEO, duration_s=15, label="Pool promo")
    (problem,) = check_items([video], [LED])
    assert "Item 1 (Pool promo)" in str(problem)
    assert "still images only" in str(problem)
    assert "Roadside LED 192x96" in str(problem)


def test_a_short_dwell_is_refused_with_the_minimum_the_profile_needs():
    (problem,) = check_items([text("Bin night", duration_s=3)], [LED])
    assert "minimum dwell 10 s" in str(problem)
    assert "(now 3 s)" in str(problem)


def test_state_roads_need_forty_seconds():
    assert check_items([text("Bin night", duration_s=20)], [LED]) == []
    (problem,) = check_items([text("Bin night", duration_s=20)], [STATE_ROAD])
    assert "minimum dwell 40 s" in str(problem)


@pytest.mark.parametrize(
    ("body", "what"),
    [
        ("Call 9231 0606 to book", "a phone number"),
        ("Ring 13 11 22", "a phone number"),
        ("Visit www.canning.wa.gov.au", "a web or email address"),
        ("See https://example.org/swim", "a web or email address"),
        ("Scan the QR code", "a QR code"),
    ],
)
def test_contact_details_are_refused_on_roadside_text(body, what):
    (problem,) = check_items([text("Swim school", body)], [LED])
    assert "no QR codes, phone numbers or URLs" in str(problem)
    assert what in str(problem)


def test_indoor_screens_accept_what_roads_refuse():
    items = [
        text("Call 9231 0606", duration_s=3),
        ItemSpec(id="v", kind=ItemKind.VIDEO, duration_s=3),
    ]
    assert check_items(items, [INDOOR]) == []


def test_plain_roadside_text_with_times_passes():
    assert check_items([text("School zone 40", "7:30-9 and 2:30-4")], [LED]) == []
