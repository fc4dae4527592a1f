"""Headless Chromium at a phone viewport (390x844), JavaScript off as in the strictest
captive-portal mini-browsers: every language renders, reads right-to-left where it should,
passes an axe-core WCAG 2.1 AA scan, and gets a visitor online. Set PORTAL_SCREENSHOTS to a
directory to keep the screenshots (docs/screenshots/portal/ holds the reviewed ones)."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from testkit.browsers import CHROMIUM, launch_chromium
from testkit.portal import Portal, make_portal, portal_config

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def served(tmp_path) -> Iterator[tuple[Portal, str]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Served where its config says, so the accept's redirect to /online comes back here.
    portal = make_portal(tmp_path, config=portal_config(listen_port=port))
    server = make_server("127.0.0.1", port, portal.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield portal, f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()


def phone_page(browser, *, javascript: bool = False):
    context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        java_script_enabled=javascript,
    )
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    return context, page, problems


def keep(page, name: str) -> None:
    target = os.environ.get("PORTAL_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(target) / f"{name}.png"), full_page=True)


def axe_violations(browser, url: str) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    # axe is injected as a script, which our CSP (rightly) forbids; scan in a separate
    # context that bypasses CSP, with JavaScript on only for the scanner.
    context = browser.new_context(viewport=PHONE, bypass_csp=True)
    try:
        page = context.new_page()
        page.goto(url)
        results = Axe().run(page, options=WCAG)
        return [
            f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes: {v['nodes'][0]['target']})"
            for v in results.response["violations"]
        ]
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["en", "zh", "vi", "ar", "it"])
def test_splash_in_each_language_on_a_phone(browser, served, lang):
    portal, base = served
    visitor = portal.visitor(origin_url=f"{base}/online?lang={lang}")
    url = base + visitor.splash_url(lang=lang)
    context, page, problems = phone_page(browser)
    try:
        page.goto(url)
        assert page.locator("html").get_attribute("lang") in {lang, "zh-Hans"}
        button = page.get_by_role("button")
        assert button.is_visible()
        box = button.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert box["height"] >= 44  # comfortable touch target
        keep(page, f"splash-{lang}")
        assert not [p for p in problems if "Content Security Policy" in p], problems
    finally:
        context.close()
    assert axe_violations(browser, url) == []


def test_arabic_reads_right_to_left(browser, served):
    portal, base = served
    visitor = portal.visitor()
    context, page, _ = phone_page(browser)
    try:
        page.goto(base + visitor.splash_url(lang="ar"))
        assert page.locator("html").get_attribute("dir") == "rtl"
        heading = page.locator("h1").bounding_box()
        assert heading is not None
        # Right-aligned: the heading's right edge sits at the content's right margin.
        assert PHONE["width"] - (heading["x"] + heading["width"]) < 40
    finally:
        context.close()


def test_visitor_gets_online_without_javascript_or_cookies(browser, served):
    portal, base = served
    visitor = portal.visitor(origin_url=f"{base}/online?lang=vi")
    context, page, _ = phone_page(browser)
    try:
        page.goto(base + visitor.splash_url(lang="vi"))
        page.get_by_role("button").click()
        # Without the tick the server answers with the form again and a clear message.
        assert "Hãy đánh dấu vào ô" in page.get_by_role("alert").inner_text()
        page.get_by_label("Tôi chấp nhận điều khoản sử dụng").check()
        page.get_by_role("button").click()
        page.wait_for_url(f"{base}/online?lang=vi&fb=*")
        assert page.get_by_role("heading", level=1).inner_text() == "Bạn đã kết nối mạng"
        assert context.cookies() == []
        keep(page, "online-vi")
        assert portal.gateway.decisions[0].action == "authorise"
    finally:
        context.close()


def test_error_state_is_announced_and_accessible(browser, served):
    from axe_playwright_python.sync_playwright import Axe

    portal, base = served
    visitor = portal.visitor()
    # JavaScript on here only so axe can run; the page itself has no scripts.
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, bypass_csp=True)
    try:
        page = context.new_page()
        page.goto(base + visitor.splash_url(lang="en"))
        page.get_by_label("Yes, email me news").check()
        page.get_by_label("Email address").fill("not-an-email")
        page.get_by_label("I accept the terms of use").check()
        page.get_by_role("button").click()
        alert = page.get_by_role("alert")
        assert alert.is_visible() and "name@example.com" in alert.inner_text()
        assert page.get_by_label("Email address").get_attribute("aria-invalid") == "true"
        assert page.get_by_label("I accept the terms of use").is_checked()  # choices kept
        keep(page, "error-en")
        violations = Axe().run(page, options=WCAG).response["violations"]
        assert [v["id"] for v in violations] == []
    finally:
        context.close()
    assert not portal.gateway.decisions
