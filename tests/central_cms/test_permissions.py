"""The permission matrix: every role against every write endpoint, UI and API alike.

An allowed role's request succeeds; a refused one gets 403 and changes nothing (the
audit log, which records every change, stays as it was).
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from central_cms import alerts, campaigns, fleet, newsletter
from central_cms import models as m
from central_cms.compiler import Targets
from devices.protocol import DeviceKind, ItemKind, Severity, TextSlide
from testkit.images import png
from testkit.staff import ADMIN, APPROVER, login, make_user

ROLES = list(m.Role)
A, E, P, IT = m.Role.ADMIN, m.Role.EDITOR, m.Role.APPROVER, m.Role.IT


def _campaign(session, rt, world, status: str) -> str:
    made = campaigns.save(
        session,
        rt,
        ADMIN,
        campaigns.CampaignInput(
            name=f"Perm {secrets.token_hex(2)}",
            owner_site_id="north-pool",
            items=(
                campaigns.ItemInput(
                    kind=ItemKind.TEXT, duration_s=12, text=TextSlide(title="Hello")
                ),
            ),
            targets=Targets(sites=frozenset({"north-pool"})),
        ),
    )
    if status in ("pending", "published"):
        campaigns.submit(session, rt, ADMIN, made.id)
    if status == "published":
        campaigns.approve(session, rt, APPROVER, made.id)
    return made.id


def _alert(session, rt) -> str:
    return alerts.send_alert(
        session,
        rt,
        ADMIN,
        scope="north-pool",
        title="Pool closed",
        body="",
        severity=Severity.WARNING,
        expires_at=rt.clock.now() + timedelta(hours=1),
    ).id


def _device(session, rt, _world) -> str:
    device_id = f"sig-perm-{secrets.token_hex(3)}"
    fleet.register_device(
        session,
        rt,
        ADMIN,
        device_id=device_id,
        name="",
        kind=DeviceKind.SIGNAGE,
        site_id="north-pool",
        profile_id="indoor",
        tags=[],
    )
    return device_id


def _signup(session, rt, _world) -> int:
    """A newsletter sign-up as the north-pool portal node stores it."""
    data = newsletter.SignupInput(
        f"perm-{secrets.token_hex(3)}@example.org", "north-pool", "en", "2026-1"
    )
    device = session.get(m.Device, "portal-north-pool")
    return newsletter.store_signup(session, device, data, rt.clock.now()).id


def _user_id(session, rt, _world) -> int:
    """A throwaway user for the user-management endpoints to act on."""
    name = f"target-{secrets.token_hex(3)}"
    make_user(session, rt, name, m.Role.EDITOR)
    user_id: int = session.scalars(select(m.User.id).where(m.User.username == name)).one()
    return user_id


def campaign_form(world) -> dict[str, Any]:
    return {
        "name": "Form campaign",
        "owner_site_id": "north-pool",
        "priority": "50",
        "target_sites": ["north-pool"],
        "items-0-kind": "image",
        "items-0-media_id": str(world.media["poster"]),
        "items-0-duration_s": "12",
        "items-0-weight": "1",
        "items-0-fit": "fit",
    }


def campaign_json(world) -> dict[str, Any]:
    return {
        "name": "API campaign",
        "owner_site_id": "north-pool",
        "targets": {"sites": ["north-pool"]},
        "items": [{"kind": "image", "media_id": world.media["poster"], "duration_s": 12}],
    }


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: Callable[[Any, Any, Any], str]  # (session, rt, world) -> path, may create objects
    body: Callable[[Any], dict[str, Any]]
    allowed: frozenset[m.Role]
    api: bool = False
    multipart: bool = False


def _static(path: str) -> Callable[[Any, Any, Any], str]:
    return lambda s, rt, w: path


ENDPOINTS = [
    Endpoint(
        "ui create site",
        "POST",
        _static("/sites/new"),
        lambda w: {"id": f"s-{secrets.token_hex(3)}", "name": "New", "timezone": "Australia/Perth"},
        frozenset({A}),
    ),
    Endpoint(
        "ui edit site",
        "POST",
        _static("/sites/north-pool/edit"),
        lambda w: {"name": "North Pool", "timezone": "Australia/Perth"},
        frozenset({A}),
    ),
    Endpoint(
        "ui register device",
        "POST",
        _static("/devices/new"),
        lambda w: {
            "id": f"sig-{secrets.token_hex(3)}",
            "kind": "signage",
            "site_id": "north-pool",
            "profile_id": "indoor",
        },
        frozenset({A, IT}),
    ),
    Endpoint(
        "ui edit device",
        "POST",
        _static("/devices/sig-north-pool/edit"),
        lambda w: {"name": "x", "site_id": "north-pool", "profile_id": "indoor", "tags": "pool"},
        frozenset({A, IT}),
    ),
    Endpoint(
        "ui delete device",
        "POST",
        lambda s, rt, w: f"/devices/{_device(s, rt, w)}/delete",
        lambda w: {},
        frozenset({A, IT}),
    ),
    Endpoint(
        "ui export broker passwords",
        "GET",
        _static("/devices/broker/passwords"),
        lambda w: {},
        frozenset({A, IT}),
    ),
    Endpoint(
        "ui upload media",
        "POST",
        _static("/media/upload"),
        lambda w: {"file": (io.BytesIO(png()), "x.png"), "title": "X"},
        frozenset({A, E}),
        multipart=True,
    ),
    Endpoint(
        "ui create campaign", "POST", _static("/campaigns/new"), campaign_form, frozenset({A, E})
    ),
    Endpoint(
        "ui edit campaign",
        "POST",
        lambda s, rt, w: f"/campaigns/{_campaign(s, rt, w, 'draft')}/edit",
        campaign_form,
        frozenset({A, E}),
    ),
    Endpoint(
        "ui submit campaign",
        "POST",
        lambda s, rt, w: f"/campaigns/{_campaign(s, rt, w, 'draft')}/submit",
        lambda w: {},
        frozenset({A, E}),
    ),
    Endpoint(
        "ui approve campaign",
        "POST",
        lambda s, rt, w: f"/campaigns/{_campaign(s, rt, w, 'pending')}/approve",
        lambda w: {},
        frozenset({A, P}),
    ),
    Endpoint(
        "ui reject campaign",
        "POST",
        lambda s, rt, w: f"/campaigns/{_campaign(s, rt, w, 'pending')}/reject",
        lambda w: {"note": "no"},
        frozenset({A, P}),
    ),
    Endpoint(
        "ui archive campaign",
        "POST",
        lambda s, rt, w: f"/campaigns/{_campaign(s, rt, w, 'published')}/archive",
        lambda w: {},
        frozenset({A, E, P}),
    ),
    Endpoint(
        "ui send alert",
        "POST",
        _static("/alerts/"),
        lambda w: {"scope": "all", "title": "Closed", "minutes": "30", "severity": "warning"},
        frozenset({A, E, P}),
    ),
    Endpoint(
        "ui clear alert",
        "POST",
        lambda s, rt, w: f"/alerts/{_alert(s, rt)}/clear",
        lambda w: {},
        frozenset({A, E, P}),
    ),
    Endpoint(
        "ui create user",
        "POST",
        _static("/users/"),
        lambda w: {
            "username": f"u{secrets.token_hex(3)}",
            "password": "long enough pw",
            "role": "viewer",
        },
        frozenset({A}),
    ),
    # Issue 13: changing who someone is or ending their sessions is for admins only.
    Endpoint(
        "ui change a user's role",
        "POST",
        lambda s, rt, w: f"/users/{_user_id(s, rt, w)}/role",
        lambda w: {"role": "viewer"},
        frozenset({A}),
    ),
    Endpoint(
        "ui sign a user out everywhere",
        "POST",
        lambda s, rt, w: f"/users/{_user_id(s, rt, w)}/sign-out",
        lambda w: {},
        frozenset({A}),
    ),
    # Newsletter sign-ups are visitors' email addresses: reading them is guarded too.
    Endpoint(
        "ui newsletter sign-ups page",
        "GET",
        _static("/newsletter/"),
        lambda w: {},
        frozenset({A, E}),
    ),
    Endpoint(
        "ui newsletter sign-ups csv",
        "GET",
        _static("/newsletter/export.csv"),
        lambda w: {},
        frozenset({A, E}),
    ),
    Endpoint(
        "ui delete newsletter sign-up",
        "POST",
        lambda s, rt, w: f"/newsletter/{_signup(s, rt, w)}/delete",
        lambda w: {},
        frozenset({A, E}),
    ),
    Endpoint(
        "api create site",
        "POST",
        _static("/api/v1/sites"),
        lambda w: {"id": f"s-{secrets.token_hex(3)}", "name": "New"},
        frozenset({A}),
        api=True,
    ),
    Endpoint(
        "api save profile",
        "PUT",
        _static("/api/v1/profiles/led-state-road"),
        lambda w: {
            "id": "led-state-road",
            "name": "LED state road",
            "kind": "roadside",
            "width_px": 384,
            "height_px": 192,
            "min_dwell_s": 40,
            "allow_video": False,
            "forbid_contact_text": True,
        },
        frozenset({A, IT}),
        api=True,
    ),
    Endpoint(
        "api send command",
        "POST",
        _static("/api/v1/devices/sig-north-pool/commands"),
        lambda w: {"name": "identify"},
        frozenset({A, IT}),
        api=True,
    ),
    Endpoint(
        "ui send command",
        "POST",
        _static("/devices/sig-north-pool/command"),
        lambda w: {"name": "refresh"},
        frozenset({A, IT}),
    ),
    Endpoint(
        "api register device",
        "POST",
        _static("/api/v1/devices"),
        lambda w: {
            "id": f"sig-{secrets.token_hex(3)}",
            "kind": "signage",
            "site_id": "north-pool",
            "profile_id": "indoor",
        },
        frozenset({A, IT}),
        api=True,
    ),
    Endpoint(
        "api upload media",
        "POST",
        _static("/api/v1/media"),
        lambda w: {"file": (io.BytesIO(png()), "x.png"), "title": "X"},
        frozenset({A, E}),
        api=True,
        multipart=True,
    ),
    Endpoint(
        "api create campaign",
        "POST",
        _static("/api/v1/campaigns"),
        campaign_json,
        frozenset({A, E}),
        api=True,
    ),
    Endpoint(
        "api update campaign",
        "PUT",
        lambda s, rt, w: f"/api/v1/campaigns/{_campaign(s, rt, w, 'draft')}",
        campaign_json,
        frozenset({A, E}),
        api=True,
    ),
    Endpoint(
        "api submit campaign",
        "POST",
        lambda s, rt, w: f"/api/v1/campaigns/{_campaign(s, rt, w, 'draft')}/submit",
        lambda w: {},
        frozenset({A, E}),
        api=True,
    ),
    Endpoint(
        "api approve campaign",
        "POST",
        lambda s, rt, w: f"/api/v1/campaigns/{_campaign(s, rt, w, 'pending')}/approve",
        lambda w: {},
        frozenset({A, P}),
        api=True,
    ),
    Endpoint(
        "api reject campaign",
        "POST",
        lambda s, rt, w: f"/api/v1/campaigns/{_campaign(s, rt, w, 'pending')}/reject",
        lambda w: {"note": "no"},
        frozenset({A, P}),
        api=True,
    ),
    Endpoint(
        "api archive campaign",
        "POST",
        lambda s, rt, w: f"/api/v1/campaigns/{_campaign(s, rt, w, 'published')}/archive",
        lambda w: {},
        frozenset({A, E, P}),
        api=True,
    ),
    Endpoint(
        "api send alert",
        "POST",
        _static("/api/v1/alerts"),
        lambda w: {"scope": "all", "title": "Closed"},
        frozenset({A, E, P}),
        api=True,
    ),
    Endpoint(
        "api clear alert",
        "POST",
        lambda s, rt, w: f"/api/v1/alerts/{_alert(s, rt)}/clear",
        lambda w: {},
        frozenset({A, E, P}),
        api=True,
    ),
]


def _audit_count(session) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(m.AuditEntry)) or 0)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_every_role_against_every_write_endpoint(endpoint, app, session, rt, world):
    tokens = {}
    for role in ROLES:
        make_user(session, rt, f"{role.value}-user", role)
        user = session.scalars(select(m.User).where(m.User.username == f"{role.value}-user")).one()
        tokens[role] = fleet.create_api_token(session, rt, user, "matrix")
    outcomes = {}
    for role in ROLES:
        path = endpoint.path(session, rt, world)
        session.commit()
        client = app.test_client()
        body = endpoint.body(world)
        before = _audit_count(session)
        if endpoint.api:
            headers = {"Authorization": f"Bearer {tokens[role]}"}
            if endpoint.multipart:
                response = client.open(
                    path,
                    method=endpoint.method,
                    data=body,
                    headers=headers,
                    content_type="multipart/form-data",
                )
            else:
                response = client.open(path, method=endpoint.method, json=body, headers=headers)
        else:
            csrf = login(client, f"{role.value}-user")
            data = {**body, "csrf_token": csrf} if endpoint.method == "POST" else None
            response = client.open(
                path,
                method=endpoint.method,
                data=data,
                content_type="multipart/form-data" if endpoint.multipart else None,
            )
        outcomes[role] = response.status_code
        if role in endpoint.allowed:
            assert response.status_code in (200, 201, 202, 302, 303), (
                role,
                response.status_code,
                response.get_data(as_text=True)[:500],
            )
            if endpoint.method != "GET":
                assert _audit_count(session) > before, (role, "no change recorded")
        else:
            assert response.status_code == 403, (role, response.status_code)
            assert _audit_count(session) == before, (role, "a refused request changed something")
    assert {r for r, code in outcomes.items() if code != 403} == set(endpoint.allowed)


def test_the_api_needs_a_token(client, world):
    assert client.post("/api/v1/campaigns", json=campaign_json(world)).status_code == 401
    bad = client.post(
        "/api/v1/campaigns", json=campaign_json(world), headers={"Authorization": "Bearer ds_nope"}
    )
    assert bad.status_code == 401


def test_an_editor_limited_to_one_site_works_only_there(app, session, rt, world):
    make_user(session, rt, "pool-editor", m.Role.EDITOR, sites=["north-pool"])
    user = session.scalars(select(m.User).where(m.User.username == "pool-editor")).one()
    headers = {"Authorization": f"Bearer {fleet.create_api_token(session, rt, user, 't')}"}
    client = app.test_client()
    own = client.post("/api/v1/campaigns", json=campaign_json(world), headers=headers)
    assert own.status_code == 201
    other = client.post(
        "/api/v1/campaigns",
        json={**campaign_json(world), "owner_site_id": "south-library"},
        headers=headers,
    )
    assert other.status_code == 403
    assert "south-library" in other.json["message"]
    # A cross-promotion from its own site to others needs an approver, even where the
    # other site itself would not ask for one.
    promo = client.post(
        "/api/v1/campaigns",
        json={**campaign_json(world), "targets": {"sites": ["south-library"]}},
        headers=headers,
    ).json
    submitted = client.post(f"/api/v1/campaigns/{promo['id']}/submit", headers=headers).json
    assert submitted["status"] == "pending"
    alert = client.post("/api/v1/alerts", json={"scope": "all", "title": "x"}, headers=headers)
    assert alert.status_code == 422
