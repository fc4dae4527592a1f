"""A real device process killed with SIGKILL: the broker's last will, the outbox, and
commands that come back after a restart."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devices.broker import mosquitto_conf
from devices.protocol import (
    Channel,
    Command,
    CommandName,
    CommandResult,
    DeviceState,
    SigningKey,
    Status,
    device_topic,
    parse,
    sign,
)
from testkit.brokers import free_port, start_mosquitto
from testkit.harness import AckingConsumer, Observer, eventually, unique_id, write_device_config

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


def test_a_reboot_replayed_after_the_restart_it_caused_does_not_run_again(
    tmp_path, broker, processes
):
    device_id = unique_id("sig")
    key = SigningKey.generate()
    config = write_device_config(tmp_path, device_id, port=broker.port, keys=[key])
    status_topic = device_topic(device_id, Channel.STATUS)
    results_topic = device_topic(device_id, Channel.COMMAND_RESULTS)
    commands_topic = device_topic(device_id, Channel.COMMANDS)
    cms = Observer(broker.port, [status_topic, results_topic])
    now = datetime.now(UTC)

    def command(name: CommandName, command_id: str, issued_at: datetime = now) -> bytes:
        return sign(
            Command(
                id=command_id,
                device_id=device_id,
                name=name,
                issued_at=issued_at,
                expires_at=now + timedelta(minutes=10),
            ),
            key,
        )

    def states() -> list[DeviceState]:
        return [parse(Status, p).state for p in cms.payloads(status_topic) if p]

    def results() -> dict[str, CommandResult]:
        found = (parse(CommandResult, p) for p in cms.payloads(results_topic))
        return {r.command_id: r for r in found}

    try:
        first = DeviceProcess(config)
        processes.append(first)
        assert cms.wait_for(lambda: states()[-1:] == [DeviceState.ONLINE], 30)
        # Retained, so the broker hands it to every later session too, as a replay would.
        cms.publish(commands_topic, command(CommandName.REBOOT, "reboot-1"), retain=True)
        assert first.wait_for_line("rebooted")
        first.kill(signal.SIGKILL)  # the reboot itself
        assert cms.wait_for(lambda: states()[-1:] == [DeviceState.OFFLINE], 30)

        second = DeviceProcess(config)
        processes.append(second)
        assert cms.wait_for(lambda: states()[-1:] == [DeviceState.ONLINE], 30)
        # The replayed reboot arrives first; a reboot issued earlier is refused, though
        # its id is new; then a command that does run, after both.
        cms.publish(
            commands_topic, command(CommandName.REBOOT, "reboot-0", now - timedelta(seconds=1))
        )
        cms.publish(commands_topic, command(CommandName.IDENTIFY, "identify-2"))
        assert second.wait_for_line("ran identify-2")
        assert "rebooted" not in second.lines
        assert cms.wait_for(lambda: {"reboot-0", "identify-2"} <= set(results()), 30)
        assert not results()["reboot-0"].ok
        assert "not after the last reboot" in results()["reboot-0"].detail
        answers = [parse(CommandResult, p).command_id for p in cms.payloads(results_topic)]
        assert answers.count("reboot-1") <= 1  # the replay got no second answer
    finally:
        cms.publish(commands_topic, b"", retain=True)
        cms.close()
