"""Fixtures of the staff browser tests: a real CMS server on a free port (no renewal
thread), a headless Chromium, and the folder screenshots go to ($DS_SCREENSHOTS, e.g.
docs/screenshots/cms when refreshing the docs, else the test's tmp folder)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from central_cms import db as cms_db
from central_cms.app import create_app
from central_cms.runtime import runtime
from devices.clock import SystemClock
from testkit.brokers import free_port
from testkit.browsers import launch_chromium


@pytest.fixture
def server(config, request):
    port = free_port()
    app = create_app(  # no renewal thread: it would outlive the test
        config.with_changes(public_url=f"http://127.0.0.1:{port}"),
        clock=SystemClock(),
        renewal=False,
    )
    httpd = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()

    def stop():
        httpd.shutdown()
        thread.join(10)
        runtime(app).publisher.stop()
        cms_db.database(app).engine.dispose()

    request.addfinalizer(stop)
    return app, f"http://127.0.0.1:{port}"


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("DS_SCREENSHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def browser():
    with sync_playwright() as p:
        chromium = launch_chromium(p)
        yield chromium
        chromium.close()
