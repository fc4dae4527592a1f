"""What an attacker on the guest Wi-Fi (or a link in a phishing message) might try."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest

from devices.protocol import TermsAcceptedData
from portal.fas import encode_query
from testkit.portal import FASKEY, find, form_of, make_portal, online_landing, portal_config

# Malformed or non-http targets: none may ever become a redirect.
REDIRECT_ATTACKS = [
    "//evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "http:\\\\evil.example",
    "http://neverssl.com@evil.example/",
    "http://neverssl.com%40evil.example/",
    "http://evil.example\\@neverssl.com/",
    "http%3A%2F%2Fevil.example",
    "%2F%2Fevil.example",
    "javascript:alert(document.domain)",
    "JAVASCRIPT:alert(1)",
    "java%0ascript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "http://neverssl.com//evil.example/",
]
# Well-formed, but not where this visitor was intercepted: only reachable by forging ?fas=.
FOREIGN_TARGETS = ["http://evil.example/phish", "https://evil.example/", *REDIRECT_ATTACKS]


def accept(portal, visitor, html, **extra):
    return portal.client.post(
        "/accept", data={**form_of(html), "accept": "yes", **extra}, environ_base=visitor.environ
    )


@pytest.mark.parametrize("origin", FOREIGN_TARGETS)
def test_crafted_origin_for_another_client_is_refused(portal, origin):
    """At FAS level 1 anyone can hand-craft ?fas=: the hid must belong to a real client."""
    victim = portal.visitor()
    forged = victim.fas_client(origin_url=origin, hid="f" * 64)
    query = encode_query(forged, level=2, faskey=FASKEY, iv="0123456789abcdef")
    html = portal.client.get("/", query_string=query, environ_base=victim.environ).get_data(
        as_text=True
    )
    response = accept(portal, victim, html)
    assert response.status_code == 400
    assert not portal.gateway.decisions


@pytest.mark.parametrize("origin", REDIRECT_ATTACKS)
def test_malformed_origin_never_becomes_the_redirect(portal, origin):
    visitor = portal.visitor(origin_url=origin)
    html = portal.client.get(visitor.splash_url(), environ_base=visitor.environ).get_data(
        as_text=True
    )
    response = accept(portal, visitor, html)
    assert response.status_code == 303
    assert portal.gateway.decisions[0].redirect_url == response.headers["Location"]
    assert online_landing(portal.client, response.headers["Location"]) == ("/online", None)


def test_encoded_line_breaks_stay_encoded(portal):
    visitor = portal.visitor(origin_url="http://neverssl.com/%0d%0aSet-Cookie:x=1")
    html = portal.client.get(visitor.splash_url(), environ_base=visitor.environ).get_data(
        as_text=True
    )
    response = accept(portal, visitor, html)
    assert "Set-Cookie" not in response.headers
    _, onward = online_landing(portal.client, response.headers["Location"])
    assert onward == "http://neverssl.com/%0d%0aSet-Cookie:x=1"


def test_redirect_target_cannot_be_chosen_in_the_form(portal):
    visitor = portal.visitor(origin_url="http://neverssl.com/")
    html = portal.client.get(visitor.splash_url(), environ_base=visitor.environ).get_data(
        as_text=True
    )
    response = accept(
        portal, visitor, html, redir="http://evil.example/", originurl="http://evil.example/"
    )
    assert online_landing(portal.client, response.headers["Location"])[1] == "http://neverssl.com/"


PAYLOAD = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


@pytest.mark.parametrize("field", ["lang", "fas", "iv", "c", "s"])
def test_xss_in_query_parameters_is_never_echoed_raw(portal, field):
    visitor = portal.visitor()
    query = visitor.query()
    query[field] = PAYLOAD
    page = portal.client.get("/", query_string=query, environ_base=visitor.environ)
    assert PAYLOAD not in page.get_data(as_text=True)
    assert "<script>" not in page.get_data(as_text=True)


def test_xss_in_fas_fields_is_escaped(portal):
    visitor = portal.visitor(origin_url="http://neverssl.com/" + PAYLOAD)
    query = visitor.query(gateway_name=PAYLOAD)
    html = portal.client.get("/", query_string=query, environ_base=visitor.environ).get_data(
        as_text=True
    )
    assert "<script>" not in html and "onerror=alert" not in html.replace(
        "onerror=alert(2)&gt;", ""
    )


@pytest.mark.parametrize("field", ["email", "lang", "terms_version", "newsletter"])
def test_xss_in_form_fields_is_escaped(portal, field):
    visitor = portal.visitor()
    html = portal.client.get(visitor.splash_url(), environ_base=visitor.environ).get_data(
        as_text=True
    )
    data = {**form_of(html), "newsletter": "yes", field: PAYLOAD}
    response = portal.client.post("/accept", data=data, environ_base=visitor.environ)
    body = response.get_data(as_text=True)
    assert "<script>" not in body and "<img src=x" not in body


def test_xss_in_manifest_text_is_escaped(tmp_path):
    from testkit.portal import portal_manifest

    manifest = portal_manifest()
    site = manifest.site.model_copy(update={"name": PAYLOAD})
    hostile = make_portal(tmp_path, manifest=manifest.model_copy(update={"site": site}))
    visitor = hostile.visitor()
    html = hostile.client.get(visitor.splash_url(), environ_base=visitor.environ).get_data(
        as_text=True
    )
    assert "<script>" not in html


def test_forged_state_is_refused(portal):
    visitor = portal.visitor()
    html = portal.client.get(visitor.splash_url(), environ_base=visitor.environ).get_data(
        as_text=True
    )
    form = form_of(html)
    body, mac = form["state"].split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["o"] = "http://evil.example/"
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    response = portal.client.post(
        "/accept",
        data={**form, "state": f"{forged}.{mac}", "accept": "yes"},
        environ_base=visitor.environ,
    )
    assert response.status_code == 400
    assert not portal.gateway.decisions


def test_state_signed_by_another_node_is_refused(tmp_path, portal):
    other = make_portal(tmp_path / "other", config=portal_config(secret=b"z" * 40))
    visitor = other.visitor()
    portal.gateway.admit(visitor.mac, visitor.ip, visitor.token)
    html = other.client.get(visitor.splash_url(), environ_base=visitor.environ).get_data(
        as_text=True
    )
    assert accept(portal, visitor, html).status_code == 400


def test_replayed_form_is_refused(portal):
    visitor = portal.visitor()
    html = portal.client.get(visitor.splash_url(), environ_base=visitor.environ).get_data(
        as_text=True
    )
    assert accept(portal, visitor, html).status_code == 303
    replay = accept(portal, visitor, html)
    assert replay.status_code == 400
    assert "already sent" in replay.get_data(as_text=True)
    assert len(portal.recorder.of(TermsAcceptedData)) == 1


def test_expired_form_is_refused(portal):
    visitor = portal.visitor()
    html = portal.client.get(visitor.splash_url(), environ_base=visitor.environ).get_data(
        as_text=True
    )
    portal.clock.advance(timedelta(minutes=31))
    response = accept(portal, visitor, html)
    assert response.status_code == 400
    assert "This page has expired" in response.get_data(as_text=True)


def test_cross_site_post_is_refused(portal):
    visitor = portal.visitor()
    html = portal.client.get(visitor.splash_url(), environ_base=visitor.environ).get_data(
        as_text=True
    )
    response = portal.client.post(
        "/accept",
        data={**form_of(html), "accept": "yes"},
        environ_base=visitor.environ,
        headers={"Origin": "http://evil.example"},
    )
    assert response.status_code == 403
    assert not portal.gateway.decisions


def test_tampered_promo_tracker_is_refused(portal):
    visitor = portal.visitor()
    html = portal.client.get(visitor.splash_url(), environ_base=visitor.environ).get_data(
        as_text=True
    )
    href = find(r'href="(/go/riverton-holidays[^"]+)"', html).group(1).replace("&amp;", "&")
    assert portal.client.get(href.replace("riverton-holidays", "pool-news")).status_code == 400
    assert portal.client.get(href[:-2] + "xx").status_code == 400
    assert portal.client.get("/go/riverton-holidays?next=http://evil.example").status_code == 400


def test_a_burst_from_one_client_is_limited_while_others_are_served(tmp_path):
    limited = make_portal(tmp_path, config=portal_config(rate_per_s=1.0, rate_burst=20))
    noisy, quiet = limited.visitor(), limited.visitor()
    url = noisy.splash_url()
    codes = [limited.client.get(url, environ_base=noisy.environ).status_code for _ in range(40)]
    assert codes.count(200) == 20 and codes.count(429) == 20
    refused = limited.client.get(url + "&lang=it", environ_base=noisy.environ)
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert "Troppe richieste" in refused.get_data(as_text=True)
    assert limited.client.get(quiet.splash_url(), environ_base=quiet.environ).status_code == 200


def test_oversized_post_is_refused(portal):
    visitor = portal.visitor()
    response = portal.client.post(
        "/accept", data={"state": "x" * 40_000}, environ_base=visitor.environ
    )
    assert response.status_code == 413


def test_damaged_fas_gets_a_clear_message(portal):
    visitor = portal.visitor()
    response = portal.client.get("/?fas=%%%&iv=zz", environ_base=visitor.environ)
    assert response.status_code == 400
    assert "This sign-in link is not valid" in response.get_data(as_text=True)


def test_gateway_address_other_than_ours_is_refused(portal):
    visitor = portal.visitor()
    query = visitor.query(gateway_address="10.66.6.6:2050")
    assert (
        portal.client.get("/", query_string=query, environ_base=visitor.environ).status_code == 400
    )
