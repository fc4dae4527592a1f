"""CMS fixtures: `db` (SQLite file and PostgreSQL, parametrised), `app`, `client`,
`clock`, `publisher` (the recording fake at our own seam) and `broker` helpers.

PostgreSQL: one database per test session (`ds_test_<random>`), migrated once, emptied
between tests and dropped at the end, so parallel runs by others do not collide.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import text
from sqlalchemy.orm import Session

from central_cms import db as cms_db
from central_cms import models as m
from central_cms.app import create_app
from central_cms.config import CmsConfig, load_config
from central_cms.policy import Actor
from central_cms.publisher import RecordingPublisher
from central_cms.runtime import CmsRuntime, parts, runtime
from devices.clock import ManualClock
from devices.protocol import (
    DeviceKind,
    ProfileKind,
)

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
# 08:00 on Tuesday 1 December 2026 in Perth (UTC+8, no daylight saving).
T0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    name = f"ds_test_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    engine = cms_db.make_engine(url)
    cms_db.migrate(engine)
    engine.dispose()
    yield url
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _empty_postgres(url: str) -> None:
    engine = cms_db.make_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in m.Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The database URL for one test: a fresh SQLite file, or the emptied PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cms.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    _empty_postgres(url)
    return url


@pytest.fixture
def config(db: str, tmp_path: Path) -> CmsConfig:
    return load_config(env={}, instance_path=tmp_path / "instance").with_changes(
        database_url=db, public_url="http://127.0.0.1:5999", login_attempts_per_15min=5
    )


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def app(config: CmsConfig, publisher: RecordingPublisher, clock: ManualClock) -> Iterator[Flask]:
    application = create_app(config, publisher=publisher, clock=clock)
    application.config["TESTING"] = True
    yield application
    parts(application).close()


@pytest.fixture
def rt(app: Flask) -> CmsRuntime:
    return runtime(app)


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    s = cms_db.database(app).sessions()
    yield s
    s.close()


ADMIN = Actor("test-admin", m.Role.ADMIN)
# Whoever submits a campaign cannot approve it too (issue 13, point 10).
APPROVER = Actor("test-approver", m.Role.APPROVER)


@dataclass
class World:
    """A small city made through the service functions (not the demo seed)."""

    sites: list[str] = field(default_factory=list)
    devices: dict[str, str] = field(default_factory=dict)  # device id -> site id
    media: dict[str, int] = field(default_factory=dict)


def make_world(session: Session, rt: CmsRuntime, suffix: str = "") -> World:
    from central_cms import fleet, library
    from tests.central_cms.images import png

    world = World()
    for site_id, approval in (("north-pool", True), ("south-library", False), ("east-hall", True)):
        fleet.save_site(
            session,
            rt,
            ADMIN,
            site_id=site_id,
            name=site_id.replace("-", " ").title(),
            address="",
            timezone="Australia/Perth",
            requires_approval=approval,
        )
        world.sites.append(site_id)
    for pid, profile_kind, w, h, dwell, video, contact in (
        ("indoor", ProfileKind.INDOOR, 1920, 1080, 0, True, False),
        ("led-small", ProfileKind.ROADSIDE, 192, 96, 10, False, True),
        ("splash", ProfileKind.PORTAL, 1080, 1920, 0, True, False),
    ):
        fleet.save_profile(
            session,
            rt,
            ADMIN,
            m.ScreenProfile(
                id=pid,
                name=pid.title(),
                kind=profile_kind.value,
                width_px=w,
                height_px=h,
                min_dwell_s=dwell,
                allow_video=video,
                transitions=profile_kind is not ProfileKind.ROADSIDE,
                forbid_contact_text=contact,
                brightness=[],
            ),
        )
    session.commit()
    plan = [
        ("north-pool", "sig", DeviceKind.SIGNAGE, "indoor", ["pool"]),
        ("north-pool", "portal", DeviceKind.PORTAL, "splash", ["pool"]),
        ("south-library", "sig", DeviceKind.SIGNAGE, "indoor", ["library"]),
        ("east-hall", "sig", DeviceKind.SIGNAGE, "indoor", []),
        ("east-hall", "led", DeviceKind.SIGNAGE, "led-small", ["roadside"]),
    ]
    for site_id, prefix, kind, profile, tags in plan:
        device_id = f"{prefix}-{site_id}{suffix}"
        fleet.register_device(
            session,
            rt,
            ADMIN,
            device_id=device_id,
            name="",
            kind=kind,
            site_id=site_id,
            profile_id=profile,
            tags=tags,
        )
        world.devices[device_id] = site_id
    world.media["poster"] = library.upload(
        session, rt, ADMIN, filename="poster.png", data=png(800, 450), title="Poster"
    ).id
    return world


@pytest.fixture
def world(session: Session, rt: CmsRuntime, publisher: RecordingPublisher) -> World:
    made = make_world(session, rt)
    publisher.sent.clear()
    return made


def make_user(session: Session, rt: CmsRuntime, username: str, role: m.Role, sites=()) -> None:
    from central_cms import fleet

    fleet.create_user(
        session, rt, None, username=username, password=PASSWORD, role=role, sites=list(sites)
    )


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> str:
    """Sign in; returns a CSRF token for later posts."""
    page = client.get("/login")
    token = csrf_of(page.text)
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, response.text
    return csrf_of(client.get("/campaigns/").text)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# --- the real broker --------------------------------------------------------------------


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

    def _on_message(self, client, userdata, message) -> None:
        with self._changed:
            self.latest[message.topic] = message.payload
            self._changed.notify_all()

    def wait_for(self, predicate, timeout_s: float = 10) -> bool:
        with self._changed:
            return bool(self._changed.wait_for(lambda: predicate(self.latest), timeout_s))

    def stop(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def clear_retained(topics, port: int = 1883) -> None:
    """Publish empty retained payloads so the shared broker keeps nothing of ours."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"clear-{secrets.token_hex(4)}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(t, b"", qos=1, retain=True) for t in topics]
    for info in infos:
        info.wait_for_publish(5)
    client.loop_stop()
    client.disconnect()
