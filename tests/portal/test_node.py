"""The portal node: its web server (Granian) serving the manifest the agent hands over,
worker events relayed into the agent's outbox, the server kept running, and the portal's
commands."""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest

from devices.clock import ManualClock
from devices.config import parse_device_config
from devices.feeds import FixedFeeds
from devices.protocol import (
    Command,
    CommandName,
    DeviceKind,
    EventData,
    SessionEndedData,
    SplashShownData,
    TermsAcceptedData,
)
from portal.gateway import RecordingGateway
from portal.node import PortalApplication, portal_config_of
from portal.privacy import client_hash
from testkit.brokers import free_port
from testkit.harness import eventually
from testkit.portal import DirAssets, Visitor, find, portal_manifest

KEY = "ed25519:" + "A" * 43 + "="


@dataclass
class FakeServices:
    clock: ManualClock
    assets: DirAssets
    device_id: str = "portal-test-01"
    kind: DeviceKind = DeviceKind.PORTAL
    events: list[EventData] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    feeds: FixedFeeds = field(default_factory=FixedFeeds)

    def record(self, data: EventData) -> None:
        with self.arrived:
            self.events.append(data)
            self.arrived.notify_all()

    def wait_for(self, kind: type, timeout_s: float = 10) -> list[EventData]:
        with self.arrived:
            self.arrived.wait_for(
                lambda: any(isinstance(e, kind) for e in self.events), timeout=timeout_s
            )
            return [e for e in self.events if isinstance(e, kind)]

    def status_changed(self) -> None:
        pass


def device_config(tmp_path: Path, port: int, **portal: object):
    from devices.protocol import SigningKey

    public = SigningKey.generate().public_key.to_text()
    raw = {
        "device": {"id": "portal-test-01", "kind": "portal", "data_dir": str(tmp_path / "data")},
        "mqtt": {"brokers": ["mqtt://127.0.0.1:1883"]},
        "cms": {"public_keys": [public], "asset_token": "t"},
        "portal": {
            "secret": "x" * 40,
            "faskey": "node-test-key",
            "gateway": "recording",
            "fas_level": 1,
            "listen": f"127.0.0.1:{port}",
            "workers": 2,
            "threads": 2,
            "rate_per_s": 1000,
            "rate_burst": 1000,
            **portal,
        },
    }
    config_path = tmp_path / "portal.toml"
    return parse_device_config(raw, base_dir=tmp_path), config_path, raw


def write_toml(path: Path, raw: dict[str, dict[str, object]]) -> None:
    lines = []
    for table, values in raw.items():
        lines.append(f"[{table}]")
        for key, value in values.items():
            if isinstance(value, str):
                lines.append(f'{key} = "{value}"')
            elif isinstance(value, list):
                lines.append(f"{key} = [" + ", ".join(f'"{v}"' for v in value) + "]")
            else:
                lines.append(f"{key} = {value}")
    path.write_text("\n".join(lines) + "\n")


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def node(tmp_path):
    port = free_port()
    config, path, raw = device_config(tmp_path, port)
    write_toml(path, raw)
    services = FakeServices(ManualClock(datetime.now(UTC)), DirAssets(tmp_path))
    app = PortalApplication(config, portal_config_of(config), config_path=path)
    app.start(services)
    try:
        yield app, services, f"http://127.0.0.1:{port}"
    finally:
        app.stop()


def wait_until_serving(base: str) -> None:
    ready = threading.Event()
    for _ in range(100):
        try:
            get(base + "/api/captive")
            ready.set()
            break
        except OSError:
            ready.wait(0.1)
    assert ready.is_set(), "the web server did not start"


def test_the_web_server_serves_the_agents_manifest_and_events_reach_the_outbox(node):
    app, services, base = node
    wait_until_serving(base)
    app.apply_manifest(portal_manifest())
    visitor = Visitor("02:00:00:00:00:42", "10.77.1.42", "abcd1234", "http://neverssl.com/", 1)
    url = base + visitor.splash_url()
    seen = threading.Event()
    for _ in range(50):  # workers look at the view file at most once a second
        status, page = get(url)
        if "Cannington Leisureplex" in page:
            seen.set()
            break
        seen.wait(0.2)
    assert seen.is_set() and status == 200
    [shown] = services.wait_for(SplashShownData)
    assert shown.client_hash == client_hash(b"x" * 40, visitor.mac, datetime.now(UTC))

    state = find(r'name="state" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode(
        {"state": state, "accept": "yes", "lang": "en", "terms_version": "2026-11"}
    )
    request = urllib.request.Request(base + "/accept", data=form.encode(), method="POST")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as done:
        opener.open(request, timeout=5)
    assert done.value.code == 303
    landing = urllib.request.urlopen(done.value.headers["Location"], timeout=5).read().decode()
    assert 'href="http://neverssl.com/"' in landing  # "Continue to neverssl.com"
    assert services.wait_for(TermsAcceptedData)

    # The same form again (a double tap) is refused: the node's health figures count one
    # visitor let online and one failure, relayed from the worker (issue 16).
    with pytest.raises(urllib.error.HTTPError) as again:
        opener.open(urllib.request.Request(base + "/accept", data=form.encode()), timeout=5)
    assert again.value.code == 400
    totals = {"authorisations": 0, "failures": 0}

    def counted() -> bool:
        sample = app.portal_health()
        totals["authorisations"] += sample.authorisations
        totals["failures"] += sample.failures
        return bool(totals == {"authorisations": 1, "failures": 1})

    assert eventually(counted, 10), totals


