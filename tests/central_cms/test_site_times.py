"""Issue 13 point 20, on the pages: alert, device-health and audit pages show times in the
site's zone with the zone named (no page says UTC for a site's time), nothing assumes
Perth, and dates are typed day/month/year. SQLite and PostgreSQL; Chromium for the form.
"""

from __future__ import annotations

import base64
import os
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import select
from werkzeug.serving import make_server

from central_cms import alerts, fleet
from central_cms import db as cms_db
from central_cms import models as m
from central_cms.analytics.ports import FleetStore
from central_cms.app import create_app
from central_cms.policy import Actor
from central_cms.publisher import RecordingPublisher
from central_cms.runtime import parts, runtime
from devices.clock import ManualClock
from devices.protocol import CommandResult, DeviceKind, DeviceState, NowShowing, Severity, Status
from testkit.brokers import free_port
from testkit.browsers import CHROMIUM, launch_chromium
from testkit.city import add_profile, add_screen, add_site
from testkit.staff import csrf_of

ADMIN = Actor("times-admin", m.Role.ADMIN)
PASSWORD = "correct horse battery staple"
# 06:05 UTC on Wednesday 2 December 2026: 14:05 in Perth, 19:05 in Auckland (NZDT).
NOW = datetime(2026, 12, 2, 6, 5, tzinfo=UTC)
ZONES = {"AWST": ZoneInfo("Australia/Perth"), "NZDT": ZoneInfo("Pacific/Auckland")}


def _city(app: Flask, zone: str) -> None:
    """Two sites in `zone`, a screen, and an admin who can sign in."""
    rt = runtime(app)
    with cms_db.database(app).sessions() as session:
        for site_id in ("harbour-pool", "harbour-library"):
            add_site(session, rt, site_id, timezone=zone, actor=ADMIN)
        add_profile(session, rt, "indoor", name="Indoor", actor=ADMIN)
        add_screen(session, rt, "sig-harbour-pool", "harbour-pool", "indoor", actor=ADMIN)
        fleet.create_user(
            session, rt, None, username="comms", password=PASSWORD, role=m.Role.ADMIN, sites=[]
        )
        alerts.send_alert(
            session,
            rt,
            ADMIN,
            scope="harbour-pool",
            title="Pool closed",
            body="",
            severity=Severity.WARNING,
            expires_at=NOW + timedelta(hours=1),
        )
        session.commit()


def _signed_in(app: Flask):
    client = app.test_client()
    login = client.get("/login")
    client.post(
        "/login",
        data={"username": "comms", "password": PASSWORD, "csrf_token": csrf_of(login.text)},
    )
    return client


@pytest.fixture(
    params=[("Australia/Perth", "AWST", "15:05"), ("Pacific/Auckland", "NZDT", "20:05")]
)
def city(request, config, tmp_path):
    """A city in Perth, and one in Auckland: nothing may assume Perth."""
    zone, label, alert_ends = request.param
    app = create_app(config, publisher=RecordingPublisher(), clock=ManualClock(NOW))
    app.config["TESTING"] = True
    _city(app, zone)
    yield app, label, alert_ends
    cms_db.database(app).engine.dispose()


def test_alert_page_shows_when_it_ends_in_the_sites_zone(city):
    app, label, ends = city
    page = _signed_in(app).get("/alerts/").text
    assert f"2 December 2026, {ends} {label}" in page
    assert "UTC" not in page


def test_device_page_shows_status_and_results_in_the_sites_zone(city):
    app, label, _ = city
    client = _signed_in(app)
    client.get("/analytics/fleet")  # registers the devices with the fleet store
    store: FleetStore = parts(app).analytics.stores.fleet
    since = NOW - timedelta(minutes=5)
    store.record_status(
        Status(
            device_id="sig-harbour-pool",
            kind=DeviceKind.SIGNAGE,
            state=DeviceState.ONLINE,
            software_version="1.0.0",
            now_showing=NowShowing(item_id=None, since=since),
            at=NOW,
        ),
        NOW,
    )
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()
    store.record_command_result(
        CommandResult(
            command_id="cmd-shot",
            device_id="sig-harbour-pool",
            ok=True,
            detail="PNG",
            data={"png_base64": png},
            at=NOW - timedelta(seconds=30),
        ),
        NOW,
    )
    page = client.get("/analytics/fleet/sig-harbour-pool").text
    local = since.astimezone(ZONES[label])
    assert f"since 2 December 2026, {local:%H:%M} {label}" in page
    shot = (NOW - timedelta(seconds=30)).astimezone(ZONES[label])
    assert f"showed at 2 December 2026, {shot:%H:%M} {label}" in page
    assert f"2 December 2026, {shot:%H:%M:%S} {label}" in page  # the results table
    assert "UTC" not in page


