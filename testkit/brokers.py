"""Dedicated Mosquitto brokers for tests and benches (own port, own config, stopped by
PID), paho clients on them, and watching or clearing retained messages."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

# The demo starts its broker the same way: one definition of these serves both.
from digital_spaces.demo.broker import free_port, wait_until_listening

__all__ = [
    "RetainedWatcher",
    "RunningBroker",
    "clear_retained",
    "free_port",
    "paho_client",
    "start_mosquitto",
]

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


# --- retained messages on a broker ---------------------------------------------------


class RetainedWatcher:
    """Subscribes to manifest topics on the real Mosquitto and keeps the latest payload
    of each; `wait_for(predicate)` blocks (bounded) until it holds."""

    def __init__(self, topic_filter: str, port: int = 1883) -> None:
        self.latest: dict[str, bytes] = {}
        self._changed = threading.Condition()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"watch-{secrets.token_hex(4)}"
        )
        subscribed = threading.Event()
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *a: subscribed.set()
        self._client.on_connect = lambda c, *a: c.subscribe(topic_filter, qos=1)
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        assert subscribed.wait(10), "could not subscribe on the broker"

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        with self._changed:
            self.latest[message.topic] = bytes(message.payload)
            self._changed.notify_all()

    def wait_for(
        self, predicate: Callable[[dict[str, bytes]], bool], timeout_s: float = 10
    ) -> bool:
        with self._changed:
            return bool(self._changed.wait_for(lambda: predicate(self.latest), timeout_s))

    def stop(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def clear_retained(topics: Iterable[str], port: int = 1883) -> None:
    """Publish empty retained payloads so the shared broker keeps nothing of ours."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"clear-{secrets.token_hex(4)}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(t, b"", qos=1, retain=True) for t in topics]
    for info in infos:
        info.wait_for_publish(5)
    client.loop_stop()
    client.disconnect()
