"""A real device process killed with SIGKILL: the broker's last will and the outbox."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from devices.broker import mosquitto_conf
from devices.protocol import Channel, DeviceState, SigningKey, Status, device_topic, parse
from tests.brokers import free_port, start_mosquitto
from tests.devices.harness import (
    AckingConsumer,
    Observer,
    eventually,
    unique_id,
    write_device_config,
)

ROOT = Path(__file__).resolve().parents[2]


class DeviceProcess:
    def __init__(self, config: Path, emit: int = 0) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.devices.device_process",
                "--config",
                str(config),
                "--emit",
                str(emit),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.strip())
                self._changed.notify_all()

    def wait_for_line(self, text: str, timeout_s: float = 30) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: text in self.lines, timeout_s)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)
        self.process.wait(timeout=10)


@pytest.fixture
def broker(tmp_path):
    port = free_port()
    running = start_mosquitto(
        tmp_path / "broker", mosquitto_conf(port=port, fleet_size=10, allow_anonymous=True), port
    )
    yield running
    running.stop()


@pytest.fixture
def processes():
    started: list[DeviceProcess] = []
    yield started
    for process in started:
        process.kill()


def test_sigkill_flips_the_retained_status_to_offline_through_the_last_will(
    tmp_path, broker, processes
):
    device_id = unique_id("sig")
    config = write_device_config(
        tmp_path, device_id, port=broker.port, keys=[SigningKey.generate()]
    )
    topic = device_topic(device_id, Channel.STATUS)
    observer = Observer(broker.port, [topic])
    try:
        device = DeviceProcess(config)
        processes.append(device)

        def last_state():
            payloads = [p for p in observer.payloads(topic) if p]
            return parse(Status, payloads[-1]).state if payloads else None

        assert observer.wait_for(lambda: last_state() is DeviceState.ONLINE)
        device.kill(signal.SIGKILL)
        assert observer.wait_for(lambda: last_state() is DeviceState.OFFLINE)
    finally:
        observer.close()

    # A dashboard connecting later still reads "offline": the will was retained.
    late = Observer(broker.port, [topic])
    try:
        assert late.wait_for(lambda: bool(late.payloads(topic)))
        assert parse(Status, late.payloads(topic)[-1]).state is DeviceState.OFFLINE
    finally:
        late.close()


def test_outbox_events_survive_sigkill_and_arrive_exactly_once_after_ack(
    tmp_path, broker, processes
):
    device_id = unique_id("sig")
    config = write_device_config(
        tmp_path, device_id, port=broker.port, keys=[SigningKey.generate()]
    )
    events_topic = device_topic(device_id, Channel.EVENTS)
    watcher = Observer(broker.port, [events_topic])
    try:
        # Nobody acknowledges yet: the device sends, then dies.
        first = DeviceProcess(config, emit=300)
        processes.append(first)
        assert first.wait_for_line("recorded 300")
        assert watcher.wait_for(lambda: bool(watcher.payloads(events_topic)))
        first.kill(signal.SIGKILL)
    finally:
        watcher.close()

    consumer = AckingConsumer(broker.port)
    try:
        second = DeviceProcess(config)
        processes.append(second)
        assert consumer.wait_for(lambda: consumer.acked(device_id) == 300), consumer.seqs(
            device_id
        )[-5:]
        assert consumer.seqs(device_id) == list(range(1, 301))  # each stored once, none missing

        # Acknowledged events leave the device's disk.
        outbox = sqlite3.connect(tmp_path / "data" / "outbox.sqlite3")
        try:
            assert eventually(
                lambda: outbox.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0
            )
        finally:
            outbox.close()
    finally:
        consumer.close()
