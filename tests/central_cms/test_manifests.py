"""Publishing: signed, retained, versions forward, unchanged not republished, only the
devices an edit reaches; two CMS processes sharing PostgreSQL never reuse a version."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from central_cms import campaigns, fleet
from central_cms import db as cms_db
from central_cms import models as m
from central_cms.app import create_app
from central_cms.compiler import Targets
from central_cms.manifests import sync_manifests
from central_cms.publisher import RecordingPublisher
from central_cms.runtime import runtime
from devices.protocol import Channel, ItemKind, Manifest, PublicKey, device_topic, parse_signed
from testkit.staff import ADMIN, APPROVER


def swim(world, **changes):
    data = campaigns.CampaignInput(
        name="Swim school enrolments open",
        owner_site_id="north-pool",
        items=(
            campaigns.ItemInput(kind=ItemKind.IMAGE, media_id=world.media["poster"], duration_s=12),
        ),
        targets=Targets(tags=frozenset({"pool"})),
    )
    return replace(data, **changes)


def published_to(publisher) -> dict[str, Manifest]:
    found = {}
    for _topic, payload, retain in publisher.sent:
        assert retain
        if payload:
            manifest = parse_signed(Manifest, payload, [_KEY[0]])
            found[manifest.device_id] = manifest
    return found


_KEY: list[PublicKey] = []


@pytest.fixture(autouse=True)
def _trust(rt):
    _KEY[:] = [rt.signing_key.public_key]


def test_registration_publishes_a_first_signed_manifest(session, rt, publisher):
    from testkit.city import make_world

    world = make_world(session, rt)
    manifests = published_to(publisher)
    assert set(manifests) == set(world.devices)
    assert all(mf.version == 1 for mf in manifests.values())
    topic = device_topic("sig-north-pool", Channel.MANIFEST)
    assert topic in publisher.topics()


def test_publishing_a_campaign_republishes_exactly_the_targeted_devices(
    session, rt, world, publisher
):
    campaign = campaigns.save(session, rt, ADMIN, swim(world))
    assert publisher.sent == []  # a draft goes nowhere
    campaigns.submit(session, rt, ADMIN, campaign.id)
    assert campaign.status == m.CampaignStatus.PENDING  # north-pool needs approval
    campaigns.approve(session, rt, APPROVER, campaign.id)
    manifests = published_to(publisher)
    assert set(manifests) == {"sig-north-pool", "portal-north-pool"}
    assert all(mf.version == 2 for mf in manifests.values())
    item = manifests["sig-north-pool"].items[0]
    asset = manifests["sig-north-pool"].asset(item.asset)
    assert asset.url == f"http://127.0.0.1:5999/device-api/v1/assets/{asset.sha256}"


def test_an_unchanged_manifest_is_not_published_again(session, rt, world, publisher):
    report = sync_manifests(session, rt)
    assert report.published == {}
    assert sorted(report.unchanged) == sorted(world.devices)
    assert publisher.sent == []


def test_manifests_are_renewed_before_they_expire(session, rt, world, publisher, clock):
    clock.advance(timedelta(days=8))  # past half of the 14-day horizon
    report = sync_manifests(session, rt)
    assert sorted(report.published) == sorted(world.devices)
    assert set(report.published.values()) == {2}


def test_archiving_takes_content_off_only_its_devices(session, rt, world, publisher):
    campaign = campaigns.save(session, rt, ADMIN, swim(world))
    campaigns.submit(session, rt, ADMIN, campaign.id)
    campaigns.approve(session, rt, APPROVER, campaign.id)
    publisher.sent.clear()
    campaigns.archive(session, rt, ADMIN, campaign.id)
    manifests = published_to(publisher)
    assert set(manifests) == {"sig-north-pool", "portal-north-pool"}
    assert all(mf.version == 3 and mf.items == () for mf in manifests.values())


def test_a_site_without_approval_publishes_on_submit(session, rt, world, publisher):
    data = swim(
        world, owner_site_id="south-library", targets=Targets(sites=frozenset({"south-library"}))
    )
    campaign = campaigns.save(session, rt, ADMIN, data)
    campaigns.submit(session, rt, ADMIN, campaign.id)
    assert campaign.status == m.CampaignStatus.PUBLISHED
    assert set(published_to(publisher)) == {"sig-south-library"}


def test_deleting_a_device_clears_its_retained_manifest(session, rt, world, publisher):
    fleet.delete_device(session, rt, ADMIN, "sig-east-hall")
    assert publisher.sent == [(device_topic("sig-east-hall", Channel.MANIFEST), b"", True)]


def test_two_cms_processes_never_publish_the_same_version(
    config, clock, session, rt, world, request
):
    """Two apps on one database (as two gunicorn workers) recompile the same devices at
    once; every published version of a device is distinct and they only grow."""
    if not config.database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers anyway; the race matters on PostgreSQL")
    recorders = [RecordingPublisher(), RecordingPublisher()]
    apps = [create_app(config, publisher=p, clock=clock) for p in recorders]
    request.addfinalizer(lambda: [cms_db.database(a).engine.dispose() for a in apps])
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(app, n):
        s = cms_db.database(app).sessions()
        try:
            start.wait(10)
            for round_ in range(4):
                # Each round changes content so every sync has something new to publish.
                site = s.get(m.Site, "north-pool")
                site.name = f"North Pool {n}-{round_}"
                s.flush()
                sync_manifests(s, runtime(app), ["sig-north-pool"])
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            s.close()

    threads = [threading.Thread(target=work, args=(a, n)) for n, a in enumerate(apps)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    versions = [
        parse_signed(Manifest, payload, [rt.signing_key.public_key]).version
        for r in recorders
        for topic, payload, _ in r.sent
        if topic.endswith("sig-north-pool/manifest")
    ]
    assert len(versions) == len(set(versions)), versions
    final = session.scalars(
        select(m.ManifestState.version).where(m.ManifestState.device_id == "sig-north-pool")
    ).one()
    assert final == max(versions)


def test_renditions_are_made_once_per_profile_and_reused(session, rt, world, publisher):
    data = swim(world, owner_site_id="east-hall", targets=Targets(sites=frozenset({"east-hall"})))
    for _ in range(2):
        campaign = campaigns.save(session, rt, ADMIN, data)
        campaigns.submit(session, rt, ADMIN, campaign.id)
        campaigns.approve(session, rt, APPROVER, campaign.id)
    made = session.scalars(
        select(m.Rendition).where(m.Rendition.media_id == world.media["poster"])
    ).all()
    assert sorted(r.profile_id for r in made) == ["indoor", "led-small"]
    led = next(r for r in made if r.profile_id == "led-small")
    assert (led.width_px, led.height_px) == (192, 96)
    manifests = published_to(publisher)
    led_manifest = manifests["led-east-hall"]
    assert led_manifest.items[0].asset == led.sha256
    assert rt.blobs.path(led.sha256).exists()
    # The TV's rendition travels as what it is, a JPEG (issue 14); the panel's as a PNG.
    indoor = next(r for r in made if r.profile_id == "indoor")
    assert manifests["sig-east-hall"].asset(indoor.sha256).content_type == "image/jpeg"
    assert led_manifest.asset(led.sha256).content_type == "image/png"


def test_commands_are_signed_and_not_retained(session, rt, world, publisher):
    from devices.protocol import Command, CommandName

    sent = fleet.send_command(session, rt, ADMIN, "sig-east-hall", CommandName.REBOOT)
    ((topic, payload, retain),) = publisher.sent
    assert topic == device_topic("sig-east-hall", Channel.COMMANDS)
    assert not retain
    received = parse_signed(Command, payload, [rt.signing_key.public_key])
    assert received == sent
    assert received.expires_at - received.issued_at == timedelta(minutes=5)
