"""The player on the real device agent and a real Mosquitto: manifests take effect, a
broker outage changes nothing on screen and loses no proof-of-play, tampered assets are
never shown, and a player killed mid-download comes back playing the last good content.

Time here is the real clock: items last a fraction of a second so a run stays short.
"""

from __future__ import annotations

import base64
import io
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from devices.agent import DeviceAgent, RecordingSystem
from devices.broker import mosquitto_conf
from devices.protocol import (
    AssetRef,
    Channel,
    Command,
    CommandName,
    CommandResult,
    ContentItem,
    DeviceState,
    EventAck,
    EventBatch,
    Fit,
    ItemKind,
    Manifest,
    PlayEvent,
    ProfileKind,
    ScreenProfile,
    SigningKey,
    SiteInfo,
    Status,
    device_topic,
    parse,
    sign,
)
from signage_player.display import HeadlessDisplay
from signage_player.player import SignagePlayer
from testkit.brokers import RunningBroker, free_port, start_mosquitto
from testkit.harness import AssetServer, Observer, device_config, unique_id, write_device_config
from testkit.player_fakes import asset_ref, colour_is, jpeg

RED, GREEN, BLUE, YELLOW = (220, 0, 0), (0, 200, 0), (0, 0, 220), (230, 220, 0)
SYSTEM_PORT = 1883
ROOT = Path(__file__).resolve().parents[2]


def image_manifest(
    device_id: str, version: int, refs: list[AssetRef], duration_s: float = 30
) -> Manifest:
    now = datetime.now(UTC)
    return Manifest(
        device_id=device_id,
        version=version,
        generated_at=now,
        valid_until=now + timedelta(days=7),
        site=SiteInfo(id="riverton-lib", name="Riverton Library", timezone="Australia/Perth"),
        profile=ScreenProfile(
            name="Indoor 720p", kind=ProfileKind.INDOOR, width_px=640, height_px=360
        ),
        assets=tuple(refs),
        default_items=tuple(
            ContentItem(
                id=f"img-{index}",
                campaign_id="promo",
                kind=ItemKind.IMAGE,
                asset=ref.sha256,
                duration_s=duration_s,
                fit=Fit.FILL,
            )
            for index, ref in enumerate(refs)
        ),
    )


def served(server: AssetServer, data: bytes, *, serve: bytes | None = None) -> AssetRef:
    return asset_ref(data, server.add(data, serve=serve))


class Cms:
    """The CMS side: publishes signed messages; stores and acknowledges events like the
    ingest does (contiguous watermark, acknowledged only after storing)."""

    def __init__(self, port: int, device_id: str, key: SigningKey) -> None:
        self.device_id = device_id
        self.key = key
        self.stored: dict[int, PlayEvent] = {}
        self.epoch: str | None = None
        self._lock = threading.Condition()
        self.connect(port)

    def connect(self, port: int) -> None:
        """(Re)connect; what was stored stays stored, as in the CMS's database."""
        self.observer = Observer(
            port,
            [
                device_topic(self.device_id, Channel.EVENTS),
                device_topic(self.device_id, Channel.COMMAND_RESULTS),
                device_topic(self.device_id, Channel.STATUS),
            ],
        )
        self.observer.client.on_message = self._on_message

    def _on_message(self, client, userdata, message) -> None:
        if not message.topic.endswith("/events"):
            Observer._on_message(self.observer, client, userdata, message)
            return
        batch = parse(EventBatch, bytes(message.payload))
        with self._lock:
            self.epoch = batch.outbox_epoch
            for event in batch.events:
                assert isinstance(event, PlayEvent)
                self.stored.setdefault(event.seq, event)
            up_to = 0
            while up_to + 1 in self.stored:
                up_to += 1
            self._lock.notify_all()
        ack = EventAck(device_id=self.device_id, outbox_epoch=batch.outbox_epoch, up_to_seq=up_to)
        client.publish(device_topic(self.device_id, Channel.EVENTS_ACK), ack.encode(), qos=1)

    def wait_events(
        self, predicate: Callable[[dict[int, PlayEvent]], bool], timeout_s: float = 15
    ) -> bool:
        with self._lock:
            return self._lock.wait_for(lambda: predicate(self.stored), timeout_s)

    def statuses(self) -> list[Status]:
        topic = device_topic(self.device_id, Channel.STATUS)
        return [parse(Status, p) for p in self.observer.payloads(topic) if p]

    def wait_online(self, after: int, manifest_version: int) -> bool:
        """A status newer than the first `after` ones says online with this manifest:
        the device is subscribed and will hear commands."""
        return self.observer.wait_for(
            lambda: any(
                s.state is DeviceState.ONLINE and s.manifest_version == manifest_version
                for s in self.statuses()[after:]
            ),
            20,
        )

    def publish_manifest(self, manifest: Manifest) -> None:
        self.observer.publish(
            device_topic(self.device_id, Channel.MANIFEST), sign(manifest, self.key), retain=True
        )

    def command(self, name: CommandName) -> CommandResult:
        now = datetime.now(UTC)
        command = Command(
            id=unique_id("cmd"),
            device_id=self.device_id,
            name=name,
            issued_at=now,
            expires_at=now + timedelta(minutes=1),
        )
        topic = device_topic(self.device_id, Channel.COMMAND_RESULTS)
        self.observer.publish(
            device_topic(self.device_id, Channel.COMMANDS), sign(command, self.key)
        )

        def result() -> CommandResult | None:
            for payload in self.observer.payloads(topic):
                parsed = parse(CommandResult, payload)
                if parsed.command_id == command.id:
                    return parsed
            return None

        assert self.observer.wait_for(lambda: result() is not None, 20), "no command result"
        found = result()
        assert found is not None
        return found

    def close(self) -> None:
        self.observer.publish(device_topic(self.device_id, Channel.MANIFEST), b"", retain=True)
        self.observer.publish(device_topic(self.device_id, Channel.STATUS), b"", retain=True)
        self.observer.close()


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def assets() -> Iterator[AssetServer]:
    server = AssetServer()
    yield server
    server.close()


