"""The portal node end to end on the real device agent: a signed manifest from the broker
reaches the splash page that the web server (Granian) serves, and visitors' events travel
the agent's outbox to an acknowledging consumer, also across a broker outage. Nothing is
faked but the gateway (openNDS is tested on its own in test_opennds.py)."""

from __future__ import annotations

import hashlib
import html
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devices.agent import DeviceAgent, RecordingSystem
from devices.clock import ManualClock
from devices.config import load_device_config
from devices.protocol import (
    AssetRef,
    Channel,
    DeviceKind,
    EventBatch,
    Health,
    Manifest,
    SigningKey,
    TermsAcceptedData,
    device_topic,
    parse,
    sign,
)
from portal.fas import FasClient, encode_query, hid_for_token
from portal.node import PortalApplication, portal_config_of
from portal.privacy import client_hash
from testkit.brokers import RunningBroker, free_port
from testkit.harness import (
    AckingConsumer,
    AssetServer,
    Observer,
    eventually,
    unique_id,
    write_device_config,
)
from testkit.portal import CONTINUE, PNG, STATE, find, portal_manifest

SYSTEM_BROKER_PORT = 1883
SECRET = "e2e-" + "5" * 60
FASKEY = "e2e-faskey"
SERVED = "Cannington Leisureplex"


@dataclass
class Node:
    device_id: str
    agent: DeviceAgent
    base_url: str
    key: SigningKey


@dataclass
class Phone:
    """A visitor's phone that openNDS has just intercepted."""

    mac: str
    ip: str
    origin_url: str = "http://neverssl.com/online"

    def splash_url(self, base_url: str) -> str:
        client = FasClient(
            hid=hid_for_token(secrets.token_hex(8)),
            client_ip=self.ip,
            client_mac=self.mac,
            gateway_address="10.77.1.1:2050",
            gateway_name=SERVED,
            origin_url=self.origin_url,
        )
        query = encode_query(client, level=2, faskey=FASKEY, iv=secrets.token_hex(8))
        return f"{base_url}/?{urllib.parse.urlencode(query)}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def http_get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers.get("Content-Type", "")


def accept(base_url: str, page: str) -> tuple[int, str]:
    """Tick the box and press the button, as the phone's mini-browser would; the status
    and the page the portal's "you are online" page links on to."""
    form = {
        "state": find(STATE, page).group(1),
        "lang": "en",
        "terms_version": find(r'name="terms_version" value="([^"]+)"', page).group(1),
        "accept": "yes",
    }
    request = urllib.request.Request(
        f"{base_url}/accept", data=urllib.parse.urlencode(form).encode(), method="POST"
    )
    try:
        urllib.request.build_opener(_NoRedirect).open(request, timeout=10)
    except urllib.error.HTTPError as answer:
        with urllib.request.urlopen(answer.headers["Location"], timeout=10) as landing:
            onward = CONTINUE.search(landing.read().decode())
        return answer.code, html.unescape(onward.group(1)) if onward else ""
    raise AssertionError("accept did not redirect")


def signed_manifest(device_id: str, assets: AssetServer, key: SigningKey, version: int) -> bytes:
    """Cannington's portal manifest with the promo image served by the asset server; the
    image item has no schedule, so it is on whatever day the test runs."""
    now = datetime.now(UTC)
    base = portal_manifest()
    image = AssetRef(
        sha256=hashlib.sha256(PNG).hexdigest(),
        url=assets.add(PNG),
        size_bytes=len(PNG),
        content_type="image/png",
    )
    items = tuple(
        item.model_copy(update={"schedules": ()}) if item.asset == image.sha256 else item
        for item in base.items
    )
    manifest = base.model_copy(
        update={
            "device_id": device_id,
            "version": version,
            "generated_at": now - timedelta(minutes=5),
            "valid_until": now + timedelta(days=7),
            "assets": (image,),
            "items": items,
        }
    )
    return sign(Manifest.model_validate(manifest.model_dump()), key)


