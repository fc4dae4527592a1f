"""Issue 18 in the 7-day simulation: the foyer screen mounted portrait (90 degrees) with a
power schedule of the library's opening hours. Off outside them (no proof-of-play while
off), woken by an alert that comes at night, and every frame the right way up.

The planner part runs the same `simulate` as test_week_simulation.py; the player part
runs the real player thread with a headless display and the CEC fake at chosen instants.
"""

from __future__ import annotations

import base64
import io
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from devices.protocol import (
    Alert,
    CommandName,
    DisplayPower,
    DisplaySetup,
    Fit,
    PlayData,
    Schedule,
    Severity,
    Weekday,
)
from testkit.player_fakes import colour_is
from tests.signage_player.scenario import (
    EVACUATE,
    EVACUATE_CLEARED,
    PERTH,
    POOL_CLOSED,
    WEEK_START,
    image_item,
    local,
    week_manifest,
    window,
)
from tests.signage_player.test_player import Rig
from tests.signage_player.test_week_simulation import Shown, simulate

WEEKDAYS = (Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI)
# Mon-Fri 07:00-21:00, Saturday 08:00-12:00, closed on Sunday: 74 hours a week.
OPENING_HOURS = (
    Schedule(days=WEEKDAYS, windows=(window("07:00", "21:00"),)),
    Schedule(days=(Weekday.SAT,), windows=(window("08:00", "12:00"),)),
)
PORTRAIT_WITH_HOURS = DisplaySetup(rotation_deg=90, power_on=OPENING_HOURS)

# Tuesday night, the library closed: the car park notice must still reach the screen.
CAR_PARK = Alert(
    id="car-park",
    scope="riverton-lib",
    severity=Severity.WARNING,
    title="Car park gates close at 22:30 tonight",
    issued_at=local(1, 22),
    expires_at=local(1, 22, 30),
)
DELIVERIES = (
    (local(1, 21, 59, 58), (CAR_PARK,)),
    (local(3, 13, 44, 58), (CAR_PARK, POOL_CLOSED)),
    (local(5, 9), (CAR_PARK, POOL_CLOSED, EVACUATE)),
    (local(5, 9, 20), (CAR_PARK, POOL_CLOSED, EVACUATE_CLEARED)),
)


def is_open(at: datetime) -> bool:
    """The opening hours above, written out by hand as the oracle."""
    at = at.astimezone(PERTH)
    hour = at.hour + at.minute / 60
    if at.weekday() < 5:
        return 7 <= hour < 21
    return at.weekday() == 5 and 8 <= hour < 12


@pytest.fixture(scope="module")
def week() -> tuple[list[Shown], list[PlayData], int]:
    return simulate(week_manifest(display=PORTRAIT_WITH_HOURS), DELIVERIES)


def test_the_screen_is_off_outside_opening_hours_and_counts_no_plays(week) -> None:
    shown, events, _ = week
    content = [e for e in events if e.alert_id is None]
    assert content, "the screen played nothing all week"
    for event in content:
        last_instant = event.ended_at - timedelta(microseconds=1)
        assert is_open(event.started_at) and is_open(last_instant), event
    # Off at each closing time (and from the start of the week, Monday 00:00), and after
    # the night-time alert until Wednesday's opening.
    off = [at for at, screen, why in shown if screen == "black" and why == "scheduled-off"]
    closings = [local(day, 21) for day in range(5)] + [local(5, 12)]
    assert off == sorted([WEEK_START, *closings, local(1, 22, 30)])
    # The item playing at closing time ends then: cut short with the reason said, unless
    # its turn happened to end on the very second.
    ending = sorted((e.ended_at, e.reason) for e in content if e.ended_at in closings)
    assert [at for at, _ in ending] == closings
    assert {why for _, why in ending} <= {"scheduled-off", None}
    assert "scheduled-off" in {why for _, why in ending}
    # Opening hours, 74 of them, are played to the second, plus the half hour of the
    # night-time alert; the daytime alerts take their time out of opening hours.
    assert sum(e.shown_s for e in events) == 74 * 3600 + 1800


