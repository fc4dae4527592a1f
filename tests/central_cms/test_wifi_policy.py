"""A site's Wi-Fi policy is set by IT in the CMS, checked with messages staff can act on,
and travels in the site's portal manifests (issue 16)."""

from __future__ import annotations

from datetime import time

import pytest

from central_cms import models as m
from central_cms.errors import Invalid
from central_cms.wifi_policy import form_values, parse_wifi_form, walled_garden_host
from devices.protocol import Manifest, PortalSettings, WifiPolicy, parse_signed
from devices.protocol.canonical import canonical_json
from devices.protocol.schedules import Weekday
from testkit.staff import csrf_of, login, make_user
from tests.central_cms.test_site_languages import PORTAL, give_portal_settings

GOOD = {
    "session_minutes": "90",
    "idle_minutes": "15",
    "download_mbps": "5",
    "upload_mbps": "0.5",
    "download_quota_mb": "500",
    "upload_quota_mb": "",
    "hours_limited": "on",
    "opens_mon": "09:00",
    "closes_mon": "17:30",
    "opens_fri": "22:00",
    "closes_fri": "02:00",
    "walled_garden": "https://Bookings.Example.org/book?x=1\nlibrary.example.org\n10.77.2.3\n",
    "splash_every_days": "7",
}


def latest_portal(rt, publisher) -> Manifest:
    payload = [p for topic, p, _ in publisher.sent if f"/{PORTAL}/" in topic][-1]
    return parse_signed(Manifest, payload, [rt.signing_key.public_key])


def test_it_staff_set_the_policy_and_the_portal_manifest_carries_it(
    session, rt, world, publisher, client
):
    give_portal_settings(session, rt, "north-pool")
    make_user(session, rt, "it-person", m.Role.IT)
    login(client, "it-person")
    assert "Wi-Fi policy" in client.get("/sites/").text
    page = client.get("/sites/north-pool/wifi").text
    saved = client.post("/sites/north-pool/wifi", data={**GOOD, "csrf_token": csrf_of(page)})
    assert saved.status_code == 302

    portal = latest_portal(rt, publisher).portal
    assert portal is not None and portal.session_minutes == 90
    wifi = portal.wifi
    assert wifi is not None
    assert (wifi.idle_minutes, wifi.download_kbps, wifi.upload_kbps) == (15, 5000, 500)
    assert (wifi.download_quota_mb, wifi.upload_quota_mb, wifi.splash_every_days) == (500, None, 7)
    assert wifi.walled_garden == ("bookings.example.org", "library.example.org", "10.77.2.3")
    assert [(h.day, h.opens, h.closes) for h in wifi.service_hours] == [
        (Weekday.MON, time(9), time(17, 30)),
        (Weekday.FRI, time(22), time(2)),
    ]
    # The form shows what was saved.
    again = client.get("/sites/north-pool/wifi").text
    assert 'value="0.5"' in again and 'value="22:00"' in again and "library.example.org" in again


def test_mistakes_are_named_with_their_fix_and_nothing_is_published(
    session, rt, world, publisher, client
):
    give_portal_settings(session, rt, "north-pool")
    make_user(session, rt, "it-person", m.Role.IT)
    login(client, "it-person")
    before = len(publisher.sent)
    page = client.get("/sites/north-pool/wifi").text
    answer = client.post(
        "/sites/north-pool/wifi",
        data={
            **GOOD,
            "csrf_token": csrf_of(page),
            "session_minutes": "",
            "download_mbps": "fast",
            "opens_mon": "9",
            "walled_garden": "not a host!",
        },
    )
    assert answer.status_code == 400
    text = answer.text
    assert "Session length: enter a number of minutes" in text
    assert "Download speed: &#39;fast&#39; is not a number" in text
    assert "Service hours, Monday: give both times as HH:MM" in text
    assert "is not a host name; write one per line" in text
    assert len(publisher.sent) == before


def test_only_staff_who_run_the_wifi_may_change_it(session, rt, world, client):
    give_portal_settings(session, rt, "north-pool")
    make_user(session, rt, "editor", m.Role.EDITOR)
    login(client, "editor")
    assert client.get("/sites/north-pool/wifi").status_code == 403


def test_a_site_without_a_portal_has_no_wifi_page(session, rt, world, client):
    make_user(session, rt, "it-person", m.Role.IT)
    login(client, "it-person")
    assert client.get("/sites/east-hall/wifi").status_code == 404


def test_without_a_policy_the_portal_settings_sign_the_same_bytes_as_before():
    settings = {"ssid": "City Free WiFi", "terms": {"version": "1", "text": {"en": "Be kind."}}}
    plain = PortalSettings.model_validate(settings)
    assert "wifi" not in canonical_json(plain.model_dump(mode="json")).decode()
    with_policy = PortalSettings.model_validate({**settings, "wifi": {"download_kbps": 2000}})
    assert '"wifi":{' in canonical_json(with_policy.model_dump(mode="json")).decode()


def test_an_emptied_form_means_no_policy_and_round_trips():
    parsed = parse_wifi_form({"session_minutes": "240"})
    assert parsed.policy is None and parsed.session_minutes == 240
    full = parse_wifi_form(GOOD)
    assert parse_wifi_form(form_values(full.session_minutes, full.policy)) == full


@pytest.mark.parametrize(
    ("typed", "host"),
    [
        ("https://Bookings.Example.org/x", "bookings.example.org"),
        ("library.example.org.", "library.example.org"),
        ("10.0.0.7", "10.0.0.7"),
        ("javascript:alert(1)", None),
        ("*.example.org", None),
        ("", None),
    ],
)
def test_walled_garden_lines_are_reduced_to_hosts(typed, host):
    assert walled_garden_host(typed) == host


def test_service_hours_need_at_least_one_day_when_limited():
    with pytest.raises(Invalid) as refused:
        parse_wifi_form({"session_minutes": "60", "hours_limited": "on"})
    assert "at least one day" in refused.value.message
    assert WifiPolicy() == WifiPolicy.model_validate({})
