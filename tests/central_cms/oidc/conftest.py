"""Single sign-on fixtures: one real OpenID provider per test session (`provider`), the
CMS fixtures' config pointed at it (`config`, overriding the CMS one), and a way through
the provider's sign-in pages without a browser (`through_provider`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from flask.testing import FlaskClient

from central_cms import models as m
from central_cms.config import CmsConfig
from central_cms.sso_settings import GroupGrant, SsoSettings
from devices.files import write_secret
from tests.brokers import free_port
from tests.central_cms.oidc import provider as oidc
from tests.central_cms.oidc.provider import Account, RunningProvider

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


@pytest.fixture(scope="session")
def cms_port() -> int:
    """The CMS's port for the whole session: the provider knows its redirect URI."""
    return free_port()


@pytest.fixture(scope="session")
def provider_folder() -> Path:
    return oidc.install()


@pytest.fixture(scope="session")
def session_provider(
    provider_folder: Path, cms_port: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningProvider]:
    running = oidc.start(
        provider_folder,
        tmp_path_factory.mktemp("oidc"),
        f"http://127.0.0.1:{cms_port}",
        {login: Account(list(a.groups), a.name) for login, a in ACCOUNTS.items()},
    )
    yield running
    running.stop()


@pytest.fixture
def provider(session_provider: RunningProvider) -> RunningProvider:
    """The session's provider, with every account back in its starting groups."""
    for login, account in ACCOUNTS.items():
        session_provider.set_groups(login, list(account.groups))
    return session_provider


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


@pytest.fixture
def config(
    config: CmsConfig, provider: RunningProvider, cms_port: int, tmp_path: Path
) -> CmsConfig:
    """The CMS fixtures' config (both databases), signing in at the session's provider."""
    return config.with_changes(
        public_url=f"http://127.0.0.1:{cms_port}", sso=settings_for(provider.issuer, tmp_path)
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
