"""A staged software rollout to three real device processes (issue 18, Must show).

Each device is installed as Ansible would (a release environment, `current` and `good`)
and runs as systemd would run it: the launcher, from the good release, starting a real
signage player (headless display) from the current one. The CMS serves the release
wheels over HTTP and publishes signed releases on a real Mosquitto; its ingest files the
devices' retained status, which the rollout watcher reads.

The journey: a bad release goes to the pilot screen first, fails its health check there,
rolls itself back, and the rollout halts before any other screen takes it; a good
release reaches the pilot, then all three; a release signed by another key is refused.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sysconfig
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from central_cms import db as cms_db
from central_cms import groups, releases
from central_cms.app import create_app
from central_cms.config import load_config
from central_cms.release_models import ReleaseChannel
from central_cms.runtime import CmsRuntime, parts, runtime
from devices.clock import SystemClock
from devices.protocol import SigningKey, Status, parse, parse_signed, sign
from devices.protocol.releases import Release, UpdateState
from devices.protocol.topics import release_topic
from devices.software_home import SoftwareHome
from testkit.brokers import RunningBroker, free_port
from testkit.city import register_screen, small_city
from testkit.harness import Observer, eventually
from testkit.releases import build_wheel
from testkit.staff import ADMIN

DEPENDENCIES = Path(sysconfig.get_paths()["purelib"])
DEVICES = ("screen-a", "screen-b", "screen-c")
PILOT = DEVICES[0]
WAIT_S = 120  # a release is downloaded, installed (a venv) and started: seconds each


class LaunchedDevice:
    """The device service: `digital-spaces launch` from the good release, logs to a file."""

    def __init__(self, home: SoftwareHome, config: Path, log: Path) -> None:
        self.log = log
        self._log_file = log.open("w")
        self.process = subprocess.Popen(
            [str(home.python(home.good_link)), "-P", "-m", "digital_spaces", "launch",
             "--root", str(home.root), "--trial-s", "60", "--", "player", "--config", str(config)],
            cwd=home.root, stdout=self._log_file, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with its children
        )  # fmt: skip

    def logged(self, text: str) -> bool:
        return text in self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log_file.close()


class StatusLog:
    """Every status the devices publish, in order, from a real MQTT client."""

    def __init__(self, port: int) -> None:
        self.observer = Observer(
            port=port, topics=["ds/v1/devices/+/status", release_topic("stable")]
        )

    def retained_release(self) -> bytes:
        self.observer.wait_for(lambda: bool(self.observer.payloads(release_topic("stable"))))
        return self.observer.payloads(release_topic("stable"))[-1]

    def all(self, device_id: str) -> list[Status]:
        return [
            parse(Status, payload)
            for payload in self.observer.payloads(f"ds/v1/devices/{device_id}/status")
            if payload
        ]

    def latest(self, device_id: str) -> Status | None:
        found = self.all(device_id)
        return found[-1] if found else None

    def wait_for(self, predicate, timeout_s: float = WAIT_S) -> bool:
        return self.observer.wait_for(predicate, timeout_s)

    def running(self, device_id: str, version: str) -> bool:
        status = self.latest(device_id)
        return (
            status is not None and status.state == "online" and status.software_version == version
        )


@pytest.fixture
def cms(broker: RunningBroker, tmp_path: Path) -> Iterator[tuple[object, CmsRuntime, Session]]:
    port = free_port()
    config = load_config(env={}, instance_path=tmp_path / "cms").with_changes(
        database_url=f"sqlite:///{tmp_path / 'cms.sqlite3'}",
        public_url=f"http://127.0.0.1:{port}",
        mqtt_brokers=(f"mqtt://127.0.0.1:{broker.port}",),
        device_brokers=(f"mqtt://127.0.0.1:{broker.port}",),
        ingest_in_process=True,
    )
    app = create_app(config, clock=SystemClock(), renewal=False)
    httpd = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    session = cms_db.database(app).sessions()
    yield app, runtime(app), session
    session.close()
    httpd.shutdown()
    thread.join(10)
    parts(app).close()


def _advance_until(app, rt, session, statuses, condition) -> bool:
    """Tick the rollout watcher (as its thread would, but at every status a device
    publishes) until `condition` holds."""
    fleet = parts(app).analytics.stores.fleet
    deadline = datetime.now(UTC).timestamp() + WAIT_S
    while datetime.now(UTC).timestamp() < deadline:
        releases.advance(session, rt, fleet)
        if condition():
            return True
        seen = len(statuses.observer.messages)
        statuses.wait_for(lambda seen=seen: len(statuses.observer.messages) > seen, timeout_s=1)
    return False


def test_a_staged_rollout_to_three_devices(cms, broker, tmp_path):
    app, rt, session = cms
    wheels = tmp_path / "wheels"
    small_city(session, rt, "riverton")
    devices: list[LaunchedDevice] = []
    statuses = StatusLog(broker.port)
    try:
        for device_id in DEVICES:
            config = register_screen(session, rt, "riverton", device_id, tmp_path / "devices")
            home = SoftwareHome(tmp_path / "software" / device_id)
            home.install_first(build_wheel("1.0.0", wheels), "1.0.0", DEPENDENCIES)
            with config.open("a") as toml:
                toml.write(
                    f'\n[software]\nroot = "{home.root}"\n\n[player]\ndisplay = "headless"\n'
                )
            devices.append(LaunchedDevice(home, config, tmp_path / f"{device_id}.log"))
        group = groups.save(session, rt, ADMIN, name="Riverton screens", device_ids=list(DEVICES))
        releases.follow(session, rt, ADMIN, group.id, "stable")
        session.commit()
        assert statuses.wait_for(lambda: all(statuses.running(d, "1.0.0") for d in DEVICES))

        # A bad release: the pilot takes it, it fails its health check, the pilot rolls back.
        releases.upload(
            session, rt, ADMIN, data=build_wheel("1.1.0", wheels, broken=True).read_bytes()
        )
        releases.offer(session, rt, ADMIN, channel="stable", version="1.1.0", pilots=[PILOT])

        def pilot_rolled_back() -> bool:
            status = statuses.latest(PILOT)
            return (
                status is not None
                and status.software_version == "1.0.0"
                and status.update is not None
                and status.update.version == "1.1.0"
                and status.update.state is UpdateState.ROLLED_BACK
            )

        assert statuses.wait_for(pilot_rolled_back)
        stable = session.get(ReleaseChannel, "stable")
        # The CMS halts the channel once its ingest has filed the pilot's status.
        assert _advance_until(app, rt, session, statuses, lambda: stable.stage == "halted")
        assert stable.halted_reason is not None and stable.halted_reason.startswith(PILOT)
        fleet = parts(app).analytics.stores.fleet
        found = {p.channel: p for p in releases.advance(session, rt, fleet)}
        assert found["stable"].failed[0][0] == PILOT
        retained = parse_signed(Release, statuses.retained_release(), [rt.signing_key.public_key])
        assert retained.version == "1.1.0" and retained.rollout.halted
        for other in DEVICES[1:]:  # the rollout stopped before any other screen took it
            assert all(s.update is None for s in statuses.all(other)), other
            assert statuses.running(other, "1.0.0")

        # A good release: the pilot first, then every screen.
        releases.upload(session, rt, ADMIN, data=build_wheel("1.2.0", wheels).read_bytes())
        releases.offer(session, rt, ADMIN, channel="stable", version="1.2.0", pilots=[PILOT])
        assert _advance_until(
            app, rt, session, statuses, lambda: all(statuses.running(d, "1.2.0") for d in DEVICES)
        )
        pilot_first = min(s.at for s in statuses.all(PILOT) if s.software_version == "1.2.0")
        for other in DEVICES[1:]:
            others_first = min(s.at for s in statuses.all(other) if s.software_version == "1.2.0")
            assert pilot_first < others_first

        def installed(device_id: str) -> bool:
            # Running 1.2.0 is first reported on trial; installed once it proved healthy.
            latest = statuses.latest(device_id)
            return (
                latest is not None
                and latest.update is not None
                and latest.update.state is UpdateState.INSTALLED
            )

        assert statuses.wait_for(lambda: all(installed(d) for d in DEVICES))
        for device_id in DEVICES:
            home = SoftwareHome(tmp_path / "software" / device_id)
            # The launcher promotes it within its next look at the trial (0.2 s).
            assert eventually(lambda home=home: home.version_of(home.good_link) == "1.2.0", 5)

        # A release signed by another key is refused by every device.
        forged = Release.model_validate(
            {
                **releases.release_message(session, rt, stable).model_dump(),
                "version": "1.3.0",
                "rollout": {"percent": 100},
            }
        )
        statuses.observer.publish(
            release_topic("stable"), sign(forged, SigningKey.generate()), retain=True
        )
        assert eventually(
            lambda: all(d.logged("release refused on ds/v1/releases/stable") for d in devices),
            timeout_s=30,
            every_s=0.2,
        )
        for device_id in DEVICES:
            assert statuses.running(device_id, "1.2.0")
            assert all(
                s.update is None or s.update.version != "1.3.0" for s in statuses.all(device_id)
            )
    finally:
        for device in devices:
            device.stop()
        statuses.observer.close()
