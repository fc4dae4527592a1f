"""After signing in, `next` only ever leads to a page of the CMS itself (issue 13, point 9).

Where a Location header leads is decided by the browser's URL parser, which drops tabs
and newlines and reads `\\` as `/`; so headless Chromium resolves every answer here.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from playwright.sync_api import Page, sync_playwright

from central_cms import models as m
from central_cms.auth import safe_next
from testkit.browsers import launch_chromium
from testkit.staff import PASSWORD, csrf_of, make_user

pytestmark = pytest.mark.browser

CMS = "http://127.0.0.1:5999"

CRAFTED = [
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    " //evil.example",
    "\x00//evil.example",
    "/\x0b/evil.example",
    "//evil.example",
    "///evil.example",
    "////evil.example/x",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\\/evil.example",
    "/\t\\evil.example",
    "https://evil.example/",
    "http:evil.example",
    "https:/evil.example",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "@evil.example",
    "/@evil.example",
    "/\u200b/evil.example",
    "/\u2028/evil.example",
    "\u3000//evil.example",
    "%2F%2Fevil.example",
    "/%2F/evil.example",
    "/%5Cevil.example",
    "/%09/evil.example",
    "/.//evil.example",
    "/..//evil.example",
    "\uff0f\uff0fevil.example",
    "/\uff0fevil.example",
]


@pytest.fixture(scope="module")
def url_parser() -> Iterator[Page]:
    """Chromium's own URL parser: where would a browser go for this Location?"""
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page()
        # An empty page at the CMS's address, so `location.origin` is the CMS.
        page.route(f"{CMS}/**", lambda route: route.fulfill(body="cms"))
        page.goto(f"{CMS}/")
        yield page
        browser.close()


def destinations(page: Page, locations: list[str]) -> list[str]:
    origins: list[str] = page.evaluate(
        "(locations) => locations.map(l => new URL(l, location.origin + '/login').origin)",
        locations,
    )
    return origins


@pytest.fixture
def signed_in_redirect(client, session, rt, url_parser):
    make_user(session, rt, "ed", m.Role.EDITOR)

    def location_for(target: str) -> str:
        token = csrf_of(client.get("/login").text)
        response = client.post(
            "/login",
            data={"username": "ed", "password": PASSWORD, "csrf_token": token, "next": target},
        )
        assert response.status_code == 302
        client.post("/logout", data={"csrf_token": csrf_of(client.get("/campaigns/").text)})
        return str(response.headers["Location"])

    return location_for


def test_crafted_next_values_never_leave_the_cms(signed_in_redirect, url_parser):
    locations = [signed_in_redirect(target) for target in CRAFTED]
    landed = dict(zip(CRAFTED, destinations(url_parser, locations), strict=True))
    assert {target: origin for target, origin in landed.items() if origin != CMS} == {}


def test_a_path_of_the_cms_is_kept(signed_in_redirect):
    assert signed_in_redirect("/campaigns/?status=draft#top") == "/campaigns/?status=draft#top"
    assert signed_in_redirect("/media/") == "/media/"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(["/", "\\", "\t", "\n", "\r", " ", "\x00", "%2f", "%5c", ".", ":", "@"])
        | st.sampled_from(["evil.example", "http", "https:", "javascript:", "\u200b", "\uff0f"])
        | st.text(max_size=3),
        max_size=8,
    ).map("".join)
)
def test_no_next_value_resolves_off_site(url_parser, target):
    """The pure check, fuzzed: whatever it returns stays on the CMS's origin."""
    result = safe_next(target, "/")
    assert destinations(url_parser, [result]) == [CMS], (target, result)
