from __future__ import annotations

import uuid

import pytest

from central_cms.analytics.sqlite_store import SqliteStore
from devices.broker import mosquitto_conf
from tests.brokers import free_port, start_mosquitto


@pytest.fixture
def broker(tmp_path):
    """A Mosquitto of our own with the fleet-sized queue limits, stopped by PID."""
    port = free_port()
    running = start_mosquitto(
        tmp_path / "mosquitto", mosquitto_conf(port=port, allow_anonymous=True), port
    )
    yield running
    running.stop()


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "analytics.sqlite3")
    yield s
    s.close()


@pytest.fixture
def unique():
    """A suffix that keeps device ids and groups apart from parallel test runs."""
    return uuid.uuid4().hex[:8]
