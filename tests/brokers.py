"""Dedicated Mosquitto brokers for tests: own port, own config, stopped by PID."""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

# The demo starts its broker the same way: one definition of these serves both.
from digital_spaces.demo.broker import free_port, wait_until_listening

__all__ = ["RunningBroker", "free_port", "paho_client", "start_mosquitto"]

SYSTEM_BROKER = ("127.0.0.1", 1883)


@dataclass
class RunningBroker:
    """A Mosquitto the test started; restartable on the same port and data."""

    port: int
    conf_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self, timeout_s: float = 10) -> None:
        with open(self.conf_path.with_suffix(".log"), "ab") as log:
            self.process = subprocess.Popen(
                ["mosquitto", "-c", str(self.conf_path)], stdout=log, stderr=log
            )
        process = self.process
        wait_until_listening(self.port, timeout_s, lambda: process.poll() is None)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


def start_mosquitto(folder: Path, conf_text: str, port: int) -> RunningBroker:
    """Write `conf_text` (which must listen on `port`) and start Mosquitto with it."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0 and "\nuser " not in conf_text:
        # As root, Mosquitto drops to the `mosquitto` user, which cannot read pytest's
        # private tmp folders; a throwaway test broker may stay root.
        conf_text += "user root\n"
    conf_path = folder / "mosquitto.conf"
    conf_path.write_text(conf_text, encoding="utf-8")
    broker = RunningBroker(port=port, conf_path=conf_path)
    broker.start()
    return broker


def paho_client(
    client_id: str,
    port: int = SYSTEM_BROKER[1],
    username: str | None = None,
    password: str | None = None,
) -> mqtt.Client:
    """A connected paho client with its network loop running (tests only)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    if username:
        client.username_pw_set(username, password)
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    return client
