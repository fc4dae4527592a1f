"""The demo's MQTT broker: the system's Mosquitto when installed (with the fleet's
generated configuration, passwords and ACL), otherwise amqtt in-process.

The in-process broker has no ACLs and listens on 127.0.0.1 only; it exists so the demo
runs on a machine with nothing but Python. Never use it for a real fleet.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from devices.broker import mosquitto_conf

log = logging.getLogger(__name__)


class DemoBroker(Protocol):
    @property
    def port(self) -> int: ...

    @property
    def description(self) -> str: ...

    def stop(self) -> None: ...


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def wait_until_listening(port: int, timeout_s: float, alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError("the broker exited while starting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)  # a port coming up announces nothing; poll it briefly
    raise TimeoutError(f"no broker listening on 127.0.0.1:{port} after {timeout_s}s")


class MosquittoBroker:
    def __init__(self, folder: Path, port: int, password_file: Path, acl_file: Path, fleet: int):
        folder.mkdir(parents=True, exist_ok=True)
        conf = mosquitto_conf(
            port=port,
            password_file=password_file,
            acl_file=acl_file,
            persistence_dir=folder,
            fleet_size=fleet,
            log_file=folder / "mosquitto.log",
        )
        if os.geteuid() == 0:
            conf += "user root\n"  # as root it would drop to a user who cannot read the data folder
        conf_path = folder / "mosquitto.conf"
        conf_path.write_text(conf, encoding="utf-8")
        self.port = port
        self.description = f"Mosquitto on 127.0.0.1:{port} (per-device passwords and ACL)"
        self._process = subprocess.Popen(
            ["mosquitto", "-c", str(conf_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until_listening(port, 15, lambda: self._process.poll() is None)

    def reload(self) -> None:
        """Re-read the password file and ACL (after a device is registered)."""
        if self._process.poll() is None:
            os.kill(self._process.pid, signal.SIGHUP)

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


class InProcessBroker:
    """amqtt on its own event loop thread."""

    def __init__(self, port: int) -> None:
        from amqtt.broker import Broker

        self.port = port
        self.description = f"in-process amqtt broker on 127.0.0.1:{port} (no ACLs: demo only)"
        self._loop = asyncio.new_event_loop()
        config: dict[str, Any] = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        self._broker = Broker(config, loop=self._loop)
        started = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(started,), name="demo-broker", daemon=True
        )
        self._thread.start()
        if not started.wait(15):
            raise TimeoutError("the in-process broker did not start")

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._broker.start())
        started.set()
        self._loop.run_forever()

    def stop(self) -> None:
        future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
        try:
            future.result(timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)


def start_demo_broker(
    folder: Path, port: int, password_file: Path, acl_file: Path, fleet: int
) -> MosquittoBroker | InProcessBroker:
    if shutil.which("mosquitto"):
        return MosquittoBroker(folder, port, password_file, acl_file, fleet)
    log.info("mosquitto is not installed: using the in-process broker")
    return InProcessBroker(port)
