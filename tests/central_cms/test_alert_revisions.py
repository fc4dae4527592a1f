"""The CMS stamps every alert message on a scope with a higher revision (issue 13), so
devices can tell a clear or an edit from a replay of what it replaced."""

from __future__ import annotations

import itertools
import secrets
import threading
from datetime import timedelta

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from central_cms import alerts, fleet
from central_cms import db as cms_db
from central_cms import models as m
from central_cms.app import create_app
from central_cms.policy import Actor
from central_cms.runtime import parts, runtime
from devices.protocol import Alert, Severity, alert_topic, parse_signed
from testkit.staff import csrf_of

ADMIN = Actor("test-admin", m.Role.ADMIN)


def add_site(session, rt, site_id: str) -> None:
    fleet.save_site(
        session,
        rt,
        ADMIN,
        site_id=site_id,
        name="Cannington Leisureplex",
        address="",
        timezone="Australia/Perth",
        requires_approval=False,
    )
    session.commit()


def send(session, rt, scope: str, title: str) -> m.Alert:
    return alerts.send_alert(
        session,
        rt,
        ADMIN,
        scope=scope,
        title=title,
        body="",
        severity=Severity.WARNING,
        expires_at=rt.clock.now() + timedelta(minutes=60),
    )


def published(publisher, rt, scope: str) -> list[Alert]:
    keys = [rt.signing_key.public_key]
    return [
        parse_signed(Alert, payload, keys)
        for topic, payload, retain in publisher.sent
        if topic == alert_topic(scope) and retain
    ]


def test_send_edit_and_clear_each_publish_a_higher_revision(session, rt, publisher, clock):
    add_site(session, rt, "cannington-lp")
    sent = send(session, rt, "cannington-lp", "Cannington Leisureplex closed")
    alerts.edit_alert(
        session,
        rt,
        ADMIN,
        sent.id,
        title="Cannington Leisureplex closed until 3pm",
        body="",
        severity=Severity.WARNING,
        expires_at=sent.expires_at,
    )
    alerts.clear_alert(session, rt, ADMIN, sent.id)  # at the same instant as the edit

    messages = published(publisher, rt, "cannington-lp")
    assert [(a.id, a.title, a.cleared) for a in messages] == [
        (sent.id, "Cannington Leisureplex closed", False),
        (sent.id, "Cannington Leisureplex closed until 3pm", False),
        (sent.id, "Cannington Leisureplex closed until 3pm", True),
    ]
    assert len({a.issued_at for a in messages}) == 1  # issued_at alone cannot order them
    revisions = [a.revision for a in messages]
    assert revisions == sorted(set(revisions)), revisions
    # What a reconnect republishes is the clear, never the older message.
    publisher.sent.clear()
    alerts.republish(session, rt)
    assert published(publisher, rt, "cannington-lp") == messages[-1:]


def test_clearing_the_alert_showing_brings_back_the_other_live_one(session, rt, publisher, clock):
    add_site(session, rt, "cannington-lp")
    closed = send(session, rt, "cannington-lp", "Pool closed")
    clock.advance(minutes=5)
    drill = send(session, rt, "cannington-lp", "Fire drill at 3pm")
    alerts.clear_alert(session, rt, ADMIN, drill.id)

    last = published(publisher, rt, "cannington-lp")[-1]
    assert (last.id, last.title, last.cleared) == (closed.id, "Pool closed", False)
    assert last.revision > published(publisher, rt, "cannington-lp")[-2].revision


