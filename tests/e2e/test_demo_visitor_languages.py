"""Visitors in their own language, on the demo as `digital-spaces demo` runs it: the
CMS's seeded sites publish every shipped language, the portal node's splash follows the
phone's language (Accept-Language), keeps a switcher, reads right-to-left in Arabic, and
each visitor accepts the terms and goes online (issue 13)."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from devices.protocol import PORTAL_LANGUAGES
from portal.i18n import LANGUAGES
from tests.e2e.support import (
    LOCALES,
    PHONE,
    SITE,
    WCAG,
    another_visitor,
    continue_onward,
    open_splash,
    phone,
    say,
)

pytestmark = pytest.mark.browser


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
        expect(page.get_by_role("heading", level=1)).to_have_text("Bạn đã kết nối mạng")
        continue_onward(page)  # back to the page they were opening


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
        expect(page.get_by_role("heading", level=1)).to_have_text(say("ar", "You are online"))
        continue_onward(page)