@pytest.fixture
def device_id() -> str:
    return unique_id("sig")


def run_player(tmp_path: Path, device_id: str, key: SigningKey, port: int):
    config = device_config(tmp_path, device_id, port=port, keys=[key])
    display = HeadlessDisplay()
    player = SignagePlayer(display)
    agent = DeviceAgent(config, player, system=RecordingSystem())
    agent.start()
    return agent, player, display


def test_a_new_manifest_takes_effect_on_a_running_player(tmp_path, device_id, key, assets):
    cms = Cms(SYSTEM_PORT, device_id, key)
    agent, _player, display = run_player(tmp_path, device_id, key, SYSTEM_PORT)
    try:
        cms.publish_manifest(image_manifest(device_id, 1, [served(assets, jpeg(RED))]))
        assert display.wait_for(colour_is(RED), 15)
        cms.publish_manifest(image_manifest(device_id, 2, [served(assets, jpeg(BLUE))]))
        assert display.wait_for(colour_is(BLUE), 15)
        # The red item was cut short by the new manifest, and its proof-of-play says so.
        assert cms.wait_events(
            lambda s: any(
                e.data.item_id == "img-0" and e.data.reason == "manifest" for e in s.values()
            )
        )
    finally:
        agent.stop()
        cms.close()


def test_a_tampered_asset_is_never_shown(tmp_path, device_id, key, assets):
    cms = Cms(SYSTEM_PORT, device_id, key)
    agent, _player, display = run_player(tmp_path, device_id, key, SYSTEM_PORT)
    try:
        cms.publish_manifest(image_manifest(device_id, 1, [served(assets, jpeg(RED))]))
        assert display.wait_for(colour_is(RED), 15)
        # The server hands out other bytes (blue) than the manifest's hash names (green).
        server = SlowAssetServer(jpeg(BLUE))
        server.release.set()
        green = jpeg(GREEN)
        tampered = asset_ref(green, server.url)
        try:
            cms.publish_manifest(image_manifest(device_id, 2, [tampered]))
            assert server.started.wait(15), "the agent never fetched the asset"
            assert not display.wait_for(lambda f: not colour_is(RED)(f), 2)
            assert colour_is(RED)(_screenshot(cms))
        finally:
            server.close()
    finally:
        agent.stop()
        cms.close()


@pytest.fixture
def own_broker(tmp_path) -> Iterator[RunningBroker]:
    port = free_port()
    data = tmp_path / "broker"
    data.mkdir()
    broker = start_mosquitto(
        data, mosquitto_conf(port=port, persistence_dir=data, allow_anonymous=True), port
    )
    yield broker
    broker.stop()


