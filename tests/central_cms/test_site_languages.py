"""Which languages a site's Wi-Fi splash offers is a site setting; by default every
language the portal ships, and it travels in the portal node's manifest (issue 13)."""

from __future__ import annotations

import pytest

from central_cms import fleet
from central_cms import models as m
from central_cms.errors import Invalid
from central_cms.manifests import sync_manifests
from devices.protocol import PORTAL_LANGUAGES, Manifest, parse_signed
from portal.i18n import LANGUAGES
from testkit.staff import ADMIN, csrf_of, login, make_user

PORTAL = "portal-north-pool"


def give_portal_settings(session, rt, site_id: str) -> None:
    site = session.get(m.Site, site_id)
    site.portal_settings = {
        "ssid": "City Free WiFi",
        "terms": {"version": "2026-1", "text": {"en": "Be kind."}},
    }
    session.commit()
    sync_manifests(session, rt, [PORTAL])


def portal_languages(rt, publisher) -> tuple[str, ...]:
    payload = [p for topic, p, _ in publisher.sent if f"/{PORTAL}/" in topic][-1]
    manifest = parse_signed(Manifest, payload, [rt.signing_key.public_key])
    assert manifest.portal is not None
    return manifest.portal.languages


def test_the_portal_ships_exactly_the_languages_the_cms_offers():
    assert set(LANGUAGES) == set(PORTAL_LANGUAGES)


def test_a_sites_splash_offers_every_shipped_language_by_default(session, rt, world, publisher):
    give_portal_settings(session, rt, "north-pool")
    assert portal_languages(rt, publisher) == ("en", "zh", "vi", "ar", "it")


def test_staff_choose_a_sites_splash_languages_in_the_site_form(
    session, rt, world, publisher, client
):
    give_portal_settings(session, rt, "north-pool")
    make_user(session, rt, "site-admin", m.Role.ADMIN)
    login(client, "site-admin")
    form = client.get("/sites/north-pool/edit").text
    for code in PORTAL_LANGUAGES:  # all ticked: the default
        assert f'id="language-{code}" name="languages" value="{code}"' in form
    assert form.count(" checked") >= len(PORTAL_LANGUAGES) + 1  # + approval
    saved = client.post(
        "/sites/north-pool/edit",
        data={
            "csrf_token": csrf_of(form),
            "name": "North Pool",
            "timezone": "Australia/Perth",
            "languages": ["en", "ar", "vi"],  # what the browser sends: hidden en + ticks
        },
    )
    assert saved.status_code == 302, saved.text
    assert portal_languages(rt, publisher) == ("en", "vi", "ar")
    again = client.get("/sites/north-pool/edit").text
    assert 'value="vi" aria-describedby="languages-hint" checked' in again
    assert 'value="zh" aria-describedby="languages-hint">' in again


def test_saving_a_site_without_the_setting_keeps_its_languages(session, rt, world, publisher):
    give_portal_settings(session, rt, "north-pool")
    fleet.save_site(
        session,
        rt,
        ADMIN,
        site_id="north-pool",
        name="North Pool",
        address="",
        timezone="Australia/Perth",
        requires_approval=True,
        languages=["vi"],
    )
    session.commit()
    fleet.save_site(  # e.g. the REST API, which does not carry languages
        session,
        rt,
        ADMIN,
        site_id="north-pool",
        name="North Pool",
        address="1 Pool St",
        timezone="Australia/Perth",
        requires_approval=True,
    )
    session.commit()
    assert portal_languages(rt, publisher) == ("en", "vi")  # English always


def test_a_language_the_portal_does_not_ship_is_refused_by_name(session, rt, world):
    with pytest.raises(Invalid) as refused:
        fleet.save_site(
            session,
            rt,
            ADMIN,
            site_id="north-pool",
            name="North Pool",
            address="",
            timezone="Australia/Perth",
            requires_approval=True,
            languages=["en", "fr"],
        )
    assert refused.value.field == "languages" and "fr" in str(refused.value)
