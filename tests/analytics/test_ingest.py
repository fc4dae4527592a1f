from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from central_cms.analytics.model import DeviceInfo
from central_cms.ingest import Ingest, IngestSettings
from devices.protocol import (
    Channel,
    DeviceKind,
    DeviceState,
    EventAck,
    Health,
    NowShowing,
    Status,
    Throttling,
    device_topic,
    parse,
)
from tests.analytics.events import plays
from tests.analytics.sim import T0, SimDevice, mqtt_settings
from tests.brokers import paho_client

ROOT = Path(__file__).resolve().parents[2]


def start_ingest(store, port, client_id, group):
    ingest = Ingest(
        store,
        store,
        IngestSettings(mqtt=mqtt_settings(port), client_id=client_id, shared_group=group),
    )
    ingest.start()
    assert ingest.link.connected.wait(10)
    return ingest


def devices(n, port, folder, unique, **kw):
    return [SimDevice(f"sig-{unique}-{i:02d}", port, folder, **kw).start() for i in range(n)]


def assert_stored_exactly_once(store, fleet, per_device):
    keys = store.event_keys()
    assert len(keys) == len(fleet) * per_device
    assert len({k[3] for k in keys}) == len(keys)  # no event id twice
    for device in fleet:
        mine = [k[2] for k in keys if k[0] == device.device_id]
        assert mine == list(range(1, per_device + 1))
        assert store.watermark(device.device_id, device.outbox.epoch) == per_device
        assert device.outbox.pending == 0  # acknowledged, so the device deleted them


def test_events_published_while_the_ingest_is_stopped_are_stored_once_and_acknowledged(
    broker, store, tmp_path, unique
):
    fleet = devices(3, broker.port, tmp_path, unique)
    try:
        for device in fleet:
            device.record(1200)  # published now, with nobody subscribed: lost at the broker
        ingest = start_ingest(store, broker.port, f"ingest-{unique}", f"g{unique}")
        try:
            for device in fleet:
                assert device.drained.wait(60), device.device_id
        finally:
            ingest.stop()
        assert_stored_exactly_once(store, fleet, 1200)
        assert ingest.stats.events_stored == 3600
    finally:
        for device in fleet:
            device.stop()


def test_a_broker_restart_in_flight_loses_and_doubles_nothing(broker, store, tmp_path, unique):
    ingest = start_ingest(store, broker.port, f"ingest-{unique}", f"g{unique}")
    fleet = devices(3, broker.port, tmp_path, unique)
    try:
        for device in fleet:
            device.record(1000)
        broker.restart()  # batches and acks in flight are lost; devices record meanwhile
        for device in fleet:
            device.record(1000)
        for device in fleet:
            assert device.drained.wait(90), device.device_id
        assert_stored_exactly_once(store, fleet, 2000)
    finally:
        for device in fleet:
            device.stop()
        ingest.stop()


class IngestProcess:
    def __init__(self, db: Path, port: int, client_id: str, group: str) -> None:
        self.connected = threading.Event()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "digital_spaces",
                "ingest",
                "--store",
                f"sqlite:///{db}",
                "--broker",
                f"mqtt://127.0.0.1:{port}",
                "--client-id",
                client_id,
                "--group",
                group,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.log: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)
            if " connected to " in line:
                self.connected.set()

    def stop(self) -> dict[str, int]:
        os.kill(self.process.pid, signal.SIGTERM)
        out, _ = self.process.communicate(timeout=30)
        summary = next(line for line in out.splitlines() if line.startswith("ingest_summary"))
        return {
            k: int(v)
            for k, v in (part.split("=") for part in summary.split()[1:])
            if k != "client_id"
        }


def test_two_ingest_processes_sharing_a_subscription_store_every_event_once(
    broker, store, tmp_path, unique
):
    db = tmp_path / "analytics.sqlite3"
    group = f"g{unique}"
    workers = [IngestProcess(db, broker.port, f"ingest-{unique}-{i}", group) for i in range(2)]
    fleet = []
    try:
        for worker in workers:
            assert worker.connected.wait(30), "".join(worker.log)
        fleet = devices(6, broker.port, tmp_path, unique, batch_events=100)
        for device in fleet:
            device.record(1000)
        for device in fleet:
            assert device.drained.wait(90), device.device_id
    finally:
        for device in fleet:
            device.stop()
        summaries = [worker.stop() for worker in workers]
    assert_stored_exactly_once(store, fleet, 1000)
    # both processes took a share, and between them stored each event once
    assert all(s["events_stored"] > 0 for s in summaries), summaries
    assert sum(s["events_stored"] for s in summaries) == 6000


@pytest.fixture
def ingest(broker, store, unique):
    running = start_ingest(store, broker.port, f"ingest-{unique}", f"g{unique}")
    yield running
    running.stop()


