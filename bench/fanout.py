"""Fan-out: N devices each receive their own signed manifest from the CMS.

Prints:
  fanout_devices=N
  fanout_raw_s=...                  same N payloads, same sizes, no signing or checks
  fanout_publish_to_verified_s=...  first publish to the last device's verified manifest
  fanout_ratio=...                  verified / raw
  verify_ms_mean=...                Ed25519 verify + strict parse per manifest

Each simulated device is a real MQTT connection. On a real fleet every Pi verifies its
own manifest in parallel; here the devices are split over --processes worker processes
(default: one per core), each driving its share of paho clients from one selector loop,
so the bench measures the broker and our layer rather than a thousand Python threads.
Raw and verified runs use the same processes and connections. Runs against its own
Mosquitto with the generated configuration on a free port. Connecting is not timed.

    .venv/bin/python bench/fanout.py [--devices 1000] [--processes 2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import selectors
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from multiprocessing.connection import Connection
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
    PublicKey,
    Schedule,
    SigningKey,
    TimeWindow,
    Weekday,
    device_topic,
    parse_signed,
    sign,
)
from testkit.brokers import free_port, start_mosquitto
from testkit.messages import T0, asset_for, manifest

RAW_PREFIX = "bench/raw/"


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
    """Some of the devices: paho clients driven by one selector loop."""

    def __init__(self, port: int, device_ids: list[str], on_message: Callable[..., None]) -> None:
        self.selector = selectors.DefaultSelector()
        self.clients: list[mqtt.Client] = []
        self.port = port
        self.device_ids = device_ids
        self.on_message = on_message
        self.subscribed = 0
        # paho says when a client has bytes to send; scanning every client per pass would
        # cost O(N) per message and measure the simulation instead of the broker.
        self.writers: set[mqtt.Client] = set()

    def connect_all(self, chunk: int = 100) -> None:
        for start in range(0, len(self.device_ids), chunk):
            for device_id in self.device_ids[start : start + chunk]:
                client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id)
                client.user_data_set(device_id)
                client.on_connect = lambda c, device_id, *a: c.subscribe(
                    [(RAW_PREFIX + device_id, 1), (device_topic(device_id, Channel.MANIFEST), 1)]
                )
                client.on_subscribe = self._on_subscribe
                client.on_message = self.on_message
                client.on_socket_register_write = lambda c, u, s: self.writers.add(c)
                client.on_socket_unregister_write = lambda c, u, s: self.writers.discard(c)
                client.connect("127.0.0.1", self.port, keepalive=120)
                self.selector.register(_socket(client), selectors.EVENT_READ, client)
                self.clients.append(client)
            deadline = time.monotonic() + 30
            while self.subscribed < len(self.clients):
                self.pump(0.05)
                if time.monotonic() > deadline:
                    raise TimeoutError(f"only {self.subscribed} of {len(self.clients)} subscribed")

    def _on_subscribe(self, *args: object) -> None:
        self.subscribed += 1

    def pump(self, timeout: float) -> None:
        for key, _ in self.selector.select(timeout):
            key.data.loop_read()
        for client in list(self.writers):
            client.loop_write()

    def close(self) -> None:
        for client in self.clients:
            client.disconnect()
            client.loop_write()


def worker(port: int, device_ids: list[str], key_text: str, pipe: Connection) -> None:
    """One process of simulated devices: receives, verifies, reports the last arrival."""
    trusted = [PublicKey.from_text(key_text)]
    received: dict[str, float] = {}
    verify_s: list[float] = []

    def on_message(client: mqtt.Client, device_id: str, message: mqtt.MQTTMessage) -> None:
        if not message.topic.startswith(RAW_PREFIX):
            began = time.monotonic()
            parsed = parse_signed(Manifest, bytes(message.payload), trusted)
            verify_s.append(time.monotonic() - began)
            assert parsed.device_id == device_id
        received[device_id] = time.monotonic()

    fleet = Fleet(port, device_ids, on_message)
    fleet.connect_all()
    pipe.send("ready")
    while (command := pipe.recv()) != "stop":
        received.clear()
        verify_s.clear()
        pipe.send("armed")
        deadline = time.monotonic() + 60
        while len(received) < len(device_ids) and time.monotonic() < deadline:
            fleet.pump(0.01)
        pipe.send((command, len(received), max(received.values(), default=0.0), verify_s[:]))
    fleet.close()


def run(devices: int, processes: int) -> dict[str, float]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * devices + 256)), hard))
    key = SigningKey.generate()
    ids = [f"bench-dev-{n}" for n in range(devices)]
    payloads = [sign(realistic_manifest(device_id, 1), key) for device_id in ids]

    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        broker = start_mosquitto(
            Path(folder), mosquitto_conf(port=port, fleet_size=devices, allow_anonymous=True), port
        )
        context = multiprocessing.get_context("fork")
        pipes, workers = [], []
        try:
            for index in range(processes):
                ours, theirs = context.Pipe()
                share = ids[index::processes]
                process = context.Process(
                    target=worker, args=(port, share, key.public_key.to_text(), theirs)
                )
                process.start()
                pipes.append(ours)
                workers.append(process)
            for pipe in pipes:
                if pipe.recv() != "ready":
                    raise RuntimeError("a worker failed to connect its devices")
            publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-cms")
            publisher.max_inflight_messages_set(1000)
            publisher.connect("127.0.0.1", port)
            publisher.loop_start()

            def publish_all(
                phase: str, topic_of: Callable[[str], str]
            ) -> tuple[float, list[float]]:
                for pipe in pipes:
                    pipe.send(phase)
                for pipe in pipes:
                    assert pipe.recv() == "armed"
                began = time.monotonic()
                for device_id, payload in zip(ids, payloads, strict=True):
                    publisher.publish(topic_of(device_id), payload, qos=1)
                last, verify_s, count = 0.0, [], 0
                for pipe in pipes:
                    _, got, latest, times = pipe.recv()
                    count += got
                    last = max(last, latest)
                    verify_s += times
                if count != devices:
                    raise TimeoutError(f"{phase}: {count} of {devices} received")
                return last - began, verify_s

            raw_s, _ = publish_all("raw", lambda d: RAW_PREFIX + d)
            verified_s, verify_s = publish_all(
                "verify", lambda d: device_topic(d, Channel.MANIFEST)
            )
            publisher.loop_stop()
            publisher.disconnect()
            for pipe in pipes:
                pipe.send("stop")
            for process in workers:
                process.join(timeout=30)
        finally:
            for process in workers:
                if process.is_alive():
                    process.kill()
            broker.stop()
    return {
        "fanout_devices": devices,
        "fanout_processes": processes,
        "fanout_payload_bytes": len(payloads[0]),
        "fanout_raw_s": raw_s,
        "fanout_publish_to_verified_s": verified_s,
        "fanout_ratio": verified_s / raw_s,
        "verify_ms_mean": 1000 * sum(verify_s) / len(verify_s),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    options = parser.parse_args()
    for name, value in run(options.devices, options.processes).items():
        print(f"{name}={value:.4f}" if isinstance(value, float) else f"{name}={value}")


if __name__ == "__main__":
    main()
