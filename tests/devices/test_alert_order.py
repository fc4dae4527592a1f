"""Which alert message a device keeps (issue 13), against the real Mosquitto on 1883.

The CMS stamps every message on a scope with a higher revision: a clear or an edit of
an alert keeps its id and `issued_at`, and must still replace what the device shows,
after a restart too, and a replay of the older signed message must not bring it back.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from devices.agent import DeviceAgent, RecordingSystem
from devices.clock import ManualClock
from devices.protocol import (
    Alert,
    Channel,
    DeviceKind,
    SigningKey,
    SiteInfo,
    alert_topic,
    device_topic,
    sign,
)
from devices.schedule import active_alert
from testkit.harness import Observer, RecordingApp, device_config, eventually, unique_id
from testkit.messages import T0, manifest

BROKER_PORT = 1883
NOW = T0 + timedelta(hours=1)


@pytest.fixture
def key():
    return SigningKey.generate()


@pytest.fixture
def device_id():
    return unique_id("sig")


@pytest.fixture
def scope():
    """The device's own site, unique per test so the shared broker's retained alerts of
    other tests never mix in."""
    return unique_id("site")


@pytest.fixture
def cms(device_id, scope):
    observer = Observer(BROKER_PORT, [])
    yield observer
    for topic in (device_topic(device_id, Channel.MANIFEST), alert_topic(scope)):
        observer.publish(topic, b"", retain=True)
    observer.publish(device_topic(device_id, Channel.STATUS), b"", retain=True)
    observer.close()


@pytest.fixture
def start_device(tmp_path, device_id, key, cms, scope):
    """Start the agent on the same data folder each time, as a Pi reboots onto its SD card,
    and give it a text-only manifest for `scope`'s site."""
    agents: list[DeviceAgent] = []
    site_manifest = manifest(
        device_id,
        version=1,
        assets=(),
        items=(),
        site=SiteInfo(id=scope, name="Cannington Leisureplex", timezone="Australia/Perth"),
    )
    cms.publish(device_topic(device_id, Channel.MANIFEST), sign(site_manifest, key), retain=True)

    def start() -> tuple[DeviceAgent, RecordingApp]:
        app = RecordingApp()
        config = device_config(tmp_path, device_id, port=BROKER_PORT, keys=[key])
        agent = DeviceAgent(config, app, clock=ManualClock(NOW), system=RecordingSystem())
        agent.start()
        assert agent.link.connected.wait(10)
        assert app.wait_for(lambda: app.versions == [1])
        agents.append(agent)
        return agent, app

    yield start
    for agent in agents:
        if not agent._stopping.is_set():
            agent.stop()


def closed(scope: str, revision: int) -> Alert:
    return Alert(
        id="alert-cannington-closed",
        scope=scope,
        title="Cannington Leisureplex closed",
        issued_at=NOW,
        expires_at=NOW + timedelta(minutes=60),
        revision=revision,
    )


def showing(app: RecordingApp) -> str | None:
    """The alert title a screen given these alerts shows a minute from now, if any."""
    if not app.alerts:
        return None
    alert = active_alert(app.alerts[-1], NOW + timedelta(minutes=1), DeviceKind.SIGNAGE)
    return alert.title if alert else None


def refused(caplog: pytest.LogCaptureFixture, alert: Alert) -> bool:
    return any(
        record.name == "devices.agent"
        and record.getMessage().startswith(f"ignoring alert {alert.id} revision {alert.revision} ")
        for record in caplog.records
    )


def test_cleared_alert_stops_overriding_content(start_device, cms, scope, key):
    _, app = start_device()
    sent = closed(scope, revision=1)
    cms.publish(alert_topic(scope), sign(sent, key), retain=True)
    assert app.wait_for(lambda: showing(app) == "Cannington Leisureplex closed")

    clear = sent.model_copy(update={"cleared": True, "revision": 2})  # same id and issued_at
    cms.publish(alert_topic(scope), sign(clear, key), retain=True)
    assert app.wait_for(lambda: showing(app) is None), "the cleared alert is still showing"


def test_edited_alert_replaces_the_words_on_the_device(start_device, cms, scope, key):
    _, app = start_device()
    sent = closed(scope, revision=1)
    cms.publish(alert_topic(scope), sign(sent, key), retain=True)
    assert app.wait_for(lambda: showing(app) == "Cannington Leisureplex closed")

    edited = sent.model_copy(update={"title": "Cannington closed until 3pm", "revision": 2})
    cms.publish(alert_topic(scope), sign(edited, key), retain=True)
    assert app.wait_for(lambda: showing(app) == "Cannington closed until 3pm")


def test_replaying_the_older_alert_message_cannot_roll_back_a_clear(
    start_device, cms, scope, key, caplog
):
    _, app = start_device()
    sent = closed(scope, revision=1)
    cms.publish(alert_topic(scope), sign(sent, key), retain=True)
    assert app.wait_for(lambda: showing(app) == "Cannington Leisureplex closed")
    cms.publish(
        alert_topic(scope), sign(sent.model_copy(update={"cleared": True, "revision": 2}), key)
    )
    assert app.wait_for(lambda: showing(app) is None)

    # Someone with broker access replays the captured "closed" message, retained.
    cms.publish(alert_topic(scope), sign(sent, key), retain=True)
    assert eventually(lambda: refused(caplog, sent)), "the replay was never refused"
    assert showing(app) is None


def test_cleared_alert_stays_cleared_after_a_restart_with_the_older_message_retained(
    start_device, cms, scope, key, caplog
):
    agent, app = start_device()
    sent = closed(scope, revision=1)
    cms.publish(alert_topic(scope), sign(sent, key), retain=True)
    assert app.wait_for(lambda: showing(app) == "Cannington Leisureplex closed")
    cms.publish(
        alert_topic(scope), sign(sent.model_copy(update={"cleared": True, "revision": 2}), key)
    )
    assert app.wait_for(lambda: showing(app) is None)
    agent.stop()

    # While the device is off, the broker comes back with the older message retained
    # (a restored persistence file, or a replay).
    cms.publish(alert_topic(scope), sign(sent, key), retain=True)
    caplog.set_level(logging.INFO, logger="devices.agent")
    _, rebooted = start_device()
    assert eventually(lambda: refused(caplog, sent)), "the retained older message never arrived"
    # The first alerts the device kind is handed after the restart, from its own disk.
    first = next(batch for batch in rebooted.alerts if any(a.scope == scope for a in batch))
    assert [(a.revision, a.cleared) for a in first if a.scope == scope] == [(2, True)]
    assert showing(rebooted) is None
