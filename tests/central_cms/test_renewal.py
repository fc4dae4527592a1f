"""The CMS renews manifests by itself (issue 13, point 3): a campaign published weeks
ahead, beyond the 14-day horizon, reaches a real device agent over the real Mosquitto
before its first day, and with several CMS processes exactly one renews per tick."""

from __future__ import annotations

import re
import secrets
import threading
from datetime import date, timedelta

import pytest

from central_cms import campaigns, fleet
from central_cms import db as cms_db
from central_cms import models as m
from central_cms.app import create_app, manifest_renewer
from central_cms.compiler import Targets
from central_cms.publisher import RecordingPublisher
from central_cms.renewal import ManifestRenewer, RenewalRun, last_renewal
from central_cms.runtime import runtime
from devices.protocol import Channel, ItemKind, Schedule, TextSlide, device_topic
from testkit.brokers import clear_retained
from testkit.city import register_screen, small_city, start_agent
from testkit.staff import ADMIN

HOLIDAYS_START = date(2026, 12, 31)  # 30 days after the tests' T0 (1 December)


def holidays(site_id: str) -> campaigns.CampaignInput:
    return campaigns.CampaignInput(
        name="School holidays at the pool",
        owner_site_id=site_id,
        items=(
            campaigns.ItemInput(
                kind=ItemKind.TEXT,
                duration_s=10,
                text=TextSlide(title="School holidays", body="Swim camps every morning"),
            ),
        ),
        targets=Targets(sites=frozenset({site_id})),
        schedules=(Schedule(starts_on=HOLIDAYS_START, ends_on=date(2027, 1, 27)),),
    )


@pytest.fixture
def live_cms(config, clock, request):
    """The CMS with its real MQTT publisher on the machine's Mosquitto; the renewer's
    thread is not started: the test calls its tick as the thread would."""
    app = create_app(config, clock=clock, renewal=False)
    rt = runtime(app)

    def stop():
        rt.publisher.stop()
        cms_db.database(app).engine.dispose()

    request.addfinalizer(stop)
    return app


def test_a_campaign_published_30_days_ahead_reaches_the_screen_before_it_starts(
    live_cms, clock, tmp_path
):
    rt = runtime(live_cms)
    renewer = manifest_renewer(live_cms)
    site_id = f"pool-{secrets.token_hex(3)}"
    device_id = f"sig-{site_id}"
    session = cms_db.database(live_cms).sessions()
    agent = None
    try:
        small_city(session, rt, site_id)
        config_path = register_screen(session, rt, site_id, device_id, tmp_path / "devices")
        campaign = campaigns.save(session, rt, ADMIN, holidays(site_id))
        campaigns.submit(session, rt, ADMIN, campaign.id)
        assert campaign.status == m.CampaignStatus.PUBLISHED
        agent, screen = start_agent(config_path, clock)
        assert screen.wait_for(lambda: bool(screen.manifests)), "no first manifest"
        assert screen.manifests[-1].items == ()  # beyond the horizon: not in it yet

        arrived_on = None
        while clock.now().date() < HOLIDAYS_START:
            clock.advance(days=1)
            run = renewer.tick()
            assert run is not None, "the only CMS process did not get the lease"
            if run.published and screen.wait_for(lambda: any(mf.items for mf in screen.manifests)):
                arrived_on = clock.now().date()
                break
        assert arrived_on is not None, "the campaign never reached the screen"
        assert arrived_on < HOLIDAYS_START
        latest = screen.manifests[-1]
        assert [i.campaign_id for i in latest.items] == [campaign.id]
        assert latest.valid_until > clock.now() + timedelta(days=13)
        assert last_renewal(session) is not None
    finally:
        if agent is not None:
            agent.stop()
        session.close()
        clear_retained([device_topic(device_id, Channel.MANIFEST)], port=1883)


def ticked_together(renewers: list[ManifestRenewer]) -> list[RenewalRun | None]:
    """Each process's tick at the same instant, from its own thread (as two workers)."""
    barrier = threading.Barrier(len(renewers))
    runs: list[RenewalRun | None] = [None] * len(renewers)

    def tick(i: int) -> None:
        barrier.wait(10)
        runs[i] = renewers[i].tick()

    threads = [threading.Thread(target=tick, args=(i,)) for i in range(len(renewers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return runs


def test_two_cms_processes_renew_once_per_tick_and_a_dead_holder_is_replaced(
    config, clock, tmp_path
):
    publishers = [RecordingPublisher(), RecordingPublisher()]
    apps = [
        create_app(config, publisher=p, clock=clock, renewal=False, migrate=i == 0)
        for i, p in enumerate(publishers)
    ]
    renewers = [manifest_renewer(a) for a in apps]
    try:
        rt = runtime(apps[0])
        session = cms_db.database(apps[0]).sessions()
        small_city(session, rt, "pool")
        register_screen(session, rt, "pool", "sig-pool", tmp_path / "devices")
        campaigns.submit(
            session, rt, ADMIN, campaigns.save(session, rt, ADMIN, holidays("pool")).id
        )
        session.close()

        for day in range(1, 18):  # past 16 December, when the holidays enter the horizon
            clock.advance(days=1)
            runs = ticked_together(renewers)
            assert sum(r is not None for r in runs) == 1, f"day {day}: {runs}"

        # The holder dies (stops ticking): the other takes over once its lease expires.
        alive = renewers[1]
        clock.advance(days=1)
        assert renewers[0].tick() is not None
        assert alive.tick() is None  # the lease is held for one interval
        clock.advance(renewers[0].interval)
        assert alive.tick() is not None
        # Whichever process held the lease, the campaign entering the horizon went out.
        arrived = [
            payload
            for p in publishers
            for topic, payload, _ in p.sent
            if topic == device_topic("sig-pool", Channel.MANIFEST) and b"School holidays" in payload
        ]
        assert len(arrived) >= 1
    finally:
        for a in apps:
            cms_db.database(a).engine.dispose()


def test_the_devices_page_tells_it_when_manifests_were_last_renewed(app, client, clock):
    rt = runtime(app)
    session = cms_db.database(app).sessions()
    fleet.create_user(
        session,
        rt,
        None,
        username="it-staff",
        password="correct horse battery",
        role=m.Role.IT,
        sites=[],
    )
    session.close()
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    client.post(
        "/login",
        data={"username": "it-staff", "password": "correct horse battery", "csrf_token": token[1]},
    )
    assert "Not run yet" in client.get("/devices/").text
    assert manifest_renewer(app).tick() is not None
    clock.advance(minutes=7)
    text = client.get("/devices/").text
    assert "renewed automatically every 5 min" in text
    assert "Last run 7 min ago (2026-12-01 00:00 UTC): 0 published" in text
