"""`decide_accept` on its own: the accept form's verdict without a gateway, store or app."""

from __future__ import annotations

from datetime import timedelta

from portal.accept import Accepted, FormAgain, Refused, decide_accept
from portal.fas import FasClient
from portal.messages import CROSS_SITE, EXPIRED
from portal.signing import Signer
from portal.visit import sign_visit
from testkit.portal import NOW

SIGNER = Signer(b"accept-decision-test-secret-0123456789")
CLIENT = FasClient(
    hid="h" * 64,
    client_ip="10.77.1.9",
    client_mac="02:00:00:00:00:09",
    gateway_address="10.77.1.1:2050",
    gateway_name="Cannington Leisureplex",
    origin_url="http://neverssl.com/online",
)


def form(**fields: str) -> dict[str, str]:
    state = sign_visit(SIGNER, CLIENT, CLIENT.origin_url, "t-1", NOW, "nonce-1")
    return {"state": state, "terms_version": "t-1", "accept": "yes", **fields}


def decide(fields: dict[str, str], **changes: object) -> object:
    arguments: dict[str, object] = {
        "origin_header": None,
        "host": "portal.local",
        "signer": SIGNER,
        "now": NOW + timedelta(minutes=5),
        "max_age_s": 1800,
        "terms_version": "t-1",
        "newsletter_offered": True,
    }
    arguments.update(changes)
    return decide_accept(fields, **arguments)  # type: ignore[arg-type]


def test_ticked_form_keeps_the_page_the_visitor_asked_for():
    decision = decide(form())
    assert decision == Accepted(CLIENT, "nonce-1", "http://neverssl.com/online", None)


def test_visitor_without_an_origin_has_no_page_to_continue_to():
    state = sign_visit(SIGNER, CLIENT, None, "t-1", NOW, "nonce-2")
    decision = decide(form(state=state))
    assert isinstance(decision, Accepted)
    assert decision.origin is None


def test_newsletter_email_is_kept_only_when_the_newsletter_is_offered():
    fields = form(newsletter="yes", email=" ana@example.com ")
    offered = decide(fields)
    assert isinstance(offered, Accepted) and offered.newsletter_email == "ana@example.com"
    not_offered = decide(fields, newsletter_offered=False)
    assert isinstance(not_offered, Accepted) and not_offered.newsletter_email is None


def test_form_from_another_site_is_refused_before_its_state_is_read():
    decision = decide({"state": "junk"}, origin_header="http://evil.example")
    assert isinstance(decision, Refused) and decision.message is CROSS_SITE
    assert "evil.example" in decision.reason


def test_privacy_mode_null_origin_and_same_host_are_not_cross_site():
    for origin in ("null", "http://portal.local"):
        assert isinstance(decide(form(), origin_header=origin), Accepted)


def test_forged_or_expired_state_shows_the_expired_page():
    forged = form()
    forged["state"] = forged["state"][:-2] + "xx"
    assert decide(forged) == Refused(EXPIRED, "bad signature")
    late = decide(form(), now=NOW + timedelta(seconds=1801))
    assert late == Refused(EXPIRED, "expired")


def test_changed_terms_show_the_form_again_with_a_fresh_state_and_what_was_entered():
    decision = decide(form(newsletter="yes", email="ana@example.com"), terms_version="t-2")
    assert isinstance(decision, FormAgain)
    assert (decision.status, decision.state, decision.errors) == (409, None, {})
    assert decision.notice.startswith("The terms of use have changed")
    assert decision.values == {"accept": "yes", "newsletter": "yes", "email": "ana@example.com"}


def test_unticked_box_and_bad_email_are_both_named_and_the_state_is_kept():
    fields = form(accept="", newsletter="yes", email="not-an-address")
    decision = decide(fields)
    assert isinstance(decision, FormAgain)
    assert (decision.status, decision.state) == (400, fields["state"])
    assert set(decision.errors) == {"accept", "email"}
    assert decision.client == CLIENT
