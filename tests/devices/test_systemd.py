"""The agent tells systemd it is ready and keeps feeding the watchdog while its loop runs."""

from __future__ import annotations

import os
import socket

from devices.agent import DeviceAgent, RecordingSystem
from devices.protocol import SigningKey
from devices.systemd import notify, watchdog_interval_s
from testkit.harness import RecordingApp, device_config, unique_id


def test_no_notify_socket_means_not_under_systemd():
    assert notify("READY=1", environ={}) is False
    assert watchdog_interval_s({}) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000"}) == 15
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None


def test_agent_reports_ready_then_feeds_the_watchdog(tmp_path, monkeypatch):
    path = tmp_path / "notify.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(path))
    listener.settimeout(10)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # ping every 0.1 s
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    config = device_config(tmp_path, unique_id("sig"), port=1883, keys=[SigningKey.generate()])
    agent = DeviceAgent(config, RecordingApp(), system=RecordingSystem())
    agent.start()
    try:
        messages = [listener.recv(64) for _ in range(4)]
    finally:
        agent.stop()
        listener.close()
    assert messages[0] == b"READY=1"
    assert messages[1:] == [b"WATCHDOG=1"] * 3
