"""GET / is answered straight from WSGI (issue 6, throughput); these tests hold it to the
same answer Flask gives, and check that its caches never mix visitors up."""

from __future__ import annotations

import re

from portal.privacy import client_hash
from testkit.portal import NOW, STATE, Portal, Visitor, find, portal_config

SECRET = portal_config().secret
_STATE_VALUE = re.compile(r'(name="state" value=")[^"]+(")')


def through_flask(portal: Portal, url: str, visitor: Visitor, **headers: str):
    """The same request, dispatched by Flask's routing instead of the fast path."""
    with portal.app.test_request_context(url, environ_base=visitor.environ, headers=headers):
        return portal.app.full_dispatch_request()


def test_fast_path_gives_the_same_page_and_headers_as_flask(portal):
    visitor = portal.visitor()
    url = visitor.splash_url()
    fast = portal.client.get(url, environ_base=visitor.environ, headers={"Accept-Language": "it"})
    slow = through_flask(portal, url, visitor, **{"Accept-Language": "it"})
    assert fast.status_code == slow.status_code == 200
    assert dict(fast.headers) == dict(slow.headers)
    assert (
        "form-action 'self' http://10.77.1.1:2050 http://neverssl.com"
        in (fast.headers["Content-Security-Policy"])
    )
    # Each page carries its own single-use form state; everything else is identical.
    fast_html, slow_html = fast.get_data(as_text=True), slow.get_data(as_text=True)
    assert find(STATE, fast_html).group(1) != find(STATE, slow_html).group(1)
    assert _STATE_VALUE.sub(r"\1\2", fast_html) == _STATE_VALUE.sub(r"\1\2", slow_html)
    assert 'lang="it"' in fast_html


def test_splash_without_a_fas_query_matches_flask_too(portal):
    visitor = portal.visitor()
    fast = portal.client.get("/?lang=vi", environ_base=visitor.environ)
    slow = through_flask(portal, "/?lang=vi", visitor)
    assert fast.status_code == 200 and dict(fast.headers) == dict(slow.headers)
    assert fast.get_data() == slow.get_data()
    assert 'name="state"' not in fast.get_data(as_text=True)


def test_repeated_queries_keep_each_visitor_apart(portal):
    first, second = portal.visitor(), portal.visitor()
    urls = {first.mac: first.splash_url(), second.mac: second.splash_url()}
    for visitor in (first, second, first, second):  # the second round comes from the caches
        html = portal.client.get(urls[visitor.mac], environ_base=visitor.environ).get_data(
            as_text=True
        )
        link = find(r'href="/go/riverton-holidays\?c=([0-9a-f]+)&amp;s=', html).group(1)
        assert link == client_hash(SECRET, visitor.mac, NOW)


def test_a_damaged_query_is_refused_every_time_not_cached(portal):
    visitor = portal.visitor()
    good = visitor.query()
    damaged = {**good, "fas": good["fas"][:-8] + "AAAAAAA="}
    for _ in range(2):
        response = portal.client.get("/", query_string=damaged, environ_base=visitor.environ)
        assert response.status_code == 400
        assert "This sign-in link is not valid" in response.get_data(as_text=True)
    assert (
        portal.client.get("/", query_string=good, environ_base=visitor.environ).status_code == 200
    )
