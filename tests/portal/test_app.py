"""The splash-to-online flow through the Flask app on the recording gateway."""

from __future__ import annotations

from datetime import timedelta

import pytest

from devices.protocol import (
    Alert,
    PromoClickedData,
    PromoShownData,
    SplashShownData,
    TermsAcceptedData,
)
from testkit.portal import NOW, find, form_of, online_landing, portal_manifest


def test_visitor_accepts_lands_online_and_can_continue_to_the_page_they_asked_for(portal):
    visitor = portal.visitor(origin_url="http://neverssl.com/online?x=1")
    page = portal.client.get(visitor.splash_url(), environ_base=visitor.environ)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Cannington Leisureplex" in html and "Outdoor pool reopens Saturday" in html
    assert "Riverton school-holiday programme" in html

    done = portal.client.post(
        "/accept", data={**form_of(html), "accept": "yes"}, environ_base=visitor.environ
    )
    assert done.status_code == 303
    location = done.headers["Location"]
    assert location.startswith("http://127.0.0.1:8000/online?")  # the portal's own page
    assert online_landing(portal.client, location) == ("/online", "http://neverssl.com/online?x=1")
    [decision] = portal.gateway.decisions
    assert (decision.action, decision.mac) == ("authorise", visitor.mac)
    [accepted] = portal.recorder.of(TermsAcceptedData)
    assert accepted.terms_version == "2026-11" and accepted.newsletter_opt_in is False


def test_no_cookies_and_no_scripts(portal):
    visitor = portal.visitor()
    page = portal.client.get(visitor.splash_url(), environ_base=visitor.environ)
    assert "Set-Cookie" not in page.headers
    assert "<script" not in page.get_data(as_text=True).lower()
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert "frame-ancestors 'none'" in csp


def test_missing_tick_shows_a_clear_error_and_keeps_the_form(portal):
    visitor = portal.visitor()
    html = portal.client.get(visitor.splash_url(), environ_base=visitor.environ).get_data(
        as_text=True
    )
    again = portal.client.post("/accept", data=form_of(html), environ_base=visitor.environ)
    assert again.status_code == 400
    body = again.get_data(as_text=True)
    assert "Tick the box to accept the terms of use." in body
    assert 'aria-invalid="true"' in body and 'aria-describedby="accept-error"' in body
    assert not portal.gateway.decisions
    # The same form then succeeds once ticked: the error did not spend it.
    ok = portal.client.post(
        "/accept", data={**form_of(body), "accept": "yes"}, environ_base=visitor.environ
    )
    assert ok.status_code == 303


def test_newsletter_opt_in_goes_to_the_cms_and_only_the_consent_to_analytics(portal):
    visitor = portal.visitor()
    html = portal.client.get(visitor.splash_url(), environ_base=visitor.environ).get_data(
        as_text=True
    )
    bad = portal.client.post(
        "/accept",
        data={**form_of(html), "accept": "yes", "newsletter": "yes", "email": "not-an-email"},
        environ_base=visitor.environ,
    )
    assert bad.status_code == 400
    assert "Enter an email address like name@example.com" in bad.get_data(as_text=True)
    ok = portal.client.post(
        "/accept",
        data={**form_of(html), "accept": "yes", "newsletter": "yes", "email": "kim@example.org"},
        environ_base=visitor.environ,
    )
    assert ok.status_code == 303
    [signup] = portal.newsletter.signups
    assert (signup.email, signup.site_id) == ("kim@example.org", "cannington-lp")
    [accepted] = portal.recorder.of(TermsAcceptedData)
    assert accepted.newsletter_opt_in is True
    assert "kim@example.org" not in repr(portal.recorder.events)


def test_email_without_the_consent_tick_is_not_sent(portal):
    visitor = portal.visitor()
    html = portal.client.get(visitor.splash_url(), environ_base=visitor.environ).get_data(
        as_text=True
    )
    portal.client.post(
        "/accept",
        data={**form_of(html), "accept": "yes", "email": "kim@example.org"},
        environ_base=visitor.environ,
    )
    assert portal.newsletter.signups == []


def test_events_carry_hashes_never_the_mac_or_ip(portal):
    visitor = portal.visitor()
    html = portal.client.get(visitor.splash_url(), environ_base=visitor.environ).get_data(
        as_text=True
    )
    portal.client.post(
        "/accept", data={**form_of(html), "accept": "yes"}, environ_base=visitor.environ
    )
    [shown] = portal.recorder.of(SplashShownData)
    assert shown.language == "en"
    dump = repr(portal.recorder.events).lower()
    assert visitor.mac not in dump and visitor.mac.replace(":", "") not in dump
    assert visitor.ip not in dump
    promos = {event.item_id for event in portal.recorder.of(PromoShownData)}
    assert promos == {"pool-news", "riverton-holidays"}


def test_reloading_the_splash_counts_one_impression(portal):
    visitor = portal.visitor()
    for _ in range(3):
        portal.client.get(visitor.splash_url(), environ_base=visitor.environ)
    assert len(portal.recorder.of(SplashShownData)) == 1


