"""Staff for CMS tests: the actors service calls run as, and signing in through the
login form. A campaign is approved by a second staff member (separation of duties), so
tests submit as ADMIN and approve as APPROVER."""

from __future__ import annotations

import re
from collections.abc import Iterable

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from central_cms import fleet
from central_cms import models as m
from central_cms.policy import Actor
from central_cms.runtime import CmsRuntime

PASSWORD = "correct horse battery"
ADMIN = Actor("test-admin", m.Role.ADMIN)
# Whoever submits a campaign cannot approve it too (issue 13, point 10).
APPROVER = Actor("test-approver", m.Role.APPROVER)


def make_user(
    session: Session, rt: CmsRuntime, username: str, role: m.Role, sites: Iterable[str] = ()
) -> None:
    fleet.create_user(
        session, rt, None, username=username, password=PASSWORD, role=role, sites=list(sites)
    )


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> str:
    """Sign in; returns a CSRF token for later posts."""
    page = client.get("/login")
    token = csrf_of(page.text)
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, response.text
    return csrf_of(client.get("/campaigns/").text)
