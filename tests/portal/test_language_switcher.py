"""The language switcher keeps the visitor's visit: from the splash, from a form the
server sent back with an error, and from the pages after it (issue 13)."""

from __future__ import annotations

import html
import re

from testkit.portal import online_landing

_FIELD = re.compile(r'name="(state|lang|terms_version)" value="([^"]+)"')
_ACTION = re.compile(r'<form class="accept" method="post" action="([^"]+)"')


def switch_to(page: str, code: str) -> str:
    """The switcher's link to `code`, as the browser would follow it."""
    for href in re.findall(r'<li><a href="([^"]+)" lang=', page):
        url = html.unescape(href)
        if url.endswith(f"lang={code}"):
            return url
    raise AssertionError(f"no switcher link to {code}")


def test_switching_language_on_a_refused_form_keeps_the_visit(portal):
    visitor = portal.visitor(origin_url="http://neverssl.com/online")
    env = visitor.environ
    splash = portal.client.get(visitor.splash_url(lang="vi"), environ_base=env).text
    action = html.unescape(_ACTION.search(splash).group(1))
    refused = portal.client.post(action, data=dict(_FIELD.findall(splash)), environ_base=env)
    assert refused.status_code == 400 and "Hãy đánh dấu vào ô" in refused.text

    # The visitor now picks Arabic: the link must lead to a splash with a form for them,
    # not to GET /accept (405) or a page without their visit.
    arabic = portal.client.get(switch_to(refused.text, "ar"), environ_base=env)
    assert arabic.status_code == 200
    assert 'dir="rtl"' in arabic.text[:200] and "أوافق على شروط الاستخدام" in arabic.text
    form = {**dict(_FIELD.findall(arabic.text)), "accept": "yes"}
    assert form["lang"] == "ar"
    action = html.unescape(_ACTION.search(arabic.text).group(1))
    done = portal.client.post(action, data=form, environ_base=env)
    assert done.status_code == 303
    assert (
        online_landing(portal.client, done.headers["Location"])[1] == "http://neverssl.com/online"
    )
    assert "lang=ar" in done.headers["Location"]
    [decision] = portal.gateway.decisions
    assert decision.mac == visitor.mac


def test_switching_language_on_a_message_after_the_form_returns_to_the_visit(portal):
    visitor = portal.visitor()
    env = visitor.environ
    splash = portal.client.get(visitor.splash_url(lang="it"), environ_base=env).text
    action = html.unescape(_ACTION.search(splash).group(1))
    form = {**dict(_FIELD.findall(splash)), "accept": "yes"}
    assert portal.client.post(action, data=form, environ_base=env).status_code == 303
    replayed = portal.client.post(action, data=form, environ_base=env)
    assert replayed.status_code == 400  # "already sent", in Italian
    vietnamese = portal.client.get(switch_to(replayed.text, "vi"), environ_base=env)
    assert vietnamese.status_code == 200 and 'lang="vi"' in vietnamese.text[:200]
    assert 'name="state"' in vietnamese.text  # a fresh form for the same visit