def test_audit_log_is_in_the_zone_every_site_shares(city):
    app, label, _ = city
    page = _signed_in(app).get("/audit/").text
    assert re.search(rf"2 December 2026, \d\d:\d\d:\d\d {label}", page)
    assert "UTC" not in page


def test_campaign_dates_are_typed_and_shown_day_first(city):
    app, _, _ = city
    client = _signed_in(app)
    form = client.get("/campaigns/new")
    assert "day/month/year, e.g. 02/12/2026" in form.text.lower()
    assert 'type="date"' not in form.text  # the browser would show it month-first
    fields = {
        "csrf_token": csrf_of(form.text),
        "name": "Summer swim",
        "owner_site_id": "harbour-pool",
        "priority": "50",
        "target_sites": "harbour-pool",
        "item_rows": "1",
        "items-0-kind": "text",
        "items-0-title": "Summer swim",
        "items-0-duration_s": "10",
    }
    refused = client.post("/campaigns/new", data={**fields, "starts_on": "12/31/2026"})
    assert refused.status_code == 400
    assert "&#39;12/31/2026&#39; is not a date: write day/month/year" in refused.text
    saved = client.post(
        "/campaigns/new", data={**fields, "starts_on": "02/12/2026", "ends_on": "9/1/2027"}
    )
    assert saved.status_code == 302, saved.text
    with cms_db.database(app).sessions() as session:
        campaign = session.scalars(select(m.Campaign)).one()
        assert campaign.schedules[0]["starts_on"] == "2026-12-02"
        assert campaign.schedules[0]["ends_on"] == "2027-01-09"
        edit = client.get(f"/campaigns/{campaign.id}/edit").text
    assert 'value="02/12/2026"' in edit and 'value="09/01/2027"' in edit


def test_analytics_dates_are_typed_day_first(city):
    app, _, _ = city
    page = _signed_in(app).get("/analytics/?start=01/11/2026&end=30/11/2026").text
    assert 'value="01/11/2026"' in page and 'value="30/11/2026"' in page
    assert "Write dates as" not in page


@pytest.mark.browser
@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_staff_member_on_an_en_us_browser_types_dates_day_first(config, tmp_path):
    """Chromium set to en-US (as many city PCs are) would show a native date field as
    mm/dd/yyyy; the editor's text fields take what the city writes, 02/12/2026."""
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed")
    port = free_port()
    app = create_app(
        config.with_changes(public_url=f"http://127.0.0.1:{port}"),
        publisher=RecordingPublisher(),
        clock=ManualClock(NOW),
    )
    _city(app, "Australia/Perth")
    httpd = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    shots = Path(os.environ.get("DS_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_page(locale="en-US", viewport={"width": 1280, "height": 900})
            base = f"http://127.0.0.1:{port}"
            page.goto(f"{base}/login")
            page.get_by_label("User name").fill("comms")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.goto(f"{base}/campaigns/new")
            page.get_by_label("Name").fill("Summer swim")
            page.get_by_label("First day").fill("02/12/2026")
            page.get_by_label("Last day").fill("9/1/2027")
            page.get_by_label("Harbour Pool").check()
            page.locator("#items-0-kind").select_option("text")
            page.locator("#items-0-title").fill("Summer swim")
            page.get_by_label("First day").scroll_into_view_if_needed()
            page.screenshot(path=shots / "times-01-campaign-dates.png")
            page.get_by_role("button", name="Save draft").click()
            expect(page.get_by_text("as a draft")).to_be_visible()
            # The detail page lists the next showings in site time, zone named (open now).
            expect(page.get_by_text("Wed 2 December 2026, 14:05 AWST").first).to_be_visible()
            page.screenshot(path=shots / "times-02-campaign-detail.png", full_page=True)
            page.get_by_role("link", name="Edit").click()
            expect(page.get_by_label("First day")).to_have_value("02/12/2026")
            expect(page.get_by_label("Last day")).to_have_value("09/01/2027")
            page.goto(f"{base}/alerts/")
            expect(page.get_by_text("2 December 2026, 15:05 AWST")).to_be_visible()
            page.screenshot(path=shots / "times-03-alerts.png", full_page=True)
            page.goto(f"{base}/audit/")
            page.screenshot(path=shots / "times-04-audit.png", full_page=True)
            browser.close()
    finally:
        httpd.shutdown()
        thread.join(10)
        cms_db.database(app).engine.dispose()
