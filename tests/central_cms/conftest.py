"""Fixtures of the CMS folder: for the staff browser tests a real CMS server on a free
port (no renewal thread), a headless Chromium and the folder screenshots go to
($DS_SCREENSHOTS, e.g. docs/screenshots/cms when refreshing the docs, else the test's tmp
folder); for the Screens tests a fleet of screens reporting live."""

from __future__ import annotations

import os
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from central_cms import db as cms_db
from central_cms.app import create_app
from central_cms.runtime import runtime
from devices.clock import ManualClock, SystemClock
from devices.protocol import CommandResult, NowShowing
from testkit.brokers import free_port
from testkit.browsers import launch_chromium
from testkit.city import World
from testkit.messages import T0
from tests.central_cms.screens_fleet import (
    ROADSIDE,
    fleet_store,
    frame_png,
    report_screenshot,
    report_status,
    text_campaign,
)


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


@pytest.fixture
def fleet_live(app: Flask, world: World, clock: ManualClock, session) -> dict[str, CommandResult]:
    """Every signage device online except sig-south-library (offline, with an old
    screenshot); sig-north-pool shows a campaign; screenshots of different ages."""
    store = fleet_store(app)
    rt = runtime(app)
    item = text_campaign(session, rt)
    showing = NowShowing(
        item_id=item.id, campaign_id=item.campaign_id, since=T0 - timedelta(minutes=2)
    )
    report_status(store, "sig-north-pool", clock, showing=showing)
    report_status(store, "sig-south-library", clock, online=False)
    report_status(store, "sig-east-hall", clock)
    # Blank since before its screenshot: the status says what that screenshot shows.
    blank = NowShowing(item_id=None, since=T0 - timedelta(minutes=3))
    report_status(store, ROADSIDE, clock, showing=blank)
    shots = {
        "sig-north-pool": report_screenshot(
            store, "sig-north-pool", frame_png("Swim"), timedelta(seconds=12), clock
        ),
        "sig-south-library": report_screenshot(
            store, "sig-south-library", frame_png("Storytime"), timedelta(minutes=5), clock
        ),
        ROADSIDE: report_screenshot(
            store, ROADSIDE, frame_png("Road", (192, 96)), timedelta(minutes=2), clock
        ),
    }
    # sig-east-hall is online but has never sent a screenshot.
    return shots
