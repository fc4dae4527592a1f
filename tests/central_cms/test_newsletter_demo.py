"""`digital-spaces demo`: a visitor who opts in on the demo portal's splash shows up on
the CMS's Newsletter sign-ups page (the node forwards to the demo CMS's device API)."""

from __future__ import annotations

import html
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from central_cms import db as cms_db
from central_cms import models as m
from central_cms.runtime import parts
from central_cms.seed import DEMO_PASSWORD
from digital_spaces.demo.broker import free_port
from digital_spaces.demo.stack import DEMO_PORTAL, DemoOptions, DemoStack, start_stack
from tests.devices.harness import eventually

ADDRESS = "Demo.Visitor@example.org"


@pytest.fixture
def stack(tmp_path_factory) -> Iterator[DemoStack]:
    options = DemoOptions(
        # Short: the node's event socket lives in it, and AF_UNIX paths are short.
        data_dir=tmp_path_factory.mktemp("demo"),
        fresh=True,
        cms_port=free_port(),
        portal_port=free_port(),
        players=(),  # the portal node alone
    )
    running = start_stack(options)
    yield running
    running.stop()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return str(response.read().decode())
    except OSError:  # the node's web server is still starting
        return ""


def test_a_demo_visitors_signup_shows_on_the_staff_page(stack):
    splash = ""

    def offers_newsletter() -> bool:
        nonlocal splash
        splash = _get(stack.visitor_url)  # once the node has its manifest
        return 'name="newsletter"' in splash

    assert eventually(offers_newsletter, 60, every_s=0.5), "the splash never offered the opt-in"
    form = {
        name: html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', splash)
    }
    form.update(accept="yes", newsletter="yes", email=ADDRESS)
    accept = stack.visitor_url.split("/?", 1)[0] + "/accept"
    opener = urllib.request.build_opener(_NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as online:  # 303 to where they were going
        opener.open(accept, data=urllib.parse.urlencode(form).encode(), timeout=10)
    assert online.value.code == 303

    def delivered() -> bool:
        session = cms_db.database(stack.app).sessions()
        try:
            return session.scalars(select(m.NewsletterSignup)).first() is not None
        finally:
            session.close()

    assert eventually(delivered, 30, every_s=0.2), "the node never delivered the sign-up"

    client = stack.app.test_client()
    login = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', login)
    assert token
    signed_in = client.post(
        "/login",
        data={"username": "editor", "password": DEMO_PASSWORD, "csrf_token": token.group(1)},
    )
    assert signed_in.status_code == 302
    page = client.get("/newsletter/?site=cannington-leisureplex").text
    assert "demo.visitor@example.org" in page
    assert "Cannington Leisureplex" in page and DEMO_PORTAL in page


def test_the_demo_runs_its_ingest_without_touching_the_environment(stack):
    # The demo asks for the in-process ingest in its CmsConfig, not through os.environ,
    # so a second CMS made in the same process is not changed behind its back.
    assert parts(stack.app).analytics.ingest is not None
    assert not [name for name in os.environ if name.startswith("DS_INGEST")]
