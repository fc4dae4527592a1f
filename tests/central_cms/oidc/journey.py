"""The steps of a sign-on journey the SSO tests share: the provider's accounts and the
CMS's settings for it, and signing in through the real provider as a browser would."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests
from flask.testing import FlaskClient

from central_cms import models as m
from central_cms.sso_settings import GroupGrant, SsoSettings
from devices.files import write_secret
from tests.central_cms.oidc import provider as oidc
from tests.central_cms.oidc.provider import Account

# Who is in which group at the provider at the start of each test.
ACCOUNTS = {
    "dana": Account(["everyone", "cms-editors-north-pool"], "Dana Editor"),
    "ivan": Account(["everyone", "cms-it"], "Ivan Technician"),
    "sam": Account(["everyone"], "Sam Nobody"),
}
GRANTS = (
    GroupGrant("cms-admins", m.Role.ADMIN),
    GroupGrant("cms-it", m.Role.IT),
    GroupGrant("cms-editors-north-pool", m.Role.EDITOR, frozenset({"north-pool"})),
)


def settings_for(issuer: str, tmp_path: Path) -> SsoSettings:
    secret = tmp_path / "sso-client-secret"
    write_secret(secret, oidc.CLIENT_SECRET.encode())
    return SsoSettings(
        issuer=issuer,
        client_id=oidc.CLIENT_ID,
        client_secret_file=str(secret),
        group_claim="groups",
        scope="openid profile groups",
        grants=GRANTS,
    )


def through_provider(client: FlaskClient, login: str, next_path: str = "/") -> object:
    """Start single sign-on in the CMS, sign in at the real provider as `login` (over
    HTTP, as a browser would), and hand the provider's answer back to the CMS; returns
    the CMS's response to its callback."""
    start = client.get("/sso/start", query_string={"next": next_path})
    assert start.status_code == 302, start.text
    browser = requests.Session()
    form = browser.get(start.headers["Location"], timeout=10)
    assert form.status_code == 200, form.text
    answer = browser.post(
        form.url,
        data={"login": login, "password": oidc.PASSPHRASE},
        allow_redirects=False,
        timeout=10,
    )
    callback = _follow_until_cms(browser, answer, client)
    browser.close()
    parts = urlsplit(callback)
    return client.get(f"{parts.path}?{parts.query}")


def _follow_until_cms(
    browser: requests.Session, answer: requests.Response, client: FlaskClient
) -> str:
    for _ in range(10):
        assert answer.status_code in (302, 303), answer.text
        location = urljoin(answer.url, answer.headers["Location"])
        if "/sso/callback" in location:
            return location
        answer = browser.get(location, allow_redirects=False, timeout=10)
    raise AssertionError("the provider never sent the browser back to the CMS")
