"""End-to-end ingest throughput: simulated devices -> Mosquitto -> ingest -> SQLite -> acks.

    .venv/bin/python bench/ingest.py [--devices 20] [--batches 5] [--events-per-batch 5000]
                                     [--window 2] [--ingest-processes N]

Starts its own Mosquitto (fleet-sized queue limits) on a free port, then in one run:
1. `ingest_broker_only_events_per_s`: the same messages to a subscriber that stores
   nothing (the broker and paho alone);
2. `ingest_events_per_s`: from the first publish until every device holds an ack for
   its last event, through `digital-spaces ingest` processes with the SQLite store.
Devices keep at most `--window` unacknowledged batches in flight, as the outbox does.
Events are proof-of-play (80%) and portal events (20%), built as the outbox builds
them; `ingest_lost` and `ingest_duplicates` compare the store with what was generated.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from central_cms.analytics.sqlite_store import SqliteStore  # noqa: E402
from devices.broker import mosquitto_conf  # noqa: E402
from devices.outbox import time_ordered_uuid  # noqa: E402
from devices.protocol import (  # noqa: E402
    Channel,
    EventBatch,
    EventType,
    all_devices,
    device_topic,
    parse,
)
from tests.brokers import free_port, start_mosquitto  # noqa: E402

T0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


def event_body(seq: int, at: datetime) -> str:
    at_text = at.isoformat()
    ident = time_ordered_uuid(int(at.timestamp() * 1000))
    kind = seq % 10
    visitor = uuid.UUID(int=seq % 5000).hex[:16]
    if kind < 8:
        data = {
            "item_id": f"item-{seq % 40}",
            "campaign_id": f"campaign-{seq % 12}",
            "started_at": (at - timedelta(seconds=10)).isoformat(),
            "ended_at": at_text,
            "shown_s": 10.0,
            "scheduled_s": 10.0,
            "outcome": "completed",
        }
        event_type = EventType.PLAY
    elif kind == 8:
        data = {
            "client_hash": visitor,
            "visitor_hash": visitor,
            "terms_version": "2026-01",
            "language": "en",
        }
        event_type = EventType.TERMS_ACCEPTED
    else:
        data = {"client_hash": visitor, "item_id": f"promo-{seq % 7}", "campaign_id": "holidays"}
        event_type = EventType.PROMO_CLICKED if seq % 20 == 9 else EventType.PROMO_SHOWN
    return json.dumps(
        {"id": ident, "seq": seq, "at": at_text, "type": event_type, "data": data},
        separators=(",", ":"),
    )


def build_batches(devices: list[str], batches: int, per_batch: int) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {}
    for device_id in devices:
        epoch = uuid.uuid4().hex
        payloads = []
        for b in range(batches):
            bodies = ",".join(
                event_body(seq, T0 + timedelta(seconds=seq))
                for seq in range(b * per_batch + 1, (b + 1) * per_batch + 1)
            )
            payloads.append(
                (
                    f'{{"schema":"ds.events/1","device_id":"{device_id}",'
                    f'"outbox_epoch":"{epoch}","dropped_total":0,"events":[{bodies}]}}'
                ).encode()
            )
        out[device_id] = payloads
    parse(EventBatch, out[devices[0]][0])  # what we send is valid by the contract
    return out


def client(name: str, port: int) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name)
    c.max_inflight_messages_set(1000)
    c.connect("127.0.0.1", port, keepalive=60)
    c.loop_start()
    return c


class Fleet:
    """Publishes each device's batches, at most `window` unacknowledged at a time."""

    def __init__(self, port: int, payloads: dict[str, list[bytes]], window: int, per_batch: int):
        self.payloads = payloads
        self.window = window
        self.per_batch = per_batch
        self.acked = dict.fromkeys(payloads, 0)  # events acknowledged per device
        self.sent = dict.fromkeys(payloads, 0)  # batches sent per device
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.publishers = [client(f"bench-pub-{i}-{uuid.uuid4().hex[:6]}", port) for i in range(4)]
        self.acks = client(f"bench-acks-{uuid.uuid4().hex[:6]}", port)
        subscribed = threading.Event()
        self.acks.on_subscribe = lambda *a: subscribed.set()
        self.acks.on_message = self._on_ack
        self.acks.subscribe(all_devices(Channel.EVENTS_ACK), qos=1)
        subscribed.wait(10)

    def _send(self, device_id: str) -> None:
        # called with the lock held
        index = self.sent[device_id]
        publisher = self.publishers[hash(device_id) % len(self.publishers)]
        publisher.publish(
            device_topic(device_id, Channel.EVENTS), self.payloads[device_id][index], qos=1
        )
        self.sent[device_id] = index + 1

    def start(self) -> None:
        with self.lock:
            for device_id in self.payloads:
                for _ in range(min(self.window, len(self.payloads[device_id]))):
                    self._send(device_id)

    def _on_ack(self, c, userdata, message) -> None:
        ack = json.loads(message.payload)
        device_id = ack["device_id"]
        with self.lock:
            self.acked[device_id] = max(self.acked[device_id], ack["up_to_seq"])
            total = len(self.payloads[device_id])
            acked_batches = self.acked[device_id] // self.per_batch
            while (
                self.sent[device_id] < total and self.sent[device_id] - acked_batches < self.window
            ):
                self._send(device_id)
            if all(self.acked[d] == len(p) * self.per_batch for d, p in self.payloads.items()):
                self.done.set()

    def close(self) -> None:
        for c in [*self.publishers, self.acks]:
            c.loop_stop()
            c.disconnect()


