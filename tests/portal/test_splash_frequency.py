"""Splash frequency through the real portal app (issue 16): a phone that accepted the terms
here within the policy's N days goes straight online when openNDS sends it to the splash,
authorised with the policy's limits and counted as an accept; after N days, or with new
terms, closed hours or a warning, it sees the splash. The welcome-back page and the
privacy notice in every shipped language. The recording gateway plays openNDS."""

from __future__ import annotations

import html
import secrets
import urllib.parse
from datetime import timedelta

import pytest

from devices.protocol import Alert, Severity, SplashShownData, TermsAcceptedData, WifiPolicy
from portal.i18n import LANGUAGES, translations
from portal.returning import PRUNE_S
from portal.wifi_policy import ClientLimits
from testkit.portal import CONTINUE, Visitor, form_of, make_portal, portal_manifest

ORIGIN = "http://neverssl.com/online"
ACCEPT_BOX = 'name="accept"'


def with_policy(terms_version: str = "2026-11", **fields: object):
    base = portal_manifest()
    assert base.portal is not None
    terms = base.portal.terms.model_copy(update={"version": terms_version})
    portal = base.portal.model_copy(
        update={"wifi": WifiPolicy.model_validate(fields), "terms": terms}
    )
    return base.model_copy(update={"portal": portal})


@pytest.fixture
def portal(tmp_path):
    return make_portal(tmp_path, manifest=with_policy(splash_every_days=7, download_kbps=2000))


def splash(portal, visitor: Visitor, lang: str | None = None):
    return portal.client.get(visitor.splash_url(lang=lang), environ_base=visitor.environ)


def accept(portal, visitor: Visitor) -> None:
    page = splash(portal, visitor)
    assert page.status_code == 200 and ACCEPT_BOX in page.text
    done = portal.client.post(
        "/accept", data={**form_of(page.text), "accept": "yes"}, environ_base=visitor.environ
    )
    assert done.status_code == 303


def session_ends(portal, visitor: Visitor) -> Visitor:
    """openNDS ends the session; the phone (same per-network MAC) joins again later and is
    intercepted afresh, with a new token."""
    assert portal.gateway.deauthorise(visitor.mac)
    again = Visitor(visitor.mac, visitor.ip, secrets.token_hex(4), ORIGIN, visitor.level)
    portal.gateway.admit(again.mac, again.ip, again.token)
    return again


def local_path(location: str) -> str:
    parts = urllib.parse.urlsplit(location)
    return f"{parts.path}?{parts.query}"


def test_a_returning_phone_skips_the_terms_for_n_days_then_reads_them_again(portal):
    phone = portal.visitor(origin_url=ORIGIN)
    accept(portal, phone)
    [first] = portal.recorder.of(TermsAcceptedData)
    assert first.returning_within_days is None

    # Six days and 23 hours later: straight online, as an accept would have it.
    portal.clock.advance(days=6, hours=23)
    phone = session_ends(portal, phone)
    back = splash(portal, phone)
    assert back.status_code == 303 and ACCEPT_BOX not in back.text
    path, query = local_path(back.headers["Location"]).split("?")
    assert path == "/online" and "back=1" in query
    authorised = portal.gateway.decisions[-1]
    assert (authorised.action, authorised.mac) == ("authorise", phone.mac)
    assert authorised.limits == ClientLimits(session_minutes=240, download_kbps=2000)
    assert portal.gateway.session_for_ip(phone.ip).authenticated
    _, second = portal.recorder.of(TermsAcceptedData)
    assert second.returning_within_days == 7 and second.terms_version == "2026-11"
    assert (second.language, second.newsletter_opt_in) == ("en", False)
    assert second.authorise_wait_s is not None
    assert len(portal.recorder.of(SplashShownData)) == 1  # they did not see the splash

    welcome = portal.client.get(local_path(back.headers["Location"]))
    assert welcome.status_code == 200
    page = welcome.text
    assert "Welcome back, you are online" in page and "in the last 7 days" in page
    assert "Read the terms of use" in page and "Use the City&#39;s free Wi-Fi lawfully." in page
    assert html.unescape(CONTINUE.search(page).group(1)) == ORIGIN
    assert 'href="/privacy?lang=en"' in page
    assert 'name="back" value="1"' in page  # kept when the feedback form is sent

    # The mini-browser and the OS probe both load the splash: still one accept.
    assert splash(portal, phone).status_code == 303
    assert len(portal.recorder.of(TermsAcceptedData)) == 2

    # Seven days after the accept: the terms again, and nothing counted until accepted.
    portal.clock.advance(hours=1)
    phone = session_ends(portal, phone)
    page = splash(portal, phone)
    assert page.status_code == 200 and ACCEPT_BOX in page.text
    assert len(portal.recorder.of(TermsAcceptedData)) == 2
    assert portal.gateway.decisions[-1].action == "deauthorise"  # not let online again


