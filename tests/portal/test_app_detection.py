"""OS captive-portal probes and RFC 8908 over HTTP, before and after authorisation."""

from __future__ import annotations

import json

import pytest

from devices.config import ConfigError
from portal.config import parse_portal_config
from testkit.portal import form_of, make_portal, portal_config

PROBES = [
    ("/hotspot-detect.html", 200, "Success"),
    ("/library/test/success.html", 200, "Success"),
    ("/generate_204", 204, ""),
    ("/gen_204", 204, ""),
    ("/connecttest.txt", 200, "Microsoft Connect Test"),
    ("/ncsi.txt", 200, "Microsoft NCSI"),
    ("/success.txt", 200, "success"),
    ("/canonical.html", 200, "support.mozilla.org/kb/captive-portal"),
]


def authorise(portal, visitor):
    html = portal.client.get(visitor.splash_url(), environ_base=visitor.environ).get_data(
        as_text=True
    )
    response = portal.client.post(
        "/accept", data={**form_of(html), "accept": "yes"}, environ_base=visitor.environ
    )
    assert response.status_code == 303


@pytest.mark.parametrize(("path", "online_status", "online_text"), PROBES)
def test_probe_is_captive_before_and_online_after(portal, path, online_status, online_text):
    visitor = portal.visitor()
    before = portal.client.get(path, environ_base=visitor.environ)
    assert before.status_code == 302
    assert before.headers["Location"] == "http://127.0.0.1:8000/"  # portal.listen
    assert online_text == "" or online_text not in before.get_data(as_text=True)
    authorise(portal, visitor)
    after = portal.client.get(path, environ_base=visitor.environ)
    assert after.status_code == online_status
    assert online_text in after.get_data(as_text=True)
    assert after.headers["Cache-Control"] == "no-store"


def test_rfc8908_api_before_and_after(portal):
    visitor = portal.visitor()
    before = portal.client.get("/api/captive", environ_base=visitor.environ)
    assert before.headers["Content-Type"] == "application/captive+json"
    assert json.loads(before.data) == {
        "captive": True,
        "user-portal-url": "http://127.0.0.1:8000/",
        "venue-info-url": "http://127.0.0.1:8000/venue",
    }
    authorise(portal, visitor)
    portal.clock.advance(minutes=40)
    after = json.loads(portal.client.get("/api/captive", environ_base=visitor.environ).data)
    assert after["captive"] is False
    assert after["seconds-remaining"] == (240 - 40) * 60


def test_probe_redirect_ignores_the_host_header(portal):
    # A visitor (or a page they were tricked into opening) chooses the Host header; the
    # portal must not send the phone's captive browser there.
    visitor = portal.visitor()
    for path in ("/generate_204", "/hotspot-detect.html"):
        answer = portal.client.get(
            path, headers={"Host": "evil.example"}, environ_base=visitor.environ
        )
        assert answer.status_code == 302
        assert answer.headers["Location"] == "http://127.0.0.1:8000/"
    api = portal.client.get(
        "/api/captive",
        headers={"Host": "evil.example"},
        environ_base={**visitor.environ, "wsgi.url_scheme": "http"},
    )
    assert "evil.example" not in api.get_data(as_text=True)


def test_rfc8908_api_names_the_configured_https_portal(tmp_path):
    portal = make_portal(tmp_path, portal_config(public_url="https://wifi.cannington.example/"))
    visitor = portal.visitor()
    document = json.loads(
        portal.client.get(
            "/api/captive", headers={"Host": "10.77.1.1:8000"}, environ_base=visitor.environ
        ).data
    )
    assert document["user-portal-url"] == "https://wifi.cannington.example/"
    assert document["venue-info-url"] == "https://wifi.cannington.example/venue"
    probe = portal.client.get("/generate_204", environ_base=visitor.environ)
    assert probe.headers["Location"] == "https://wifi.cannington.example/"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "http://10.77.1.1:8080/"),
        ("https://wifi.cannington.example", "https://wifi.cannington.example/"),
        ("http://10.77.1.1:8080/", "http://10.77.1.1:8080/"),
    ],
)
def test_public_url_comes_from_the_configuration(value, expected):
    section = {"secret": "s" * 64, "faskey": "k", "listen": "10.77.1.1:8080"}
    if value is not None:
        section["public_url"] = value
    assert parse_portal_config(section).portal_url == expected


@pytest.mark.parametrize(
    "value",
    ["ftp://wifi.example/", "https:///", "https://wifi.example/portal", "https://a@b.example/", 3],
)
def test_a_public_url_that_is_not_an_origin_is_refused_by_name(value):
    section = {"secret": "s" * 64, "faskey": "k", "public_url": value}
    with pytest.raises(ConfigError, match=r"portal\.public_url"):
        parse_portal_config(section)


def test_other_clients_stay_captive(portal):
    online, other = portal.visitor(), portal.visitor()
    authorise(portal, online)
    assert portal.client.get("/generate_204", environ_base=other.environ).status_code == 302


def test_deauthorised_client_is_captive_again(portal):
    visitor = portal.visitor()
    authorise(portal, visitor)
    portal.gateway.deauthorise(visitor.mac)
    assert portal.client.get("/generate_204", environ_base=visitor.environ).status_code == 302
    assert json.loads(portal.client.get("/api/captive", environ_base=visitor.environ).data)[
        "captive"
    ]


def test_venue_page_shows_the_site_without_a_form(portal):
    page = portal.client.get("/venue").get_data(as_text=True)
    assert "Cannington Leisureplex" in page and "Opening hours" in page
    assert "<form" not in page