def start_node(tmp_path: Path, port: int) -> Node:
    device_id = unique_id("portal")
    key = SigningKey.generate()
    web_port = free_port()
    path = write_device_config(
        tmp_path,
        device_id,
        port=port,
        keys=[key],
        kind=DeviceKind.PORTAL,
        extra=(
            "[intervals]\nhealth_s = 3600\noutbox_resend_s = 2\n"
            "[budgets]\ncache_mb = 64\noutbox_mb = 8\n"
            "[portal]\n"
            f'secret = "{SECRET}"\nfaskey = "{FASKEY}"\ngateway = "recording"\n'
            f'fas_level = 2\nlisten = "127.0.0.1:{web_port}"\nworkers = 1\nthreads = 2\n'
            'gateway_addresses = ["10.77.1.1:2050"]\n'
        ),
    )
    config = load_device_config(path)
    app = PortalApplication(config, portal_config_of(config), config_path=path)
    agent = DeviceAgent(config, app, clock=ManualClock(datetime.now(UTC)), system=RecordingSystem())
    agent.start()
    return Node(device_id, agent, f"http://127.0.0.1:{web_port}", key)


def serves_manifest(node: Node, sha256: str) -> bool:
    """The splash carries the manifest's site and promo image (workers look at the
    view file the node writes at most once a second, so this is polled)."""
    try:
        status, body, _ = http_get(
            Phone("02:00:00:00:00:01", "10.77.1.250").splash_url(node.base_url)
        )
    except OSError:
        return False  # the web server is still starting
    page = body.decode()
    return status == 200 and SERVED in page and f'src="/assets/{sha256}"' in page


def event_batches(observer: Observer, device_id: str) -> list[EventBatch]:
    topic = device_topic(device_id, Channel.EVENTS)
    return [parse(EventBatch, payload) for payload in observer.payloads(topic)]


def event_types(observer: Observer, device_id: str) -> list[str]:
    return [event.type for batch in event_batches(observer, device_id) for event in batch.events]


def assert_no_personal_data(observer: Observer, device_id: str, phone: Phone) -> None:
    raw = b"".join(observer.payloads(device_topic(device_id, Channel.EVENTS))).lower()
    assert raw, "no events arrived"
    for needle in (phone.mac, phone.mac.replace(":", ""), phone.mac.replace(":", "-"), phone.ip):
        assert needle.encode() not in raw


@pytest.fixture
def assets() -> Iterator[AssetServer]:
    server = AssetServer()
    yield server
    server.close()


