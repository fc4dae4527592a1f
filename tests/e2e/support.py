"""Steps the end-to-end tests share: signing in, reading a screen and its player, and a
visitor's phone on the demo's portal."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, ViewportSize, expect
from playwright.sync_api import Error as PlaywrightError

from central_cms.seed import DEMO_PASSWORD
from devices.config import load_device_config
from digital_spaces.demo.stack import DEMO_PORTAL, DemoStack, visitor_url
from portal.i18n import translations
from portal.node import portal_config_of
from testkit.browsers import sign_in as sign_in_as
from testkit.harness import eventually

SITE = "Cannington Leisureplex"  # the demo portal node's site
PHONE: ViewportSize = {"width": 390, "height": 844}
WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
# What a phone set to each language sends (Playwright's locale sets Accept-Language).
LOCALES = {"en": "en-AU", "zh": "zh-CN", "vi": "vi-VN", "ar": "ar-SA", "it": "it-IT"}


def say(code: str, message: str, **values: str) -> str:
    return str(translations(code).gettext(message)) % values


@contextmanager
def phone(browser: Browser, locale: str, *, javascript: bool = False) -> Iterator[Page]:
    """A phone's captive-portal mini-browser: no JavaScript, no cookies kept."""
    context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale=locale,
        java_script_enabled=javascript,
        bypass_csp=javascript,  # only for axe, which is injected as a script
    )
    try:
        yield context.new_page()
    finally:
        assert context.cookies() == []
        context.close()


def another_visitor(stack: DemoStack, mac: str) -> str:
    """The splash URL openNDS would give a second phone (stack.visitor_url is the first)."""
    config = load_device_config(stack.options.data_dir / "devices" / f"{DEMO_PORTAL}.toml")
    return visitor_url(
        stack.options,
        portal_config_of(config).faskey,
        stack.upstream_server.server_port,
        mac=mac,
    )


def open_splash(page: Page, url: str) -> None:
    """The splash once the node serves the CMS's manifest (before it, a built-in page)."""

    def from_the_cms() -> bool:
        try:
            page.goto(url)
        except PlaywrightError:  # the node's web server is still starting
            return False
        return SITE in (page.locator("h1").text_content() or "")

    assert eventually(from_the_cms, 60, every_s=1), "the portal never served the CMS manifest"


def continue_onward(page: Page) -> None:
    """From the portal's "you are online" page on to the page the visitor was opening."""
    page.locator("a.button").click()
    expect(page.get_by_role("heading", name="You are online")).to_be_visible()
    assert page.url.endswith("/news")


def sign_in(page: Page, base: str, username: str) -> None:
    """Sign in as one of the demo's staff."""
    sign_in_as(page, base, username, DEMO_PASSWORD)


def save_frame(stack: DemoStack, device_id: str, path: Path) -> None:
    path.write_bytes(stack.display(device_id).screenshot())


def player(stack: DemoStack, device_id: str):
    return next(d.agent.app for d in stack.devices if d.device_id == device_id)


def alert_showing(app) -> bool:
    now_showing = app.now_showing()
    return now_showing is not None and now_showing.alert_id is not None
