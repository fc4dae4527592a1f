"""Test doubles and observers for device tests. The broker is always real."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from devices.config import DeviceConfig, device_config_toml, load_device_config
from devices.device_kind import AgentServices, CommandOutcome
from devices.protocol import Alert, Command, DeviceKind, Manifest, NowShowing, SigningKey

_ids = itertools.count(1)


def unique_id(prefix: str) -> str:
    return f"{prefix}-{int(time.time() * 1000) % 10**8}-{next(_ids)}"


class RecordingApp:
    """A device kind that only remembers what the agent handed it."""

    def __init__(self) -> None:
        self.manifests: list[Manifest] = []
        self.alerts: list[Sequence[Alert]] = []
        self.commands: list[Command] = []
        self.services: AgentServices | None = None
        self.changed = threading.Condition()
        self.stopped = False

    def start(self, services: AgentServices) -> None:
        self.services = services

    def apply_manifest(self, manifest: Manifest) -> None:
        with self.changed:
            self.manifests.append(manifest)
            self.changed.notify_all()

    def apply_alerts(self, alerts: Sequence[Alert]) -> None:
        with self.changed:
            self.alerts.append(list(alerts))
            self.changed.notify_all()

    def run_command(self, command: Command) -> CommandOutcome:
        with self.changed:
            self.commands.append(command)
            self.changed.notify_all()
        return CommandOutcome(ok=True, detail=f"did {command.name.value}", data={"n": 1})

    def now_showing(self) -> NowShowing | None:
        return None

    def stop(self) -> None:
        self.stopped = True

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 10) -> bool:
        with self.changed:
            return self.changed.wait_for(predicate, timeout_s)

    @property
    def versions(self) -> list[int]:
        return [m.version for m in self.manifests]


def write_device_config(
    folder: Path,
    device_id: str,
    *,
    port: int,
    keys: Sequence[SigningKey],
    username: str | None = None,
    password: str = "unused",
    kind: DeviceKind = DeviceKind.SIGNAGE,
    extra: str = "",
) -> Path:
    text = device_config_toml(
        device_id=device_id,
        kind=kind,
        brokers=[f"mqtt://127.0.0.1:{port}"],
        username=username or device_id,
        password=password,
        public_keys=[key.public_key.to_text() for key in keys],
        asset_token="test-token",
        data_dir=str(folder / "data"),
        extra=extra
        or "[intervals]\nhealth_s = 3600\noutbox_resend_s = 2\n"
        "[budgets]\ncache_mb = 64\noutbox_mb = 8\n",
    )
    # Tests connect at once: no fleet jitter.
    text = text.replace("[mqtt]\n", "[mqtt]\nconnect_jitter_s = 0\n", 1)
    path = folder / f"{device_id}.toml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def device_config(folder: Path, device_id: str, **kwargs: object) -> DeviceConfig:
    return load_device_config(write_device_config(folder, device_id, **kwargs))  # type: ignore[arg-type]


@dataclass
class Observer:
    """A real MQTT client that records what arrives, for assertions with bounded waits."""

    port: int
    topics: Sequence[str]
    username: str | None = None
    password: str | None = None
    messages: list[tuple[str, bytes, bool]] = field(default_factory=list)
    connect_timeout_s: float = 10

    def __post_init__(self) -> None:
        self._changed = threading.Condition()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=unique_id("observer"))
        if self.username:
            self.client.username_pw_set(self.username, self.password)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *args: self._subscribed.set()

        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        if not self._subscribed.wait(self.connect_timeout_s):
            raise TimeoutError("observer could not subscribe")

    def _on_connect(self, client: mqtt.Client, *args: object) -> None:
        if self.topics:
            client.subscribe([(topic, 1) for topic in self.topics])
        else:
            self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        with self._changed:
            self.messages.append((message.topic, bytes(message.payload), bool(message.retain)))
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 10) -> bool:
        with self._changed:
            return self._changed.wait_for(predicate, timeout_s)

    def payloads(self, topic: str) -> list[bytes]:
        with self._changed:
            return [payload for t, payload, _ in self.messages if t == topic]

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class AssetServer:
    """A real HTTP server on 127.0.0.1 serving assets by sha256 to holders of the token."""

    def __init__(self, token: str = "test-token") -> None:
        import hashlib
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        files, requests, sha = self.files, self.requests, hashlib.sha256

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requests.append(self.path)
                if self.headers.get("Authorization") != f"Bearer {token}":
                    self.send_error(401)
                    return
                body = files.get(self.path.rsplit("/", 1)[-1])
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._sha = sha
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def add(self, data: bytes, *, serve: bytes | None = None) -> str:
        """Serve `serve` (default `data`) under the sha256 of `data`; returns the URL."""
        digest = self._sha(data).hexdigest()
        self.files[digest] = data if serve is None else serve
        return f"http://127.0.0.1:{self.port}/assets/{digest}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class AckingConsumer:
    """A test stand-in for the ingest that acknowledges exactly as DESIGN.md says:
    the highest seq up to which every event of the device's epoch is stored."""

    def __init__(self, port: int, username: str | None = None, password: str | None = None) -> None:
        from devices.protocol.acks import AckWatermark

        self.stored: dict[str, tuple[str, int]] = {}  # event id -> (device, seq)
        self.received = 0
        self.duplicates = 0
        self.gaps_seen = 0
        self.watermarks: dict[tuple[str, str], AckWatermark] = {}
        self._new_watermark = AckWatermark
        self.observer = Observer(
            port, ["ds/v1/devices/+/events"], username=username, password=password
        )
        self.observer.client.on_message = self._on_message

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        from devices.protocol import EventAck, EventBatch, parse, parse_topic

        batch = parse(EventBatch, bytes(message.payload))
        assert parse_topic(message.topic).device_id == batch.device_id  # type: ignore[union-attr]
        key = (batch.device_id, batch.outbox_epoch)
        with self.observer._changed:
            watermark = self.watermarks.setdefault(key, self._new_watermark())
            if batch.events[0].seq > watermark.up_to_seq + 1:
                self.gaps_seen += 1
            for event in batch.events:
                self.received += 1
                if event.id in self.stored:
                    self.duplicates += 1
                else:
                    self.stored[event.id] = (batch.device_id, event.seq)
            up_to = watermark.add(event.seq for event in batch.events)
            self.observer._changed.notify_all()
        ack = EventAck(device_id=batch.device_id, outbox_epoch=batch.outbox_epoch, up_to_seq=up_to)
        client.publish(f"ds/v1/devices/{batch.device_id}/events/ack", ack.encode(), qos=1)

    def acked(self, device_id: str) -> int:
        return max(
            (w.up_to_seq for (device, _), w in self.watermarks.items() if device == device_id),
            default=0,
        )

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 30) -> bool:
        return self.observer.wait_for(predicate, timeout_s)

    def seqs(self, device_id: str) -> list[int]:
        return sorted(seq for device, seq in self.stored.values() if device == device_id)

    def close(self) -> None:
        self.observer.close()


def eventually(predicate: Callable[[], bool], timeout_s: float = 10, every_s: float = 0.05) -> bool:
    """Poll a condition that no event announces (a file another process writes)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(every_s)
