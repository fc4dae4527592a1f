from __future__ import annotations

import uuid

import pytest

from central_cms import db as cms_db
from central_cms import models as m
from central_cms.analytics.sqlite_store import SqliteStore
from central_cms.analytics.stores import Stores
from central_cms.analytics.web import sync_directory
from central_cms.app import create_app
from central_cms.publisher import RecordingPublisher
from central_cms.runtime import runtime
from devices.clock import ManualClock
from testkit.staff import make_user
from tests.analytics.campaign_month import NOW, PUBLISHED_AT, build_city, generate


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "analytics.sqlite3")
    yield s
    s.close()


@pytest.fixture
def unique():
    """A suffix that keeps device ids and groups apart from parallel test runs."""
    return uuid.uuid4().hex[:8]


@pytest.fixture
def month(config, tmp_path):
    """The CMS with the two-site campaign and March's events ingested; signed-in clients
    are made by the test."""
    clock = ManualClock(PUBLISHED_AT)
    store = SqliteStore(tmp_path / "analytics.sqlite3")
    app = create_app(
        config,
        publisher=RecordingPublisher(),
        clock=clock,
        analytics=Stores(events=store, fleet=store, sqlite=store),
    )
    session = cms_db.database(app).sessions()
    campaign = build_city(session, runtime(app))
    make_user(session, runtime(app), "comms", m.Role.EDITOR)
    make_user(session, runtime(app), "bondi-editor", m.Role.EDITOR, sites=["bondi"])
    session.commit()
    campaign_id = campaign.id
    session.close()
    sync_directory(app)
    tally = generate(campaign, store, store)
    clock.set(NOW)
    yield app, campaign_id, tally, store
    store.close()
    cms_db.database(app).engine.dispose()
