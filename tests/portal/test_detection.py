"""Pure probe answers; the HTTP-level probe tests live in test_app_detection.py."""

from __future__ import annotations

import json

import pytest

from portal.detection import PROBE_PATHS, Probe, captive_api, probe_answer

PORTAL = "http://10.77.1.1:8000/"


@pytest.mark.parametrize("probe", list(Probe))
def test_every_probe_is_redirected_to_the_portal_before_authorisation(probe):
    answer = probe_answer(probe, authorised=False, portal_url=PORTAL)
    assert answer.status == 302
    assert ("Location", PORTAL) in answer.headers


def test_online_answers_are_what_each_os_expects():
    def online(probe):
        return probe_answer(probe, authorised=True, portal_url=PORTAL)

    assert online(Probe.APPLE).status == 200 and "Success" in online(Probe.APPLE).body
    assert online(Probe.ANDROID).status == 204 and online(Probe.ANDROID).body == ""
    assert online(Probe.WINDOWS).body == "Microsoft Connect Test"
    assert online(Probe.WINDOWS_NCSI).body == "Microsoft NCSI"
    assert online(Probe.FIREFOX).body == "success\n"


def test_every_probe_kind_has_a_path():
    assert set(PROBE_PATHS.values()) == set(Probe)


def test_captive_api_before_and_after():
    before = json.loads(
        captive_api(
            authorised=False, portal_url=PORTAL, venue_info_url=None, seconds_remaining=None
        )
    )
    assert before == {"captive": True, "user-portal-url": PORTAL}
    after = json.loads(
        captive_api(
            authorised=True,
            portal_url=PORTAL,
            venue_info_url="http://10.77.1.1:8000/venue",
            seconds_remaining=3600,
        )
    )
    assert after["captive"] is False and after["seconds-remaining"] == 3600
    assert after["venue-info-url"] == "http://10.77.1.1:8000/venue"