def test_an_alert_wakes_the_screen_at_night_and_it_goes_off_again(week) -> None:
    shown, events, _ = week
    assert (local(1, 22), "alert", "car-park") in shown
    (car_park,) = [e for e in events if e.alert_id == "car-park"]
    assert (car_park.started_at, car_park.ended_at, car_park.shown_s) == (
        local(1, 22),
        local(1, 22, 30),
        1800.0,
    )
    after = next(s for s in shown if s[0] >= local(1, 22, 30))
    assert after == (local(1, 22, 30), "black", "scheduled-off")
    # The daytime alerts show as they did without a power schedule.
    assert {e.alert_id for e in events if e.alert_id} == {"car-park", "pool-closed", "evacuate"}


def portrait_poster() -> bytes:
    """A portrait poster, red above and blue below: which way up it lands is visible."""
    image = Image.new("RGB", (540, 960), (220, 0, 0))
    image.paste((0, 0, 220), (0, 480, 540, 960))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_player_turns_the_panel_off_and_on_by_schedule_and_draws_upright(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path, start=local(0, 6, 30))  # Monday, half an hour before opening
    try:
        poster = rig.assets.add(portrait_poster())
        manifest = week_manifest(
            display=PORTRAIT_WITH_HOURS,
            generated_at=WEEK_START,
            assets=(poster,),
            items=(),
            default_items=(image_item("poster", poster, 30, campaign_id=None, fit=Fit.FILL),),
        )
        rig.player.apply_manifest(manifest)
        assert rig.player.wait_until_idle()
        assert rig.power.requests == [False]  # CEC standby before opening
        assert not rig.display.powered
        showing = rig.player.now_showing()
        assert showing is not None and showing.display is DisplayPower.SCHEDULED_OFF

        rig.clock.set(local(0, 7))
        rig.player.wake()
        # Opening: the panel wakes, and the portrait canvas goes out turned clockwise onto
        # the landscape panel: the poster's top (red) at the panel's right, blue at its left.
        assert rig.display.wait_for(colour_is((220, 0, 0), at=(1900, 540)), 5)
        frame = rig.display.frame
        assert frame.size == (1920, 1080)
        assert colour_is((0, 0, 220), at=(20, 540))(frame)
        assert rig.power.requests == [False, True] and rig.display.powered
        showing = rig.player.now_showing()
        assert showing is not None and showing.display is DisplayPower.ON
        assert showing.item_id == "poster"
        # A screenshot for the CMS is turned back upright: portrait, red at the top.
        outcome = rig.player.run_command(rig.command(CommandName.SCREENSHOT))
        png = base64.b64decode(str(outcome.data["png_base64"]))
        upright = Image.open(io.BytesIO(png)).convert("RGB")
        assert upright.width < upright.height
        assert colour_is((220, 0, 0), at=(upright.width // 2, 5))(upright)
        assert colour_is((0, 0, 220), at=(upright.width // 2, upright.height - 5))(upright)

        for at in (local(0, 20, 59, 30), local(0, 21)):  # closing, in two steps
            rig.clock.set(at)
            rig.player.wake()
            assert rig.player.wait_until_idle()
        assert rig.power.requests == [False, True, False]
        assert rig.display.frame.getbbox() is None
        plays_at_closing = len(rig.services.plays)

        night_notice = CAR_PARK.model_copy(
            update={"issued_at": local(0, 22), "expires_at": local(0, 22, 30)}
        )
        rig.clock.set(local(0, 22))
        rig.player.apply_alerts((night_notice,))
        # The alert wakes the panel and shows full screen, upright on the portrait canvas.
        assert rig.display.wait_for(colour_is((255, 196, 0), at=(960, 540)), 5)
        assert rig.power.requests == [False, True, False, True]
        rig.clock.set(local(0, 22, 30))
        rig.player.wake()
        assert rig.display.wait_for(lambda f: f.getbbox() is None, 5)
        assert rig.player.wait_until_idle()
        assert rig.power.requests == [False, True, False, True, False]
        # While off, only the alert's own proof-of-play was added.
        added = rig.services.plays[plays_at_closing:]
        assert [(p.alert_id, p.shown_s) for p in added] == [("car-park", 1800.0)]
    finally:
        rig.close()
