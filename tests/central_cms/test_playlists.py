"""Playlists, layouts and the targets staff think in, through the service functions, on
SQLite and PostgreSQL: what the manifests carry is what a screen will show."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from central_cms import campaign_checks, campaigns, library, playlists
from central_cms import models as m
from central_cms.errors import Conflict
from central_cms.feeds.models import Feed
from central_cms.playlist_models import Playlist
from central_cms.specs import Targets
from devices.protocol import DeviceKind, ItemKind, Manifest, ProfileKind, TextSlide, parse_signed
from devices.protocol.layouts import LayoutTemplate, Widget, WidgetKind
from testkit.messages import T0
from testkit.staff import ADMIN, APPROVER
from testkit.videos import h264_mp4


def latest(rt, publisher) -> dict[str, Manifest]:
    found: dict[str, Manifest] = {}
    for _topic, payload, _retain in publisher.sent:
        if payload:
            manifest = parse_signed(Manifest, payload, [rt.signing_key.public_key])
            found[manifest.device_id] = manifest
    return found


def publish(session, rt, data) -> m.Campaign:
    saved = campaigns.save(session, rt, ADMIN, data)
    submitted = campaigns.submit(session, rt, ADMIN, saved.id)
    if submitted.status == m.CampaignStatus.PENDING:
        campaigns.approve(session, rt, APPROVER, saved.id)
    return saved


def video(session, rt) -> int:
    return library.upload(
        session, rt, ADMIN, filename="lanes.mp4", data=h264_mp4(), title="Lap lanes video"
    ).id


def cross_promotion(world, video_id: int, **changes) -> campaigns.CampaignInput:
    data = campaigns.CampaignInput(
        name="Library open day",
        owner_site_id="south-library",
        items=(
            campaigns.ItemInput(kind=ItemKind.VIDEO, media_id=video_id, duration_s=15),
            campaigns.ItemInput(kind=ItemKind.IMAGE, media_id=world.media["poster"], duration_s=12),
        ),
        targets=Targets(except_sites=frozenset({"south-library"})),
    )
    return replace(data, **changes)


def test_every_other_site_is_refused_once_per_rule_when_a_roadside_sign_is_among_them(
    session, rt, world
):
    with pytest.raises(Conflict) as refused:
        campaigns.save(session, rt, ADMIN, cross_promotion(world, video(session, rt)))
    # One problem, beside the item's picture field, naming the item as staff named it.
    assert refused.value.item_problems == {
        (1, "media_id"): [
            "Item 1 (Lap lanes video) breaks the rule “still images only” of Led-Small "
            "(192x96): replace the video with a still image"
        ]
    }
    assert "Skip screens that cannot show this" in refused.value.message


def test_skip_screens_that_cannot_show_it_reaches_every_other_screen_and_says_why(
    session, rt, world, publisher
):
    data = cross_promotion(world, video(session, rt), skip_unable=True)
    saved = publish(session, rt, data)
    assert saved.status == m.CampaignStatus.PUBLISHED

    got = {
        d
        for d, man in latest(rt, publisher).items()
        if any(i.campaign_id == saved.id for i in man.items)
    }
    assert got == {"sig-north-pool", "portal-north-pool", "sig-east-hall"}
    (skipped,) = campaign_checks.review(session, campaigns.to_input(saved)).skipped
    assert skipped.screens == ("led-east-hall",)
    assert "Item 1 (Lap lanes video) breaks the rule “still images only”" in skipped.reasons[0]


def test_a_campaign_no_targeted_screen_can_show_is_refused_beside_where(session, rt, world):
    data = cross_promotion(
        world, video(session, rt), skip_unable=True, targets=Targets(tags=frozenset({"roadside"}))
    )
    with pytest.raises(Conflict) as refused:
        campaigns.save(session, rt, ADMIN, data)
    assert refused.value.field == "targets"
    assert "None of the screens it targets can show it" in refused.value.message


def make_playlist(session, rt, world, name="Foyer loop", feed_id=None):
    items = [
        playlists.PlaylistItemInput(
            kind=ItemKind.IMAGE, media_id=world.media["poster"], duration_s=8
        ),
        playlists.PlaylistItemInput(
            kind=ItemKind.TEXT,
            duration_s=10,
            text=TextSlide(title="Aqua aerobics 10:00", shrink_to_fit=True),
            valid_from=date(2026, 12, 5),
            valid_until=date(2026, 12, 20),
        ),
        playlists.PlaylistItemInput(
            kind=ItemKind.WIDGET, duration_s=3600, widget=Widget(kind=WidgetKind.CLOCK)
        ),
    ]
    if feed_id:
        items.append(
            playlists.PlaylistItemInput(
                kind=ItemKind.WIDGET,
                duration_s=60,
                widget=Widget(kind=WidgetKind.TICKER, feed=feed_id, title="City news"),
            )
        )
    return playlists.save(
        session, rt, ADMIN, playlists.PlaylistInput(name, "north-pool", tuple(items))
    )


def add_feed(session, feed_id="city-news"):
    session.add(
        Feed(
            id=feed_id,
            name="City news",
            url="http://127.0.0.1:9/news.xml",
            kind="rss",
            created_at=T0,
        )
    )
    session.commit()
    return feed_id


def test_default_content_sets_the_layout_and_campaigns_fill_its_zones(
    session, rt, world, publisher
):
    feed = add_feed(session)
    side = make_playlist(session, rt, world)
    ticker = make_playlist(session, rt, world, "News strip", feed_id=feed)
    publish(
        session,
        rt,
        campaigns.CampaignInput(
            name="North pool screens",
            owner_site_id="north-pool",
            is_default=True,
            items=(
                campaigns.ItemInput(
                    kind=ItemKind.IMAGE, media_id=world.media["poster"], duration_s=10
                ),
            ),
            targets=Targets(sites=frozenset({"north-pool"})),
            layouts={ProfileKind.INDOOR: LayoutTemplate.MAIN_SIDE_TICKER_CLOCK},
            zone_playlists={"side": side.id, "ticker": ticker.id},
        ),
    )
    manifest = latest(rt, publisher)["sig-north-pool"]
    assert manifest.layout is not None
    assert manifest.layout.zone_names == ("main", "clock", "side", "ticker")
    zones = {(i.zone, i.kind.value) for i in manifest.default_items}
    assert (
        ("side", "image") in zones and ("side", "widget") in zones and ("ticker", "widget") in zones
    )
    assert [f.id for f in manifest.feeds] == ["city-news"]
    aqua = next(i for i in manifest.default_items if i.text and i.text.title.startswith("Aqua"))
    assert (aqua.schedules[0].starts_on, aqua.schedules[0].ends_on) == (
        date(2026, 12, 5),
        date(2026, 12, 20),
    )
    # The splash page at the same site chose no layout: one zone, and no widget in it.
    splash = latest(rt, publisher)["portal-north-pool"]
    assert splash.layout is None
    assert all(i.zone == "main" and i.kind is not ItemKind.WIDGET for i in splash.default_items)
    Manifest.model_validate(manifest.model_dump())  # every reference resolves


def test_a_roadside_sign_plays_only_the_main_zone(session, rt, world, publisher):
    side = make_playlist(session, rt, world, "Side panel")
    publish(
        session,
        rt,
        campaigns.CampaignInput(
            name="East hall screens",
            owner_site_id="east-hall",
            is_default=True,
            items=(
                campaigns.ItemInput(
                    kind=ItemKind.TEXT, text=TextSlide(title="Welcome"), duration_s=12
                ),
            ),
            targets=Targets(sites=frozenset({"east-hall"})),
            layouts={ProfileKind.INDOOR: LayoutTemplate.MAIN_SIDE},
            zone_playlists={"side": side.id},
        ),
    )
    led = latest(rt, publisher)["led-east-hall"]
    assert led.layout is None
    assert [i.text.title for i in led.default_items if i.text] == ["Welcome"]
    indoor = latest(rt, publisher)["sig-east-hall"]
    assert {i.zone for i in indoor.default_items} == {"main", "side"}


def test_saving_a_playlist_a_published_campaign_plays_takes_it_back_to_draft(session, rt, world):
    side = make_playlist(session, rt, world)
    campaign = publish(
        session,
        rt,
        campaigns.CampaignInput(
            name="Pool foyer",
            owner_site_id="north-pool",
            items=(),
            targets=Targets(sites=frozenset({"north-pool"})),
            layouts={ProfileKind.INDOOR: LayoutTemplate.MAIN_SIDE},
            zone_playlists={"main": side.id},
        ),
    )
    assert campaign.status == m.CampaignStatus.PUBLISHED
    data = playlists.PlaylistInput(
        "Foyer loop",
        "north-pool",
        (
            playlists.PlaylistItemInput(
                kind=ItemKind.TEXT, duration_s=5, text=TextSlide(title="New")
            ),
        ),
    )
    playlists.save(session, rt, ADMIN, data, side.id)
    session.refresh(campaign)
    assert campaign.status == m.CampaignStatus.DRAFT


def test_playlist_problems_name_the_item_beside_its_field(session, rt, world):
    data = playlists.PlaylistInput(
        "Broken",
        "north-pool",
        (
            playlists.PlaylistItemInput(
                kind=ItemKind.IMAGE, duration_s=0, media_id=world.media["poster"]
            ),
            playlists.PlaylistItemInput(
                kind=ItemKind.WIDGET,
                duration_s=10,
                widget=Widget(kind=WidgetKind.TICKER, feed="nope"),
            ),
        ),
    )
    with pytest.raises(Exception) as refused:
        playlists.save(session, rt, ADMIN, data)
    problems = refused.value.item_problems
    assert problems[(1, "duration_s")] == ["Item 1 (Poster): show it for 1 s to 3600 s."]
    assert problems[(2, "feed")] == ["Item 2 (News ticker (feed)): choose the feed it shows."]
    assert session.query(Playlist).count() == 0


def test_a_device_group_reaches_its_screens_and_joining_one_updates_the_screen(
    session, rt, world, publisher
):
    from central_cms import groups

    it = ADMIN
    foyers = groups.save(
        session, rt, it, name="Foyer screens", device_ids=["sig-east-hall", "sig-south-library"]
    )
    session.commit()
    campaign = publish(
        session,
        rt,
        campaigns.CampaignInput(
            name="Foyer welcome",
            owner_site_id="east-hall",
            items=(
                campaigns.ItemInput(
                    kind=ItemKind.TEXT, text=TextSlide(title="Welcome"), duration_s=12
                ),
            ),
            targets=Targets(groups=frozenset({foyers.id})),
        ),
    )

    def reached() -> set[str]:
        return {
            d
            for d, man in latest(rt, publisher).items()
            if any(i.campaign_id == campaign.id for i in man.items)
        }

    assert reached() == {"sig-east-hall", "sig-south-library"}
    groups.save(
        session,
        rt,
        it,
        name="Foyer screens",
        device_ids=["sig-east-hall", "sig-north-pool"],
        group_id=foyers.id,
    )
    assert reached() == {"sig-east-hall", "sig-north-pool"}


def test_one_message_per_rule_names_every_roadside_profile_it_concerns(session, rt, world):
    from central_cms import fleet

    fleet.save_profile(
        session,
        rt,
        ADMIN,
        m.ScreenProfile(
            id="led-large",
            name="Led-Large",
            kind="roadside",
            width_px=384,
            height_px=192,
            min_dwell_s=40,
            allow_video=False,
            forbid_contact_text=True,
            brightness=[],
        ),
    )
    fleet.register_device(
        session,
        rt,
        ADMIN,
        device_id="led-2-east-hall",
        name="",
        kind=DeviceKind.SIGNAGE,
        site_id="east-hall",
        profile_id="led-large",
        tags=[],
    )
    data = cross_promotion(world, video(session, rt))
    with pytest.raises(Conflict) as refused:
        campaigns.save(session, rt, ADMIN, data)
    video_problems = refused.value.item_problems[(1, "media_id")]
    assert video_problems == [
        "Item 1 (Lap lanes video) breaks the rule “still images only” of Led-Large (384x192) "
        "and Led-Small (192x96): replace the video with a still image"
    ]
    # Dwell minimums differ, so each profile's is its own rule, beside the seconds.
    dwell = (
        refused.value.item_problems[(1, "duration_s")]
        + refused.value.item_problems[(2, "duration_s")]
    )
    assert all("minimum dwell 40 s" in p for p in dwell)
