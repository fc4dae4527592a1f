"""Getting signed bytes onto the broker: a narrow Protocol, the MQTT adapter and a fake.

The manifest and alert services only call `publish(topic, payload, retain=...)`. The
real adapter wraps the fleet's own `devices.link.MqttLink` (failover across brokers,
reconnect with back-off) with the CMS's credentials, publishes with QoS 1 and, on every
(re)connect, calls `on_connect` so the CMS republishes the latest manifest of every
device and the current alerts (the broker may have lost retained messages if its
persistence was off).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from devices.config import BrokerUrl, MqttSettings
from devices.link import MqttLink

log = logging.getLogger(__name__)


class ManifestPublisher(Protocol):
    """Where the CMS's retained messages go; started with the app, stopped with it."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def publish(self, topic: str, payload: bytes, *, retain: bool) -> None: ...


@dataclass
class RecordingPublisher:
    """The fake: remembers what would have been published, in order."""

    sent: list[tuple[str, bytes, bool]] = field(default_factory=list)

    def start(self) -> None:
        pass  # nothing to connect

    def stop(self) -> None:
        pass

    def publish(self, topic: str, payload: bytes, *, retain: bool) -> None:
        self.sent.append((topic, payload, retain))

    def topics(self) -> list[str]:
        return [topic for topic, _, _ in self.sent]


class MqttPublisher:
    """Publishes through one MqttLink, started on first use."""

    def __init__(
        self,
        brokers: Sequence[str],
        *,
        client_id: str,
        username: str = "",
        password: str = "",
        on_connect: Callable[[], None] | None = None,
        publish_timeout_s: float = 5.0,
    ) -> None:
        settings = MqttSettings(
            brokers=tuple(BrokerUrl.parse(url, "mqtt_brokers") for url in brokers),
            username=username or None,
            password=password or None,
            connect_jitter_s=0.0,
        )
        self._hook = on_connect
        self._timeout_s = publish_timeout_s
        self._link = MqttLink(
            client_id=client_id,
            settings=settings,
            on_connect=self._connected,
            jitter_first_connect=False,
        )
        self._lock = threading.Lock()
        self._started = False
        self._offline = threading.Event()

    @property
    def connected(self) -> threading.Event:
        return self._link.connected

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        self._link.start()

    def stop(self) -> None:
        with self._lock:
            if not self._started:
                return
            self._started = False
        self._link.stop()

    def publish(self, topic: str, payload: bytes, *, retain: bool) -> None:
        self.start()
        # Wait for the broker once per outage, not once per message: what we cannot send
        # now is stored in the database and on_connect republishes it.
        if not self._link.connected.is_set() and (
            self._offline.is_set() or not self._link.connected.wait(self._timeout_s)
        ):
            if not self._offline.is_set():
                log.warning("broker not connected; publishing resumes on reconnect")
            self._offline.set()
            return
        ticket = self._link.publish(topic, payload, qos=1, retain=retain)
        if not ticket.wait(self._timeout_s):
            log.warning("publish to %s not confirmed within %.0f s", topic, self._timeout_s)

    def _connected(self) -> None:
        self._offline.clear()
        if self._hook is not None:
            # Off the network thread: republishing waits for acknowledgements.
            threading.Thread(target=self._hook, name="cms-republish", daemon=True).start()