def test_a_killed_web_server_leaves_no_workers_and_the_node_starts_another(tmp_path):
    port = free_port()
    config, path, raw = device_config(tmp_path, port, session_poll_s=0.1)
    write_toml(path, raw)
    services = FakeServices(ManualClock(datetime.now(UTC)), DirAssets(tmp_path))
    app = PortalApplication(config, portal_config_of(config), config_path=path)
    app.start(services)
    app.apply_manifest(portal_manifest())
    base = f"http://127.0.0.1:{port}"
    visitor = Visitor("02:00:00:00:00:45", "10.77.1.45", "abcd", "http://neverssl.com/", 1)
    try:
        wait_until_serving(base)
        assert app.server_pid is not None
        first = psutil.Process(app.server_pid)
        workers = first.children()
        assert len(workers) == 2
        first.kill()  # as the OOM killer would: no chance to stop its workers
        _, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive, "workers outlived their server and hold the port"

        restarted = threading.Event()
        for _ in range(100):
            if app.server_pid not in (None, first.pid):
                restarted.set()
                break
            restarted.wait(0.1)
        assert restarted.is_set(), "the node did not start a new server"
        wait_until_serving(base)
        status, page = get(base + visitor.splash_url())
        assert status == 200 and "Cannington Leisureplex" in page
        second = psutil.Process(app.server_pid)
        running = [second, *second.children()]
    finally:
        app.stop()
    _, alive = psutil.wait_procs(running, timeout=10)
    assert not alive, "stopping the node left web server processes running"


def pinned_workers(server: psutil.Process, count: int, leave_out: set[int]) -> list[psutil.Process]:
    """The server's `count` workers, other than `leave_out`, once each has taken its core
    (a worker pins itself while it builds its app)."""
    found = threading.Event()
    workers: list[psutil.Process] = []
    for _ in range(200):
        workers = [w for w in server.children() if w.pid not in leave_out]
        if len(workers) == count and all(len(w.cpu_affinity()) == 1 for w in workers):
            found.set()
            break
        found.wait(0.05)
    assert found.is_set(), "the workers did not pin themselves"
    return workers


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 cores")
def test_each_worker_has_a_core_of_its_own_and_a_respawned_one_takes_the_freed_core(node):
    app, _, base = node
    wait_until_serving(base)
    assert app.server_pid is not None
    server = psutil.Process(app.server_pid)
    workers = pinned_workers(server, 2, set())
    cores = [w.cpu_affinity()[0] for w in workers]
    assert len(set(cores)) == 2
    for worker, core in zip(workers, cores, strict=True):
        # The Rust and Python threads started after the pinning inherited it.
        assert all(os.sched_getaffinity(t.id) == {core} for t in worker.threads())
    assert len(server.cpu_affinity()) == len(os.sched_getaffinity(0))  # main: unpinned

    workers[0].kill()
    [respawned] = pinned_workers(server, 1, {w.pid for w in workers})
    assert respawned.cpu_affinity() == [cores[0]]
    assert get(base + "/api/captive")[0] == 200


def test_portal_keeps_serving_the_last_view_after_a_restart_without_the_cms(tmp_path):
    port = free_port()
    config, path, raw = device_config(tmp_path, port)
    write_toml(path, raw)
    services = FakeServices(ManualClock(datetime.now(UTC)), DirAssets(tmp_path))
    first = PortalApplication(config, portal_config_of(config), serve=False)
    first.start(services)
    first.apply_manifest(portal_manifest())
    first.stop()
    # Restarted with no broker and no CMS: the view file is still there for the workers.
    second = PortalApplication(config, portal_config_of(config), config_path=path)
    second.start(services)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}")
        visitor = Visitor("02:00:00:00:00:43", "10.77.1.43", "abcd", "http://neverssl.com/", 1)
        status, page = get(f"http://127.0.0.1:{port}" + visitor.splash_url())
        assert status == 200 and "Cannington Leisureplex" in page
    finally:
        second.stop()


def test_deauthorise_command_by_client_hash(tmp_path):
    config, _, _ = device_config(tmp_path, free_port())
    clock = ManualClock(datetime.now(UTC))
    gateway = RecordingGateway(clock)
    services = FakeServices(clock, DirAssets(tmp_path))
    app = PortalApplication(config, portal_config_of(config), gateway=gateway, serve=False)
    app.start(services)
    try:
        visitor = Visitor("02:00:00:00:00:44", "10.77.1.44", "abcd", "http://neverssl.com/", 1)
        gateway.admit(visitor.mac, visitor.ip, visitor.token)
        gateway.authorise(visitor.fas_client(), "http://neverssl.com/")

        def command(**args) -> Command:
            return Command(
                id="c1",
                device_id="portal-test-01",
                name=CommandName.DEAUTHORISE,
                args=args,
                issued_at=clock.now(),
                expires_at=clock.now() + timedelta(minutes=5),
            )

        assert not app.run_command(command()).ok
        assert not app.run_command(command(client="0" * 32)).ok
        outcome = app.run_command(command(client=client_hash(b"x" * 40, visitor.mac, clock.now())))
        assert outcome.ok
        assert gateway.session_for_ip(visitor.ip) is None
        assert [e.reason for e in services.events if isinstance(e, SessionEndedData)] == [
            "deauthorised"
        ]
    finally:
        app.stop()
