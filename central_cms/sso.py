"""Single sign-on through an OpenID provider (issue 17): Authlib does the protocol, this
module decides who the person is in the CMS.

The protocol (central_cms/views/sso_views.py drives it): authorization code with PKCE
(S256), `state` and `nonce` kept in the signed session cookie, the ID token's signature
checked against the provider's JWKS, its issuer against the configured one and its
audience against our client id. Endpoints come from the issuer's discovery document,
fetched again at each sign-in so an unreachable provider is noticed before the person is
sent to it.

Accounts are made just in time: the first sign-in creates the staff user (no local
password), and every sign-in applies the group mapping again, so someone taken out of
a group at the provider loses those rights at their next sign-in, and someone in no
mapped group is refused and signed out everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask
from joserfc.errors import JoseError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from central_cms import audit
from central_cms import models as m
from central_cms.auth import actor_of
from central_cms.policy import Actor
from central_cms.runtime import CmsRuntime
from central_cms.sso_models import SsoIdentity
from central_cms.sso_settings import GroupGrant, SsoSettings

CLIENT_NAME = "city"
CALLBACK_PATH = "/sso/callback"
# What goes wrong talking to the provider: unreachable, or an answer we must not trust.
PROVIDER_ERRORS = (requests.RequestException, OAuthError, JoseError, ValueError)


class ProviderUnavailable(Exception):
    """The provider cannot be reached or answers nonsense; local sign-in still works."""


class SignInRefused(Exception):
    """The provider vouched for the person, but the CMS will not let them in; `reason`
    is shown to them."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- pure ------------------------------------------------------------------------------


def groups_in(claims: Mapping[str, Any], claim: str) -> list[str]:
    """The group names or ids the token lists under `claim` (a list, or one string)."""
    value = claims.get(claim)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(item) for item in value]
    return []


def grant_for(settings: SsoSettings, groups: Iterable[str]) -> GroupGrant | None:
    """The grant of the first configured group the person is in, or None."""
    member = set(groups)
    return next((grant for grant in settings.grants if grant.group in member), None)


def username_from(claims: Mapping[str, Any]) -> str:
    """The CMS user name: the provider's sign-in name, else email, else its subject."""
    for key in ("preferred_username", "email", "sub"):
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip().lower()[:100]
    raise SignInRefused("The sign-in service sent no user name.")


@dataclass(frozen=True)
class ProviderEndpoints:
    authorization: str
    token: str
    jwks: str
    end_session: str | None


def endpoints_from(settings: SsoSettings, metadata: Mapping[str, Any]) -> ProviderEndpoints:
    """Check a discovery document: it must be the configured issuer's (OpenID Connect
    Discovery 1.0, section 4.3), with every endpoint a code flow needs."""
    if str(metadata.get("issuer", "")).rstrip("/") != settings.issuer.rstrip("/"):
        raise ProviderUnavailable(
            f"the discovery document names issuer {metadata.get('issuer')!r}, "
            f"not {settings.issuer!r}"
        )
    try:
        return ProviderEndpoints(
            authorization=str(metadata["authorization_endpoint"]),
            token=str(metadata["token_endpoint"]),
            jwks=str(metadata["jwks_uri"]),
            end_session=metadata.get("end_session_endpoint"),
        )
    except KeyError as missing:
        raise ProviderUnavailable(f"the discovery document has no {missing}") from None


# --- the Authlib client ------------------------------------------------------------------


def init_sso(app: Flask, settings: SsoSettings) -> None:
    """Register the OpenID client when single sign-on is configured."""
    if not settings.enabled:
        return
    oauth = OAuth(app)
    oauth.register(  # type: ignore[no-untyped-call]
        CLIENT_NAME,
        client_id=settings.client_id,
        client_secret=settings.client_secret(),
        client_kwargs={
            "scope": settings.scope,
            "code_challenge_method": "S256",
            "default_timeout": settings.timeout_s,
        },
    )


def client(app: Flask) -> Any:
    return app.extensions["authlib.integrations.flask_client"].create_client(CLIENT_NAME)


def refresh_metadata(app: Flask, settings: SsoSettings) -> ProviderEndpoints:
    """Fetch the discovery document now; ProviderUnavailable if that fails."""
    try:
        answer = requests.get(settings.discovery_url, timeout=settings.timeout_s)
        answer.raise_for_status()
        metadata = answer.json()
    except (requests.RequestException, ValueError) as error:
        raise ProviderUnavailable(str(error)) from None
    endpoints = endpoints_from(settings, metadata)
    oidc = client(app)
    oidc.server_metadata.clear()
    oidc.server_metadata.update(metadata, _loaded_at=True)
    return endpoints