def broker_only(port: int, payloads: dict[str, list[bytes]], per_batch: int) -> float:
    """Publish every batch to a subscriber that stores nothing; events per second."""
    total = sum(len(p) for p in payloads.values())
    received = 0
    done = threading.Event()
    subscribed = threading.Event()

    def on_message(c, userdata, message) -> None:
        nonlocal received
        received += 1
        if received == total:
            done.set()

    sink = client(f"bench-sink-{uuid.uuid4().hex[:6]}", port)
    sink.on_subscribe = lambda *a: subscribed.set()
    sink.on_message = on_message
    sink.subscribe(all_devices(Channel.EVENTS), qos=1)
    subscribed.wait(10)
    publishers = [client(f"bench-pub-{i}-{uuid.uuid4().hex[:6]}", port) for i in range(4)]
    started = time.perf_counter()
    for device_id, batches in payloads.items():
        publisher = publishers[hash(device_id) % len(publishers)]
        for payload in batches:
            publisher.publish(device_topic(device_id, Channel.EVENTS), payload, qos=1)
    done.wait(600)
    elapsed = time.perf_counter() - started
    for c in [*publishers, sink]:
        c.loop_stop()
        c.disconnect()
    return received * per_batch / elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--events-per-batch", type=int, default=5000)
    parser.add_argument("--window", type=int, default=2)
    # One per core by default, as a deployment would run them (a shared subscription
    # splits the fleet's events between them; see central_cms/ingest.py).
    parser.add_argument("--ingest-processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--synchronous", default="FULL")
    options = parser.parse_args()
    per_batch = options.events_per_batch
    devices = [f"bench-sig-{i:03d}" for i in range(options.devices)]
    payloads = build_batches(devices, options.batches, per_batch)
    generated = options.devices * options.batches * per_batch
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        folder = Path(tmp)
        port = free_port()
        broker = start_mosquitto(
            folder / "mosquitto",
            mosquitto_conf(port=port, fleet_size=10_000, allow_anonymous=True),
            port,
        )
        workers: list[subprocess.Popen[str]] = []
        try:
            print(f"broker_only_events_received_of={generated}", flush=True)
            print(f"ingest_broker_only_events_per_s={broker_only(port, payloads, per_batch):.0f}")
            db = folder / "analytics.sqlite3"
            for i in range(options.ingest_processes):
                workers.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "digital_spaces",
                            "--log-level",
                            "WARNING",
                            "ingest",
                            "--store",
                            f"sqlite:///{db}",
                            "--broker",
                            f"mqtt://127.0.0.1:{port}",
                            "--client-id",
                            f"bench-ingest-{i}",
                            "--group",
                            "bench",
                        ],
                        cwd=ROOT,
                        stdout=subprocess.PIPE,
                        text=True,
                    )
                )
            wait_for_subscribers(port, options.ingest_processes)
            fleet = Fleet(port, payloads, options.window, per_batch)
            started = time.perf_counter()
            fleet.start()
            finished = fleet.done.wait(1800)
            elapsed = time.perf_counter() - started
            fleet.close()
            for worker in workers:
                os.kill(worker.pid, signal.SIGTERM)
            for worker in workers:
                out, _ = worker.communicate(timeout=60)
                print(f"# {out.strip()}")
            # Read back from the raw batches the store keeps, event by event.
            store = SqliteStore(db)
            ids = [event_id for *_, event_id in store.event_keys()]
            store.close()
            stored, distinct = len(ids), len(set(ids))
            acked = sum(fleet.acked.values())
            print(f"ingest_events={generated}")
            print(f"ingest_acked_events={acked}")
            print(f"ingest_finished={int(finished)}")
            print(f"ingest_seconds={elapsed:.2f}")
            print(f"ingest_events_per_s={acked / elapsed:.0f}")
            # every generated event has its own id: stored ids short of that are lost,
            # rows beyond the distinct ids are events counted twice
            print(f"ingest_lost={generated - distinct}")
            print(f"ingest_duplicates={stored - distinct}")
            print(f"ingest_processes={options.ingest_processes}")
        finally:
            for worker in workers:
                if worker.poll() is None:
                    os.kill(worker.pid, signal.SIGKILL)
            broker.stop()
    return 0


def wait_for_subscribers(port: int, count: int) -> None:
    """Until `count` ingest processes hold the shared subscription: probe with a
    throwaway message per process (a subscription is visible only by its effect)."""
    probe = client(f"bench-probe-{uuid.uuid4().hex[:6]}", port)
    # An invalid message on a device topic is counted and dropped by whichever ingest
    # gets it; we cannot observe that from here, so wait for their CONNECT instead.
    deadline = time.monotonic() + 30
    seen = threading.Event()
    probe.on_message = lambda c, u, m: seen.set() if int(m.payload or 0) >= count else None
    probe.subscribe("$SYS/broker/clients/connected", qos=0)
    while time.monotonic() < deadline and not seen.wait(0.5):
        pass
    probe.loop_stop()
    probe.disconnect()
    time.sleep(0.5)  # bench only: let the new clients finish SUBSCRIBE after CONNECT


if __name__ == "__main__":
    sys.exit(main())
