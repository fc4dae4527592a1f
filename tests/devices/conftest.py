"""Devices fixtures: the content cache tests' asset server, recording sleep and a cache
factory on the test's tmp folder."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.cache import ContentCache
from devices.http_fetch import UrllibTransport
from tests.devices.cache_server import RETRY, TOKEN, AssetServer, RecordingSleep


@pytest.fixture
def server() -> Iterator[AssetServer]:
    app = AssetServer()
    yield app
    app.close()


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def make_cache(tmp_path: Path, sleep: RecordingSleep):
    def make(budget_bytes: int = 1 << 30, token: str = TOKEN, **options: object) -> ContentCache:
        return ContentCache(
            tmp_path / "cache",
            budget_bytes=budget_bytes,
            transport=UrllibTransport(token, timeout_s=10),
            retry=RETRY,
            sleep=sleep,
            rng=random.Random(7),
            **options,  # type: ignore[arg-type]
        )

    return make