def test_without_a_splash_frequency_every_visit_shows_the_terms(tmp_path):
    portal = make_portal(tmp_path, manifest=with_policy())
    phone = portal.visitor()
    accept(portal, phone)
    portal.clock.advance(minutes=30)
    phone = session_ends(portal, phone)
    page = splash(portal, phone)
    assert page.status_code == 200 and ACCEPT_BOX in page.text


def test_a_policy_change_applies_to_the_next_visit(portal):
    phone = portal.visitor()
    accept(portal, phone)
    portal.clock.advance(days=8)
    phone = session_ends(portal, phone)
    portal.source.set(with_policy(splash_every_days=10))  # IT raises N: 8 days is inside
    assert splash(portal, phone).status_code == 303
    phone = session_ends(portal, phone)
    portal.source.set(with_policy(splash_every_days=3))  # and lowers it
    assert splash(portal, phone).status_code == 200
    # Lowered, N also prunes the record (every PRUNE_S): raising it again later does not
    # bring the older accepts back.
    portal.clock.advance(seconds=PRUNE_S)
    assert splash(portal, phone).status_code == 200
    portal.source.set(with_policy(splash_every_days=10))
    assert splash(portal, phone).status_code == 200


def test_new_terms_closed_hours_and_a_warning_show_the_splash(portal):
    phone = portal.visitor()
    accept(portal, phone)
    portal.clock.advance(hours=2)
    phone = session_ends(portal, phone)

    portal.source.set(with_policy(terms_version="2026-12", splash_every_days=7))
    page = splash(portal, phone)
    assert page.status_code == 200 and ACCEPT_BOX in page.text

    now = portal.clock.now()
    closed = {"day": "tue", "opens": "20:00", "closes": "21:00"}  # it is 12:00 in Perth
    portal.source.set(with_policy(splash_every_days=7, service_hours=[closed]))
    page = splash(portal, phone)
    assert page.status_code == 200 and "The free Wi-Fi is closed right now" in page.text

    portal.source.set(with_policy(splash_every_days=7))
    warning = Alert(
        id="heat",
        scope="cannington-lp",
        severity=Severity.WARNING,
        title="Extreme heat: the outdoor pool is closed",
        issued_at=now - timedelta(minutes=5),
        expires_at=now + timedelta(hours=1),
        revision=1,
    )
    portal.source.set(portal.source.snapshot().manifest, (warning,))
    page = splash(portal, phone)
    assert page.status_code == 200 and "Extreme heat" in page.text and ACCEPT_BOX in page.text
    portal.source.set(portal.source.snapshot().manifest, ())
    assert splash(portal, phone).status_code == 303
    assert [d.action for d in portal.gateway.decisions].count("authorise") == 2


def test_a_phone_openndss_does_not_know_is_shown_the_splash(portal):
    phone = portal.visitor()
    accept(portal, phone)
    portal.gateway.deauthorise(phone.mac)  # gone from openNDS: a stale FAS link replayed
    page = splash(portal, phone)
    assert page.status_code == 200 and ACCEPT_BOX in page.text
    assert len(portal.recorder.of(TermsAcceptedData)) == 1


@pytest.mark.parametrize("code", list(LANGUAGES))
def test_welcome_back_and_the_privacy_notice_in_every_language(portal, code):
    say = translations(code).gettext
    phone = portal.visitor()
    accept(portal, phone)
    phone = session_ends(portal, phone)
    back = splash(portal, phone, lang=code)
    assert back.status_code == 303 and f"lang={code}" in back.headers["Location"]
    page = portal.client.get(local_path(back.headers["Location"])).text
    heading = "Welcome back, you are online"
    line = (
        "This phone accepted the terms of use here in the last %(days)s days, so you did "
        "not need to accept them again."
    )
    for english in (heading, line):
        assert code == "en" or say(english) != english  # translated, not English again
        assert say(english) % {"days": 7} in page  # gettext output is not re-escaped
    [accepted] = portal.recorder.of(TermsAcceptedData)[1:]
    assert accepted.language == code

    notice = portal.client.get(f"/privacy?lang={code}").text
    english = (
        "So that a phone that comes back within %(days)s days can go online without "
        "accepting the terms again: a code made from its device address with a secret key, "
        "and when it last accepted the terms and which version. This stays on this Wi-Fi "
        "access point and is deleted after %(days)s days."
    )
    assert code == "en" or say(english) != english
    assert say(english) % {"days": 7} in notice


def test_the_privacy_notice_says_nothing_is_kept_for_it_without_a_splash_frequency(tmp_path):
    portal = make_portal(tmp_path, manifest=with_policy())
    notice = portal.client.get("/privacy?lang=en").text
    assert "comes back within" not in notice
