"""Roadside profile rules: each refusal names the item, the profile and the rule."""

from __future__ import annotations

import pytest

from central_cms.compiler import ItemSpec
from central_cms.rules import ProfileRules, check_items
from devices.protocol import ItemKind, TextSlide

LED = ProfileRules(
    "led",
    "Roadside LED 192x96",
    min_dwell_s=10,
    allow_video=False,
    forbid_contact_text=True,
    canvas_px=(192, 96),
    title_only=True,
)
STATE_ROAD = ProfileRules(
    "led-state",
    "Roadside LED 384x192",
    min_dwell_s=40,
    allow_video=False,
    forbid_contact_text=True,
    canvas_px=(384, 192),
    title_only=True,
)
INDOOR = ProfileRules("indoor", "Indoor 1080p", canvas_px=(1920, 1080))
SPLASH = ProfileRules("splash", "Wi-Fi splash")  # laid out by the phone's browser

# Issue 13, point 18: what the LED showed as "School holidays at Riverton".
RIVERTON = "School holidays at Riverton Leisureplex — sports camps…"


def text(
    title: str, body: str = "", duration_s: float = 12, *, shrink_to_fit: bool = False
) -> ItemSpec:
    return ItemSpec(
        id="t",
        kind=ItemKind.TEXT,
        duration_s=duration_s,
        text=TextSlide(title=title, body=body, shrink_to_fit=shrink_to_fit),
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


def test_a_title_too_long_for_the_led_is_refused_saying_what_it_would_show_and_the_fix():
    (problem,) = check_items([text(RIVERTON)], [LED])
    message = str(problem)
    assert message.startswith(f"Item 1 ({RIVERTON}) breaks the rule “all the text fits")
    assert "Roadside LED 192x96" in message
    assert "the title needs 6 lines at 25 px" in message
    assert "room for 2" in message
    assert "cut it off at “School holidays at…”" in message
    assert "shorten the title to about 18 characters" in message
    assert "or tick “Shrink to fit” (it would show at 15 px)" in message
    assert problem.field == "title"


def test_the_same_title_passes_when_staff_choose_shrink_to_fit():
    assert check_items([text(RIVERTON, shrink_to_fit=True)], [LED]) == []


def test_shrink_to_fit_stops_at_readable_type_and_says_how_much_to_cut():
    twice = f"{RIVERTON} {RIVERTON}"
    (problem,) = check_items([text(twice, shrink_to_fit=True)], [LED])
    assert "even shrunk to the smallest readable size" in str(problem)
    assert "at 12 px" in str(problem)  # half the design's 25 px, never smaller
    assert "shorten the title to about" in str(problem)


def test_a_word_wider_than_the_led_is_refused_rather_than_broken():
    (problem,) = check_items([text("Supercalifragilisticexpialidocious")], [LED])
    assert "“Supercalifragilisticexpialidocious” in the title is wider than" in str(problem)


def test_a_long_body_on_an_indoor_screen_is_refused_unless_it_may_shrink():
    body = "Songs, rhymes and stories for under-fives. Free, no booking needed. " * 8
    (problem,) = check_items([text("Storytime", body)], [INDOOR])
    assert problem.field == "body"
    assert "the text needs 9 lines at 54 px and the 1920x1080 screen has room for 8" in str(problem)
    assert check_items([text("Storytime", body, shrink_to_fit=True)], [INDOOR]) == []


def test_text_is_not_measured_for_the_wifi_splash_which_the_browser_lays_out():
    assert check_items([text(RIVERTON)], [SPLASH]) == []
