"""An admin chooses a site's Wi-Fi splash languages in the site form (Chromium, axe), and
the site's portal node gets them in its manifest on the real Mosquitto (issue 13)."""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, expect, sync_playwright
from werkzeug.serving import make_server

from central_cms import db as cms_db
from central_cms import models as m
from central_cms.app import create_app
from central_cms.manifests import sync_manifests
from central_cms.runtime import parts, runtime
from devices.clock import SystemClock
from devices.protocol import Channel, Manifest, device_topic, parse_signed
from testkit.brokers import RetainedWatcher, clear_retained, free_port
from testkit.browsers import launch_chromium
from testkit.city import make_world
from testkit.staff import PASSWORD, make_user

pytestmark = pytest.mark.browser


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = launch_chromium(p)
        yield chromium
        chromium.close()


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_admin_chooses_the_splash_languages_and_the_portal_gets_them(config, browser, tmp_path):
    port = free_port()
    app = create_app(
        config.with_changes(public_url=f"http://127.0.0.1:{port}"), clock=SystemClock()
    )
    httpd = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    rt = runtime(app)
    suffix = f"-{secrets.token_hex(3)}"
    session = cms_db.database(app).sessions()
    world = make_world(session, rt, suffix)
    portal = f"portal-north-pool{suffix}"
    site = session.get(m.Site, "north-pool")
    assert site is not None and world.devices[portal] == "north-pool"
    site.portal_settings = {"ssid": "City Free WiFi", "terms": {"version": "1", "text": {}}}
    session.commit()
    sync_manifests(session, rt, [portal])
    make_user(session, rt, "site-admin", m.Role.ADMIN)
    session.close()
    topic = device_topic(portal, Channel.MANIFEST)
    key = rt.signing_key.public_key

    def languages(seen: dict[str, bytes]) -> tuple[str, ...] | None:
        if not seen.get(topic):
            return None
        manifest = parse_signed(Manifest, seen[topic], [key])
        return manifest.portal.languages if manifest.portal else None

    watcher = RetainedWatcher(topic)
    shots = Path(os.environ.get("DS_SCREENSHOTS") or tmp_path)
    try:
        assert watcher.wait_for(lambda seen: languages(seen) == ("en", "zh", "vi", "ar", "it"))
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/login")
        page.get_by_label("User name").fill("site-admin")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"{base}/sites/north-pool/edit")
        choices = page.get_by_role("group", name="Languages of the Wi-Fi splash page")
        expect(choices.get_by_label("English")).to_be_checked()
        expect(choices.get_by_label("English")).to_be_disabled()  # always offered
        for name in ("Chinese (Simplified)", "Vietnamese", "Arabic", "Italian"):
            expect(choices.get_by_label(name)).to_be_checked()  # every language by default
        choices.get_by_label("Chinese (Simplified)").uncheck()
        choices.get_by_label("Italian").uncheck()
        page.screenshot(path=str(shots / "site-languages.png"), full_page=True)
        results = Axe().run(page)
        assert results.violations_count == 0, results.generate_report()
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Saved North Pool.")).to_be_visible()
        assert watcher.wait_for(lambda seen: languages(seen) == ("en", "vi", "ar"))
        page.goto(f"{base}/sites/north-pool/edit")
        expect(choices.get_by_label("Vietnamese")).to_be_checked()
        expect(choices.get_by_label("Italian")).not_to_be_checked()
    finally:
        watcher.stop()
        clear_retained([device_topic(d, Channel.MANIFEST) for d in world.devices])
        httpd.shutdown()
        parts(app).close()  # the renewer and feed refresher too, not only the publisher
