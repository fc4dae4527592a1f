"""The pure compiler with issue 14's inputs: layouts from default content, zones filled by
name, roadside main only, feeds, validity dates, groups, every site but, skipped screens."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from central_cms.compiler import (
    CampaignIndex,
    CampaignSpec,
    Catalogue,
    DeviceSpec,
    ItemSpec,
    ManifestCompiler,
    Targets,
)
from central_cms.zones import item_schedules
from devices.protocol import (
    DeviceKind,
    ItemKind,
    Manifest,
    ProfileKind,
    Schedule,
    SiteInfo,
    TextSlide,
)
from devices.protocol.layouts import FeedRef, LayoutTemplate, Widget, WidgetKind
from testkit.messages import screen_profile

NOW = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
UNTIL = NOW + timedelta(days=14)
CATALOGUE = Catalogue(
    sites={s: SiteInfo(id=s, name=s, timezone="Australia/Perth") for s in ("pool", "library")},
    profiles={
        "indoor": screen_profile(ProfileKind.INDOOR, "Indoor"),
        "led": screen_profile(ProfileKind.ROADSIDE, "LED"),
        "splash": screen_profile(ProfileKind.PORTAL, "Splash"),
    },
    feeds={"news": FeedRef(id="news", name="City news")},
)
POOL = DeviceSpec("sig-pool", DeviceKind.SIGNAGE, "pool", "indoor", groups=frozenset({"foyers"}))
LED = DeviceSpec("led-pool", DeviceKind.SIGNAGE, "pool", "led")
LIBRARY = DeviceSpec("sig-library", DeviceKind.SIGNAGE, "library", "indoor")
SPLASH = DeviceSpec("portal-pool", DeviceKind.PORTAL, "pool", "splash")


def text(item_id: str, zone: str = "main", **more) -> ItemSpec:
    return ItemSpec(
        id=item_id,
        kind=ItemKind.TEXT,
        duration_s=12,
        text=TextSlide(title=item_id),
        zone=zone,
        **more,
    )


def widget(item_id: str, zone: str, kind: WidgetKind, feed: str | None = None) -> ItemSpec:
    return ItemSpec(
        id=item_id,
        kind=ItemKind.WIDGET,
        duration_s=60,
        zone=zone,
        widget=Widget(kind=kind, feed=feed),
    )


def default(cid: str, template: LayoutTemplate | None, *items: ItemSpec, priority=50):
    return CampaignSpec(
        id=cid,
        name=cid,
        targets=Targets(sites=frozenset({"pool", "library"})),
        items=items or (text(f"{cid}-welcome"),),
        is_default=True,
        priority=priority,
        layouts={ProfileKind.INDOOR: template} if template else {},
    )


def compile_all(*campaigns, catalogue=CATALOGUE) -> dict[str, Manifest]:
    compiler = ManifestCompiler(catalogue, CampaignIndex(campaigns))
    found = {}
    for device in (POOL, LED, LIBRARY, SPLASH):
        manifest = compiler.compile(device, generated_at=NOW, valid_until=UNTIL).manifest
        found[device.id] = Manifest.model_validate(manifest.model_dump())  # it validates
    return found


def zones_of(manifest: Manifest) -> dict[str, str]:
    return {i.id: i.zone for i in (*manifest.items, *manifest.default_items)}


def test_the_highest_priority_default_content_sets_the_layout_and_campaigns_fill_it():
    promo = CampaignSpec(
        id="promo",
        name="promo",
        targets=Targets(sites=frozenset({"pool"})),
        items=(text("promo-main"), text("promo-side", "side")),
    )
    manifests = compile_all(
        default("low", LayoutTemplate.MAIN_SIDE, priority=30),
        default(
            "high",
            LayoutTemplate.MAIN_SIDE_TICKER_CLOCK,
            text("welcome"),
            widget("news", "ticker", WidgetKind.TICKER, "news"),
            widget("clock", "clock", WidgetKind.CLOCK),
            priority=60,
        ),
        promo,
    )
    pool = manifests["sig-pool"]
    assert pool.layout is not None and pool.layout.template == "main-side-ticker-clock"
    assert zones_of(pool)["promo-side"] == "side" and zones_of(pool)["news"] == "ticker"
    assert [f.id for f in pool.feeds] == ["news"]


def test_without_the_zone_an_item_plays_in_main_and_a_widget_is_left_out():
    manifests = compile_all(
        default(
            "plain",
            None,
            text("welcome"),
            text("aside", "side"),
            widget("c", "clock", WidgetKind.CLOCK),
        )
    )
    library = manifests["sig-library"]
    assert library.layout is None
    assert zones_of(library) == {"welcome": "main", "aside": "main"}


def test_roadside_signs_show_only_the_main_zone_and_no_layout():
    manifests = compile_all(
        default("full", LayoutTemplate.MAIN_SIDE, text("welcome"), text("aside", "side"))
    )
    assert manifests["led-pool"].layout is None
    assert zones_of(manifests["led-pool"]) == {"welcome": "main"}
    assert zones_of(manifests["sig-pool"]) == {"welcome": "main", "aside": "side"}


def test_a_widget_whose_feed_is_gone_is_left_out_and_the_hash_changes():
    campaign = default(
        "d",
        LayoutTemplate.MAIN_TICKER,
        text("welcome"),
        widget("news", "ticker", WidgetKind.TICKER, "news"),
    )
    with_feed = ManifestCompiler(CATALOGUE, CampaignIndex([campaign])).compile(
        POOL, generated_at=NOW, valid_until=UNTIL
    )
    gone = ManifestCompiler(replace(CATALOGUE, feeds={}), CampaignIndex([campaign])).compile(
        POOL, generated_at=NOW, valid_until=UNTIL
    )
    assert [i.id for i in gone.manifest.default_items] == ["welcome"]
    assert gone.manifest.feeds == ()
    assert gone.content_hash != with_feed.content_hash


def test_changing_the_layout_changes_the_content_hash():
    compiler = ManifestCompiler(CATALOGUE, CampaignIndex([default("d", LayoutTemplate.MAIN_SIDE)]))
    other = ManifestCompiler(CATALOGUE, CampaignIndex([default("d", LayoutTemplate.MAIN_TICKER)]))
    a = compiler.compile(POOL, generated_at=NOW, valid_until=UNTIL)
    b = other.compile(POOL, generated_at=NOW, valid_until=UNTIL)
    assert a.content_hash != b.content_hash
    assert a.manifest.layout != b.manifest.layout


def test_an_item_s_dates_narrow_the_campaign_s_schedules_or_drop_it():
    campaign = CampaignSpec(
        id="c",
        name="c",
        targets=Targets(sites=frozenset({"pool"})),
        schedules=(Schedule(starts_on=date(2026, 12, 1), ends_on=date(2026, 12, 31)),),
        items=(
            text("later", valid_from=date(2026, 12, 10)),
            text("never", valid_until=date(2026, 11, 30)),
        ),
    )
    pool = compile_all(campaign)["sig-pool"]
    (later,) = pool.items
    assert (later.schedules[0].starts_on, later.schedules[0].ends_on) == (
        date(2026, 12, 10),
        date(2026, 12, 31),
    )
    assert item_schedules((), date(2026, 12, 5), None) == (Schedule(starts_on=date(2026, 12, 5)),)


def test_every_site_but_the_owner_groups_and_skipped_profiles():
    others = CampaignSpec(
        id="others",
        name="others",
        targets=Targets(except_sites=frozenset({"library"}), skip_profiles=frozenset({"led"})),
        items=(text("cross"),),
    )
    grouped = CampaignSpec(
        id="grouped",
        name="grouped",
        targets=Targets(groups=frozenset({"foyers"})),
        items=(text("foyer"),),
    )
    manifests = compile_all(others, grouped)
    reached = {d: [i.id for i in m.items] for d, m in manifests.items()}
    assert reached == {
        "sig-pool": ["cross", "foyer"],
        "led-pool": [],
        "sig-library": [],
        "portal-pool": ["cross"],
    }
