"""Fan-out: N devices each receive their own signed manifest from the CMS.

Prints:
  fanout_devices=N
  fanout_raw_s=...                  same N payloads, same sizes, no signing or checks
  fanout_publish_to_verified_s=...  first publish to the last device's verified manifest
  fanout_ratio=...                  verified / raw
  verify_ms_mean=...                Ed25519 verify + strict parse per manifest

Each simulated device is a real MQTT connection (a paho client without its own thread;
one selector loop drives them all, so the bench measures the broker and our layer, not
a thousand Python threads). Runs against its own Mosquitto with the generated
configuration on a free port. Connecting is not timed.

    .venv/bin/python bench/fanout.py [--devices 1000]
"""

from __future__ import annotations

import argparse
import resource
import selectors
import socket
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devices.broker import mosquitto_conf
from devices.protocol import (
    Channel,
    ContentItem,
    ItemKind,
    Manifest,
    Schedule,
    SigningKey,
    TimeWindow,
    Weekday,
    device_topic,
    parse_signed,
    sign,
)
from tests.brokers import free_port, start_mosquitto
from tests.devices.factories import T0, asset_for, manifest


def realistic_manifest(device_id: str, version: int) -> Manifest:
    from datetime import time as tod

    assets = tuple(
        asset_for(f"{device_id}-{n}".encode(), url=f"https://cms.example.org/a/{n}")
        for n in range(6)
    )
    items = tuple(
        ContentItem(
            id=f"item-{n}",
            campaign_id=f"campaign-{n % 3}",
            campaign_name="Swim school enrolments open",
            kind=ItemKind.IMAGE,
            asset=assets[n].sha256,
            duration_s=10,
            weight=1 + n % 3,
            priority=50,
            schedules=(
                Schedule(
                    starts_on=T0.date(),
                    ends_on=(T0 + timedelta(days=13)).date(),
                    days=(Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI),
                    windows=(TimeWindow(start=tod(7), end=tod(12)),),
                ),
            ),
        )
        for n in range(6)
    )
    return manifest(device_id, version=version, assets=assets, items=items)


def _socket(client: mqtt.Client) -> socket.socket:
    sock = client.socket()
    assert isinstance(sock, socket.socket)
    return sock


class Fleet:
    """N paho clients driven by one selector loop."""

    def __init__(self, port: int, count: int, on_message) -> None:
        self.selector = selectors.DefaultSelector()
        self.clients: list[mqtt.Client] = []
        self.port = port
        self.count = count
        self.on_message = on_message
        self.subscribed = 0

    def connect_all(self, topic_of, chunk: int = 100) -> None:
        for start in range(0, self.count, chunk):
            batch = []
            for index in range(start, min(self.count, start + chunk)):
                client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-dev-{index}")
                client.user_data_set(index)
                client.on_connect = lambda c, index, *a: c.subscribe(topic_of(index), 1)
                client.on_subscribe = self._on_subscribe
                client.on_message = self.on_message
                client.connect("127.0.0.1", self.port, keepalive=120)
                self.selector.register(_socket(client), selectors.EVENT_READ, client)
                self.clients.append(client)
                batch.append(client)
            target = start + len(batch)
            deadline = time.monotonic() + 30
            while self.subscribed < target:
                self.pump(0.05)
                if time.monotonic() > deadline:
                    raise TimeoutError(f"only {self.subscribed} of {target} subscribed")

    def resubscribe(self, topic_of) -> None:
        self.subscribed = 0
        for index, client in enumerate(self.clients):
            client.subscribe(topic_of(index), 1)
        deadline = time.monotonic() + 30
        while self.subscribed < self.count:
            self.pump(0.05)
            if time.monotonic() > deadline:
                raise TimeoutError("resubscribe timed out")

    def _on_subscribe(self, *args) -> None:
        self.subscribed += 1

    def pump(self, timeout: float) -> None:
        for key, _ in self.selector.select(timeout):
            key.data.loop_read()
        for client in self.clients:
            if client.want_write():
                client.loop_write()

    def close(self) -> None:
        for client in self.clients:
            client.disconnect()
            client.loop_write()


def run(devices: int) -> dict[str, float]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * devices + 256)), hard))
    key = SigningKey.generate()
    ids = [f"bench-dev-{n}" for n in range(devices)]
    payloads = [sign(realistic_manifest(device_id, 1), key) for device_id in ids]

    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        broker = start_mosquitto(Path(folder), mosquitto_conf(port=port, fleet_size=devices), port)
        try:
            received: dict[int, float] = {}
            verify_s: list[float] = []
            mode = {"verify": False}
            trusted = [key.public_key]

            def on_message(client, index, message) -> None:
                if mode["verify"]:
                    began = time.perf_counter()
                    parsed = parse_signed(Manifest, message.payload, trusted)
                    verify_s.append(time.perf_counter() - began)
                    assert parsed.device_id == ids[index]
                received[index] = time.perf_counter()

            fleet = Fleet(port, devices, on_message)
            fleet.connect_all(lambda i: f"bench/raw/{i}")
            publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-cms")
            publisher.max_inflight_messages_set(1000)
            publisher.connect("127.0.0.1", port)
            fleet.selector.register(_socket(publisher), selectors.EVENT_READ, publisher)
            fleet.clients.append(publisher)

            def publish_all(topic_of) -> float:
                received.clear()
                began = time.perf_counter()
                for index, payload in enumerate(payloads):
                    publisher.publish(topic_of(index), payload, qos=1)
                deadline = time.monotonic() + 60
                while len(received) < devices:
                    fleet.pump(0.01)
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{len(received)} of {devices} received")
                return max(received.values()) - began

            fleet.pump(0.1)
            raw_s = publish_all(lambda i: f"bench/raw/{i}")
            fleet.clients.pop()  # the publisher takes no part in resubscribing
            fleet.resubscribe(lambda i: device_topic(ids[i], Channel.MANIFEST))
            fleet.clients.append(publisher)
            mode["verify"] = True
            verified_s = publish_all(lambda i: device_topic(ids[i], Channel.MANIFEST))
            fleet.close()
        finally:
            broker.stop()
    return {
        "fanout_devices": devices,
        "fanout_payload_bytes": len(payloads[0]),
        "fanout_raw_s": raw_s,
        "fanout_publish_to_verified_s": verified_s,
        "fanout_ratio": verified_s / raw_s,
        "verify_ms_mean": 1000 * sum(verify_s) / len(verify_s),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=1000)
    options = parser.parse_args()
    for name, value in run(options.devices).items():
        print(f"{name}={value:.4f}" if isinstance(value, float) else f"{name}={value}")


if __name__ == "__main__":
    main()
