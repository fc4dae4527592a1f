"""The MQTT link against real Mosquitto brokers started by the test."""

from __future__ import annotations

import random
import threading

import pytest

from devices.broker import mosquitto_conf
from devices.config import BrokerUrl, MqttSettings
from devices.link import Backoff, MqttLink
from testkit.brokers import free_port, start_mosquitto
from testkit.harness import Observer, unique_id


@pytest.fixture
def broker(tmp_path):
    port = free_port()
    running = start_mosquitto(
        tmp_path / "b", mosquitto_conf(port=port, fleet_size=10, allow_anonymous=True), port
    )
    yield running
    running.stop()


def settings(*ports: int) -> MqttSettings:
    return MqttSettings(
        brokers=tuple(BrokerUrl("127.0.0.1", port, tls=False) for port in ports),
        connect_jitter_s=0,
        keepalive_s=5,
    )


def test_backoff_is_capped_and_jittered():
    rng = random.Random(7)
    backoff = Backoff(base_s=0.5, cap_s=60)
    delays = [backoff.delay(attempt, rng) for attempt in range(40)]
    assert all(0 <= d <= 60 for d in delays)
    assert len(set(delays)) == len(delays)  # jitter: no two devices retry in lock-step
    assert max(delays[:3]) <= 2.0


def test_link_moves_to_the_next_broker_when_the_first_is_down(broker):
    dead_port = free_port()
    link = MqttLink(
        client_id=unique_id("dev"),
        settings=settings(dead_port, broker.port),
        backoff=Backoff(base_s=0.05, cap_s=0.2),
    )
    link.start()
    try:
        assert link.connected.wait(10)
        assert link.broker == BrokerUrl("127.0.0.1", broker.port, tls=False)
    finally:
        link.stop()


def test_subscriptions_come_back_after_the_broker_restarts(broker):
    received: list[bytes] = []
    arrived = threading.Event()
    connects = []
    link = MqttLink(
        client_id=unique_id("dev"),
        settings=settings(broker.port),
        backoff=Backoff(base_s=0.05, cap_s=0.5),
        on_connect=lambda: connects.append(1),
    )

    def on_message(topic: str, payload: bytes) -> None:
        received.append(payload)
        arrived.set()

    link.subscribe("ds/v1/alerts/+", on_message)
    link.start()
    try:
        assert link.connected.wait(10)
        broker.restart()
        assert link.connected.wait(15) and len(connects) >= 1
        publisher = Observer(broker.port, [])
        try:
            # The link may not have resubscribed the instant it reconnected; retry the publish.
            for _ in range(50):
                publisher.publish("ds/v1/alerts/all", b"after restart")
                if arrived.wait(0.2):
                    break
        finally:
            publisher.close()
        assert received and received[0] == b"after restart"
        assert len(connects) == 2
    finally:
        link.stop()


def test_a_raising_handler_costs_a_log_line_not_the_link(broker, caplog):
    good = threading.Event()
    link = MqttLink(client_id=unique_id("dev"), settings=settings(broker.port))

    def bad(topic: str, payload: bytes) -> None:
        raise ValueError("cannot parse")

    link.subscribe("t/bad", bad)
    link.subscribe("t/good", lambda topic, payload: good.set())
    link.start()
    try:
        assert link.connected.wait(10)
        publisher = Observer(broker.port, [])
        try:
            publisher.publish("t/bad", b"junk")
            publisher.publish("t/good", b"fine")
        finally:
            publisher.close()
        assert good.wait(10)
        assert "handler for t/bad failed" in caplog.text
    finally:
        link.stop()
