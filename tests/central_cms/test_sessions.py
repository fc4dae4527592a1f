"""Sessions end on the server (issue 13, point 12): a copy of the session cookie, taken
before logout, a role change, a new password or "sign out everywhere", no longer works."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from central_cms import models as m
from testkit.staff import csrf_of, login, make_user

COOKIE = "ds_cms_session"


@pytest.fixture
def staff(session, rt):
    make_user(session, rt, "ed", m.Role.EDITOR)
    make_user(session, rt, "boss", m.Role.ADMIN)
    return {u.username: u.id for u in session.scalars(select(m.User))}


def copy_of(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding the same cookie (a stolen or copied one)."""
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None, "not signed in"
    thief = app.test_client()
    thief.set_cookie(COOKIE, cookie.value)
    return thief


def signed_in(client: FlaskClient) -> bool:
    response = client.get("/campaigns/")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def test_a_copied_cookie_stops_working_after_logout(app, client, staff):
    token = login(client, "ed")
    thief = copy_of(app, client)
    assert signed_in(thief)
    client.post("/logout", data={"csrf_token": token})
    assert not signed_in(client)
    assert not signed_in(thief)


def test_logout_ends_only_that_session(app, client, staff):
    token = login(client, "ed")
    laptop = app.test_client()
    login(laptop, "ed")
    client.post("/logout", data={"csrf_token": token})
    assert signed_in(laptop)


def admin(app: Flask) -> tuple[FlaskClient, str]:
    boss = app.test_client()
    return boss, login(boss, "boss")


def test_a_copied_cookie_stops_working_after_a_role_change(app, client, session, staff):
    login(client, "ed")
    thief = copy_of(app, client)
    boss, token = admin(app)
    response = boss.post(f"/users/{staff['ed']}/role", data={"role": "viewer", "csrf_token": token})
    assert response.status_code == 302
    assert "ed is now viewer" in boss.get("/users/").text
    assert not signed_in(thief)
    assert not signed_in(client)
    assert session.get(m.User, staff["ed"]).role == "viewer"


def test_a_copied_cookie_stops_working_after_a_new_password(app, client, staff):
    login(client, "ed")
    thief = copy_of(app, client)
    boss, token = admin(app)
    response = boss.post(
        "/users/password",
        data={"user_id": staff["ed"], "password": "a brand new secret", "csrf_token": token},
    )
    assert response.status_code == 302
    assert not signed_in(thief)
    login(client, "ed", "a brand new secret")
    assert signed_in(client)


def test_sign_out_everywhere_ends_every_session_and_is_audited(app, client, session, staff):
    login(client, "ed")
    laptop = app.test_client()
    login(laptop, "ed")
    thief = copy_of(app, client)
    boss, token = admin(app)
    page = boss.get("/users/").text
    assert f'action="/users/{staff["ed"]}/sign-out"' in page
    response = boss.post(f"/users/{staff['ed']}/sign-out", data={"csrf_token": token})
    assert response.status_code == 302
    assert "Signed ed out everywhere (2 sessions ended)" in boss.get("/users/").text
    assert not any(signed_in(c) for c in (client, laptop, thief))
    assert signed_in(boss)
    entry = session.scalars(
        select(m.AuditEntry).where(m.AuditEntry.action == "user.sign_out")
    ).one()
    assert (entry.username, entry.entity_id, entry.detail) == ("boss", "ed", {"sessions_ended": 2})


def test_sign_out_everywhere_needs_the_csrf_token_and_an_admin(app, client, staff):
    login(client, "ed")
    boss, _ = admin(app)
    forged = boss.post(f"/users/{staff['ed']}/sign-out", data={})
    assert forged.status_code == 400
    assert signed_in(client)
    editor_token = csrf_of(client.get("/campaigns/").text)
    refused = client.post(f"/users/{staff['boss']}/sign-out", data={"csrf_token": editor_token})
    assert refused.status_code == 403
    assert signed_in(boss)
