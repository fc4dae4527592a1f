"""An edited alert redraws the screen (issue 13): the CMS keeps the alert's id and
`issued_at` on an edit, so only the revision says the words or severity changed."""

from __future__ import annotations

from datetime import datetime, timedelta

from devices.clock import ManualClock
from devices.protocol import Alert, Fit, ScreenProfile, Severity
from signage_player.display import HeadlessDisplay
from signage_player.player import SignagePlayer
from signage_player.render import ALERT_COLOURS
from testkit.player_fakes import FakeServices, FolderAssets, colour_is, jpeg
from tests.signage_player.scenario import PERTH, image_item, week_manifest

NOON = datetime(2026, 12, 7, 12, tzinfo=PERTH)
GREEN = (0, 200, 0)


def test_edited_alert_redraws_the_screen_and_its_clear_gives_the_schedule_back(tmp_path):
    clock = ManualClock(NOON)
    assets = FolderAssets(tmp_path / "objects")
    services = FakeServices(clock, assets)
    display = HeadlessDisplay(None)
    player = SignagePlayer(display)
    player.start(services)
    try:
        poster = assets.add(jpeg(GREEN))
        player.apply_manifest(
            week_manifest(
                profile=ScreenProfile(name="test", kind="indoor", width_px=640, height_px=360),
                generated_at=NOON - timedelta(minutes=5),
                assets=(poster,),
                items=(image_item("green", poster, 10, fit=Fit.FILL),),
                default_items=(),
            )
        )
        assert display.wait_for(colour_is(GREEN), 2)
        sent = Alert(
            id="cannington-closed",
            scope="all",
            severity=Severity.WARNING,
            title="Cannington Leisureplex closed",
            issued_at=NOON - timedelta(minutes=1),
            expires_at=NOON + timedelta(minutes=60),
            revision=1,
        )
        player.apply_alerts([sent])
        warning = ALERT_COLOURS[Severity.WARNING].background
        assert display.wait_for(colour_is(warning, at=(1, 1)), 2)

        edited = sent.model_copy(
            update={"severity": Severity.EMERGENCY, "title": "Fire: leave now", "revision": 2}
        )
        player.apply_alerts([edited])
        emergency = ALERT_COLOURS[Severity.EMERGENCY].background
        assert display.wait_for(colour_is(emergency, at=(1, 1)), 2), "the edit was not drawn"

        player.apply_alerts([edited.model_copy(update={"cleared": True, "revision": 3})])
        assert display.wait_for(colour_is(GREEN), 2)
    finally:
        player.stop()
