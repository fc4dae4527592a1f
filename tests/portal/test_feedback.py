"""A visitor's feedback once online (issue 16), through the Flask app: counted once per
question, from this site only, with the node's signed state, the comment scrubbed, no
MAC anywhere; the privacy notice in every language."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest

from devices.protocol import FeedbackData, TermsAcceptedData
from portal.i18n import LANGUAGES, translations
from testkit.portal import form_of

_FIELD = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')
_FORM = re.compile(
    r'<form class="(faces|recommend)" method="post" action="([^"]+)".*?</form>', re.S
)


def online_page(portal, lang: str = "en", origin: str = "http://neverssl.com/online"):
    """Accept the terms as a visitor; returns the visitor and the page they land on."""
    visitor = portal.visitor(origin_url=origin)
    splash = portal.client.get(visitor.splash_url(lang=lang), environ_base=visitor.environ)
    done = portal.client.post(
        "/accept", data={**form_of(splash.text), "accept": "yes"}, environ_base=visitor.environ
    )
    assert done.status_code == 303
    page = portal.client.get(done.headers["Location"].removeprefix("http://127.0.0.1:8000"))
    assert page.status_code == 200
    return visitor, page.text


def form_fields(page: str, kind: str) -> dict[str, str]:
    found = next(m for m in _FORM.finditer(page) if m.group(1) == kind)
    return {name: html.unescape(value) for name, value in _FIELD.findall(found.group(0))}


def test_a_rating_is_one_tap_counted_once_and_carries_no_mac(portal):
    visitor, page = online_page(portal)
    assert "How was your visit today?" in page and "<script" not in page
    assert page.count('name="rating" value=') == 5
    fields = {**form_fields(page, "faces"), "rating": "4"}
    thanked = portal.client.post("/feedback", data=fields)
    assert thanked.status_code == 200 and "Thank you for your rating." in thanked.text
    assert 'name="rating"' not in thanked.text  # the faces are gone, the next question stays
    assert "How likely are you to recommend" in thanked.text
    again = portal.client.post("/feedback", data=fields)  # a reload re-posts the form
    assert again.status_code == 200
    [rating] = portal.recorder.of(FeedbackData)
    [accepted] = portal.recorder.of(TermsAcceptedData)
    assert (rating.rating, rating.recommend, rating.language) == (4, None, "en")
    assert rating.visitor_hash == accepted.visitor_hash  # the same visitor, as a hash
    assert visitor.mac not in rating.model_dump_json()
    assert visitor.mac.replace(":", "") not in page.lower().replace(":", "")


def test_the_recommend_answer_is_scrubbed_before_it_leaves_the_node(portal):
    _, page = online_page(portal, lang="vi")
    fields = form_fields(page, "recommend")
    missing = portal.client.post("/feedback", data={**fields, "comment": "Tốt"})
    assert missing.status_code == 400
    assert "Hãy chọn một số từ 0 đến 10." in missing.text and ">Tốt</textarea>" in missing.text
    comment = "Rất tốt. Tôi là Lan, gọi 0412 345 678 hoặc lan@example.com"
    done = portal.client.post("/feedback", data={**fields, "recommend": "10", "comment": comment})
    assert "Cảm ơn câu trả lời của bạn." in done.text
    [answer] = portal.recorder.of(FeedbackData)
    assert answer.recommend == 10
    assert answer.comment == "Rất tốt. Tôi là [name], gọi [phone] hoặc [email]"


@pytest.mark.parametrize("score", ["11", "-1", "٣", "5.5", ""])
def test_a_score_outside_0_to_10_is_not_counted(portal, score):
    _, page = online_page(portal)
    fields = {**form_fields(page, "recommend"), "recommend": score}
    assert portal.client.post("/feedback", data=fields).status_code == 400
    assert portal.recorder.of(FeedbackData) == []


def test_feedback_needs_the_nodes_state_from_this_site_within_the_day(portal):
    _, page = online_page(portal)
    fields = {**form_fields(page, "faces"), "rating": "5"}
    forged = {**fields, "state": fields["state"][:-2] + "xx"}
    assert portal.client.post("/feedback", data=forged).status_code == 400
    other_site = portal.client.post(
        "/feedback", data=fields, headers={"Origin": "http://evil.example"}
    )
    assert other_site.status_code == 403
    portal.clock.advance(timedelta(hours=13))
    assert portal.client.post("/feedback", data=fields).status_code == 400
    assert portal.recorder.of(FeedbackData) == []


def test_without_an_origin_the_page_offers_feedback_and_no_onward_link(portal):
    _, page = online_page(portal, origin="javascript:alert(1)")
    assert 'class="button"' not in page and "alert(1)" not in page
    assert "How was your visit today?" in page


def test_the_online_page_without_a_state_just_says_online(portal):
    page = portal.client.get("/online?lang=it")
    assert page.status_code == 200
    assert translations("it").gettext("You are online") in page.text
    assert "<form" not in page.text


@pytest.mark.parametrize("code", list(LANGUAGES))
def test_the_privacy_notice_says_what_is_kept_and_for_how_long_in_each_language(portal, code):
    page = portal.client.get(f"/privacy?lang={code}")
    assert page.status_code == 200
    say = translations(code).gettext
    assert html.escape(say("What we keep"), quote=False) in page.text
    assert "90" in page.text and "396" in page.text  # visitor key period, retention
    splash = portal.client.get(f"/?lang={code}").text
    assert f'href="/privacy?lang={code}"' in splash  # linked before the terms are accepted
