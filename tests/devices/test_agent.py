"""The device agent against the real Mosquitto on 127.0.0.1:1883."""

from __future__ import annotations

from datetime import timedelta

import pytest

from devices.agent import DeviceAgent, RecordingSystem
from devices.clock import ManualClock
from devices.protocol import (
    Alert,
    AssetRef,
    Channel,
    Command,
    CommandName,
    CommandResult,
    DeviceState,
    ItemKind,
    Manifest,
    SigningKey,
    Status,
    alert_topic,
    device_topic,
    parse,
    sign,
)
from testkit.harness import (
    AssetServer,
    Observer,
    RecordingApp,
    device_config,
    eventually,
    unique_id,
)
from testkit.messages import T0, manifest

BROKER_PORT = 1883


@pytest.fixture
def key():
    return SigningKey.generate()


@pytest.fixture
def assets():
    server = AssetServer()
    yield server
    server.close()


@pytest.fixture
def device_id():
    return unique_id("sig")


@pytest.fixture
def cms(device_id):
    observer = Observer(BROKER_PORT, [f"ds/v1/devices/{device_id}/#"])
    yield observer
    # Leave no retained messages behind on the shared broker.
    for channel in (Channel.MANIFEST, Channel.STATUS):
        observer.publish(device_topic(device_id, channel), b"", retain=True)
    observer.close()


@pytest.fixture
def start_agent(tmp_path, device_id, key):
    agents = []

    def start(app=None, *, keys=None, clock=None, system=None):
        config = device_config(tmp_path, device_id, port=BROKER_PORT, keys=keys or [key])
        agent = DeviceAgent(
            config,
            app or RecordingApp(),
            clock=clock or ManualClock(T0 + timedelta(hours=1)),
            system=system or RecordingSystem(),
        )
        agent.start()
        assert agent.link.connected.wait(10)
        agents.append(agent)
        return agent

    yield start
    for agent in agents:
        if not agent._stopping.is_set():
            agent.stop()


def manifest_with_image(device_id, assets, version, content=b"image bytes v1"):
    url = assets.add(content)
    ref = AssetRef(
        sha256=url.rsplit("/", 1)[-1], url=url, size_bytes=len(content), content_type="image/png"
    )
    base = manifest(device_id, version=version)
    item = base.items[0].model_copy(update={"asset": ref.sha256})
    return base.model_copy(update={"assets": (ref,), "items": (item,)})


def test_signed_manifest_applies_only_after_its_assets_are_cached(
    start_agent, cms, device_id, key, assets
):
    app = RecordingApp()
    agent = start_agent(app)
    wanted = manifest_with_image(device_id, assets, version=1)
    cms.publish(device_topic(device_id, Channel.MANIFEST), sign(wanted, key), retain=True)

    assert app.wait_for(lambda: app.versions == [1])
    assert agent.cache.path(wanted.assets[0].sha256).read_bytes() == b"image bytes v1"
    statuses = [
        parse(Status, p) for p in cms.payloads(device_topic(device_id, Channel.STATUS)) if p
    ]
    assert cms.wait_for(
        lambda: any(
            parse(Status, p).manifest_version == 1
            for p in cms.payloads(device_topic(device_id, Channel.STATUS))
            if p
        )
    ), statuses


def test_tampered_or_foreign_manifests_are_rejected_and_last_good_stays(
    start_agent, cms, device_id, key, assets, tmp_path, caplog
):
    app = RecordingApp()
    agent = start_agent(app)
    topic = device_topic(device_id, Channel.MANIFEST)
    cms.publish(topic, sign(manifest_with_image(device_id, assets, 1), key), retain=True)
    assert app.wait_for(lambda: app.versions == [1])

    foreign = sign(manifest_with_image(device_id, assets, 2, b"intruder"), SigningKey.generate())
    cms.publish(topic, foreign, retain=True)
    tampered = sign(manifest_with_image(device_id, assets, 3), key).replace(
        b'"version":3', b'"version":4'
    )
    cms.publish(topic, tampered, retain=True)
    unsigned = manifest_with_image(device_id, assets, 5).encode()
    cms.publish(topic, unsigned, retain=True)
    # A good one after the bad ones proves the bad ones were processed and passed over.
    cms.publish(topic, sign(manifest_with_image(device_id, assets, 6, b"v6"), key), retain=True)

    assert app.wait_for(lambda: app.versions[-1:] == [6])
    assert app.versions == [1, 6]
    # Counted on this device's manifest topic: the shared broker may hold other tests'
    # retained alerts, which this device rightly rejects too.
    rejected = [r for r in caplog.records if f"rejected message on {topic}:" in r.getMessage()]
    assert len(rejected) == 3
    assert agent.rejected_messages >= 3


def test_last_good_manifest_plays_after_a_restart_with_no_broker_message(
    start_agent, cms, device_id, key, assets, tmp_path
):
    first = RecordingApp()
    agent = start_agent(first)
    topic = device_topic(device_id, Channel.MANIFEST)
    cms.publish(topic, sign(manifest_with_image(device_id, assets, 1), key), retain=True)
    assert first.wait_for(lambda: first.versions == [1])
    agent.stop()
    cms.publish(topic, b"", retain=True)  # nothing retained: the device must rely on its disk
    assets.files.clear()  # and the asset server is gone too

    second = RecordingApp()
    start_agent(second)
    assert second.versions == [1]


