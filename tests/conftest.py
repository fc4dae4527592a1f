"""Fixtures every test folder shares: the CMS app over both databases (`db` is
parametrised over a SQLite file and PostgreSQL), an injectable `clock`, and a `broker` of
the test's own (a real Mosquitto). Builders and helpers live in the `testkit` package;
folder conftests keep only what is specific to their folder.

PostgreSQL: one database per test session (`ds_test_<random>`), migrated once, emptied
between tests and dropped at the end, so parallel runs by others do not collide.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from central_cms import db as cms_db
from central_cms import models as m
from central_cms.app import create_app
from central_cms.config import CmsConfig, load_config
from central_cms.leases import PeriodicJob
from central_cms.publisher import RecordingPublisher
from central_cms.runtime import CmsRuntime, parts, runtime
from devices.broker import mosquitto_conf
from devices.clock import ManualClock
from testkit.brokers import RunningBroker, free_port, start_mosquitto
from testkit.city import World, make_world
from testkit.messages import T0

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[RunningBroker]:
    """A Mosquitto of our own with the fleet-sized queue limits, stopped by PID."""
    port = free_port()
    running = start_mosquitto(
        tmp_path / "mosquitto", mosquitto_conf(port=port, allow_anonymous=True), port
    )
    yield running
    running.stop()


# --- no CMS job outlives its module ----------------------------------------------------
# A CMS app made without a publisher starts its renewer and feed refresher (real clock,
# real broker). Left running, they tick on the next tests' PostgreSQL database and hold
# leases those tests need: stop such an app with `parts(app).close()`.

_started_by: dict[threading.Thread, str] = {}


def _job_threads() -> set[threading.Thread]:
    names = {PeriodicJob.thread_name, *(c.thread_name for c in PeriodicJob.__subclasses__())}
    return {t for t in threading.enumerate() if t.name in names}


@pytest.fixture(autouse=True)
def _note_cms_jobs_started(request: pytest.FixtureRequest) -> Iterator[None]:
    before = _job_threads()
    yield
    for thread in _job_threads() - before:
        _started_by.setdefault(thread, request.node.nodeid)


@pytest.fixture(scope="module", autouse=True)
def _no_cms_job_outlives_its_module() -> Iterator[None]:
    before = _job_threads()
    yield
    left = sorted(f"{t.name} (from {_started_by.get(t, '?')})" for t in _job_threads() - before)
    assert not left, f"CMS jobs left running; stop the app with parts(app).close(): {left}"


# --- the CMS over both databases -------------------------------------------------------


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
        database_url=db,
        public_url="http://127.0.0.1:5999",
        login_attempts_per_15min=5,
        # The feed tests' sources are local servers (tests/central_cms/feed_source.py);
        # tests of the default refuse them with feed_internal_hosts=() (issue 17).
        feed_internal_hosts=("127.0.0.1",),
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


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def world(session: Session, rt: CmsRuntime, publisher: RecordingPublisher) -> World:
    made = make_world(session, rt)
    publisher.sent.clear()
    return made
