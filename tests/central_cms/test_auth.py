"""Sign-in, sessions, CSRF, rate limiting, redirects and security headers."""

from __future__ import annotations

import pytest

from central_cms import models as m
from testkit.staff import PASSWORD, csrf_of, login, make_user


@pytest.fixture
def users(session, rt):
    make_user(session, rt, "ed", m.Role.EDITOR)
    make_user(session, rt, "vi", m.Role.VIEWER)


def test_pages_need_a_signed_in_user(client, users):
    response = client.get("/campaigns/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/campaigns/")


def test_sign_in_and_out(client, users):
    token = login(client, "ed")
    assert client.get("/campaigns/").status_code == 200
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/campaigns/").status_code == 302


def test_a_wrong_password_is_refused_without_saying_which_part(client, users):
    page = client.get("/login")
    response = client.post(
        "/login", data={"username": "ed", "password": "nope", "csrf_token": csrf_of(page.text)}
    )
    assert response.status_code == 401
    assert "do not match" in response.text
    unknown = client.post(
        "/login", data={"username": "nobody", "password": "nope", "csrf_token": csrf_of(page.text)}
    )
    assert "do not match" in unknown.text


def test_repeated_failures_are_rate_limited_even_with_the_right_password(client, users):
    token = csrf_of(client.get("/login").text)
    for _ in range(5):
        client.post("/login", data={"username": "ed", "password": "wrong", "csrf_token": token})
    blocked = client.post(
        "/login", data={"username": "ed", "password": PASSWORD, "csrf_token": token}
    )
    assert blocked.status_code == 429
    assert "Too many" in blocked.text


def test_posts_without_the_csrf_token_are_refused(client, users):
    login(client, "ed")
    response = client.post("/alerts/", data={"scope": "all", "title": "x", "minutes": "5"})
    assert response.status_code == 400
    assert "form expired" in response.text
    no_login_token = client.post("/login", data={"username": "ed", "password": PASSWORD})
    assert no_login_token.status_code == 400


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
def test_login_never_redirects_off_site(client, users, target):
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"username": "ed", "password": PASSWORD, "csrf_token": token, "next": target}
    )
    assert response.headers["Location"] == "/"


def test_session_cookie_is_httponly_and_samesite(client, users):
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"username": "ed", "password": PASSWORD, "csrf_token": token}
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_pages_escape_what_staff_type(client, session, rt, users):
    from central_cms import fleet
    from testkit.staff import ADMIN

    fleet.save_site(
        session,
        rt,
        ADMIN,
        site_id="xss",
        name="<script>alert(1)</script>",
        address="",
        timezone="Australia/Perth",
        requires_approval=True,
    )
    session.commit()
    login(client, "vi")
    page = client.get("/sites/").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
    assert "frame-ancestors 'none'" in client.get("/sites/").headers["Content-Security-Policy"]
