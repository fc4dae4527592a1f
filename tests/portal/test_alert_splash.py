"""What a visitor sees on the splash under an alert, by severity (issue 13, point 2).

info: a banner above the normal page. warning and emergency: the alert replaces the
promotions and the opening hours. Always: the visitor can still accept and go online.
A real HTTP server and headless Chromium at a phone viewport for the emergency page.
"""

from __future__ import annotations

import re
import socket
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from devices.protocol import Alert, PromoShownData, Severity
from testkit.browsers import CHROMIUM, launch_chromium
from testkit.portal import make_portal, portal_config


def closed(portal, severity: Severity, **changes: object) -> Alert:
    now = portal.clock.now()
    fields: dict[str, object] = {
        "id": "cannington-closed",
        "scope": "cannington-lp",
        "severity": severity,
        "title": "Cannington Leisureplex closed",
        "body": "The centre is closed after a power failure.",
        "issued_at": now - timedelta(minutes=5),
        "expires_at": now + timedelta(minutes=60),
        "revision": 1,
    }
    fields.update(changes)
    return Alert(**fields)


def under(portal, *alerts: Alert) -> None:
    portal.source.set(portal.source.snapshot().manifest, tuple(alerts))


def splash(portal) -> tuple[str, object]:
    visitor = portal.visitor()
    page = portal.client.get(visitor.splash_url(), environ_base=visitor.environ)
    assert page.status_code == 200
    return page.get_data(as_text=True), visitor


def accept(portal, html: str, visitor) -> int:
    form = {
        name: re.search(rf'name="{name}" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
        for name in ("state", "lang", "terms_version")
    }
    done = portal.client.post(
        "/accept", data={**form, "accept": "yes"}, environ_base=visitor.environ
    )
    return int(done.status_code)


def test_info_alert_is_a_banner_above_the_normal_page(portal):
    under(portal, closed(portal, Severity.INFO, title="Lap lanes 3-4 reserved for squad"))
    html, visitor = splash(portal)
    assert html.index("Lap lanes 3-4 reserved for squad") < html.index("What's on")
    assert "Opening hours" in html and "Outdoor pool reopens Saturday" in html
    assert accept(portal, html, visitor) == 303


@pytest.mark.parametrize("severity", [Severity.WARNING, Severity.EMERGENCY])
def test_warning_or_emergency_alert_replaces_promotions_and_opening_hours(portal, severity):
    normal, _ = splash(portal)
    assert "What's on" in normal and "Opening hours" in normal
    shown_before = len(portal.recorder.of(PromoShownData))

    under(portal, closed(portal, severity))
    html, visitor = splash(portal)
    assert "Cannington Leisureplex closed" in html
    assert "What's on" not in html and "Outdoor pool reopens Saturday" not in html
    assert "Opening hours" not in html and "05:30" not in html
    # Promotions that were not on the page are not counted as shown.
    assert len(portal.recorder.of(PromoShownData)) == shown_before
    assert accept(portal, html, visitor) == 303, "the visitor could not go online"
    assert portal.gateway.decisions[-1].action == "authorise"


def test_cleared_alert_gives_the_page_back(portal):
    sent = closed(portal, Severity.WARNING)
    under(portal, sent)
    assert "What's on" not in splash(portal)[0]
    under(portal, sent.model_copy(update={"cleared": True, "revision": 2}))
    html, _ = splash(portal)
    assert "Cannington Leisureplex closed" not in html
    assert "What's on" in html and "Opening hours" in html


def test_edited_alert_shows_its_new_words(portal):
    sent = closed(portal, Severity.WARNING)
    under(portal, sent)
    assert "Cannington Leisureplex closed" in splash(portal)[0]
    # Same id and issued_at, as the CMS sends an edit: only the revision tells them apart.
    under(portal, sent.model_copy(update={"title": "Closed until 3pm", "revision": 2}))
    html, _ = splash(portal)
    assert "Closed until 3pm" in html and "Cannington Leisureplex closed" not in html


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.mark.browser
@pytest.mark.parametrize("severity", [Severity.INFO, Severity.EMERGENCY])
def test_alert_splash_on_a_phone_is_accessible_and_gets_the_visitor_online(
    browser, tmp_path, severity
):
    from axe_playwright_python.sync_playwright import Axe

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Served where its config says, so the accept's redirect to /online comes back here.
    portal = make_portal(tmp_path, config=portal_config(listen_port=port))
    under(portal, closed(portal, severity, title="Fire: leave the building"))
    server = make_server("127.0.0.1", port, portal.app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    visitor = portal.visitor(origin_url=f"{base}/online")
    url = base + visitor.splash_url()
    try:
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, java_script_enabled=False
        )
        page = context.new_page()
        page.goto(url)
        alert = page.get_by_role("region", name="Fire: leave the building")
        assert alert.is_visible()
        normal_content = 1 if severity is Severity.INFO else 0
        assert page.get_by_role("heading", name="What's on").count() == normal_content
        assert page.get_by_role("heading", name="Opening hours").count() == normal_content
        page.screenshot(path=str(tmp_path / f"splash-{severity.value}.png"), full_page=True)
        page.get_by_label("I accept the terms of use").check()
        page.get_by_role("button", name="Accept and go online").click()
        page.wait_for_url(f"{base}/online?*")
        assert portal.gateway.decisions[-1].action == "authorise"
        context.close()

        scan = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
        scanned = scan.new_page()
        scanned.goto(base + portal.visitor().splash_url())
        wcag = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
        violations = Axe().run(scanned, options=wcag).response["violations"]
        scan.close()
        assert [v["id"] for v in violations] == []
    finally:
        server.shutdown()
