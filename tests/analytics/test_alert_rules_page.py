"""IT's alert rules page in the CMS: the real Flask app on SQLite files, then headless
Chromium at a phone's width. Screenshots go to $DS_SCREENSHOTS (set it to
docs/screenshots/analytics to refresh the docs), else to the test's tmp folder."""

from __future__ import annotations

import threading
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import select
from werkzeug.serving import make_server

from central_cms import db as cms_db
from central_cms import models as m
from central_cms.analytics.health_rules import AlertRules
from central_cms.analytics.notify import HealthMonitor, NullNotifier
from central_cms.analytics.rules_form import form_values
from central_cms.analytics.sqlite_store import SqliteStore
from central_cms.analytics.stores import Stores
from central_cms.app import create_app
from central_cms.publisher import RecordingPublisher
from central_cms.runtime import runtime
from devices.clock import ManualClock
from testkit.brokers import free_port
from testkit.browsers import launch_chromium
from testkit.staff import login, make_user
from tests.analytics.pages import no_serious_axe_violations, shots_dir, sign_in
from tests.analytics.roadside import INFO, NOW, health, status

PAGE = "/analytics/alert-rules"
ALLOWED = {m.Role.ADMIN, m.Role.IT}  # those who register devices (FLEET_PERMISSION)
SILENT_FOR = timedelta(minutes=15)


@pytest.fixture
def cms(config, tmp_path):
    """The CMS (SQLite and PostgreSQL) with one staff user per role, and a roadside screen
    silent for 15 minutes."""
    clock = ManualClock(NOW)
    config = config.with_changes(public_url="http://127.0.0.1:1")
    store = SqliteStore(tmp_path / "analytics.sqlite3")
    app = create_app(
        config,
        publisher=RecordingPublisher(),
        clock=clock,
        analytics=Stores(events=store, fleet=store, sqlite=store),
    )
    app.config["TESTING"] = True
    session = cms_db.database(app).sessions()
    for role in m.Role:
        make_user(session, runtime(app), f"{role.value}-user", role)
    session.commit()
    session.close()
    store.register_devices([INFO])
    store.record_status(status(at=NOW - SILENT_FOR), NOW - SILENT_FOR)
    store.record_health([health(at=NOW - SILENT_FOR)], NOW - SILENT_FOR)
    yield app, store
    store.close()
    cms_db.database(app).engine.dispose()


