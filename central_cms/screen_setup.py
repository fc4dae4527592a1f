"""A screen's rotation and power schedule (issue 18): what staff set per device, checked,
and what it becomes in the device's manifest. Pure.

Staff choose how the screen is mounted (landscape, portrait either way, upside down) and
when its panel is on: always, the site's opening hours, or hours of its own. The manifest
carries the result as `DisplaySetup` with the hours already resolved, so the player has one
rule (on while any window is open) and an edit of the site's hours reaches its screens at
the next compile. A screen left at landscape and always on gets no `display` at all, so its
manifest stays byte-identical to one from before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import time

from central_cms.errors import Invalid
from devices.protocol import DisplaySetup, OpeningHours, Schedule, TimeWindow, Weekday

ROTATIONS: dict[int, str] = {
    0: "Landscape",
    90: "Portrait (picture turned clockwise)",
    180: "Landscape, upside down",
    270: "Portrait (picture turned anticlockwise)",
}
POWER_MODES: dict[str, str] = {
    "always": "Always on",
    "opening-hours": "The site's opening hours",
    "own": "Hours of its own",
}
DAY_NAMES: dict[Weekday, str] = {
    Weekday.MON: "Monday",
    Weekday.TUE: "Tuesday",
    Weekday.WED: "Wednesday",
    Weekday.THU: "Thursday",
    Weekday.FRI: "Friday",
    Weekday.SAT: "Saturday",
    Weekday.SUN: "Sunday",
}


@dataclass(frozen=True)
class ScreenSetup:
    """The three device columns, checked."""

    rotation_deg: int = 0
    power_mode: str = "always"
    power_hours: tuple[OpeningHours, ...] = ()

    def hours_json(self) -> list[dict[str, str]]:
        return [hours.model_dump(mode="json") for hours in self.power_hours]


def hours_schedules(hours: Iterable[OpeningHours]) -> tuple[Schedule, ...]:
    """Opening hours as schedules: each day's hours a window on that day (closing at or
    before opening runs past midnight, as every window does)."""
    return tuple(
        Schedule(days=(h.day,), windows=(TimeWindow(start=h.opens, end=h.closes),)) for h in hours
    )


def display_setup(setup: ScreenSetup, site_hours: tuple[OpeningHours, ...]) -> DisplaySetup | None:
    """What the manifest carries for `setup` at a site open `site_hours`; None for a
    landscape screen that is always on. A site without opening hours leaves its screens
    on (the form refuses to choose that mode then; hours deleted later must not switch
    screens off for good)."""
    hours = {"opening-hours": site_hours, "own": setup.power_hours}.get(setup.power_mode, ())
    power_on = hours_schedules(hours) or None
    if setup.rotation_deg == 0 and power_on is None:
        return None
    return DisplaySetup.model_validate({"rotation_deg": setup.rotation_deg, "power_on": power_on})


def stored_setup(rotation_deg: int, power_mode: str, power_hours: list[object]) -> ScreenSetup:
    """The device row's columns as a ScreenSetup (already checked when saved)."""
    return ScreenSetup(
        rotation_deg if rotation_deg in ROTATIONS else 0,
        power_mode if power_mode in POWER_MODES else "always",
        tuple(OpeningHours.model_validate(h) for h in power_hours),
    )


def checked_setup(form: Mapping[str, str], site_hours: tuple[OpeningHours, ...]) -> ScreenSetup:
    """The form's rotation, power mode and own hours (`opens_mon`, `closes_mon`, ...),
    or Invalid naming the field and the fix."""
    try:
        rotation = int(form.get("rotation_deg", "0"))
    except ValueError:
        rotation = -1
    if rotation not in ROTATIONS:
        raise Invalid("rotation_deg", "Choose how the screen is mounted.")
    mode = form.get("power_mode", "always")
    if mode not in POWER_MODES:
        raise Invalid("power_mode", "Choose when the screen is on.")
    if mode == "opening-hours" and not site_hours:
        raise Invalid(
            "power_mode",
            "This site has no opening hours yet: add them to the site, or give the screen "
            "hours of its own.",
        )
    hours: list[OpeningHours] = []
    problems: list[str] = []
    for day, name in DAY_NAMES.items():
        opens, closes = form.get(f"opens_{day.value}", ""), form.get(f"closes_{day.value}", "")
        if not opens and not closes:
            continue  # off all day
        parsed = (_clock(opens), _clock(closes))
        if parsed[0] is None or parsed[1] is None or parsed[0] == parsed[1]:
            problems.append(
                f"{name}: give both an on and an off time, such as 07:00 and 21:00, or "
                "leave both empty for a day it stays off."
            )
            continue
        hours.append(OpeningHours(day=day, opens=parsed[0], closes=parsed[1]))
    if mode == "own" and problems:
        raise Invalid("power_hours", problems[0], problems)
    if mode == "own" and not hours:
        raise Invalid(
            "power_hours",
            "Give the screen's own hours for at least one day, or choose always on.",
        )
    # Own hours typed in are kept while another mode is chosen, ready to switch back.
    return ScreenSetup(rotation, mode, () if problems else tuple(hours))


def _clock(value: str) -> time | None:
    try:
        return time.fromisoformat(value) if value else None
    except ValueError:
        return None
