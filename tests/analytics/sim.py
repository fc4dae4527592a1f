"""Simulated devices for ingest tests: the real outbox, sender and MQTT link."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from devices.clock import ManualClock
from devices.config import BrokerUrl, MqttSettings
from devices.link import MqttLink
from devices.outbox import Outbox, OutboxSender, SenderSettings
from devices.protocol import (
    Channel,
    EventAck,
    PlayData,
    PlayOutcome,
    device_topic,
    parse,
)

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


def mqtt_settings(port: int) -> MqttSettings:
    return MqttSettings(brokers=(BrokerUrl("127.0.0.1", port, False),), connect_jitter_s=0)


def play_data(n: int) -> PlayData:
    at = T0 + timedelta(seconds=10 * n)
    return PlayData(
        item_id="swim-1",
        campaign_id="swim-school",
        started_at=at - timedelta(seconds=10),
        ended_at=at,
        shown_s=10,
        scheduled_s=10,
        outcome=PlayOutcome.COMPLETED,
    )


class SimDevice:
    """A device's outbox and sender on a real link; `record` like a player would."""

    def __init__(
        self,
        device_id: str,
        port: int,
        folder: Path,
        *,
        resend_after_s: float = 1.0,
        batch_events: int = 500,
        budget_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.device_id = device_id
        self.clock = ManualClock(T0)
        self.outbox = Outbox(
            folder / f"{device_id}.sqlite3",
            device_id=device_id,
            budget_bytes=budget_bytes,
            clock=self.clock,
        )
        self.sender = OutboxSender(
            self.outbox,
            self._publish,
            SenderSettings(
                batch_events=batch_events,
                window_events=20 * batch_events,
                resend_after_s=resend_after_s,
            ),
        )
        self.recorded = 0
        self.acks_received = 0
        self.drained = threading.Event()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self.link = MqttLink(
            client_id=device_id,
            settings=mqtt_settings(port),
            on_connect=self._connected,
            jitter_first_connect=False,
        )
        self.link.subscribe(device_topic(device_id, Channel.EVENTS_ACK), self._ack)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> SimDevice:
        self.link.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._thread.join(10)
        self.link.stop()
        self.outbox.close()

    def record(self, count: int) -> None:
        for _ in range(count):
            self.recorded += 1
            self.clock.advance(seconds=10)
            self.outbox.record(play_data(self.recorded))
        self.drained.clear()
        self._wake.set()

    def _publish(self, payload: bytes) -> None:
        self.link.publish(device_topic(self.device_id, Channel.EVENTS), payload, qos=1)

    def _connected(self) -> None:
        self.sender.rewind()
        self._wake.set()

    def _ack(self, topic: str, payload: bytes) -> None:
        self.sender.on_ack(parse(EventAck, payload))
        self.acks_received += 1
        if self.outbox.pending == 0:
            self.drained.set()
        self._wake.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            due = self.sender.pump() if self.link.connected.is_set() else None
            self._wake.wait(0.5 if due is None else min(due, 0.5))
            self._wake.clear()