def test_promo_click_goes_through_the_signed_tracker(portal):
    visitor = portal.visitor()
    html = portal.client.get(visitor.splash_url(), environ_base=visitor.environ).get_data(
        as_text=True
    )
    href = find(r'href="(/go/riverton-holidays[^"]+)"', html).group(1).replace("&amp;", "&")
    click = portal.client.get(href, environ_base=visitor.environ)
    assert click.status_code == 302
    assert click.headers["Location"] == "https://www.example.org/riverton/holidays"
    [clicked] = portal.recorder.of(PromoClickedData)
    assert clicked.item_id == "riverton-holidays"
    assert clicked.campaign_id == "riverton-school-holidays"


def test_promotions_follow_the_schedule_on_the_node(portal):
    # Thursday in Perth: the holiday programme runs Mon-Wed only.
    portal.clock.set(NOW + timedelta(days=2))
    visitor = portal.visitor()
    html = portal.client.get(visitor.splash_url(), environ_base=visitor.environ).get_data(
        as_text=True
    )
    assert "Outdoor pool reopens Saturday" in html
    assert "Riverton school-holiday programme" not in html
    # Back to Tuesday 19:59 Perth: open; 20:00: closed.
    portal.clock.set(NOW + timedelta(hours=9, minutes=59))
    html = portal.client.get(visitor.splash_url(), environ_base=visitor.environ).get_data(
        as_text=True
    )
    assert "Riverton school-holiday programme" in html
    portal.clock.advance(minutes=1)
    html = portal.client.get(visitor.splash_url(), environ_base=visitor.environ).get_data(
        as_text=True
    )
    assert "Riverton school-holiday programme" not in html


def test_an_active_alert_is_shown_above_everything(portal):
    alert = Alert(
        id="pool-closed",
        scope="cannington-lp",
        title="Pool closed: lightning",
        body="Indoor areas stay open.",
        issued_at=NOW - timedelta(minutes=5),
        expires_at=NOW + timedelta(hours=1),
    )
    portal.source.set(portal_manifest(), (alert,))
    visitor = portal.visitor()
    html = portal.client.get(visitor.splash_url(), environ_base=visitor.environ).get_data(
        as_text=True
    )
    assert html.index("Pool closed: lightning") < html.index("Accept and go online")


@pytest.mark.parametrize(
    ("lang", "button", "direction"),
    [
        ("en", "Accept and go online", "ltr"),
        ("zh", "接受并上网", "ltr"),
        ("vi", "Chấp nhận và vào mạng", "ltr"),
        ("ar", "موافقة والاتصال بالإنترنت", "rtl"),
        ("it", "Accetta e vai online", "ltr"),
    ],
)
def test_each_language_translates_the_page(portal, lang, button, direction):
    visitor = portal.visitor()
    html = portal.client.get(visitor.splash_url(lang=lang), environ_base=visitor.environ).get_data(
        as_text=True
    )
    assert button in html
    assert f'dir="{direction}"' in html


def test_browser_language_is_used_when_none_is_chosen(portal):
    visitor = portal.visitor()
    page = portal.client.get(
        visitor.splash_url(),
        environ_base=visitor.environ,
        headers={"Accept-Language": "vi-VN,vi;q=0.9,en;q=0.5"},
    )
    assert 'lang="vi"' in page.get_data(as_text=True)[:200]


def test_terms_missing_in_a_language_fall_back_to_english_marked_as_english(portal):
    visitor = portal.visitor()
    html = portal.client.get(visitor.splash_url(lang="vi"), environ_base=visitor.environ).get_data(
        as_text=True
    )
    assert '<div class="terms-text" lang="en">' in html


def test_changed_terms_must_be_accepted_again(portal):
    visitor = portal.visitor()
    html = portal.client.get(visitor.splash_url(), environ_base=visitor.environ).get_data(
        as_text=True
    )
    newer = portal_manifest(version=2)
    assert newer.portal is not None
    newer = newer.model_copy(
        update={
            "portal": newer.portal.model_copy(
                update={"terms": newer.portal.terms.model_copy(update={"version": "2027-01"})}
            )
        }
    )
    portal.source.set(newer)
    again = portal.client.post(
        "/accept", data={**form_of(html), "accept": "yes"}, environ_base=visitor.environ
    )
    assert again.status_code == 409
    assert "The terms of use have changed" in again.get_data(as_text=True)
    assert not portal.gateway.decisions


def test_without_a_manifest_visitors_still_get_online(tmp_path):
    from testkit.portal import make_portal

    bare = make_portal(tmp_path)
    bare.source.set(None)
    visitor = bare.visitor()
    html = bare.client.get(visitor.splash_url(), environ_base=visitor.environ).get_data(
        as_text=True
    )
    done = bare.client.post(
        "/accept", data={**form_of(html), "accept": "yes"}, environ_base=visitor.environ
    )
    assert done.status_code == 303
    [accepted] = bare.recorder.of(TermsAcceptedData)
    assert accepted.terms_version == "builtin-1"


def test_promo_images_come_from_the_cache_with_long_cache_headers(portal):
    from testkit.portal import PNG, png_asset

    response = portal.client.get(f"/assets/{png_asset().sha256}")
    assert response.status_code == 200 and response.data == PNG
    assert "immutable" in response.headers["Cache-Control"]
    assert portal.client.get("/assets/" + "0" * 64).status_code == 404
