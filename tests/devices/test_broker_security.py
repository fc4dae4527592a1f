"""Per-device credentials and ACLs, on a dedicated Mosquitto started with the generated files."""

from __future__ import annotations

import pytest

from devices.broker import (
    acl_file,
    check_password,
    hash_password,
    mosquitto_conf,
    new_password,
    password_file,
)
from devices.protocol import Channel, alert_topic, device_topic
from devices.protocol.topics import feed_topic
from tests.brokers import free_port, start_mosquitto
from tests.devices.harness import Observer


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    folder = tmp_path_factory.mktemp("secured-broker")
    passwords = {name: new_password() for name in ("dev-a", "dev-b", "cms", "ingest")}
    (folder / "passwords").write_text(
        password_file({u: hash_password(p) for u, p in passwords.items()})
    )
    (folder / "acl").write_text(
        acl_file(["dev-a", "dev-b"], cms_users=["cms"], ingest_users=["ingest"])
    )
    port = free_port()
    broker = start_mosquitto(
        folder,
        mosquitto_conf(port=port, password_file=folder / "passwords", acl_file=folder / "acl"),
        port,
    )
    yield broker, passwords
    broker.stop()


def connect(secured, user, topics=()):
    broker, passwords = secured
    return Observer(broker.port, list(topics), username=user, password=passwords[user])


def test_mosquitto_hash_matches_its_password_and_no_other():
    stored = hash_password("s3cret")
    assert check_password("s3cret", stored)
    assert not check_password("s3cret!", stored)


def test_wrong_password_is_refused(secured):
    broker, _ = secured
    with pytest.raises(TimeoutError):
        Observer(
            broker.port,
            ["ds/v1/alerts/+"],
            username="dev-a",
            password="guess",
            connect_timeout_s=2,
        )


def test_device_cannot_read_another_devices_manifest(secured):
    cms = connect(secured, "cms")
    a = connect(
        secured,
        "dev-a",
        [device_topic("dev-b", Channel.MANIFEST), device_topic("dev-a", Channel.MANIFEST)],
    )
    try:
        cms.publish(device_topic("dev-b", Channel.MANIFEST), b"for b only", retain=True)
        cms.publish(device_topic("dev-a", Channel.MANIFEST), b"for a", retain=True)
        assert a.wait_for(lambda: a.payloads(device_topic("dev-a", Channel.MANIFEST)) == [b"for a"])
        assert a.payloads(device_topic("dev-b", Channel.MANIFEST)) == []
    finally:
        for topic in (
            device_topic("dev-b", Channel.MANIFEST),
            device_topic("dev-a", Channel.MANIFEST),
        ):
            cms.publish(topic, b"", retain=True)
        a.close()
        cms.close()


def test_device_cannot_publish_into_another_devices_topics_or_as_the_cms(secured):
    watched = [
        device_topic("dev-b", Channel.EVENTS),
        device_topic("dev-b", Channel.STATUS),
        device_topic("dev-a", Channel.MANIFEST),
        device_topic("dev-a", Channel.COMMANDS),
        device_topic("dev-a", Channel.EVENTS_ACK),
        alert_topic("all"),
        device_topic("dev-a", Channel.EVENTS),
    ]
    cms = connect(secured, "cms", watched)
    a = connect(secured, "dev-a")
    try:
        for topic in watched[:-1]:
            a.publish(topic, b"forged by a")
        # Messages from one client arrive in order: once a's own event is in, the rest were refused.
        a.publish(device_topic("dev-a", Channel.EVENTS), b"a's own event")
        assert cms.wait_for(
            lambda: cms.payloads(device_topic("dev-a", Channel.EVENTS)) == [b"a's own event"]
        )
        forged = [(t, p) for t, p, _ in cms.messages if p == b"forged by a"]
        assert forged == []
    finally:
        a.close()
        cms.close()


def test_device_reads_alerts_and_ingest_reads_events_through_a_shared_subscription(secured):
    a = connect(secured, "dev-a", [alert_topic("all"), alert_topic("riverton-lib")])
    ingest = connect(secured, "ingest", ["$share/ingest/ds/v1/devices/+/events"])
    cms = connect(secured, "cms")
    try:
        cms.publish(alert_topic("riverton-lib"), b"alert")
        assert a.wait_for(lambda: a.payloads(alert_topic("riverton-lib")) == [b"alert"])
        a.publish(device_topic("dev-a", Channel.EVENTS), b"batch")
        assert ingest.wait_for(
            lambda: ingest.payloads(device_topic("dev-a", Channel.EVENTS)) == [b"batch"]
        )
        # The ingest account acknowledges, and the device reads its ack.
        a_acks = connect(secured, "dev-a", [device_topic("dev-a", Channel.EVENTS_ACK)])
        try:
            ingest.publish(device_topic("dev-a", Channel.EVENTS_ACK), b"ack")
            assert a_acks.wait_for(
                lambda: a_acks.payloads(device_topic("dev-a", Channel.EVENTS_ACK)) == [b"ack"]
            )
        finally:
            a_acks.close()
    finally:
        a.close()
        ingest.close()
        cms.close()


def test_devices_read_the_live_feeds_and_only_the_cms_writes_them(secured):
    topic = feed_topic("pool-classes")
    own_events = device_topic("dev-b", Channel.EVENTS)
    a = connect(secured, "dev-a", [topic])
    b = connect(secured, "dev-b")
    cms = connect(secured, "cms", [topic, own_events])
    try:
        b.publish(topic, b"forged by b")
        b.publish(own_events, b"b's own event")  # in order after the forged feed
        assert cms.wait_for(lambda: cms.payloads(own_events) == [b"b's own event"])
        assert cms.payloads(topic) == []
        cms.publish(topic, b"feed")
        assert a.wait_for(lambda: a.payloads(topic) == [b"feed"])
    finally:
        cms.publish(topic, b"", retain=True)
        a.close()
        b.close()
        cms.close()
