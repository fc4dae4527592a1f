from __future__ import annotations

import uuid

import pytest

from central_cms.analytics.sqlite_store import SqliteStore


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "analytics.sqlite3")
    yield s
    s.close()


@pytest.fixture
def unique():
    """A suffix that keeps device ids and groups apart from parallel test runs."""
    return uuid.uuid4().hex[:8]