def test_signed_manifest_reaches_the_splash_and_visitor_events_are_acknowledged(
    tmp_path: Path, assets: AssetServer
) -> None:
    consumer = AckingConsumer(SYSTEM_BROKER_PORT)
    node = start_node(tmp_path, SYSTEM_BROKER_PORT)
    health_topic = device_topic(node.device_id, Channel.HEALTH)
    cms = Observer(SYSTEM_BROKER_PORT, [device_topic(node.device_id, Channel.EVENTS), health_topic])
    manifest_topic = device_topic(node.device_id, Channel.MANIFEST)
    try:
        assert node.agent.link.connected.wait(15)
        cms.publish(
            manifest_topic, signed_manifest(node.device_id, assets, node.key, 1), retain=True
        )
        sha = hashlib.sha256(PNG).hexdigest()
        assert eventually(lambda: serves_manifest(node, sha), timeout_s=30)
        # The promo image comes from the node's content cache, over the node's own HTTP.
        status, image, content_type = http_get(f"{node.base_url}/assets/{sha}")
        assert (status, content_type, image) == (200, "image/png", PNG)

        phone = Phone("02:00:00:00:4a:01", "10.77.1.61")
        status, body, _ = http_get(phone.splash_url(node.base_url))
        assert status == 200
        assert accept(node.base_url, body.decode()) == (303, phone.origin_url)

        assert cms.wait_for(
            lambda: (
                {"portal.splash_shown", "portal.terms_accepted"}
                <= set(event_types(cms, node.device_id))
            ),
            timeout_s=20,
        ), event_types(cms, node.device_id)
        # Acknowledged by the consumer, and the outbox let go of them.
        assert eventually(lambda: node.agent.outbox.pending == 0, timeout_s=20)
        assert consumer.acked(node.device_id) == len(consumer.seqs(node.device_id)) > 0
        # Only keyed hashes travel: the phone's hash, never its MAC or IP address.
        accepted = [
            event.data.client_hash
            for batch in event_batches(cms, node.device_id)
            for event in batch.events
            if isinstance(event.data, TermsAcceptedData)
        ]
        assert accepted == [client_hash(SECRET.encode(), phone.mac, datetime.now(UTC))]
        assert_no_personal_data(cms, node.device_id, phone)

        # The node's next health sample tells IT's fleet view one visitor was let online.
        node.agent.publish_health()

        def portal_figures() -> list[tuple[int, int]]:
            samples = [parse(Health, payload) for payload in cms.payloads(health_topic)]
            return [(s.portal.authorisations, s.portal.failures) for s in samples if s.portal]

        # (the sample the agent sent when it connected may have come first, with zeros)
        assert cms.wait_for(lambda: (1, 0) in portal_figures(), timeout_s=10), portal_figures()
    finally:
        node.agent.stop()
        cms.publish(manifest_topic, b"", retain=True)
        cms.publish(device_topic(node.device_id, Channel.STATUS), b"", retain=True)
        cms.close()
        consumer.close()


def test_broker_outage_keeps_the_portal_working_and_its_events_drain_afterwards(
    tmp_path: Path, assets: AssetServer, broker: RunningBroker
) -> None:
    consumer = AckingConsumer(broker.port)
    node = start_node(tmp_path, broker.port)
    cms = Observer(broker.port, [device_topic(node.device_id, Channel.EVENTS)])
    try:
        for client in (consumer.observer.client, cms.client):
            client.reconnect_delay_set(min_delay=1, max_delay=1)  # back soon after the broker
        assert node.agent.link.connected.wait(15)
        cms.publish(
            device_topic(node.device_id, Channel.MANIFEST),
            signed_manifest(node.device_id, assets, node.key, 1),
            retain=True,
        )
        sha = hashlib.sha256(PNG).hexdigest()
        assert eventually(lambda: serves_manifest(node, sha), timeout_s=30)
        assert eventually(lambda: node.agent.outbox.pending == 0, timeout_s=20)
        acked_before = consumer.acked(node.device_id)

        broker.stop()
        assert eventually(lambda: not node.agent.link.connected.is_set(), timeout_s=15)
        # No broker: the splash still serves the manifest, and a visitor still gets online.
        phone = Phone("02:00:00:00:4b:02", "10.77.1.62")
        status, body, _ = http_get(phone.splash_url(node.base_url))
        assert status == 200 and SERVED in body.decode()
        assert accept(node.base_url, body.decode()) == (303, phone.origin_url)
        # Kept in the outbox meanwhile: splash shown, terms accepted, two promos shown.
        assert eventually(lambda: node.agent.outbox.pending >= 4, timeout_s=10)
        waiting = node.agent.outbox.pending

        broker.start()
        assert node.agent.link.connected.wait(30)
        assert consumer.wait_for(
            lambda: consumer.acked(node.device_id) >= acked_before + waiting, timeout_s=30
        ), (consumer.acked(node.device_id), acked_before, waiting)
        assert eventually(lambda: node.agent.outbox.pending == 0, timeout_s=20)
        assert consumer.seqs(node.device_id) == list(range(1, consumer.acked(node.device_id) + 1))
        # What drained is the visitor's visit, as hashes only.
        assert cms.wait_for(
            lambda: "portal.terms_accepted" in event_types(cms, node.device_id), timeout_s=20
        )
        assert_no_personal_data(cms, node.device_id, phone)
    finally:
        node.agent.stop()
        cms.close()
        consumer.close()
