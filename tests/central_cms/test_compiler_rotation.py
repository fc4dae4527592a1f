"""The compiler and a screen's rotation and power schedule (issue 18): a screen on its side
gets its zones laid out on the portrait canvas and the portrait rendition of each picture;
a screen that uses neither gets a manifest byte-identical to one from before."""

from __future__ import annotations

from dataclasses import replace

from central_cms.compiler import CampaignIndex, CompiledManifest, ManifestCompiler, MediaSpec
from central_cms.screen_setup import ScreenSetup, display_setup, hours_schedules
from central_cms.specs import ItemSpec, Targets
from devices.protocol import (
    DisplaySetup,
    Fit,
    ItemKind,
    Manifest,
    OpeningHours,
    ProfileKind,
    Weekday,
    validate,
)
from devices.protocol.layouts import LayoutTemplate
from tests.central_cms.test_compiler import CATALOGUE, DEVICES, NOW, UNTIL, campaign, ref

RIVERTON = Targets(sites=frozenset({"riverton"}))
HOURS = (OpeningHours.model_validate({"day": "mon", "opens": "07:00", "closes": "21:00"}),)


def poster_item() -> ItemSpec:
    media = MediaSpec(
        ref("poster"),
        {
            ("indoor", Fit.FILL, False): ref("poster-1920x1080"),
            ("indoor", Fit.FILL, True): ref("poster-1080x1920"),
        },
    )
    return ItemSpec(id="poster", kind=ItemKind.IMAGE, duration_s=10, fit=Fit.FILL, media=media)


def compile_foyer(display: DisplaySetup | None) -> CompiledManifest:
    foyer = replace(DEVICES[0], display=display)  # sig-riverton, indoor 1920x1080
    defaults = replace(
        campaign("welcome", RIVERTON, is_default=True, items=(poster_item(),)),
        layouts={ProfileKind.INDOOR: LayoutTemplate.MAIN_TICKER},
    )
    compiler = ManifestCompiler(CATALOGUE, CampaignIndex([defaults]))
    return compiler.compile(foyer, generated_at=NOW, valid_until=UNTIL)


def compiled(display: DisplaySetup | None) -> Manifest:
    return compile_foyer(display).manifest


def test_a_portrait_screen_lays_its_zones_out_upright_with_the_portrait_picture():
    upright = compiled(None)
    turned = compiled(DisplaySetup(rotation_deg=90))
    assert upright.canvas == (1920, 1080) and turned.canvas == (1080, 1920)
    assert turned.layout is not None and upright.layout is not None
    main, ticker = turned.layout.zone("main"), turned.layout.zone("ticker")
    assert (main.width_px, ticker.width_px, ticker.y_px + ticker.height_px) == (1080, 1080, 1920)
    assert turned.default_items[0].asset == ref("poster-1080x1920").sha256
    assert upright.default_items[0].asset == ref("poster-1920x1080").sha256
    assert [a.sha256 for a in turned.assets] == [ref("poster-1080x1920").sha256]
    assert validate(Manifest, turned.to_json()) == turned
    # Upside down keeps the landscape canvas and picture; only the panel turns it.
    flipped = compiled(DisplaySetup(rotation_deg=180))
    assert flipped.layout == upright.layout and flipped.assets == upright.assets


def test_a_screen_without_rotation_or_power_schedule_has_the_manifest_it_had():
    plain = compile_foyer(display_setup(ScreenSetup(), HOURS))
    assert set(plain.manifest.to_json()) == {  # the keys of a manifest before issue 18
        "schema",
        "device_id",
        "version",
        "generated_at",
        "valid_until",
        "site",
        "profile",
        "assets",
        "items",
        "default_items",
        "portal",
        "layout",
    }
    setup = ScreenSetup(power_mode="opening-hours")
    hours = compile_foyer(display_setup(setup, HOURS))
    # A new setting is a new manifest to publish; no setting leaves the hash alone.
    assert hours.content_hash != plain.content_hash
    assert compile_foyer(None).content_hash == plain.content_hash
    with_hours = hours.manifest
    assert with_hours.to_json()["display"] == {
        "rotation_deg": 0,
        "power_on": [
            {
                "starts_on": None,
                "ends_on": None,
                "days": ["mon"],
                "windows": [{"start": "07:00:00", "end": "21:00:00"}],
            }
        ],
    }
    assert with_hours.display is not None
    assert with_hours.display.power_on == hours_schedules(HOURS)
    assert hours_schedules(HOURS)[0].days == (Weekday.MON,)
