"""Editing a published campaign (or a playlist it plays): the approved version, zones and
all, keeps playing until the edit is approved (by a second person), keeps playing after a
rejection, and archiving ends both."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from sqlalchemy import select

from central_cms import approved_versions, campaigns, playlists
from central_cms import models as m
from central_cms.compiler import Targets
from central_cms.policy import Actor
from devices.protocol import ItemKind, Manifest, ProfileKind, TextSlide, parse_signed
from devices.protocol.layouts import LayoutTemplate
from testkit.staff import ADMIN, APPROVER, login, make_user

EDITOR = Actor("test-editor", m.Role.EDITOR)


def notice(title: str, **changes) -> campaigns.CampaignInput:
    data = campaigns.CampaignInput(
        name="Pool notice",
        owner_site_id="north-pool",
        items=(
            campaigns.ItemInput(
                kind=ItemKind.TEXT, duration_s=10, text=TextSlide(title=title), alt_text=title
            ),
        ),
        targets=Targets(sites=frozenset({"north-pool"})),
    )
    return replace(data, **changes)


def showing(session, rt, device_id: str) -> list[str]:
    """The text slide titles in the device's latest published manifest."""
    session.expire_all()
    state = session.get(m.ManifestState, device_id)
    assert state is not None and state.payload is not None
    manifest = parse_signed(Manifest, state.payload, [rt.signing_key.public_key])
    return sorted(i.text.title for i in manifest.items if i.text is not None)


def published(session, rt, data: campaigns.CampaignInput) -> str:
    campaign = campaigns.save(session, rt, EDITOR, data)
    campaigns.submit(session, rt, EDITOR, campaign.id)
    campaigns.approve(session, rt, APPROVER, campaign.id)
    return campaign.id


def actions(session, campaign_id: str) -> list[tuple[str, dict[str, object]]]:
    return [
        (e.action, e.detail)
        for e in session.scalars(
            select(m.AuditEntry)
            .where(m.AuditEntry.entity_id == campaign_id)
            .order_by(m.AuditEntry.id)
        )
    ]


def test_an_edit_plays_only_once_a_second_person_approves_it(session, rt, world):
    campaign_id = published(session, rt, notice("Pool closes at 6 pm"))
    assert showing(session, rt, "sig-north-pool") == ["Pool closes at 6 pm"]

    edited = campaigns.save(session, rt, EDITOR, notice("Pool closes at 8 pm"), campaign_id)
    assert edited.status == m.CampaignStatus.DRAFT
    assert showing(session, rt, "sig-north-pool") == ["Pool closes at 6 pm"]
    campaigns.submit(session, rt, EDITOR, campaign_id)
    assert edited.status == m.CampaignStatus.PENDING
    assert showing(session, rt, "sig-north-pool") == ["Pool closes at 6 pm"]

    campaigns.approve(session, rt, APPROVER, campaign_id)
    assert showing(session, rt, "sig-north-pool") == ["Pool closes at 8 pm"]
    assert showing(session, rt, "portal-north-pool") == ["Pool closes at 8 pm"]
    log = actions(session, campaign_id)
    assert ("campaign.update", {"name": "Pool notice", "approved_version_playing": True}) in log
    assert log[-1] == ("campaign.publish", {"replaced_approved_version": True})


def test_a_rejected_edit_leaves_the_approved_version_playing(session, rt, world):
    campaign_id = published(session, rt, notice("Lane swimming 7 to 9"))
    campaigns.save(session, rt, EDITOR, notice("Lane swimming cancelled"), campaign_id)
    campaigns.submit(session, rt, EDITOR, campaign_id)
    campaigns.reject(session, rt, APPROVER, campaign_id, "Not confirmed yet")
    assert campaigns.get(session, campaign_id).status == m.CampaignStatus.DRAFT
    assert showing(session, rt, "sig-north-pool") == ["Lane swimming 7 to 9"]
    assert actions(session, campaign_id)[-1] == (
        "campaign.reject",
        {"note": "Not confirmed yet", "approved_version_playing": True},
    )


def test_archiving_an_edited_campaign_ends_both_versions(session, rt, world):
    campaign_id = published(session, rt, notice("Open day"))
    campaigns.save(session, rt, EDITOR, notice("Open day moved"), campaign_id)
    campaigns.archive(session, rt, APPROVER, campaign_id)
    assert showing(session, rt, "sig-north-pool") == []
    assert approved_versions.find(session, campaign_id) is None
    assert actions(session, campaign_id)[-1] == (
        "campaign.archive",
        {"ended_approved_version": True},
    )


def test_an_edit_moving_the_campaign_plays_where_it_was_until_approved(session, rt, world):
    campaign_id = published(session, rt, notice("Summer hours"))
    elsewhere = notice("Summer hours", targets=Targets(sites=frozenset({"east-hall"})))
    campaigns.save(session, rt, EDITOR, elsewhere, campaign_id)
    campaigns.submit(session, rt, EDITOR, campaign_id)
    assert showing(session, rt, "sig-north-pool") == ["Summer hours"]
    assert showing(session, rt, "sig-east-hall") == []

    campaigns.approve(session, rt, APPROVER, campaign_id)
    assert showing(session, rt, "sig-north-pool") == []
    assert showing(session, rt, "sig-east-hall") == ["Summer hours"]


