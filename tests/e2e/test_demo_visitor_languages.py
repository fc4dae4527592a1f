"""Visitors in their own language, on the demo as `digital-spaces demo` runs it: the
CMS's seeded sites publish every shipped language, the portal node's splash follows the
phone's language (Accept-Language), keeps a switcher, reads right-to-left in Arabic, and
each visitor accepts the terms and goes online (issue 13)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, ViewportSize, expect

from devices.config import load_device_config
from devices.protocol import PORTAL_LANGUAGES
from digital_spaces.demo.stack import DEMO_PORTAL, DemoStack, visitor_url
from portal.i18n import LANGUAGES, translations
from portal.node import portal_config_of
from tests.devices.harness import eventually

pytestmark = pytest.mark.browser

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
        page.goto(url)
        return SITE in (page.locator("h1").text_content() or "")

    assert eventually(from_the_cms, 60, every_s=1), "the portal never served the CMS manifest"


@pytest.mark.parametrize("code", PORTAL_LANGUAGES)
def test_a_phone_in_each_language_gets_the_splash_in_it(stack, browser, shots, code):
    language = LANGUAGES[code]
    with phone(browser, LOCALES[code]) as page:
        open_splash(page, stack.visitor_url)
        html = page.locator("html")
        assert html.get_attribute("lang") == language.tag
        assert html.get_attribute("dir") == language.direction
        expect(page.get_by_role("heading", level=1)).to_have_text(
            say(code, "Free Wi-Fi at %(site)s", site=SITE)
        )
        switcher = page.get_by_role("navigation", name=say(code, "Language"))
        assert switcher.get_by_role("link").count() == len(PORTAL_LANGUAGES)
        expect(switcher.locator("[aria-current]")).to_have_text(language.name)
        expect(page.get_by_role("button", name=say(code, "Accept and go online"))).to_be_visible()
        page.screenshot(path=str(shots / f"visitor-splash-{code}.png"), full_page=True)
    with phone(browser, LOCALES[code], javascript=True) as page:
        page.goto(stack.visitor_url)
        violations = Axe().run(page, options=WCAG).response["violations"]
        assert [f"{v['id']}: {v['nodes'][0]['target']}" for v in violations] == []


def test_a_vietnamese_visitor_switches_language_and_goes_online(stack, browser, shots):
    with phone(browser, "vi-VN") as page:
        open_splash(page, stack.visitor_url)
        expect(page.locator("h1")).to_have_text(f"Wi-Fi miễn phí tại {SITE}")
        page.get_by_role("link", name="English").click()
        expect(page.locator("h1")).to_have_text(f"Free Wi-Fi at {SITE}")
        assert page.locator("html").get_attribute("lang") == "en"
        page.get_by_role("link", name="Tiếng Việt").click()
        expect(page.locator("h1")).to_have_text(f"Wi-Fi miễn phí tại {SITE}")
        # Sent without the tick: the form comes back in Vietnamese, switcher and all.
        page.get_by_role("button", name="Chấp nhận và vào mạng").click()
        expect(page.get_by_role("alert")).to_contain_text("Hãy đánh dấu vào ô")
        page.get_by_label("Tôi chấp nhận điều khoản sử dụng").check()
        page.screenshot(path=str(shots / "visitor-vi-accepting.png"), full_page=True)
        page.get_by_role("button", name="Chấp nhận và vào mạng").click()
        expect(page.get_by_role("heading", name="You are online")).to_be_visible()
        assert page.url.endswith("/news")  # back to the page they were opening


def test_an_arabic_visitor_reads_right_to_left_and_goes_online(stack, browser, shots):
    with phone(browser, "ar-SA") as page:
        open_splash(page, another_visitor(stack, "02:00:5e:00:0a:12"))
        assert page.locator("html").get_attribute("dir") == "rtl"
        heading = page.locator("h1")
        expect(heading).to_have_text(f"شبكة Wi-Fi مجانية في {SITE}")
        box = heading.bounding_box()
        assert box is not None
        assert PHONE["width"] - (box["x"] + box["width"]) < 40  # starts at the right
        checkbox = page.get_by_label("أوافق على شروط الاستخدام")
        box = checkbox.bounding_box()
        assert box is not None and box["x"] > PHONE["width"] / 2  # the tick box on the right
        checkbox.check()
        page.screenshot(path=str(shots / "visitor-ar-accepting.png"), full_page=True)
        page.get_by_role("button", name="موافقة والاتصال بالإنترنت").click()
        expect(page.get_by_role("heading", name="You are online")).to_be_visible()
        assert page.url.endswith("/news")
