"""Single sign-on settings (issue 17): the `[cms.sso]` table of the CMS config file.

Off unless an issuer is set. Environment variables ``DS_CMS_SSO_<KEY>`` win over the file,
as for every CMS setting; ``DS_CMS_SSO_GROUPS`` holds the group table as TOML inline
tables. The client secret lives in a file of its own (mode 0600), never in the config:

    [cms.sso]
    issuer = "https://login.microsoftonline.com/<tenant id>/v2.0"
    client_id = "<application (client) id>"
    client_secret_file = "/etc/digital-spaces/sso-client-secret"
    group_claim = "groups"
    [cms.sso.groups]
    "<group object id>" = { role = "editor", sites = ["north-pool"] }
    "<another group>" = { role = "it" }

A person in several mapped groups gets the grant of the first one listed: list the
stronger grants first. Editors must name their sites (``["*"]`` for every site), so a
missing list cannot hand out every site by accident.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from central_cms.models import Role
from devices.config import ConfigError
from devices.files import read_secret

ENV_PREFIX = "DS_CMS_SSO_"
ALL_SITES = "*"
_STR_KEYS = ("issuer", "client_id", "client_secret_file", "group_claim", "scope", "button_label")
KNOWN_KEYS = (*_STR_KEYS, "groups", "timeout_s")


@dataclass(frozen=True)
class GroupGrant:
    """What membership of one provider group gives: a role and, for editors, sites
    (empty: every site, as for local editors)."""

    group: str
    role: Role
    sites: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SsoSettings:
    issuer: str = ""
    client_id: str = ""
    client_secret_file: str = ""
    group_claim: str = "groups"
    # Entra ID puts the groups claim in the ID token without a scope of its own.
    scope: str = "openid profile email"
    button_label: str = "Sign in with your city account"
    # How long to wait for the provider before saying it is unreachable.
    timeout_s: float = 5.0
    grants: tuple[GroupGrant, ...] = field(default_factory=tuple)

    @property
    def enabled(self) -> bool:
        return bool(self.issuer)

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"

    def client_secret(self) -> str:
        return read_secret(Path(self.client_secret_file)).strip()


def _error(key: str, problem: str, fix: str) -> ConfigError:
    return ConfigError(f"sso.{key}", problem, fix)


def _grant(group: str, raw: object) -> GroupGrant:
    key = f"groups.{group}"
    if not isinstance(raw, Mapping):
        raise _error(key, f"{raw!r} is not a table", 'use { role = "editor", sites = [...] }')
    unknown = set(raw) - {"role", "sites"}
    if unknown:
        raise _error(f"{key}.{sorted(unknown)[0]}", "is not a group setting", "use role, sites")
    try:
        role = Role(str(raw.get("role", "")))
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise _error(f"{key}.role", f"{raw.get('role')!r} is not a role", f"use {roles}") from None
    sites = raw.get("sites")
    if role is Role.EDITOR:
        if not isinstance(sites, list) or not sites or not all(isinstance(s, str) for s in sites):
            raise _error(f"{key}.sites", "is missing", 'list the site ids, or ["*"] for every site')
        return GroupGrant(group, role, frozenset() if ALL_SITES in sites else frozenset(sites))
    if sites is not None:
        raise _error(f"{key}.sites", f"does not apply to the {role.value} role", "remove it")
    return GroupGrant(group, role)


def _inline_tables(key: str, text: str) -> dict[str, object]:
    try:
        return tomllib.loads(f"value = {text}")["value"]  # type: ignore[no-any-return]
    except tomllib.TOMLDecodeError as error:
        problem = f"is not a TOML inline table: {error}"
        raise _error(key, problem, "see docs/sso-entra-id.md") from None


def _timeout(raw: object) -> float:
    try:
        value = float(str(raw))
    except ValueError:
        raise _error("timeout_s", f"{raw!r} is not a number", "use 1..60") from None
    if not 1 <= value <= 60:
        raise _error("timeout_s", f"{value} is out of range", "use 1..60")
    return value


def parse_sso(table: object, env: Mapping[str, str]) -> SsoSettings:
    """The settings from the config file's table (or None) and the environment."""
    if table is None:
        table = {}
    if not isinstance(table, Mapping):
        raise _error("", "is not a table", "write it as [cms.sso]")
    raw: dict[str, object] = dict(table)
    for key in KNOWN_KEYS:
        if f"{ENV_PREFIX}{key.upper()}" in env:
            value = env[f"{ENV_PREFIX}{key.upper()}"]
            raw[key] = _inline_tables(key, value) if key == "groups" else value
    unknown = set(raw) - set(KNOWN_KEYS)
    if unknown:
        raise _error(sorted(unknown)[0], "is not an SSO setting", f"use one of {KNOWN_KEYS}")
    values: dict[str, object] = {k: str(raw[k]).strip() for k in _STR_KEYS if k in raw}
    if "timeout_s" in raw:
        values["timeout_s"] = _timeout(raw["timeout_s"])
    groups = raw.get("groups", {})
    if not isinstance(groups, Mapping):
        raise _error("groups", "is not a table", "write it as [cms.sso.groups]")
    values["grants"] = tuple(_grant(str(group), grant) for group, grant in groups.items())
    settings = SsoSettings(**values)  # type: ignore[arg-type]
    if settings.enabled:
        _check_enabled(settings)
    return settings


def _check_enabled(settings: SsoSettings) -> None:
    if not settings.issuer.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise _error("issuer", f"{settings.issuer!r} is not an https URL", "use the https issuer")
    if not settings.client_id:
        raise _error("client_id", "is missing", "give the application (client) id")
    if not settings.client_secret_file:
        raise _error("client_secret_file", "is missing", "give the path of the secret's file")
    try:
        settings.client_secret()
    except OSError as error:
        raise _error(
            "client_secret_file",
            f"cannot read {settings.client_secret_file}: {error}",
            "create the file (mode 0600) holding the client secret",
        ) from None
    if not settings.grants:
        raise _error("groups", "maps no group", "map at least one group to a role")