def test_broker_outage_changes_nothing_on_screen_and_loses_no_proof_of_play(
    tmp_path, device_id, key, assets, own_broker
):
    cms = Cms(own_broker.port, device_id, key)
    agent, _player, display = run_player(tmp_path, device_id, key, own_broker.port)
    try:
        refs = [served(assets, jpeg(RED)), served(assets, jpeg(GREEN))]
        cms.publish_manifest(image_manifest(device_id, 1, refs, duration_s=0.25))
        assert display.wait_for(colour_is(RED), 15)
        assert cms.wait_events(lambda s: len(s) >= 4)

        cms.observer.client.loop_stop()  # the CMS side goes quiet with the broker
        own_broker.stop()
        # With the broker gone the screen goes on exactly as scheduled: red, green, red...
        shown_before = display.frames_shown
        for colour in (GREEN, RED) * 6:
            assert display.wait_for(colour_is(colour), 5)
        assert display.frames_shown >= shown_before + 12
        assert agent.link.connected.is_set() is False
        first_unacked = agent.outbox.first_pending_seq()
        pending_during = agent.outbox.pending
        assert first_unacked is not None and pending_during >= 12
        last_during = first_unacked + pending_during - 1

        own_broker.start()
        cms.observer.close()
        cms.connect(own_broker.port)
        # Everything played comes through, in order, with no gap, and is acknowledged.
        assert agent.link.connected.wait(30)
        assert cms.wait_events(lambda s: last_during in s, 30)
        # Acknowledged: the outbox let go of everything played during the outage.
        assert cms.wait_events(
            lambda s: (agent.outbox.first_pending_seq() or last_during + 1) > last_during, 30
        )
        seqs = sorted(cms.stored)
        assert seqs[:last_during] == list(range(1, last_during + 1))
        events = [cms.stored[seq].data for seq in range(1, last_during + 1)]
        for before, after in itertools.pairwise(events):
            assert before.ended_at == after.started_at  # no moment of play unaccounted for
    finally:
        agent.stop()
        cms.close()


class SlowAssetServer:
    """Serves one asset: until `release` is set, the first half and then nothing (a
    download stuck on a bad link); after it, the whole file."""

    def __init__(self, data: bytes) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        started, release = self.started, self.release

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                started.set()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if release.is_set():
                    self.wfile.write(data)
                    return
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                started.set()
                release.wait(60)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/big.jpg"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def _start_cli(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "digital_spaces", "player", "--config", str(config)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_killed_during_a_download_it_restarts_playing_the_last_good_content(
    tmp_path, device_id, key, assets
):
    cms = Cms(SYSTEM_PORT, device_id, key)
    config = write_device_config(
        tmp_path,
        device_id,
        port=SYSTEM_PORT,
        keys=[key],
        extra="[intervals]\nhealth_s = 3600\noutbox_resend_s = 2\n"
        "[budgets]\ncache_mb = 64\noutbox_mb = 8\n"
        '[player]\ndisplay = "headless"\n',
    )
    big = jpeg(YELLOW, (3000, 2000))
    slow = SlowAssetServer(big)
    log = tmp_path / "player.log"
    process = _start_cli(config, log)
    try:
        cms.publish_manifest(image_manifest(device_id, 1, [served(assets, jpeg(RED))]))
        assert cms.wait_online(0, 1), log.read_text()[-2000:]
        assert _wait_screenshot(cms, colour_is(RED)), log.read_text()[-2000:]

        big_ref = asset_ref(big, slow.url)
        cms.publish_manifest(image_manifest(device_id, 2, [big_ref]))
        assert slow.started.wait(20), "the download never started"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)

        # Restart with the download still hanging: the last good manifest plays at once.
        seen = len(cms.statuses())
        process = _start_cli(config, log)
        assert cms.wait_online(seen, 1), log.read_text()[-2000:]
        assert _wait_screenshot(cms, lambda shot: shot.getbbox() is not None)
        assert colour_is(RED)(_screenshot(cms))
        assert not _wait_screenshot(cms, colour_is(YELLOW), timeout_s=1)
        # When the link recovers and the asset arrives in full, the new manifest takes over.
        slow.release.set()
        assert _wait_screenshot(cms, colour_is(YELLOW)), log.read_text()[-2000:]
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            process.wait(20)
        slow.close()
        cms.close()


def _screenshot(cms: Cms) -> Image.Image:
    outcome = cms.command(CommandName.SCREENSHOT)
    assert outcome.ok, outcome.detail
    return Image.open(io.BytesIO(base64.b64decode(str(outcome.data["png_base64"])))).convert("RGB")


def _wait_screenshot(cms: Cms, predicate, timeout_s: float = 30) -> bool:
    """Ask for screenshots until one matches. Each is a real round trip through the
    broker and the player, so this paces itself; bounded by time."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate(_screenshot(cms)):
            return True
    return False