class Elements(HTMLParser):
    """Attributes and text of every element with an id, and the text of each label."""

    VOID = {"input", "br", "img", "meta", "link", "hr"}

    def __init__(self, html: str) -> None:
        super().__init__()
        self.attrs: dict[str, dict[str, str | None]] = {}
        self.text: dict[str, str] = {}
        self.labels: dict[str, str] = {}
        self._open: list[tuple[str, str | None, str | None]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        key = found.get("id")
        if key:
            self.attrs[key], self.text[key] = found, ""
        label_for = found.get("for") if tag == "label" else None
        if label_for:
            self.labels[label_for] = ""
        if tag not in self.VOID:
            self._open.append((tag, key, label_for))

    def handle_endtag(self, tag):
        while self._open and self._open.pop()[0] != tag:
            pass

    def handle_data(self, data):
        for _, key, label_for in self._open:
            if key:
                self.text[key] += data
            if label_for:
                self.labels[label_for] += data

    def described_by(self, field: str) -> list[str]:
        ids = self.attrs[field]["aria-describedby"] or ""
        return [" ".join(self.text[i].split()) for i in ids.split()]


def signed_in(app, role: m.Role):
    client = app.test_client()
    return client, login(client, f"{role.value}-user")


def form(csrf: str | None, **changes: str) -> dict[str, str]:
    data = {**form_values(AlertRules()), **changes}
    return data if csrf is None else {**data, "csrf_token": csrf}


def audit_rows(app) -> list[m.AuditEntry]:
    with cms_db.database(app).sessions() as session:
        return list(
            session.scalars(select(m.AuditEntry).where(m.AuditEntry.entity_type == "alert_rules"))
        )


def test_it_sees_the_thresholds_in_use_in_labelled_inputs_with_units(cms):
    app, store = cms
    store.save_alert_rules(AlertRules(offline_after_min=25, disk_warning_percent=80))
    client, _ = signed_in(app, m.Role.IT)
    page = client.get(PAGE)
    assert page.status_code == 200
    html = Elements(page.text)
    assert html.attrs["offline_after_min"]["value"] == "25"
    assert html.attrs["disk_warning_percent"]["value"] == "80"
    assert html.attrs["temperature_critical_c"]["value"] == "82"
    assert " ".join(html.labels["offline_after_min"].split()) == "Offline after (minutes)"
    assert " ".join(html.labels["temperature_warning_c"].split()) == "Temperature warning at (°C)"
    assert " ".join(html.labels["disk_critical_percent"].split()) == "Disk critical at (%)"
    for name in form_values(AlertRules()):
        assert html.attrs[name]["inputmode"] == "decimal"
        assert name in html.labels, f"{name} has no label"
    (hint,) = html.described_by("offline_after_min")
    assert "From 2 to 10080 minutes; default 10 minutes." in hint
    assert 'name="csrf_token"' in page.text


def test_the_fleet_page_links_to_the_alert_rules(cms):
    app, _ = cms
    client, _ = signed_in(app, m.Role.IT)
    assert f'href="{PAGE}"' in client.get("/analytics/fleet").text


def test_saving_changes_what_the_fleet_page_reports_and_is_audited(cms):
    app, store = cms
    client, csrf = signed_in(app, m.Role.IT)
    assert "sig-road-01</a>: offline, silent for 15 min" in client.get("/analytics/fleet").text

    saved = client.post(PAGE, data=form(csrf, offline_after_min="30", disk_warning_percent="80"))
    assert saved.status_code == 302 and saved.headers["Location"].endswith(PAGE)
    assert store.alert_rules() == AlertRules(offline_after_min=30, disk_warning_percent=80)
    page = client.get(PAGE)
    assert "Saved. Device health shows problems by the new thresholds now" in page.text
    assert Elements(page.text).attrs["offline_after_min"]["value"] == "30"
    assert "Last changed by it-user on 1 December 2026, 02:00 UTC."  # no sites: UTC in page.text
    fleet = client.get("/analytics/fleet").text
    assert "sig-road-01</a>: offline" not in fleet
    (entry,) = audit_rows(app)
    assert (entry.username, entry.action) == ("it-user", "alert_rules.save")
    assert entry.detail == {"offline_after_min": [10, 30], "disk_warning_percent": [85, 80]}


def test_saving_the_same_thresholds_records_no_change(cms):
    app, store = cms
    client, csrf = signed_in(app, m.Role.ADMIN)
    assert client.post(PAGE, data=form(csrf)).status_code == 302
    assert "Nothing changed" in client.get(PAGE).text
    assert audit_rows(app) == []
    assert store.alert_rules() == AlertRules()


def test_bad_input_is_explained_beside_each_field_and_nothing_is_saved(cms):
    app, store = cms
    client, csrf = signed_in(app, m.Role.IT)
    refused = client.post(
        PAGE,
        data=form(
            csrf,
            offline_after_min="",
            temperature_warning_c="90",
            temperature_critical_c="85",
            disk_critical_percent="lots",
            memory_warning_percent="150",
        ),
    )
    assert refused.status_code == 400
    assert "<title>Error: Alert rules" in refused.text
    html = Elements(refused.text)
    expected = {
        "offline_after_min": "Enter a number.",
        "temperature_warning_c": "The warning level must be below the critical level (85 °C).",
        "disk_critical_percent": "Enter a number, like 10.",
        "memory_warning_percent": "Enter a number from 1 to 100 %.",
    }
    for field, message in expected.items():
        assert html.attrs[field]["aria-invalid"] == "true"
        hint, error = html.described_by(field)
        assert "; default " in hint and error == f"Error: {message}"
    # what was typed stays in the form to correct; the fields that were fine are not flagged
    assert html.attrs["disk_critical_percent"]["value"] == "lots"
    assert html.attrs["temperature_critical_c"]["value"] == "85"
    assert "aria-invalid" not in html.attrs["temperature_critical_c"]
    assert html.described_by("temperature_critical_c")[0].startswith("The Pi's firmware")
    # the summary at the top links to each field in the form's order
    summary = " ".join(html.text["error-summary-title"].split())
    assert summary == "There is a problem"
    box = refused.text.split('class="error-summary"')[1].split("</div>")[0]
    assert [link.split('"')[0] for link in box.split('href="#')[1:]] == list(expected)
    assert store.alert_rules() == AlertRules()
    assert audit_rows(app) == []


def test_a_post_without_the_pages_csrf_token_is_refused(cms):
    app, store = cms
    client, _ = signed_in(app, m.Role.IT)
    assert client.post(PAGE, data=form(None, offline_after_min="30")).status_code == 400
    forged = client.post(PAGE, data=form("not-the-token", offline_after_min="30"))
    assert forged.status_code == 400
    assert store.alert_rules() == AlertRules()
    assert audit_rows(app) == []


def test_only_staff_who_manage_devices_may_see_or_change_the_rules(cms):
    app, store = cms
    for role in m.Role:
        client, csrf = signed_in(app, role)
        shown = client.get(PAGE)
        changed = client.post(PAGE, data=form(csrf, offline_after_min="45"))
        if role in ALLOWED:
            assert (shown.status_code, changed.status_code) == (200, 302), role
            store.save_alert_rules(AlertRules())
        else:
            assert (shown.status_code, changed.status_code) == (403, 403), role
            assert store.alert_rules() == AlertRules(), role
    assert {e.username for e in audit_rows(app)} == {"admin-user", "it-user"}
    anonymous = app.test_client().get(PAGE)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_a_save_on_the_page_reaches_the_ingests_notifier_on_its_next_tick(cms, tmp_path):
    app, _ = cms
    ingest_store = SqliteStore(tmp_path / "analytics.sqlite3")  # the ingest process's own
    clock = ManualClock(NOW)
    monitor = HealthMonitor(ingest_store, NullNotifier(), clock)
    assert [f.rule for f in monitor.tick().raised] == ["offline"]
    client, csrf = signed_in(app, m.Role.IT)
    assert client.post(PAGE, data=form(csrf, offline_after_min="20")).status_code == 302
    clock.advance(minutes=1)
    assert [f.rule for f in monitor.tick().cleared] == ["offline"]
    clock.advance(minutes=5)  # silent for 21 minutes now
    assert [f.rule for f in monitor.tick().raised] == ["offline"]
    ingest_store.close()


@pytest.fixture
def served(cms):
    app, store = cms
    port = free_port()
    httpd = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", store
    httpd.shutdown()
    thread.join(10)


@pytest.mark.browser
def test_it_edits_the_alert_rules_on_a_phone(served, tmp_path):
    base, store = served
    shots = shots_dir(tmp_path)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 375, "height": 812}, is_mobile=True)
        sign_in(page, base, "it-user")
        page.goto(f"{base}/analytics/fleet")
        page.get_by_role("link", name="Alert rules").click()
        expect(page.get_by_role("heading", name="Alert rules")).to_be_visible()
        offline = page.get_by_label("Offline after (minutes)")
        expect(offline).to_have_value("10")
        # nothing wider than the phone: no sideways scrolling to reach a field
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.screenshot(path=str(shots / "alert-rules-phone.png"), full_page=True)
        no_serious_axe_violations(page)

        page.get_by_label("Temperature warning at (°C)").fill("90")
        page.get_by_label("Disk critical at (%)").fill("lots")
        page.get_by_role("button", name="Save alert rules").click()
        summary = page.locator(".error-summary")
        expect(summary).to_be_focused()
        expect(summary).to_contain_text("There is a problem")
        warning = page.get_by_label("Temperature warning at (°C)")
        expect(warning).to_have_attribute("aria-invalid", "true")
        expect(warning).to_have_accessible_description(
            "The CPU temperature. From 30 to 100 °C; default 75 °C. "
            "Error: The warning level must be below the critical level (82 °C)."
        )
        page.get_by_role("link", name="Disk critical at: Enter a number, like 10.").click()
        expect(page.get_by_label("Disk critical at (%)")).to_be_focused()
        page.screenshot(path=str(shots / "alert-rules-phone-errors.png"), full_page=True)
        no_serious_axe_violations(page)
        assert store.alert_rules() == AlertRules()

        page.get_by_label("Disk critical at (%)").fill("97")
        page.get_by_label("Temperature warning at (°C)").fill("78")
        offline.fill("20")
        page.get_by_role("button", name="Save alert rules").click()
        expect(page.get_by_role("status")).to_contain_text("Saved.")
        expect(page.get_by_label("Offline after (minutes)")).to_have_value("20")
        assert store.alert_rules() == AlertRules(
            offline_after_min=20, temperature_warning_c=78, disk_critical_percent=97
        )
        page.screenshot(path=str(shots / "alert-rules-phone-saved.png"), full_page=True)
        browser.close()
