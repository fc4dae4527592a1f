"""The player thread with a headless display and the agent's side faked at its seam
(no broker here; test_player_mqtt.py runs the real agent on the real Mosquitto)."""

from __future__ import annotations

import base64
import io
import time
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

import pytest
from PIL import Image

from devices.clock import ManualClock
from devices.protocol import (
    Alert,
    BrightnessStep,
    Command,
    CommandName,
    Fit,
    PlayOutcome,
    ProfileKind,
    ScreenProfile,
    Severity,
)
from signage_player.brightness import RecordingBrightness
from signage_player.display import HeadlessDisplay
from signage_player.player import SignagePlayer
from signage_player.power import RecordingScreenPower
from testkit.player_fakes import FakeServices, FolderAssets, colour_is, jpeg
from tests.signage_player.scenario import PERTH, image_item, week_manifest, window

NOON = datetime(2026, 12, 7, 12, tzinfo=PERTH)
RED, GREEN, BLUE = (220, 0, 0), (0, 200, 0), (0, 0, 220)


class Rig:
    def __init__(self, tmp_path: Path, *, start: datetime = NOON, mode=None) -> None:
        self.clock = ManualClock(start)
        self.assets = FolderAssets(tmp_path / "objects")
        self.services = FakeServices(self.clock, self.assets)
        self.display = HeadlessDisplay(mode)
        self.brightness = RecordingBrightness()
        self.power = RecordingScreenPower()
        self.player = SignagePlayer(
            self.display, brightness=self.brightness, screen_power=self.power
        )
        self.player.start(self.services)

    def advance(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))
        self.player.wake()

    def command(self, name: CommandName, **args: object) -> Command:
        return Command(
            id=f"cmd-{name.value}",
            device_id="sig-test-01",
            name=name,
            args=args,
            issued_at=self.clock.now(),
            expires_at=self.clock.now() + timedelta(minutes=5),
        )

    def close(self) -> None:
        self.player.stop()


@pytest.fixture
def rig(tmp_path):
    made: list[Rig] = []

    def make(**kwargs) -> Rig:
        made.append(Rig(tmp_path, **kwargs))
        return made[-1]

    yield make
    for r in made:
        r.close()


def two_images(rig: Rig, *, roadside: bool = False, stored_b: bytes | None = None, **profile):
    a, b = jpeg(RED), jpeg(GREEN)
    ref_a, ref_b = rig.assets.add(a), rig.assets.add(b, stored=stored_b)
    kind = ProfileKind.ROADSIDE if roadside else ProfileKind.INDOOR
    size = (192, 96) if roadside else (1280, 720)
    return week_manifest(
        profile=ScreenProfile.model_validate(
            {
                "name": "test",
                "kind": kind,
                "width_px": size[0],
                "height_px": size[1],
                "allow_video": not roadside,
                **profile,
            }
        ),
        generated_at=NOON - timedelta(minutes=5),
        assets=(ref_a, ref_b),
        items=(
            image_item("red", ref_a, 3, fit=Fit.FILL),
            image_item("green", ref_b, 3, fit=Fit.FILL),
        ),
        default_items=(),
    )


def test_manifest_plays_and_each_item_becomes_proof_of_play(rig) -> None:
    r = rig()
    assert r.display.wait_for(lambda f: f.getbbox() is None, 2)  # black before a manifest
    r.player.apply_manifest(two_images(r))
    assert r.display.wait_for(colour_is(RED), 2)
    assert r.display.frame.size == (1280, 720)
    r.advance(seconds=3)
    assert r.display.wait_for(colour_is(GREEN), 2)
    assert r.services.wait_for(lambda: len(r.services.plays) == 1)
    play = r.services.plays[0]
    assert (play.item_id, play.campaign_id, play.outcome, play.shown_s) == (
        "red",
        "red",
        PlayOutcome.COMPLETED,
        3.0,
    )
    assert play.asset_sha256 is not None and play.started_at == NOON
    showing = r.player.now_showing()
    assert showing is not None and showing.item_id == "green"


def test_alert_interrupts_within_a_second_and_ends_on_expiry(rig) -> None:
    r = rig()
    r.player.apply_manifest(two_images(r))
    assert r.display.wait_for(colour_is(RED), 2)
    alert = Alert(
        id="heat",
        scope="all",
        severity=Severity.EMERGENCY,
        title="Extreme heat: pool closed",
        issued_at=NOON - timedelta(minutes=1),
        expires_at=NOON + timedelta(seconds=10),
    )
    started = time.monotonic()
    r.player.apply_alerts([alert])
    assert r.display.wait_for(colour_is((190, 0, 0), at=(1, 1)), 1.0)
    assert time.monotonic() - started < 1.0
    assert r.services.wait_for(lambda: [p.reason for p in r.services.plays] == ["alert"])
    r.advance(seconds=10)
    assert r.display.wait_for(lambda f: not colour_is((190, 0, 0), at=(1, 1))(f), 2)
    assert r.services.wait_for(lambda: len(r.services.plays) == 2)
    shown = r.services.plays[1]
    assert (shown.alert_id, shown.outcome, shown.shown_s) == ("heat", PlayOutcome.COMPLETED, 10.0)


def test_tampered_asset_is_never_shown_indoors(rig) -> None:
    r = rig()
    manifest = two_images(r, stored_b=jpeg(BLUE))  # "green"'s file holds other bytes
    r.player.apply_manifest(manifest)
    assert r.display.wait_for(colour_is(RED), 2)
    for _ in range(3):
        r.advance(seconds=3)
        assert r.player.wait_until_idle()
        assert not colour_is(BLUE)(r.display.frame)
    assert "green" not in {p.item_id for p in r.services.plays}