def test_a_campaign_published_before_approved_versions_were_kept_keeps_playing(session, rt, world):
    campaign_id = published(session, rt, notice("Sauna open"))
    approved_versions.discard(session, campaign_id)  # as a database from before 0013
    session.commit()
    campaigns.save(session, rt, EDITOR, notice("Sauna closed"), campaign_id)
    assert showing(session, rt, "sig-north-pool") == ["Sauna open"]


def test_the_campaign_page_says_the_approved_version_is_playing(session, rt, world, client):
    make_user(session, rt, "test-editor", m.Role.EDITOR)
    campaign_id = published(session, rt, notice("Gym induction Mondays"))
    campaigns.save(session, rt, EDITOR, notice("Gym induction Tuesdays"), campaign_id)
    campaigns.submit(session, rt, EDITOR, campaign_id)
    login(client, "test-editor")
    page = client.get(f"/campaigns/{campaign_id}").text
    assert "The approved version is playing; your edit awaits approval." in page
    assert "approved by test-approver" in page


def loop(session, rt, name: str, *titles: str, playlist_id: str | None = None) -> str:
    """A playlist of text slides at north-pool (the first valid from a date, so the
    kept copy must bring its dates back as dates)."""
    items = tuple(
        playlists.PlaylistItemInput(
            kind=ItemKind.TEXT,
            duration_s=10,
            text=TextSlide(title=title, shrink_to_fit=True),
            valid_from=date(2026, 1, 1) if n == 0 else None,
        )
        for n, title in enumerate(titles)
    )
    data = playlists.PlaylistInput(name, "north-pool", items)
    return playlists.save(session, rt, ADMIN, data, playlist_id).id


def zoned(session, rt, device_id: str) -> list[tuple[str, str]]:
    """(zone, title) of the default content's text slides in the device's latest manifest."""
    session.expire_all()
    state = session.get(m.ManifestState, device_id)
    assert state is not None and state.payload is not None
    manifest = parse_signed(Manifest, state.payload, [rt.signing_key.public_key])
    return sorted((i.zone, i.text.title) for i in manifest.default_items if i.text is not None)


def foyer(side_playlist: str) -> campaigns.CampaignInput:
    """The site's default content, which sets the foyer screen's layout."""
    return notice(
        "Welcome",
        is_default=True,
        layouts={ProfileKind.INDOOR: LayoutTemplate.MAIN_SIDE},
        zone_playlists={"side": side_playlist},
    )


def test_an_edit_giving_a_zone_another_playlist_plays_the_approved_zone_until_approved(
    session, rt, world
):
    timetable = loop(session, rt, "Timetable", "Aqua 10:00", "Swim club 17:00")
    offers = loop(session, rt, "Offers", "Gym half price")
    campaign_id = published(session, rt, foyer(timetable))
    approved = [("main", "Welcome"), ("side", "Aqua 10:00"), ("side", "Swim club 17:00")]
    assert zoned(session, rt, "sig-north-pool") == approved

    campaigns.save(session, rt, EDITOR, foyer(offers), campaign_id)
    campaigns.submit(session, rt, EDITOR, campaign_id)
    assert zoned(session, rt, "sig-north-pool") == approved

    campaigns.approve(session, rt, APPROVER, campaign_id)
    assert zoned(session, rt, "sig-north-pool") == [("main", "Welcome"), ("side", "Gym half price")]


def test_editing_a_playlist_keeps_its_approved_items_playing_until_approved(session, rt, world):
    timetable = loop(session, rt, "Timetable", "Aqua 10:00")
    campaign_id = published(session, rt, foyer(timetable))
    loop(session, rt, "Timetable", "Aqua cancelled", playlist_id=timetable)
    assert campaigns.get(session, campaign_id).status == m.CampaignStatus.DRAFT
    assert zoned(session, rt, "sig-north-pool") == [("main", "Welcome"), ("side", "Aqua 10:00")]

    campaigns.submit(session, rt, EDITOR, campaign_id)
    campaigns.approve(session, rt, APPROVER, campaign_id)
    assert zoned(session, rt, "sig-north-pool") == [
        ("main", "Welcome"),
        ("side", "Aqua cancelled"),
    ]


def test_a_version_approved_before_its_zones_were_kept_plays_the_zone_rows(session, rt, world):
    timetable = loop(session, rt, "Timetable", "Aqua 10:00")
    campaign_id = published(session, rt, foyer(timetable))
    approved_versions.find(session, campaign_id).zones = None  # as a database from before 0015
    session.commit()
    campaigns.save(session, rt, EDITOR, foyer(timetable), campaign_id)
    assert zoned(session, rt, "sig-north-pool") == [("main", "Welcome"), ("side", "Aqua 10:00")]


def test_the_edit_forms_say_the_approved_version_keeps_playing(session, rt, world, client):
    make_user(session, rt, "test-editor", m.Role.EDITOR)
    timetable = loop(session, rt, "Timetable", "Aqua 10:00")
    campaign_id = published(session, rt, foyer(timetable))
    login(client, "test-editor")
    form = client.get(f"/campaigns/{campaign_id}/edit").text
    assert "the approved version keeps playing until they are approved" in form
    form = client.get(f"/playlists/{timetable}/edit").text
    assert "the playlist as approved keeps playing in them until they are approved again" in form
