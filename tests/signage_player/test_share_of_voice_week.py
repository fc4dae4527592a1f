"""A week of playback with guaranteed airtime: the player's own planner (`step`), driven
by a manual clock, gives each campaign its share of every clock hour it is scheduled.

Adelaide (UTC+10:30 in December): its clock hours are not UTC hours. The screen has:

- defaults `welcome` (20 s) and `hours` (35 s), when nothing is scheduled (02:00-06:30)
- `pool` (15 s, weight 2) 07:00-22:00 and `cafe` (12 s) 06:30-11:15, competing
- `late-bus` (25 s) 21:00-02:00, across midnight
- `swim-school`: 600 s an hour (10 min), items of 10 s and 15 s sharing it 240/360,
  daily 08:20-21:40, so its first and last hours are two thirds open
- `night-market`: 25 % of the hour (900 s), one 15 s item, 21:20-01:30 across midnight

The expected airtime of an hour is worked out here by hand from those windows, not by
the code under test.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from devices.clock import ManualClock
from devices.protocol import (
    ContentItem,
    ItemKind,
    Manifest,
    PlayData,
    Schedule,
    SiteInfo,
    TextSlide,
    TimeWindow,
)
from signage_player.playback import Inputs, PlayState, finish, step
from testkit.messages import screen_profile

ADELAIDE = ZoneInfo("Australia/Adelaide")
START = datetime(2026, 12, 7, tzinfo=ADELAIDE)
END = START + timedelta(days=7)
SHARE = {"swim-school": 600, "night-market": 900}  # seconds per hour, as staff set it


def slide(
    item_id: str, duration_s: float, *windows: tuple[str, str], **fields: object
) -> ContentItem:
    schedules = tuple(
        Schedule(windows=(TimeWindow(start=time.fromisoformat(a), end=time.fromisoformat(b)),))
        for a, b in windows
    )
    return ContentItem.model_validate(
        {
            "id": item_id,
            "campaign_id": fields.pop("campaign_id", item_id),
            "kind": ItemKind.TEXT,
            "text": TextSlide(title=item_id),
            "duration_s": duration_s,
            "schedules": schedules,
            **fields,
        }
    )


def manifest() -> Manifest:
    return Manifest(
        device_id="sig-adelaide-foyer-01",
        version=3,
        generated_at=START - timedelta(hours=1),
        valid_until=END + timedelta(days=1),
        site=SiteInfo(id="adelaide-hub", name="Adelaide Hub", timezone=ADELAIDE.key),
        profile=screen_profile(),
        items=(
            slide("pool", 15, ("07:00", "22:00"), weight=2),
            slide(
                "swim-poster",
                10,
                ("08:20", "21:40"),
                campaign_id="swim-school",
                share_s_per_hour=240,
            ),
            slide("cafe", 12, ("06:30", "11:15")),
            slide(
                "swim-video",
                15,
                ("08:20", "21:40"),
                campaign_id="swim-school",
                share_s_per_hour=360,
            ),
            slide("late-bus", 25, ("21:00", "02:00")),
            slide("night-market", 15, ("21:20", "01:30"), share_s_per_hour=900),
        ),
        default_items=(
            slide("welcome", 20, campaign_id=None),
            slide("hours", 35, campaign_id=None),
        ),
    )


def run_week(subject: Manifest) -> list[PlayData]:
    clock = ManualClock(START)
    inputs, state = Inputs(manifest=subject), PlayState()
    events: list[PlayData] = []
    while clock.now() < END:
        result = step(inputs, state, clock.now())
        state = result.state
        events.extend(result.events)
        assert result.wake_at > clock.now(), "the planner must move time forward"
        clock.set(min(result.wake_at, END))
    events.extend(finish(state, clock.now())[1])
    return events


@pytest.fixture(scope="module")
def plays() -> list[PlayData]:
    return run_week(manifest())


def local_hour(at: datetime) -> datetime:
    return at.astimezone(ADELAIDE).replace(minute=0, second=0, microsecond=0)


def open_minutes(campaign: str, hour: datetime) -> int:
    """Minutes of the local hour `hour` its window is open, read off the table above."""
    h = hour.hour
    if campaign == "swim-school":
        return {8: 40, 21: 40}.get(h, 60 if 9 <= h <= 20 else 0)
    return {21: 40, 1: 30}.get(h, 60 if h in (22, 23, 0) else 0)


def airtime(plays: list[PlayData]) -> dict[tuple[str, datetime], float]:
    """Seconds shown per (campaign, local clock hour the play started in)."""
    shown: dict[tuple[str, datetime], float] = defaultdict(float)
    for play in plays:
        if play.campaign_id is not None:
            shown[play.campaign_id, local_hour(play.started_at)] += play.shown_s
    return shown


@pytest.mark.parametrize("campaign", sorted(SHARE))
def test_every_scheduled_hour_of_the_week_gets_its_guarantee_within_one_percent(
    plays: list[PlayData], campaign: str
) -> None:
    shown = airtime(plays)
    hours = [START + timedelta(hours=n) for n in range(7 * 24)]
    checked = 0
    for hour in hours:
        guaranteed = SHARE[campaign] * open_minutes(campaign, hour) / 60
        if guaranteed == 0:
            assert shown.get((campaign, hour), 0) == 0, f"{campaign} played outside its window"
            continue
        achieved = shown.get((campaign, hour), 0.0)
        assert abs(achieved - guaranteed) <= guaranteed / 100, (
            f"{campaign} at {hour:%a %H:00}: {achieved:.0f} s shown, {guaranteed:.0f} s guaranteed"
        )
        checked += 1
    # 14 hours a day for the swim school, 5 (across midnight) for the night market.
    assert checked == 7 * (14 if campaign == "swim-school" else 5)


def test_the_guarantee_is_spread_through_the_hour_not_bunched(plays: list[PlayData]) -> None:
    # A full hour of the swim school: 24 + 24 plays, about a quarter in each quarter hour.
    noon = START + timedelta(days=2, hours=12)
    starts = [
        p.started_at
        for p in plays
        if p.campaign_id == "swim-school" and noon <= p.started_at < noon + timedelta(hours=1)
    ]
    quarters = Counter(int((s - noon).total_seconds() // 900) for s in starts)
    assert len(starts) == 48
    assert all(10 <= quarters[q] <= 14 for q in range(4)), quarters


def test_the_rest_of_the_rotation_keeps_its_weights_and_defaults_fill_the_night(
    plays: list[PlayData],
) -> None:
    noon_to_four = [
        p.item_id
        for p in plays
        if 12 <= p.started_at.astimezone(ADELAIDE).hour < 16 and p.campaign_id
    ]
    counts = Counter(noon_to_four)
    # pool is the only other campaign then: it fills what the guarantee leaves.
    assert counts["swim-poster"] == counts["swim-video"] == 7 * 4 * 24
    assert counts["pool"] > 0 and set(counts) == {"pool", "swim-poster", "swim-video"}
    morning = Counter(p.item_id for p in plays if 10 <= p.started_at.astimezone(ADELAIDE).hour < 11)
    assert abs(morning["pool"] / morning["cafe"] - 2) < 0.05  # weights 2 : 1
    night = {p.item_id for p in plays if 3 <= p.started_at.astimezone(ADELAIDE).hour < 6}
    assert night == {"welcome", "hours"}
