"""Staff analytics and IT device-health pages, in headless Chromium, on a fleet simulated
through the real Mosquitto and ingest. Screenshots go to $DS_SCREENSHOTS (set it to
docs/screenshots/analytics to refresh the docs), else to the test's tmp folder."""

from __future__ import annotations

import csv
import io
import random
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from werkzeug.serving import make_server

from central_cms import db as cms_db
from central_cms import models as m
from central_cms.analytics.sqlite_store import SqliteStore
from central_cms.analytics.stores import Stores
from central_cms.analytics.web import sync_directory
from central_cms.app import create_app
from central_cms.ingest import Ingest, IngestSettings
from central_cms.publisher import RecordingPublisher
from central_cms.runtime import runtime
from devices.clock import ManualClock
from testkit.brokers import free_port, paho_client
from testkit.browsers import launch_chromium
from testkit.staff import make_user
from tests.analytics.cityfleet import NOW, build_world, publish_fleet
from tests.analytics.pages import no_serious_axe_violations, shots_dir, sign_in
from tests.analytics.sim import mqtt_settings


@pytest.fixture
def city(config, tmp_path, broker, unique):
    """A CMS (SQLite and PostgreSQL) with the analytics pages, and two weeks of a simulated
    fleet ingested."""
    clock = ManualClock(NOW)
    config = config.with_changes(public_url="http://127.0.0.1:1")
    store = SqliteStore(tmp_path / "analytics.sqlite3")
    app = create_app(
        config,
        publisher=RecordingPublisher(),
        clock=clock,
        analytics=Stores(events=store, fleet=store, sqlite=store),
    )
    session = cms_db.database(app).sessions()
    build_world(session, runtime(app))
    for state in session.query(m.ManifestState):
        state.version, state.published_at = 3, NOW - timedelta(hours=2)
    make_user(session, runtime(app), "it-ops", m.Role.IT)
    make_user(session, runtime(app), "comms", m.Role.EDITOR)
    session.commit()
    session.close()
    # the ingest learns sites from the directory the pages copy from the CMS
    sync_directory(app)
    ingest = Ingest(
        store,
        store,
        IngestSettings(
            mqtt=mqtt_settings(broker.port), client_id=f"ingest-{unique}", shared_group=f"g{unique}"
        ),
        clock=clock,
    )
    ingest.start()
    assert ingest.link.connected.wait(10)
    device = paho_client(f"city-{unique}", broker.port)
    publish_fleet(
        device,
        clock,
        lambda n: ingest.stats.wait_for(lambda s: s.messages >= n, 60),
        random.Random(7),
    )
    device.loop_stop()
    device.disconnect()
    ingest.stop()
    port = free_port()
    httpd = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", store
    httpd.shutdown()
    thread.join(10)
    store.close()
    cms_db.database(app).engine.dispose()


@pytest.mark.browser
def test_staff_read_reach_and_it_reads_fleet_health_in_a_browser(city, tmp_path):
    base, store = city
    shots = shots_dir(tmp_path)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        sign_in(page, base, "comms")
        page.get_by_role("link", name="Analytics").click()
        expect(page.get_by_role("heading", name="Proof of play")).to_be_visible()
        # the two weeks up to today (15 Dec in Perth) are the default period
        expect(page.get_by_label("From")).to_have_value("02/12/2026")  # day first (issue 13)
        plays_total = store.count_events()
        assert page.get_by_role("img", name="Plays per day").is_visible()
        page.screenshot(path=str(shots / "analytics-report.png"), full_page=True)
        no_serious_axe_violations(page)

        page.get_by_label("Site", exact=True).select_option(label="Cannington Leisureplex")
        # a search by name, not a drop-down of every campaign (issue 17): "school" names
        # three, listed to choose from; the choice stays in the box
        page.get_by_label("Campaign", exact=True).fill("school")
        page.get_by_role("button", name="Show").click()
        expect(page.get_by_role("heading", name="3 campaigns match “school”")).to_be_visible()
        no_serious_axe_violations(page)
        page.get_by_role("link", name="Swim school enrolments").click()
        expect(page.get_by_label("Campaign", exact=True)).to_have_value("Swim school enrolments")
        expect(page.get_by_label("Site", exact=True)).to_have_value("cannington-leisure")
        no_serious_axe_violations(page)
        page.get_by_role("button", name="Show").click()
        page.locator("summary", has_text="Per campaign, site and day").click()
        plays_table = page.get_by_role("table").nth(1)
        sites_shown = set(plays_table.locator("tbody tr td:nth-child(2)").all_inner_texts())
        assert sites_shown == {"Cannington Leisureplex"}
        assert set(plays_table.locator("tbody tr td:nth-child(3)").all_inner_texts()) == {
            "Swim school enrolments"
        }
        page.screenshot(path=str(shots / "analytics-filtered.png"), full_page=True)
        with page.expect_download() as download:
            page.get_by_role("link", name="Download plays as CSV").click()
        rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
        assert rows and {r["site"] for r in rows} == {"Cannington Leisureplex"}
        assert sum(int(r["plays"]) for r in rows) == sum(
            int(t) for t in plays_table.locator("tbody tr td:nth-child(4)").all_inner_texts()
        )
        assert plays_total > sum(int(r["plays"]) for r in rows)
        # communications staff do not get IT's pages
        expect(page.get_by_role("link", name="Device health")).to_have_count(0)
        page.context.clear_cookies()

        sign_in(page, base, "it-ops")
        page.get_by_role("link", name="Device health").click()
        problems = page.locator(".findings")
        expect(problems).to_contain_text("led-albany-hwy-01: offline")
        expect(problems).to_contain_text("sig-cannington-pool: temperature")
        expect(problems).to_contain_text("sig-cannington-pool: throttling")
        expect(problems).to_contain_text("sig-bentley-lib-desk: disk")
        expect(problems).to_contain_text("sig-bentley-lib-desk: manifest")
        foyer = page.locator("table tbody tr", has_text="sig-riverton-lib-foyer")
        expect(foyer).to_contain_text("Screen off: outside its hours")
        page.screenshot(path=str(shots / "fleet.png"), full_page=True)
        no_serious_axe_violations(page)
        page.get_by_role("link", name="Temp.").click()
        first_row = page.locator("table tbody tr").first
        expect(first_row).to_contain_text("sig-cannington-pool")
        page.get_by_label("Kind", exact=True).select_option("portal")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator("table tbody tr")).to_have_count(2)
        page.get_by_label("Kind", exact=True).select_option("")
        page.get_by_label("State", exact=True).select_option("offline")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator("table tbody tr")).to_have_count(1)
        expect(page.locator("table tbody tr")).to_contain_text("led-albany-hwy-01")

        page.goto(f"{base}/analytics/fleet/sig-cannington-pool")
        expect(page.get_by_role("heading", name="sig-cannington-pool")).to_be_visible()
        shot = page.get_by_role("img", name="What sig-cannington-pool showed")
        expect(shot).to_be_visible()
        assert shot.evaluate("img => img.naturalWidth") == 480
        assert page.get_by_role("img", name="Temperature").is_visible()
        page.screenshot(path=str(shots / "device.png"), full_page=True)
        no_serious_axe_violations(page)
        browser.close()
