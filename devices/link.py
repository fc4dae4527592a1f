"""The MQTT link every device (and the CMS publisher and ingest) uses, on paho-mqtt 2.x.

- A list of brokers tried in turn (a cluster or a bridged pair), with TLS and a login.
- Reconnect with capped exponential backoff and full jitter; a refused login waits the
  full cap instead of hammering the broker. The first connect is jittered too, so a
  fleet powering up together does not overflow the broker's listen backlog.
- Subscriptions are made in on_connect, so they come back after every reconnect; then
  the owner's on_connect runs (the device publishes its retained "online" status).
- The last will is set before every connect, so the broker flips the retained status
  to "offline" when the process dies; a clean stop publishes "offline" itself first,
  because a clean DISCONNECT makes the broker discard the will.
- A handler that raises, or a message nobody can parse, costs one log line, never the loop.
"""

from __future__ import annotations

import logging
import random
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from devices.config import BrokerUrl, MqttSettings

log = logging.getLogger(__name__)

Handler = Callable[[str, bytes], None]
WillFactory = Callable[[], tuple[str, bytes]]


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with full jitter (AWS architecture blog's variant)."""

    base_s: float = 0.5
    cap_s: float = 60.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.cap_s, self.base_s * 2 ** min(attempt, 30)))


class PublishTicket:
    """Tracks one QoS 1 publish until the broker acknowledged it."""

    def __init__(self, info: mqtt.MQTTMessageInfo | None) -> None:
        self._info = info

    def wait(self, timeout_s: float) -> bool:
        """True once the broker has the message (PUBACK for QoS 1)."""
        if self._info is None:
            return False
        try:
            self._info.wait_for_publish(timeout_s)
        except (RuntimeError, ValueError):
            return False
        return self._info.is_published()


