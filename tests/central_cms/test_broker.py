"""Against a real Mosquitto: retained signed manifests and alerts, republished after the
broker comes back empty."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest

from central_cms import alerts
from central_cms import db as cms_db
from central_cms.app import create_app
from central_cms.runtime import runtime
from devices.protocol import (
    Alert,
    Channel,
    Manifest,
    Severity,
    alert_topic,
    device_topic,
    parse_signed,
)
from testkit.brokers import RetainedWatcher, clear_retained, free_port, start_mosquitto
from testkit.city import make_world
from testkit.staff import ADMIN


@pytest.fixture
def live_app(config, clock, request):
    """The CMS with its real MQTT publisher on the given broker URL."""

    def make(broker_url: str):
        # No renewal thread: it would outlive the test and tick on the next test's data.
        app = create_app(
            config.with_changes(mqtt_brokers=(broker_url,)), clock=clock, renewal=False
        )
        rt = runtime(app)

        def stop():
            rt.publisher.stop()
            cms_db.database(app).engine.dispose()

        request.addfinalizer(stop)
        return app, rt

    return make


def test_manifests_and_alerts_are_retained_signed_on_mosquitto(live_app):
    app, rt = live_app("mqtt://127.0.0.1:1883")
    suffix = f"-{secrets.token_hex(3)}"
    watcher = RetainedWatcher("ds/v1/#")
    session = cms_db.database(app).sessions()
    world = make_world(session, rt, suffix)
    topics = [device_topic(d, Channel.MANIFEST) for d in world.devices]
    scope = "north-pool"
    try:
        assert watcher.wait_for(lambda seen: all(t in seen for t in topics)), "manifests missing"
        for device_id in world.devices:
            payload = watcher.latest[device_topic(device_id, Channel.MANIFEST)]
            manifest = parse_signed(Manifest, payload, [rt.signing_key.public_key])
            assert manifest.device_id == device_id
        alerts.send_alert(
            session,
            rt,
            ADMIN,
            scope=scope,
            title="Pool closed",
            body="Storm",
            severity=Severity.WARNING,
            expires_at=rt.clock.now() + timedelta(hours=1),
        )
        assert watcher.wait_for(lambda seen: alert_topic(scope) in seen)
        alert = parse_signed(Alert, watcher.latest[alert_topic(scope)], [rt.signing_key.public_key])
        assert alert.title == "Pool closed" and not alert.cleared
        alerts.clear_alert(session, rt, ADMIN, alert.id)
        assert watcher.wait_for(
            lambda seen: (
                parse_signed(Alert, seen[alert_topic(scope)], [rt.signing_key.public_key]).cleared
            )
        ), "the cleared alert did not replace the retained one"
    finally:
        session.close()
        watcher.stop()
        clear_retained([*topics, alert_topic(scope)])


def test_the_cms_republishes_after_the_broker_restarts_empty(live_app, tmp_path):
    port = free_port()
    broker = start_mosquitto(
        tmp_path / "broker",
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n",
        port,
    )
    try:
        app, rt = live_app(broker.url)
        session = cms_db.database(app).sessions()
        world = make_world(session, rt)
        session.close()
        topic = device_topic(next(iter(world.devices)), Channel.MANIFEST)
        first = RetainedWatcher(topic, port=port)
        assert first.wait_for(lambda seen: topic in seen)
        version = parse_signed(Manifest, first.latest[topic], [rt.signing_key.public_key]).version
        first.stop()

        broker.restart()  # no persistence: every retained message is gone
        assert rt.publisher.connected.wait(30)
        again = RetainedWatcher(topic, port=port)
        assert again.wait_for(lambda seen: topic in seen, timeout_s=30), "not republished"
        republished = parse_signed(Manifest, again.latest[topic], [rt.signing_key.public_key])
        assert republished.version == version  # the same manifest, not a new version
        again.stop()
    finally:
        broker.stop()
