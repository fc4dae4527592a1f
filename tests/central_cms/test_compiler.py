"""The pure compiler: targets, index, date filtering, hashes, windows in manifests."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from central_cms.compiler import (
    CampaignIndex,
    CampaignSpec,
    Catalogue,
    DeviceSpec,
    ItemSpec,
    ManifestCompiler,
    MediaSpec,
    Targets,
    affected_devices,
)
from devices.protocol import (
    AssetRef,
    DeviceKind,
    Fit,
    ItemKind,
    Manifest,
    ProfileKind,
    Schedule,
    SiteInfo,
    TextSlide,
    TimeWindow,
    validate,
)
from devices.schedule import eligible_items, item_open
from testkit.messages import screen_profile

NOW = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 08:00 Tuesday in Perth
UNTIL = NOW + timedelta(days=14)
PERTH = ZoneInfo("Australia/Perth")

CATALOGUE = Catalogue(
    sites={
        s: SiteInfo(id=s, name=s.title(), timezone="Australia/Perth")
        for s in ("riverton", "cannington", "bentley")
    },
    profiles={
        "indoor": screen_profile(ProfileKind.INDOOR, "Indoor"),
        "led": screen_profile(ProfileKind.ROADSIDE, "LED", allow_video=False, transitions=False),
    },
)


def ref(seed: str) -> AssetRef:
    sha = hashlib.sha256(seed.encode()).hexdigest()
    return AssetRef(
        sha256=sha, url=f"http://cms.test/a/{sha}", size_bytes=10, content_type="image/png"
    )


def image_item(item_id: str, seed: str = "poster") -> ItemSpec:
    media = MediaSpec(ref(seed), {("led", Fit.FIT, False): ref(seed + "-led")})
    return ItemSpec(id=item_id, kind=ItemKind.IMAGE, duration_s=10, media=media)


def campaign(
    cid: str, targets: Targets, *, schedules=(), priority=50, is_default=False, items=None
):
    return CampaignSpec(
        id=cid,
        name=cid,
        targets=targets,
        items=items or (image_item(f"{cid}-1"),),
        schedules=schedules,
        priority=priority,
        is_default=is_default,
    )


DEVICES = [
    DeviceSpec(
        "sig-riverton", DeviceKind.SIGNAGE, "riverton", "indoor", frozenset({"leisureplex"})
    ),
    DeviceSpec(
        "portal-riverton", DeviceKind.PORTAL, "riverton", "indoor", frozenset({"leisureplex"})
    ),
    DeviceSpec(
        "sig-cannington", DeviceKind.SIGNAGE, "cannington", "indoor", frozenset({"leisureplex"})
    ),
    DeviceSpec("sig-bentley", DeviceKind.SIGNAGE, "bentley", "indoor", frozenset({"library"})),
    DeviceSpec("led-bentley", DeviceKind.SIGNAGE, "bentley", "led", frozenset({"roadside"})),
]


def compile_all(campaigns) -> dict[str, Manifest]:
    compiler = ManifestCompiler(CATALOGUE, CampaignIndex(campaigns))
    return {
        d.id: compiler.compile(d, generated_at=NOW, valid_until=UNTIL).manifest for d in DEVICES
    }


def item_ids(manifest: Manifest) -> set[str]:
    return {i.id for i in manifest.items}


def test_swim_school_on_every_leisureplex_device_and_nowhere_else():
    swim = campaign("swim", Targets(tags=frozenset({"leisureplex"})))
    manifests = compile_all([swim])
    assert {d for d, mf in manifests.items() if "swim-1" in item_ids(mf)} == {
        "sig-riverton",
        "portal-riverton",
        "sig-cannington",
    }


def test_cross_promotion_reaches_other_sites_screens_only():
    promo = campaign(
        "holidays",
        Targets(sites=frozenset({"cannington", "bentley"}), kinds=frozenset({DeviceKind.SIGNAGE})),
    )
    manifests = compile_all([promo])
    assert {d for d, mf in manifests.items() if item_ids(mf)} == {
        "sig-cannington",
        "sig-bentley",
        "led-bentley",
    }


def test_each_profile_gets_its_own_rendition_and_the_asset_list_matches():
    manifests = compile_all([campaign("all-bentley", Targets(sites=frozenset({"bentley"})))])
    assert manifests["led-bentley"].items[0].asset == ref("poster-led").sha256
    assert manifests["sig-bentley"].items[0].asset == ref("poster").sha256
    for mf in manifests.values():
        # The compiler skips re-validation for speed; the result must still validate.
        assert validate(Manifest, mf.to_json()) == mf


def test_schedule_windows_land_in_the_manifest_and_the_device_evaluator_honours_them():
    mornings = Schedule(
        starts_on=date(2026, 12, 1),
        ends_on=date(2026, 12, 14),
        windows=(TimeWindow(start=time(6), end=time(12)),),
    )
    manifests = compile_all(
        [campaign("swim", Targets(tags=frozenset({"leisureplex"})), schedules=(mornings,))]
    )
    item = manifests["sig-riverton"].items[0]
    assert item.schedules == (mornings,)
    tz = ZoneInfo(manifests["sig-riverton"].site.timezone)
    assert item_open(item, datetime(2026, 12, 1, 7, 0, tzinfo=PERTH), tz)
    assert not item_open(item, datetime(2026, 12, 1, 13, 0, tzinfo=PERTH), tz)
    assert item_open(item, datetime(2026, 12, 14, 11, 59, tzinfo=PERTH), tz)  # last day
    assert not item_open(item, datetime(2026, 12, 15, 7, 0, tzinfo=PERTH), tz)


def test_campaigns_outside_the_manifest_life_are_left_out():
    past = Schedule(starts_on=date(2026, 10, 1), ends_on=date(2026, 11, 20))
    future = Schedule(starts_on=date(2027, 2, 1), ends_on=date(2027, 2, 2))
    soon = Schedule(starts_on=date(2026, 12, 10), ends_on=date(2026, 12, 12))
    everywhere = Targets(sites=frozenset({"riverton"}))
    manifests = compile_all(
        [
            campaign("past", everywhere, schedules=(past,)),
            campaign("future", everywhere, schedules=(future,)),
            campaign("soon", everywhere, schedules=(soon,)),
        ]
    )
    assert item_ids(manifests["sig-riverton"]) == {"soon-1"}


def test_priorities_and_defaults_travel_so_the_device_picks_the_higher_priority():
    t = Targets(sites=frozenset({"riverton"}))
    welcome = campaign(
        "welcome",
        t,
        is_default=True,
        items=(
            ItemSpec(
                id="welcome-1", kind=ItemKind.TEXT, duration_s=10, text=TextSlide(title="Welcome")
            ),
        ),
    )
    manifests = compile_all(
        [campaign("normal", t, priority=50), campaign("urgent", t, priority=90), welcome]
    )
    mf = manifests["sig-riverton"]
    assert [i.id for i in mf.default_items] == ["welcome-1"]
    assert mf.default_items[0].campaign_id is None
    now = eligible_items(mf.items, mf.default_items, NOW, PERTH)
    assert [i.id for i in now] == ["urgent-1"]


def test_the_content_hash_ignores_time_and_changes_with_content():
    t = Targets(sites=frozenset({"riverton"}))
    index = CampaignIndex([campaign("a", t)])
    compiler = ManifestCompiler(CATALOGUE, index)
    device = DEVICES[0]
    first = compiler.compile(device, generated_at=NOW, valid_until=UNTIL)
    later = compiler.compile(
        device, generated_at=NOW + timedelta(hours=3), valid_until=UNTIL + timedelta(hours=3)
    )
    assert first.content_hash == later.content_hash
    index.put(replace(index.get("a"), name="a (renamed)"))
    renamed = compiler.compile(device, generated_at=NOW, valid_until=UNTIL)
    assert renamed.content_hash != first.content_hash
    assert renamed.manifest.items[0].campaign_name == "a (renamed)"
    assert first.with_version(7).version == 7


def test_an_edit_reaches_only_the_devices_of_its_old_and_new_targets():
    old = Targets(sites=frozenset({"cannington"}))
    new = Targets(sites=frozenset({"bentley"}), kinds=frozenset({DeviceKind.SIGNAGE}))
    touched = {d.id for d in affected_devices(DEVICES, old, new)}
    assert touched == {"sig-cannington", "sig-bentley", "led-bentley"}


targets_strategy = st.builds(
    Targets,
    sites=st.frozensets(st.sampled_from(["riverton", "cannington", "bentley"]), max_size=2),
    tags=st.frozensets(st.sampled_from(["leisureplex", "library", "roadside"]), max_size=2),
    kinds=st.frozensets(st.sampled_from(list(DeviceKind)), max_size=1),
    profiles=st.frozensets(st.sampled_from(["indoor", "led"]), max_size=1),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(targets_strategy, min_size=1, max_size=12))
def test_the_index_finds_exactly_the_campaigns_a_full_scan_finds(all_targets):
    campaigns = [campaign(f"c{n}", t) for n, t in enumerate(all_targets)]
    index = CampaignIndex(campaigns)
    for device in DEVICES:
        expected = {c.id for c in campaigns if c.targets.matches(device)}
        assert {c.id for c in index.candidates(device)} == expected


TWO_TAGS = DeviceSpec(
    "sig-bentley-2", DeviceKind.SIGNAGE, "bentley", "indoor", frozenset({"library", "roadside"})
)


@settings(max_examples=60, deadline=None)
@given(st.lists(targets_strategy, min_size=1, max_size=12))
def test_compiled_manifests_hold_exactly_the_matching_campaigns(all_targets):
    """Whatever the compiler shares between alike devices (untagged part, per-tag part,
    whole classes), each manifest holds the items of exactly the campaigns that match."""
    campaigns = [campaign(f"c{n}", t) for n, t in enumerate(all_targets)]
    compiler = ManifestCompiler(CATALOGUE, CampaignIndex(campaigns))
    for device in [*DEVICES, TWO_TAGS]:
        compiled = compiler.compile(device, generated_at=NOW, valid_until=UNTIL).manifest
        expected = {f"{c.id}-1" for c in campaigns if c.targets.matches(device)}
        assert {i.id for i in compiled.items} == expected
        assert len(compiled.items) == len(expected)  # no campaign twice