def claims_options(settings: SsoSettings) -> dict[str, Any]:
    """The ID token must come from our issuer and carry a subject (audience and nonce
    are checked by Authlib against the client id and the nonce it sent)."""
    return {"iss": {"essential": True, "values": [settings.issuer]}, "sub": {"essential": True}}


# --- just-in-time accounts ------------------------------------------------------------


def sign_in(
    db_session: Session, rt: CmsRuntime, settings: SsoSettings, claims: Mapping[str, Any]
) -> m.User:
    """The CMS user for verified ID token `claims`: created on first sign-in, rights set
    from the groups every time. Raises SignInRefused (committed: the refusal is audited)."""
    now = rt.clock.now()
    subject = str(claims["sub"])
    identity = db_session.scalars(
        select(SsoIdentity).where(
            SsoIdentity.issuer == settings.issuer, SsoIdentity.subject == subject
        )
    ).first()
    user = db_session.get(m.User, identity.user_id) if identity is not None else None
    groups = groups_in(claims, settings.group_claim)
    grant = grant_for(settings, groups)
    if grant is None:
        name = user.username if user is not None else username_from(claims)
        if user is not None:  # rights taken away at the provider: out everywhere, now
            db_session.execute(delete(m.StaffSession).where(m.StaffSession.user_id == user.id))
        audit.record(
            db_session, _someone(name), "sso.refused", "user", name, now, groups=sorted(groups)
        )
        db_session.commit()
        raise SignInRefused(
            "Your city account is in no group that may use the CMS. "
            "Ask IT to add you to the right group, then sign in again."
        )
    if user is None:
        user = _create(db_session, claims, grant, now)
        db_session.add(
            SsoIdentity(
                issuer=settings.issuer,
                subject=subject,
                user_id=user.id,
                created_at=now,
                last_sign_in_at=now,
            )
        )
    else:
        if not user.active:
            raise SignInRefused("This CMS account is switched off. Ask a CMS administrator.")
        _apply(db_session, user, grant, now)
        assert identity is not None
        identity.last_sign_in_at = now
    audit.record(
        db_session,
        actor_of(user),
        "sso.sign_in",
        "user",
        user.username,
        now,
        group=grant.group,
        role=user.role,
        sites=list(user.sites),
    )
    db_session.commit()
    return user


def _someone(username: str) -> Actor:
    return Actor(username, m.Role.VIEWER)


def _create(
    db_session: Session, claims: Mapping[str, Any], grant: GroupGrant, now: datetime
) -> m.User:
    username = username_from(claims)
    if db_session.scalars(select(m.User).where(m.User.username == username)).first():
        raise SignInRefused(
            f"A CMS account called {username} exists already and is not linked to your "
            "city account. Ask a CMS administrator."
        )
    user = m.User(
        username=username,
        display_name=str(claims.get("name") or username)[:200],
        password_hash="",  # no local password: this person signs in at the provider
        role=grant.role.value,
        sites=sorted(grant.sites),
        active=True,
        created_at=now,
    )
    db_session.add(user)
    db_session.flush()
    audit.record(
        db_session,
        actor_of(user),
        "sso.create",
        "user",
        username,
        now,
        group=grant.group,
        role=user.role,
        sites=list(user.sites),
    )
    return user


def _apply(db_session: Session, user: m.User, grant: GroupGrant, now: datetime) -> None:
    before = {"role": user.role, "sites": list(user.sites)}
    user.role = grant.role.value
    user.sites = sorted(grant.sites)
    after = {"role": user.role, "sites": list(user.sites)}
    if before != after:
        audit.record(
            db_session,
            actor_of(user),
            "sso.rights",
            "user",
            user.username,
            now,
            group=grant.group,
            before=before,
            after=after,
        )


def end_session_url(app: Flask, settings: SsoSettings, come_back_to: str) -> str | None:
    """The provider's sign-out address, if its discovery document named one. No ID token
    hint is kept (it would bloat the cookie); client_id tells the provider who asks."""
    if not client(app).server_metadata.get("issuer"):  # this process has not fetched it yet
        try:
            refresh_metadata(app, settings)
        except ProviderUnavailable:
            return None  # signed out of the CMS all the same
    endpoint = client(app).server_metadata.get("end_session_endpoint")
    if not endpoint:
        return None
    query = urlencode({"client_id": settings.client_id, "post_logout_redirect_uri": come_back_to})
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"
