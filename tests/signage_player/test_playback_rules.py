"""Roadside LED rules and the planner's edge cases, driven with a manual clock."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from devices.clock import ManualClock
from devices.protocol import (
    Alert,
    BrightnessStep,
    ContentItem,
    ItemKind,
    Manifest,
    PlayData,
    PlayOutcome,
    ProfileKind,
    ScreenProfile,
    Severity,
)
from signage_player.playback import (
    Inputs,
    PlayState,
    Reason,
    Screen,
    Step,
    finish,
    render_failed,
    step,
)
from tests.signage_player.scenario import (
    PERTH,
    fake_asset,
    image_item,
    week_manifest,
    window,
)

MONDAY_NOON = datetime(2026, 12, 7, 12, tzinfo=PERTH)


def roadside(**profile_changes: object) -> Manifest:
    a, b, film = fake_asset("road-a"), fake_asset("road-b"), fake_asset("film")
    profile = ScreenProfile.model_validate(
        {
            "name": "Roadside 192x96",
            "kind": ProfileKind.ROADSIDE,
            "width_px": 192,
            "height_px": 96,
            "min_dwell_s": 8,
            "allow_video": False,
            "transitions": False,
            "night_blank": window("23:00", "05:00"),
            "brightness": (
                BrightnessStep(at=time(6), percent=100),
                BrightnessStep(at=time(19), percent=40),
            ),
            **profile_changes,
        }
    )
    return week_manifest(
        device_id="sig-albany-hwy-led-01",
        generated_at=MONDAY_NOON - timedelta(hours=1),
        profile=profile,
        assets=(a, b, film),
        items=(
            image_item("road-a", a, 3),  # asks for 3 s; the panel's minimum is 8 s
            ContentItem(
                id="film", campaign_id="film", kind=ItemKind.VIDEO, asset=film.sha256, duration_s=3
            ),
            image_item("road-b", b, 3),
        ),
        default_items=(),
    )


class Run:
    """Steps the planner as the player thread would: at each wake-up, nothing between."""

    def __init__(self, inputs: Inputs, start: datetime) -> None:
        self.inputs = inputs
        self.clock = ManualClock(start)
        self.state = PlayState()
        self.events: list[PlayData] = []
        self.last: Step = self.step()

    def step(self) -> Step:
        self.last = step(self.inputs, self.state, self.clock.now())
        self.state = self.last.state
        self.events.extend(self.last.events)
        return self.last

    def until(self, end: datetime) -> None:
        while self.last.wake_at <= end:
            self.clock.set(self.last.wake_at)
            self.step()
        self.clock.set(end)
        self.step()

    def screen(self) -> Screen:
        assert self.state.slot is not None
        return self.state.slot.screen

    @property
    def showing(self) -> str | None:
        slot = self.state.slot
        assert slot is not None
        return slot.item.id if slot.item else slot.alert.id if slot.alert else None


def test_roadside_plays_each_item_for_the_profiles_minimum_not_the_3s_asked() -> None:
    run = Run(Inputs(roadside(), video_ok=True), MONDAY_NOON)
    run.until(MONDAY_NOON + timedelta(minutes=2))
    plays = run.events
    assert len(plays) == 15  # 120 s / 8 s
    assert {e.shown_s for e in plays} == {8.0}
    assert {e.scheduled_s for e in plays} == {8.0}
    assert [e.item_id for e in plays[:4]] == ["road-a", "road-b", "road-a", "road-b"]
    # Never the video, even with a video backend installed: roadside is stills only.
    assert "film" not in {e.item_id for e in plays}


def test_indoor_plays_video_only_when_a_video_backend_is_there() -> None:
    indoor = roadside(
        kind=ProfileKind.INDOOR, allow_video=True, min_dwell_s=0, night_blank=None, brightness=()
    )
    without = Run(Inputs(indoor, video_ok=False), MONDAY_NOON)
    without.until(MONDAY_NOON + timedelta(seconds=30))
    assert "film" not in {e.item_id for e in without.events}
    with_mpv = Run(Inputs(indoor, video_ok=True), MONDAY_NOON)
    with_mpv.until(MONDAY_NOON + timedelta(seconds=30))
    assert "film" in {e.item_id for e in with_mpv.events}


def test_night_blank_window_shows_black_and_cuts_the_item_showing() -> None:
    start = datetime(2026, 12, 7, 22, 59, 55, tzinfo=PERTH)
    run = Run(Inputs(roadside()), start)
    assert run.screen() is Screen.ITEM
    run.until(start + timedelta(seconds=10))  # 23:00:05
    assert run.screen() is Screen.BLACK
    assert run.state.slot is not None and run.state.slot.reason is Reason.NIGHT_BLANK
    cut = run.events[-1]
    assert (cut.outcome, cut.reason, cut.shown_s) == (
        PlayOutcome.INTERRUPTED,
        "night-blank",
        5.0,
    )
    # Black all night: the planner sleeps until 05:00 (no wake-ups for every dwell).
    assert run.last.wake_at <= datetime(2026, 12, 8, 5, tzinfo=PERTH)
    run.until(datetime(2026, 12, 8, 4, 59, 59, tzinfo=PERTH))
    assert run.screen() is Screen.BLACK
    assert len(run.events) == len(
        [e for e in run.events if e.ended_at <= start + timedelta(seconds=5)]
    )
    run.until(datetime(2026, 12, 8, 5, tzinfo=PERTH))
    assert run.screen() is Screen.ITEM


def test_an_alert_during_the_night_blank_stays_black() -> None:
    night = datetime(2026, 12, 8, 1, tzinfo=PERTH)
    alert = Alert(
        id="road-closed",
        scope="all",
        severity=Severity.EMERGENCY,
        title="ROAD CLOSED",
        issued_at=night,
        expires_at=night + timedelta(hours=8),
    )
    run = Run(Inputs(roadside(), alerts=(alert,)), night)
    assert run.screen() is Screen.BLACK
    run.until(datetime(2026, 12, 8, 5, 0, 1, tzinfo=PERTH))
    assert run.screen() is Screen.ALERT  # the alert shows once the night window closes


def test_brightness_follows_the_time_of_day() -> None:
    run = Run(Inputs(roadside()), datetime(2026, 12, 7, 18, 59, 50, tzinfo=PERTH))
    assert run.last.brightness == 100
    run.until(datetime(2026, 12, 7, 19, 0, 1, tzinfo=PERTH))
    assert run.last.brightness == 40


def test_content_older_than_its_allowed_age_goes_black() -> None:
    manifest = roadside(max_content_age_s=3600)  # generated at 11:00
    run = Run(Inputs(manifest), MONDAY_NOON - timedelta(minutes=1))
    assert run.screen() is Screen.ITEM
    run.until(MONDAY_NOON + timedelta(seconds=1))
    assert run.screen() is Screen.BLACK
    assert run.state.slot is not None and run.state.slot.reason is Reason.STALE
    assert run.events[-1].reason == "stale"
    assert run.events[-1].ended_at == MONDAY_NOON


def test_roadside_render_error_shows_black_for_that_items_turn_then_goes_on() -> None:
    run = Run(Inputs(roadside()), MONDAY_NOON)
    assert run.showing == "road-a"
    run.inputs, run.last = render_failed(run.inputs, run.state, run.clock.now())
    run.state = run.last.state
    assert run.screen() is Screen.BLACK and run.last.changed
    assert run.state.slot is not None and run.state.slot.reason is Reason.RENDER_ERROR
    run.until(MONDAY_NOON + timedelta(seconds=7))
    assert run.screen() is Screen.BLACK  # held for the failed item's 8 s
    run.until(MONDAY_NOON + timedelta(seconds=8))
    assert run.showing == "road-b"
    # The item that failed was never shown, so it has no proof-of-play.
    assert [e.item_id for e in run.events] == []


def test_indoor_render_error_skips_the_item_instead() -> None:
    run = Run(Inputs(week_manifest()), MONDAY_NOON)
    first = run.showing
    run.inputs, run.last = render_failed(run.inputs, run.state, run.clock.now())
    run.state = run.last.state
    assert run.screen() is Screen.ITEM and run.showing != first
    run.until(MONDAY_NOON + timedelta(minutes=5))
    assert first not in {e.item_id for e in run.events}


def test_display_off_interrupts_with_its_reason_and_on_resumes() -> None:
    run = Run(Inputs(week_manifest()), MONDAY_NOON)
    run.clock.advance(seconds=5)
    run.inputs = Inputs(week_manifest(), display_on=False)
    run.step()
    assert run.screen() is Screen.BLACK
    assert (run.events[-1].reason, run.events[-1].shown_s) == ("display-off", 5.0)
    run.clock.advance(minutes=10)
    run.inputs = Inputs(week_manifest())
    run.step()
    assert run.screen() is Screen.ITEM


def test_new_manifest_keeps_an_unchanged_item_and_cuts_a_removed_one() -> None:
    old = week_manifest()
    run = Run(Inputs(old), MONDAY_NOON)
    showing = run.showing
    run.clock.advance(seconds=2)
    run.inputs = Inputs(old.model_copy(update={"version": 8}))
    run.step()
    assert run.showing == showing and not run.last.changed and not run.last.events
    replacement = old.model_copy(
        update={
            "version": 9,
            "default_items": tuple(i for i in old.default_items if i.id != showing),
        }
    )
    run.clock.advance(seconds=1)
    run.inputs = Inputs(replacement)
    run.step()
    assert run.showing != showing
    assert (run.events[-1].item_id, run.events[-1].reason) == (showing, "manifest")


def test_identify_shows_for_its_seconds_then_content_returns() -> None:
    run = Run(Inputs(week_manifest()), MONDAY_NOON)
    run.inputs = Inputs(week_manifest(), identify_until=MONDAY_NOON + timedelta(seconds=10))
    run.step()
    assert run.screen() is Screen.IDENTIFY
    assert run.last.wake_at <= MONDAY_NOON + timedelta(seconds=10)
    run.until(MONDAY_NOON + timedelta(seconds=10))
    assert run.screen() is Screen.ITEM


def test_no_manifest_is_black_and_stopping_records_the_item_cut_short() -> None:
    run = Run(Inputs(None), MONDAY_NOON)
    assert run.screen() is Screen.BLACK
    run.inputs = Inputs(week_manifest())
    run.clock.advance(seconds=1)
    run.step()
    run.clock.advance(seconds=4)
    _, events = finish(run.state, run.clock.now())
    assert [(e.outcome, e.reason, e.shown_s) for e in events] == [
        (PlayOutcome.INTERRUPTED, "stopped", 4.0)
    ]
