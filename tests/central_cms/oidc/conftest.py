"""Single sign-on fixtures: one real OpenID provider per test session (`provider`), the
CMS fixtures' config pointed at it (`config`, overriding the CMS one), and a way through
the provider's sign-in pages without a browser (`through_provider`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from central_cms.config import CmsConfig
from testkit.brokers import free_port
from tests.central_cms.oidc import provider as oidc
from tests.central_cms.oidc.journey import ACCOUNTS, settings_for
from tests.central_cms.oidc.provider import Account, RunningProvider


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


@pytest.fixture
def config(
    config: CmsConfig, provider: RunningProvider, cms_port: int, tmp_path: Path
) -> CmsConfig:
    """The CMS fixtures' config (both databases), signing in at the session's provider."""
    return config.with_changes(
        public_url=f"http://127.0.0.1:{cms_port}", sso=settings_for(provider.issuer, tmp_path)
    )