def test_roadside_tampered_asset_is_black_never_partial_or_white(rig) -> None:
    r = rig(mode=(1920, 1080))
    manifest = two_images(r, roadside=True, min_dwell_s=8, stored_b=jpeg(BLUE))
    r.player.apply_manifest(manifest)
    assert r.display.wait_for(colour_is(RED), 2)
    # Pixel for pixel at the top-left of the output mode, the rest black.
    frame = r.display.frame
    assert frame.size == (1920, 1080)
    assert frame.crop((192, 0, 1920, 1080)).getbbox() is None
    r.advance(seconds=8)  # green's turn: its file does not match its hash
    assert r.display.wait_for(lambda f: f.getbbox() is None, 2)
    r.advance(seconds=8)
    assert r.display.wait_for(colour_is(RED), 2)


def test_roadside_night_blank_and_brightness(rig) -> None:
    r = rig(start=datetime(2026, 12, 7, 21, 59, 58, tzinfo=PERTH))
    manifest = two_images(
        r,
        roadside=True,
        min_dwell_s=8,
        night_blank=window("22:00", "05:00"),
        brightness=(
            BrightnessStep(at=clock_time(6), percent=100),
            BrightnessStep(at=clock_time(19), percent=30),
        ),
    )
    r.player.apply_manifest(manifest)
    assert r.display.wait_for(colour_is(RED), 2)
    assert r.services.wait_for(lambda: r.brightness.history == [30])
    r.advance(seconds=2)
    assert r.display.wait_for(lambda f: f.getbbox() is None, 2)
    assert r.services.wait_for(lambda: [p.reason for p in r.services.plays] == ["night-blank"])


def test_screenshot_command_returns_the_current_frame_as_png(rig) -> None:
    r = rig()
    r.player.apply_manifest(two_images(r))
    assert r.display.wait_for(colour_is(RED), 2)
    outcome = r.player.run_command(r.command(CommandName.SCREENSHOT))
    assert outcome.ok
    png = base64.b64decode(str(outcome.data["png_base64"]))
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (1280, 720)
    assert colour_is(RED)(image.convert("RGB"))


def test_a_screenshot_names_the_item_its_own_frame_shows(rig) -> None:
    """Issue 13 point 19: the CMS captions a screenshot with what it shows, so the
    screenshot carries that, taken together with the frame."""
    r = rig()
    r.player.apply_manifest(two_images(r))
    for colour, item_id in ((RED, "red"), (GREEN, "green")):
        assert r.display.wait_for(colour_is(colour), 2)
        outcome = r.player.run_command(r.command(CommandName.SCREENSHOT))
        frame = Image.open(io.BytesIO(base64.b64decode(str(outcome.data["png_base64"]))))
        assert colour_is(colour)(frame.convert("RGB"))
        assert outcome.data["showing_item_id"] == item_id
        showing = r.player.now_showing()
        assert showing is not None
        assert outcome.data["showing_since"] == showing.since.isoformat()
        r.advance(seconds=3)


def test_identify_shows_device_and_site_then_content_returns(rig) -> None:
    r = rig()
    r.player.apply_manifest(two_images(r))
    assert r.display.wait_for(colour_is(RED), 2)
    assert r.player.run_command(r.command(CommandName.IDENTIFY, seconds=5)).ok
    assert r.display.wait_for(colour_is((255, 255, 255)), 2)
    r.advance(seconds=5)
    assert r.display.wait_for(lambda f: not colour_is((255, 255, 255))(f), 2)


def test_display_off_blanks_and_asks_the_tv_to_standby(rig) -> None:
    r = rig()
    r.player.apply_manifest(two_images(r))
    assert r.display.wait_for(colour_is(RED), 2)
    outcome = r.player.run_command(r.command(CommandName.DISPLAY_OFF))
    assert outcome.ok and "CEC" in outcome.detail
    assert r.power.requests == [False]
    assert r.display.wait_for(lambda f: f.getbbox() is None, 2)
    assert r.services.wait_for(lambda: [p.reason for p in r.services.plays] == ["display-off"])
    r.player.run_command(r.command(CommandName.DISPLAY_ON))
    assert r.power.requests == [False, True]
    assert r.display.wait_for(lambda f: f.getbbox() is not None, 2)


def test_stopping_records_the_item_cut_short(rig) -> None:
    r = rig()
    r.player.apply_manifest(two_images(r))
    assert r.display.wait_for(colour_is(RED), 2)
    r.clock.advance(seconds=1)
    r.player.stop()
    assert [(p.item_id, p.reason, p.shown_s) for p in r.services.plays] == [("red", "stopped", 1.0)]
    assert r.display.frame.getbbox() is None


def test_next_frame_is_ready_before_its_turn(rig, monkeypatch) -> None:
    """The switch itself renders nothing: the next item was decoded while waiting."""
    r = rig()
    r.player.apply_manifest(two_images(r))
    assert r.display.wait_for(colour_is(RED), 2)
    import signage_player.tiles as tiles_module

    def refuse(*args, **kwargs):
        raise AssertionError("rendered at switch time")

    assert r.player.wait_until_idle()
    monkeypatch.setattr(tiles_module, "render_image", refuse)
    r.advance(seconds=3)
    assert r.display.wait_for(colour_is(GREEN), 2)