def test_older_manifest_version_never_replaces_a_newer_one(
    start_agent, cms, device_id, key, assets
):
    app = RecordingApp()
    start_agent(app)
    topic = device_topic(device_id, Channel.MANIFEST)
    cms.publish(topic, sign(manifest_with_image(device_id, assets, 5), key), retain=True)
    assert app.wait_for(lambda: app.versions == [5])
    cms.publish(topic, sign(manifest_with_image(device_id, assets, 4, b"old"), key), retain=True)
    cms.publish(topic, sign(manifest_with_image(device_id, assets, 7, b"new"), key), retain=True)
    assert app.wait_for(lambda: app.versions[-1:] == [7])
    assert app.versions == [5, 7]


def test_manifest_whose_asset_hash_does_not_match_is_never_applied(
    start_agent, cms, device_id, key, assets
):
    app = RecordingApp()
    agent = start_agent(app)
    topic = device_topic(device_id, Channel.MANIFEST)
    cms.publish(topic, sign(manifest_with_image(device_id, assets, 1), key), retain=True)
    assert app.wait_for(lambda: app.versions == [1])

    bad = manifest_with_image(device_id, assets, 2, b"the real picture")
    assets.files[bad.assets[0].sha256] = b"a swapped picture"
    cms.publish(topic, sign(bad, key), retain=True)
    assert assets_requested(assets, bad.assets[0].sha256)
    assert not app.wait_for(lambda: len(app.versions) > 1, timeout_s=1.5)
    assert agent.cache.path(bad.assets[0].sha256) is None
    assert app.versions == [1]


def assets_requested(assets, sha):
    return eventually(lambda: any(sha in path for path in assets.requests))


def test_alerts_for_this_site_and_all_reach_the_device_but_not_other_sites(
    start_agent, cms, device_id, key, assets
):
    app = RecordingApp()
    start_agent(app)
    cms.publish(
        device_topic(device_id, Channel.MANIFEST),
        sign(manifest_with_image(device_id, assets, 1), key),
        retain=True,
    )
    assert app.wait_for(lambda: app.versions == [1])
    site = manifest(device_id).site.id  # riverton-lib
    other = unique_id("other-site")
    observer = Observer(BROKER_PORT, [])
    try:

        def alert(scope, title, minute=0):
            return Alert(
                id=unique_id("alert"),
                scope=scope,
                title=title,
                issued_at=T0 + timedelta(minutes=minute),
                expires_at=T0 + timedelta(days=1),
            )

        observer.publish(alert_topic(other), sign(alert(other, "Not for us"), key))
        observer.publish(alert_topic(site), sign(alert(site, "Pool closed"), key))
        assert app.wait_for(
            lambda: any(a.title == "Pool closed" for batch in app.alerts for a in batch)
        )
        assert all(a.title != "Not for us" for batch in app.alerts for a in batch)
        forged = sign(alert(site, "Forged", minute=1), SigningKey.generate())
        observer.publish(alert_topic(site), forged)
        observer.publish(alert_topic(site), sign(alert(site, "Fire drill at 3pm", minute=2), key))
        assert app.wait_for(lambda: app.alerts[-1][0].title == "Fire drill at 3pm")
        assert all(a.title != "Forged" for batch in app.alerts for a in batch)
    finally:
        observer.close()


def test_commands_run_once_and_expired_or_forged_ones_do_not(start_agent, cms, device_id, key):
    app = RecordingApp()
    system = RecordingSystem()
    start_agent(app, system=system)
    topic = device_topic(device_id, Channel.COMMANDS)
    now = T0 + timedelta(hours=1)

    def command(name, expires_in=timedelta(minutes=5), **args):
        return Command(
            id=unique_id("cmd"),
            device_id=device_id,
            name=name,
            args=args,
            issued_at=now,
            expires_at=now + expires_in,
        )

    identify = command(CommandName.IDENTIFY)
    cms.publish(topic, sign(identify, key))
    cms.publish(topic, sign(identify, key))  # delivered twice, run once
    expired = command(CommandName.SCREENSHOT, expires_in=timedelta(minutes=-1))
    cms.publish(topic, sign(expired, key))
    cms.publish(topic, sign(command(CommandName.REFRESH), SigningKey.generate()))
    reboot = command(CommandName.REBOOT)
    cms.publish(topic, sign(reboot, key))

    results_topic = device_topic(device_id, Channel.COMMAND_RESULTS)

    def results():
        return {
            r.command_id: r for r in (parse(CommandResult, p) for p in cms.payloads(results_topic))
        }

    assert cms.wait_for(lambda: {identify.id, expired.id, reboot.id} <= set(results()))
    assert system.rebooted.wait(5)
    assert results()[identify.id].ok and results()[identify.id].detail == "did identify"
    assert not results()[expired.id].ok and "expired" in results()[expired.id].detail
    assert [c.name for c in app.commands] == [CommandName.IDENTIFY]
    assert len(results()) == 3


def test_status_is_online_while_running_and_offline_after_a_clean_stop(start_agent, cms, device_id):
    agent = start_agent()
    topic = device_topic(device_id, Channel.STATUS)

    def states():
        return [parse(Status, p).state for p in cms.payloads(topic) if p]

    assert cms.wait_for(lambda: DeviceState.ONLINE in states())
    agent.stop()
    assert cms.wait_for(lambda: states()[-1:] == [DeviceState.OFFLINE])


def test_text_only_manifest_needs_no_download(start_agent, cms, device_id, key):
    app = RecordingApp()
    start_agent(app)
    text_only = manifest(device_id, version=3, assets=(), items=())
    assert all(i.kind is ItemKind.TEXT for i in text_only.default_items)
    cms.publish(device_topic(device_id, Channel.MANIFEST), sign(text_only, key), retain=True)
    assert app.wait_for(lambda: app.versions == [3])
    assert isinstance(app.manifests[0], Manifest)