def test_two_cms_processes_publish_a_scopes_alerts_in_revision_order(config, clock, request):
    """Two CMS apps on one database and the real Mosquitto, sending and clearing on one
    scope at once, each republishing when it connects: the broker receives the revisions
    in order, so the retained message is always the newest."""
    scope = f"cannington-{secrets.token_hex(3)}"
    topic = alert_topic(scope)
    apps = []
    for _ in range(2):
        app = create_app(config.with_changes(mqtt_brokers=("mqtt://127.0.0.1:1883",)), clock=clock)
        apps.append((app, runtime(app)))
        # The renewer and feed refresher too: left running they tick (and take leases)
        # on the next tests' PostgreSQL database.
        request.addfinalizer(parts(app).close)
    keys = [apps[0][1].signing_key.public_key]
    first = cms_db.database(apps[0][0]).sessions()
    add_site(first, apps[0][1], scope)
    first.close()

    arrived: list[Alert] = []
    changed = threading.Condition()
    subscribed = threading.Event()
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"watch-{scope}")

    def on_message(client, userdata, message) -> None:
        if message.payload:
            with changed:
                arrived.append(parse_signed(Alert, bytes(message.payload), keys))
                changed.notify_all()

    watcher.on_connect = lambda client, *args: client.subscribe(topic, qos=1)
    watcher.on_subscribe = lambda *args: subscribed.set()
    watcher.on_message = on_message
    watcher.connect("127.0.0.1", 1883)
    watcher.loop_start()
    assert subscribed.wait(10)

    rounds = 5

    def staff(app, rt, name: str) -> None:
        session = cms_db.database(app).sessions()
        try:
            for n in range(rounds):
                alert = send(session, rt, scope, f"{name} {n}")
                alerts.clear_alert(session, rt, ADMIN, alert.id)
        finally:
            session.close()

    try:
        workers = [
            threading.Thread(target=staff, args=(app, rt, f"process {i}"))
            for i, (app, rt) in enumerate(apps)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        check = cms_db.database(apps[0][0]).sessions()
        newest = check.scalar(select(func.max(m.Alert.revision)).where(m.Alert.scope == scope))
        check.close()
        with changed:
            assert changed.wait_for(lambda: any(a.revision == newest for a in arrived), 30)
        assert len({a.title for a in arrived}) == 2 * rounds
        # A reconnect may repeat the newest message, never bring back an older one.
        for before, after in itertools.pairwise(arrived):
            assert before.revision < after.revision or before == after, (before, after)
        assert arrived[-1].revision == newest and arrived[-1].cleared
    finally:
        watcher.publish(topic, b"", qos=1, retain=True).wait_for_publish(10)
        watcher.loop_stop()
        watcher.disconnect()


def sign_in_at_a_site(client, session, rt) -> None:
    """A site to send alerts to and a communications officer signed in to the CMS."""
    add_site(session, rt, "cannington-lp")
    fleet.create_user(
        session, rt, None, username="comms", password=PASSWORD, role=m.Role.ADMIN, sites=[]
    )
    session.commit()
    token = csrf_of(client.get("/login").text)
    client.post("/login", data={"username": "comms", "password": PASSWORD, "csrf_token": token})


def test_staff_change_a_live_alert_and_devices_get_the_new_words(
    client, session, rt, publisher, clock
):
    sign_in_at_a_site(client, session, rt)
    page = client.get("/alerts/")
    sent = client.post(
        "/alerts/",
        data={
            "csrf_token": csrf_of(page.text),
            "scope": "cannington-lp",
            "severity": "warning",
            "title": "Cannington Leisureplex closed",
            "body": "",
            "minutes": "60",
        },
        follow_redirects=True,
    )
    [before] = published(publisher, rt, "cannington-lp")
    assert f'/alerts/{before.id}/edit"' in sent.text

    form = client.get(f"/alerts/{before.id}/edit")
    assert 'value="Cannington Leisureplex closed"' in form.text and 'value="60"' in form.text
    clock.advance(minutes=10)
    changed = client.post(
        f"/alerts/{before.id}/edit",
        data={
            "csrf_token": csrf_of(form.text),
            "severity": "emergency",
            "title": "Cannington closed until 3pm",
            "body": "Power failure",
            "minutes": "30",
        },
        follow_redirects=True,
    )
    assert "Changed “Cannington closed until 3pm”" in changed.text
    after = published(publisher, rt, "cannington-lp")[-1]
    assert (after.id, after.issued_at) == (before.id, before.issued_at)
    assert (after.title, after.severity, after.revision > before.revision) == (
        "Cannington closed until 3pm",
        Severity.EMERGENCY,
        True,
    )
    assert after.expires_at == clock.now() + timedelta(minutes=30)


def test_an_alert_lasting_longer_than_a_week_or_no_time_is_refused_and_nothing_changes(
    client, session, rt, publisher
):
    sign_in_at_a_site(client, session, rt)
    fields = {"scope": "cannington-lp", "severity": "warning", "title": "Pool closed", "body": ""}
    for minutes in ("20160", "soon"):
        page = client.get("/alerts/")
        refused = client.post(
            "/alerts/",
            data={**fields, "csrf_token": csrf_of(page.text), "minutes": minutes},
            follow_redirects=True,
        )
        assert "Give how long the alert lasts, 1 to 10080 minutes." in refused.text
    assert published(publisher, rt, "cannington-lp") == []

    sent = send(session, rt, "cannington-lp", "Pool closed")
    form = client.get(f"/alerts/{sent.id}/edit")
    refused = client.post(
        f"/alerts/{sent.id}/edit",
        data={**fields, "csrf_token": csrf_of(form.text), "title": "Pool open", "minutes": "0"},
        follow_redirects=True,
    )
    assert "Give how long the alert lasts from now, 1 to 10080 minutes." in refused.text
    assert [a.title for a in published(publisher, rt, "cannington-lp")] == ["Pool closed"]


PASSWORD = "correct horse battery"
