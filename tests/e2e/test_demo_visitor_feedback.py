"""A visitor rates their visit in Vietnamese on a phone, and staff read it in the CMS
(issue 16): the demo as `digital-spaces demo` runs it, so the answers go through the
portal node's outbox, the real broker and the CMS's ingest before the analytics page
shows them."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from testkit.browsers import assert_accessible, shot
from testkit.harness import eventually
from tests.e2e.support import PHONE, SITE, WCAG, open_splash, phone, say, sign_in

pytestmark = pytest.mark.browser

COMMENT = "Wi-Fi nhanh lắm! Tôi là Lan, số của tôi 0412 345 678, email lan@example.com"


def test_a_vietnamese_visitor_rates_the_visit_and_staff_see_it_in_analytics(stack, browser, shots):
    with phone(browser, "vi-VN") as page:
        open_splash(page, stack.visitor_url)
        page.get_by_label(say("vi", "I accept the terms of use")).check()
        page.get_by_role("button", name=say("vi", "Accept and go online")).click()

        expect(page.get_by_role("heading", level=1)).to_have_text(say("vi", "You are online"))
        faces = page.get_by_role("region", name=say("vi", "How was your visit today?"))
        # Five faces, each a button with its name in Vietnamese (the emoji is hidden).
        names = [say("vi", n) for n in ("Very poor", "Poor", "OK", "Good", "Very good")]
        for name in names:
            expect(faces.get_by_role("button", name=name, exact=True)).to_be_visible()
        page.screenshot(path=str(shots / "visitor-vi-online-feedback.png"), full_page=True)
        online_url = page.url

        faces.get_by_role("button", name=say("vi", "Good"), exact=True).click()
        expect(page.get_by_role("status")).to_have_text(say("vi", "Thank you for your rating."))

        question = page.get_by_role(
            "group",
            name=say("vi", "How likely are you to recommend %(site)s to a friend?", site=SITE),
        )
        question.get_by_label("9", exact=True).check()
        page.get_by_label(say("vi", "What could we do better? (optional)")).fill(COMMENT)
        page.screenshot(path=str(shots / "visitor-vi-recommend.png"), full_page=True)
        page.get_by_role("button", name=say("vi", "Send my answer")).click()
        expect(page.get_by_role("status").last).to_have_text(
            say("vi", "Thank you for your answer.")
        )
        # Both answered: the page thanks the visitor twice and asks nothing more.
        expect(page.get_by_role("status")).to_have_count(2)
        expect(page.get_by_role("button", name=say("vi", "Send my answer"))).to_have_count(0)
        page.screenshot(path=str(shots / "visitor-vi-thanked.png"), full_page=True)

    with phone(browser, "vi-VN", javascript=True) as page:
        page.goto(online_url)
        assert page.viewport_size == PHONE
        violations = Axe().run(page, options=WCAG).response["violations"]
        assert [f"{v['id']}: {v['nodes'][0]['target']}" for v in violations] == []

    staff = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        sign_in(staff, stack.cms_url, "editor")
        by_site = staff.get_by_role("table", name="Net Promoter Score and ratings per site")

        def answers_arrived() -> bool:
            staff.goto(f"{stack.cms_url}/analytics/feedback")
            return SITE in (by_site.text_content() or "")

        assert eventually(answers_arrived, 60, every_s=1), "the feedback never reached the CMS"
        row = by_site.get_by_role("row").filter(has_text=SITE)
        # One answer of 9: one promoter, no detractors, NPS +100; one rating of 4.
        expect(row.get_by_role("cell")).to_have_text([SITE, "+100", "1", "1", "0", "0", "1", "4.0"])
        comments = staff.get_by_role("table", name="Visitors' comments, newest first")
        comment = comments.get_by_role("row").filter(has_text="Wi-Fi nhanh lắm!")
        expect(comment).to_contain_text("Tôi là [name]")
        expect(comment).to_contain_text("[phone]")
        expect(comment).to_contain_text("[email]")
        assert "0412" not in (comments.text_content() or "")
        assert "lan@example.com" not in staff.content()
        shot(staff, shots / "staff-visitor-feedback.png", full_page=True)
        assert_accessible(staff, "the visitor feedback page")

        comment.get_by_role("button", name="Delete").click()
        expect(staff.get_by_text("Comment deleted.")).to_be_visible()
        expect(comments.get_by_role("row").filter(has_text="Deleted by editor")).to_have_count(1)
        assert "Wi-Fi nhanh" not in (comments.text_content() or "")
    finally:
        staff.close()
