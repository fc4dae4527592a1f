"""On a dedicated Mosquitto started with the configuration and the password and ACL files
the CMS generates (issue 13, point 7): a device cannot take over another device's session
by using its client id, and each CMS and ingest process has its own account, so they do
not take over each other's either, while the ingest still shares the events."""

from __future__ import annotations

import threading
import tomllib

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from central_cms import db as cms_db
from central_cms import fleet
from central_cms.app import create_app
from central_cms.errors import Invalid
from central_cms.publisher import RecordingPublisher
from central_cms.runtime import runtime
from devices.broker import mosquitto_conf
from devices.protocol import Channel, DeviceKind, DeviceState, Status, device_topic, parse
from testkit.brokers import free_port, start_mosquitto
from testkit.city import register_screen, small_city, start_agent
from testkit.harness import Observer, eventually
from testkit.staff import ADMIN

SERVICE_PASSWORD = "service-accounts-password"


@pytest.fixture
def fleet_broker(config, clock, tmp_path):
    """A CMS with devices A and B, and Mosquitto started with the CMS's broker files."""
    port = free_port()
    url = f"mqtt://127.0.0.1:{port}"
    app = create_app(
        config.with_changes(device_brokers=(url,), mqtt_password=SERVICE_PASSWORD),
        publisher=RecordingPublisher(),
        clock=clock,
    )
    rt = runtime(app)
    session = cms_db.database(app).sessions()
    small_city(session, rt, "pool")
    configs = {
        d: register_screen(session, rt, "pool", d, tmp_path / "devices")
        for d in ("sig-pool-a", "sig-pool-b")
    }
    passwords, acl = fleet.broker_files(session, rt)
    session.close()
    folder = tmp_path / "broker"
    folder.mkdir()
    (folder / "passwords").write_text(passwords, encoding="utf-8")
    (folder / "acl").write_text(acl, encoding="utf-8")
    conf = mosquitto_conf(port=port, password_file=folder / "passwords", acl_file=folder / "acl")
    broker = start_mosquitto(folder, conf, port)
    yield broker, configs
    broker.stop()
    cms_db.database(app).engine.dispose()


def statuses(observer: Observer, device_id: str) -> list[DeviceState]:
    return [
        parse(Status, p).state for p in observer.payloads(device_topic(device_id, Channel.STATUS))
    ]


def test_a_device_using_another_devices_client_id_cannot_disconnect_it(fleet_broker, clock):
    broker, configs = fleet_broker
    a_id, b_id = "sig-pool-a", "sig-pool-b"
    cms = Observer(
        broker.port,
        [device_topic(b_id, Channel.STATUS), device_topic(a_id, Channel.HEALTH)],
        username="cms-1",
        password=SERVICE_PASSWORD,
    )
    agent_b, _ = start_agent(configs[b_id], clock)
    attacker = None
    try:
        assert agent_b.link.connected.wait(10), "device B could not log in"
        assert cms.wait_for(lambda: statuses(cms, b_id)[-1:] == [DeviceState.ONLINE])

        # Device A's own credentials, device B's client id.
        a_mqtt = tomllib.loads(configs[a_id].read_text(encoding="utf-8"))["mqtt"]
        attacker = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=b_id)
        attacker.username_pw_set(a_mqtt["username"], a_mqtt["password"])
        accepted = threading.Event()
        attacker.on_connect = lambda c, u, f, reason, p: reason.is_failure or accepted.set()
        attacker.connect("127.0.0.1", broker.port)
        attacker.loop_start()
        assert accepted.wait(10), "the broker refused device A's own credentials"
        # Once A's own message is through, the broker has long handled A's login.
        attacker.publish(device_topic(a_id, Channel.HEALTH), b"{}", qos=1).wait_for_publish(10)
        assert cms.wait_for(lambda: cms.payloads(device_topic(a_id, Channel.HEALTH)) != [])

        assert DeviceState.OFFLINE not in statuses(cms, b_id), "B's will said it went offline"
        assert agent_b.link.connected.is_set(), "device B was disconnected"
    finally:
        if attacker is not None:
            attacker.loop_stop()
            attacker.disconnect()
        agent_b.stop()
        cms.close()


def test_each_cms_and_ingest_process_has_its_own_account_and_the_ingest_shares_events(
    fleet_broker, clock
):
    broker, configs = fleet_broker
    events = "ds/v1/devices/+/events"
    shared = [f"$share/ingest/{events}"]
    cms = [
        Observer(broker.port, [], username=u, password=SERVICE_PASSWORD) for u in ("cms-1", "cms-2")
    ]
    ingest = [
        Observer(broker.port, shared, username=u, password=SERVICE_PASSWORD)
        for u in ("ingest-1", "ingest-2")
    ]
    device_id = "sig-pool-a"
    device_mqtt = tomllib.loads(configs[device_id].read_text(encoding="utf-8"))["mqtt"]
    device = Observer(
        broker.port, [], username=device_mqtt["username"], password=device_mqtt["password"]
    )
    try:
        for n in range(20):
            device.publish(device_topic(device_id, Channel.EVENTS), f"batch {n}".encode())

        def received() -> list[bytes]:
            return sorted(p for i in ingest for _, p, _ in i.messages)

        # Two subscribers' arrivals: no one event announces their sum.
        assert eventually(lambda: len(received()) >= 20)
        assert received() == sorted(f"batch {n}".encode() for n in range(20))  # each once
        assert all(i.messages for i in ingest), "the shared subscription did not share"
        for client in (*cms, *ingest, device):
            assert client.client.is_connected(), "a service process was disconnected"
    finally:
        for client in (*cms, *ingest, device):
            client.close()


def test_a_device_cannot_be_registered_under_a_service_account_name(session, rt):
    small_city(session, rt, "pool")
    for taken in ("cms-2", "ingest-7", rt.config.mqtt_username):
        with pytest.raises(Invalid) as refused:
            fleet.register_device(
                session,
                rt,
                ADMIN,
                device_id=taken,
                name="",
                kind=DeviceKind.SIGNAGE,
                site_id="pool",
                profile_id="pool-indoor",
                tags=[],
            )
        assert refused.value.field == "id"