class Acks:
    def __init__(self, port: int, device_id: str, unique: str) -> None:
        self.values: list[int] = []
        self.changed = threading.Condition()
        self.client = paho_client(f"dev-{unique}", port)
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_message = self._on_message
        self.client.subscribe(device_topic(device_id, Channel.EVENTS_ACK), qos=1)
        assert subscribed.wait(10)

    def _on_message(self, client, userdata, message):
        with self.changed:
            self.values.append(parse(EventAck, message.payload).up_to_seq)
            self.changed.notify_all()

    def wait_count(self, n: int) -> list[int]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.values) >= n, 20), self.values
            return list(self.values)

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)


def test_the_ack_never_passes_a_batch_that_was_lost_until_it_is_sent_again(
    broker, ingest, store, unique
):
    device_id = f"sig-{unique}"
    acks = Acks(broker.port, device_id, unique)
    topic = device_topic(device_id, Channel.EVENTS)
    acks.publish(topic, plays(device_id, range(1, 11), T0).encode())
    assert acks.wait_count(1) == [10]
    acks.publish(topic, plays(device_id, range(21, 31), T0).encode())  # 11-20 "lost"
    assert acks.wait_count(2) == [10, 10]
    acks.publish(topic, plays(device_id, range(11, 21), T0).encode())
    assert acks.wait_count(3) == [10, 10, 30]
    acks.publish(topic, plays(device_id, range(1, 31), T0).encode())  # a late re-send
    assert acks.wait_count(4) == [10, 10, 30, 30]
    assert store.count_events() == 30
    assert ingest.stats.duplicates == 30


def test_bad_messages_are_counted_and_logged_and_the_ingest_keeps_storing(
    broker, ingest, store, unique, caplog
):
    device_id = f"sig-{unique}"
    acks = Acks(broker.port, device_id, unique)
    topic = device_topic(device_id, Channel.EVENTS)
    caplog.set_level(logging.WARNING, logger="central_cms.ingest")
    acks.publish(topic, b"{not json")
    acks.publish(topic, plays("sig-someone-else", range(1, 3), T0).encode())
    acks.publish(topic, b'{"schema":"ds.events/1","device_id":"' + device_id.encode() + b'"}')
    acks.publish(device_topic(device_id, Channel.HEALTH), b'{"schema":"ds.health/1"}')
    acks.publish(topic, plays(device_id, range(1, 4), T0).encode())
    assert acks.wait_count(1) == [3]
    assert ingest.stats.wait_for(lambda s: sum(s.invalid.values()) == 4, 10), ingest.stats
    assert store.count_events() == 3
    assert any("speak for itself" in reason for reason in ingest.stats.invalid)
    rejected = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
    assert len(rejected) == 4 and all(device_id in line for line in rejected)


def test_status_health_and_last_will_reach_the_fleet_store(broker, ingest, store, unique):
    device_id = f"sig-{unique}"
    store.register_devices([DeviceInfo(device_id, "riverton-lib", "signage", "Australia/Perth")])
    now = datetime.now(UTC)
    status = Status(
        device_id=device_id,
        kind=DeviceKind.SIGNAGE,
        state=DeviceState.ONLINE,
        software_version="1.4.0",
        manifest_version=7,
        now_showing=NowShowing(item_id="swim-1", campaign_id="swim-school", since=now),
        at=now,
    )
    offline = status.model_copy(update={"state": DeviceState.OFFLINE, "now_showing": None})
    health = Health(
        device_id=device_id,
        at=now,
        uptime_s=100,
        cpu_percent=12,
        load_1m=0.3,
        memory_used_percent=40,
        memory_available_bytes=500_000_000,
        disk_used_percent=91,
        disk_free_bytes=1_000_000_000,
        net_bytes_sent=1,
        net_bytes_recv=2,
        temperature_c=71.5,
        throttling=Throttling(raw=0x50005, flags=("under-voltage", "throttled")),
    )
    device = paho_client(f"dev-{unique}", broker.port)
    device.will_set(device_topic(device_id, Channel.STATUS), offline.encode(), qos=1, retain=True)
    connected = threading.Event()
    device.on_connect = lambda *a: connected.set()
    device.reconnect()  # again, now with the will set
    assert connected.wait(10)
    device.publish(device_topic(device_id, Channel.STATUS), status.encode(), qos=1, retain=True)
    device.publish(device_topic(device_id, Channel.HEALTH), health.encode(), qos=0)
    assert ingest.stats.wait_for(lambda s: s.messages >= 2, 10)
    (snapshot,) = [s for s in store.fleet() if s.device_id == device_id]
    assert snapshot.status.state is DeviceState.ONLINE
    assert snapshot.health.temperature_c == 71.5
    assert snapshot.info.site_id == "riverton-lib"
    assert store.health_history(device_id, now - timedelta(minutes=1)) == [health]
    # the device dies without a clean disconnect: the broker publishes its last will
    device._sock_close()
    device.loop_stop()
    assert ingest.stats.wait_for(lambda s: s.messages >= 3, 20)
    (snapshot,) = [s for s in store.fleet() if s.device_id == device_id]
    assert snapshot.status.state is DeviceState.OFFLINE