class MqttLink:
    def __init__(
        self,
        *,
        client_id: str,
        settings: MqttSettings,
        will: WillFactory | None = None,
        on_connect: Callable[[], None] | None = None,
        on_disconnect: Callable[[], None] | None = None,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        jitter_first_connect: bool = True,
    ) -> None:
        self.client_id = client_id
        self._settings = settings
        self._will = will
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._backoff = backoff or Backoff()
        self._rng = rng or random.Random()
        self._jitter_first_connect = jitter_first_connect
        self._handlers: dict[str, tuple[int, Handler]] = {}
        self._lock = threading.Lock()
        self._clients: dict[BrokerUrl, mqtt.Client] = {}
        self._client: mqtt.Client | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._refused = False
        self.connected = threading.Event()
        self.broker: BrokerUrl | None = None

    # --- subscriptions and publishing -----------------------------------------------------

    def subscribe(self, topic_filter: str, handler: Handler, qos: int = 1) -> None:
        """Deliver messages matching `topic_filter` to `handler` (called on paho's thread)."""
        with self._lock:
            self._handlers[topic_filter] = (qos, handler)
            client = self._client
        if client is not None and self.connected.is_set():
            client.subscribe(topic_filter, qos)

    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> PublishTicket:
        """Queue a message. QoS 1 messages queued while offline go out on reconnect."""
        with self._lock:
            client = self._client
        if client is None:
            return PublishTicket(None)
        info = client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            log.warning("publish to %s refused locally: %s", topic, mqtt.error_string(info.rc))
        return PublishTicket(info)

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("MqttLink already started")
        # Create the first client now so publishes before the first connect are queued.
        self._client = self._client_for(self._settings.brokers[0])
        self._thread = threading.Thread(
            target=self._run, name=f"mqtt-{self.client_id}", daemon=True
        )
        self._thread.start()

    def stop(self, last_words: tuple[str, bytes] | None = None, timeout_s: float = 5.0) -> None:
        """Publish `last_words` (retained) if connected, then disconnect cleanly."""
        self._stopping.set()
        with self._lock:
            client = self._client
        if client is not None:
            if last_words is not None and self.connected.is_set():
                topic, payload = last_words
                PublishTicket(client.publish(topic, payload, qos=1, retain=True)).wait(timeout_s)
            client.disconnect()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        self.connected.clear()

    # --- the connection loop ---------------------------------------------------------------

    def _run(self) -> None:
        attempt = 0
        index = 0
        brokers = self._settings.brokers
        jitter_s = self._settings.connect_jitter_s if self._jitter_first_connect else 0
        if jitter_s > 0 and self._stopping.wait(self._rng.uniform(0, jitter_s)):
            return
        while not self._stopping.is_set():
            broker = brokers[index % len(brokers)]
            client = self._client_for(broker)
            with self._lock:
                self._client = client
            self._refused = False
            if self._will is not None:
                topic, payload = self._will()
                client.will_set(topic, payload, qos=1, retain=True)
            try:
                client.connect(broker.host, broker.port, keepalive=self._settings.keepalive_s)
            except (OSError, ssl.SSLError, ValueError) as error:
                log.info("cannot reach %s: %s", broker, error)
            else:
                client.loop_forever(retry_first_connection=False)
            was_connected = self.connected.is_set()
            self.connected.clear()
            if was_connected and self._on_disconnect is not None:
                self._on_disconnect()
            if self._stopping.is_set():
                break
            if was_connected:
                attempt = 0  # a working connection that dropped starts the backoff afresh
            index += 1
            delay = (
                self._backoff.cap_s if self._refused else self._backoff.delay(attempt, self._rng)
            )
            attempt += 1
            log.debug("reconnecting in %.1fs (attempt %d)", delay, attempt)
            self._stopping.wait(delay)

    def _client_for(self, broker: BrokerUrl) -> mqtt.Client:
        with self._lock:
            existing = self._clients.get(broker)
            if existing is not None:
                return existing
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=True,
            reconnect_on_failure=False,
        )
        client.enable_logger(logging.getLogger(f"{__name__}.paho"))
        client.max_inflight_messages_set(100)
        if self._settings.username:
            client.username_pw_set(self._settings.username, self._settings.password)
        if broker.tls:
            client.tls_set(
                ca_certs=str(self._settings.ca_file) if self._settings.ca_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        with self._lock:
            self._clients[broker] = client
        return client

    def _handle_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: object,
    ) -> None:
        if reason_code.is_failure:
            # Bad credentials or not authorised: retrying at full speed only hammers the broker.
            self._refused = True
            log.error("broker refused %s: %s; retrying slowly", self.client_id, reason_code)
            client.disconnect()
            return
        with self._lock:
            filters = [(topic, qos) for topic, (qos, _) in self._handlers.items()]
        if filters:
            client.subscribe(filters)
        self.broker = next((b for b, c in self._clients.items() if c is client), None)
        log.info("%s connected to %s", self.client_id, self.broker)
        self.connected.set()
        if self._on_connect is not None:
            try:
                self._on_connect()
            except Exception:
                log.exception("on_connect handler failed")

    def _handle_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: object,
    ) -> None:
        if self._stopping.is_set():
            log.info("%s disconnected", self.client_id)
        elif self.connected.is_set():
            log.warning("%s lost its connection: %s", self.client_id, reason_code)
        self.connected.clear()

    def _handle_message(
        self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage
    ) -> None:
        with self._lock:
            handlers = [
                handler
                for topic_filter, (_, handler) in self._handlers.items()
                if mqtt.topic_matches_sub(subscription_filter(topic_filter), message.topic)
            ]
        for handler in handlers:
            try:
                handler(message.topic, bytes(message.payload))
            except Exception:
                log.exception("handler for %s failed on %r", message.topic, message.payload[:200])


def subscription_filter(topic_filter: str) -> str:
    """The plain filter behind a `$share/group/...` subscription, for matching topics."""
    if topic_filter.startswith("$share/"):
        return topic_filter.split("/", 2)[2]
    return topic_filter
