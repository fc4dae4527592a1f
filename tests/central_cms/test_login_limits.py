"""Failed sign-ins count per user and per address (issue 13, point 13): one row per
failure, an address that keeps failing is locked out, and nobody can lock a named user
out of the CMS by failing on purpose from elsewhere. Limit: 5 per 15 minutes (conftest)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from central_cms import db as cms_db
from central_cms import models as m
from central_cms.app import create_app
from central_cms.runtime import runtime
from testkit.staff import PASSWORD, csrf_of, make_user

LIMIT = 5


@pytest.fixture
def users(session, rt):
    make_user(session, rt, "ed", m.Role.EDITOR)


def attempt(client: FlaskClient, username: str, password: str, address: str) -> int:
    environ = {"REMOTE_ADDR": address}
    token = csrf_of(client.get("/login", environ_base=environ).text)
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        environ_base=environ,
    )
    client.post("/logout", data={"csrf_token": token}, environ_base=environ)
    return response.status_code


def test_each_failure_counts_once(client, users):
    for _ in range(LIMIT - 1):
        assert attempt(client, "ed", "wrong", "10.0.0.1") == 401
    assert attempt(client, "ed", PASSWORD, "10.0.0.1") == 302


def test_an_address_that_keeps_failing_is_locked_for_every_user(client, users, clock):
    for number in range(LIMIT):
        assert attempt(client, f"guess{number}", "wrong", "10.0.0.66") == 401
    assert attempt(client, "ed", PASSWORD, "10.0.0.66") == 429
    assert attempt(client, "ed", PASSWORD, "10.0.0.2") == 302
    clock.advance(timedelta(minutes=15, seconds=1))
    assert attempt(client, "ed", PASSWORD, "10.0.0.66") == 302


def test_failures_from_elsewhere_do_not_lock_the_user_out(client, users):
    attackers = [f"203.0.113.{n}" for n in range(1, LIMIT + 1)]
    for address in attackers:
        assert attempt(client, "ed", "wrong", address) == 401
    # Ed, at an address that never failed, still signs in.
    assert attempt(client, "ed", PASSWORD, "10.0.0.7") == 302


def test_a_user_under_attack_is_throttled_at_the_addresses_that_failed(client, users, clock):
    attackers = [f"203.0.113.{n}" for n in range(1, LIMIT + 1)]
    for address in attackers:
        assert attempt(client, "ed", "wrong", address) == 401
    # Each address that failed for ed has used its tries, even with the right password...
    assert attempt(client, "ed", PASSWORD, attackers[0]) == 429
    # ... and a new address gets a single guess at ed, not five.
    assert attempt(client, "ed", "wrong", "198.51.100.9") == 401
    assert attempt(client, "ed", "wrong", "198.51.100.9") == 429
    clock.advance(timedelta(minutes=15, seconds=1))
    assert attempt(client, "ed", PASSWORD, attackers[0]) == 302


def test_a_user_name_is_counted_whatever_its_case(client, users):
    for number, name in enumerate(["ED", "Ed", "eD", "ed", "ED"]):
        assert attempt(client, name, "wrong", f"203.0.113.{number}") == 401
    assert attempt(client, "ed", PASSWORD, "203.0.113.0") == 429


def test_behind_the_reverse_proxy_each_visitor_is_counted_at_their_own_address(
    config, publisher, clock
):
    """nginx adds the client's address to X-Forwarded-For; with `trusted_proxies = 1` the
    CMS counts that address, not the proxy's, and believes no hop an attacker added."""
    app = create_app(config.with_changes(trusted_proxies=1), publisher=publisher, clock=clock)
    app.config["TESTING"] = True
    with cms_db.database(app).sessions() as session:
        make_user(session, runtime(app), "ed", m.Role.EDITOR)
        session.commit()
    client = app.test_client()
    proxy = "127.0.0.1"

    def via_proxy(username: str, password: str, client_address: str) -> int:
        environ = {"REMOTE_ADDR": proxy, "HTTP_X_FORWARDED_FOR": client_address}
        token = csrf_of(client.get("/login", environ_base=environ).text)
        response = client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": token},
            environ_base=environ,
        )
        client.post("/logout", data={"csrf_token": token}, environ_base=environ)
        status: int = response.status_code
        return status

    try:
        # The attacker claims a fresh address each time in front of nginx's own entry.
        for number in range(LIMIT):
            forged = f"198.51.100.{number}, 203.0.113.9"
            assert via_proxy(f"guess{number}", "wrong", forged) == 401
        assert via_proxy("ed", PASSWORD, "203.0.113.9") == 429  # the attacker's real address
        assert via_proxy("ed", PASSWORD, "10.0.0.8") == 302  # everyone else still signs in
    finally:
        cms_db.database(app).engine.dispose()
