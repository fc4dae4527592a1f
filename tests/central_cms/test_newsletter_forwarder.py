"""A portal node's NewsletterForwarder (portal/node.py) against the real CMS over HTTP:
a sign-up spooled while the CMS is unreachable is delivered once it answers, exactly once,
and the spool empties."""

from __future__ import annotations

import threading
import tomllib
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from central_cms import fleet
from central_cms import models as m
from devices.config import parse_device_config
from portal.node import NewsletterForwarder
from portal.sources import NewsletterSignup
from testkit.brokers import free_port
from testkit.staff import ADMIN

PORTAL = "portal-north-pool"
SIGNUP = NewsletterSignup("Visitor@Example.org", "north-pool", "zh", "2026-1")


@pytest.fixture
def portal_token(session, rt, world) -> str:
    registration = fleet.reissue_credentials(session, rt, ADMIN, PORTAL)
    session.commit()
    return parse_device_config(tomllib.loads(registration.config_toml)).asset_token


@pytest.fixture
def serve(app) -> Iterator[Callable[[int], None]]:
    """Start the CMS app on a port, in a thread, when the test says so."""
    running = []

    def start(port: int) -> None:
        httpd = make_server("127.0.0.1", port, app, threaded=True)  # listening on return
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        running.append((httpd, thread))

    yield start
    for httpd, thread in running:
        httpd.shutdown()
        thread.join(10)


def submit(forwarder: NewsletterForwarder, signup: NewsletterSignup) -> None:
    """submit() spools, then flushes in a thread of its own: wait for that thread."""
    before = set(threading.enumerate())
    forwarder.submit(signup)
    # Only the forwarder's own flush thread: the test server starts request threads too,
    # and one still being started cannot be joined yet.
    for thread in set(threading.enumerate()) - before:
        if not thread.name.endswith("(flush)"):
            continue
        thread.join(30)
        assert not thread.is_alive()


def stored(session) -> list[m.NewsletterSignup]:
    session.expire_all()
    return list(session.scalars(select(m.NewsletterSignup)))


def test_a_spooled_signup_reaches_the_cms_once_it_answers(serve, session, portal_token, tmp_path):
    port = free_port()
    spool = tmp_path / "newsletter-spool.jsonl"
    forwarder = NewsletterForwarder(
        f"http://127.0.0.1:{port}/device-api/v1/newsletter-signups", portal_token, spool
    )

    submit(forwarder, SIGNUP)  # nothing listens on the port yet
    assert len(spool.read_text(encoding="utf-8").splitlines()) == 1
    assert stored(session) == []

    serve(port)
    forwarder.flush()  # what the node's session loop does every few seconds
    assert spool.read_text(encoding="utf-8") == ""
    [row] = stored(session)
    assert (row.email, row.site_id, row.language, row.terms_version) == (
        "visitor@example.org",
        "north-pool",
        "zh",
        "2026-1",
    )
    assert row.source_device_id == PORTAL

    # Sent again (the node never saw the answer, or the visitor signed up twice): the
    # CMS answers 200, the spool empties and there is still one row.
    submit(forwarder, SIGNUP)
    assert spool.read_text(encoding="utf-8") == ""
    assert [r.id for r in stored(session)] == [row.id]


def test_a_signup_the_cms_refuses_for_good_leaves_the_spool(
    serve, session, portal_token, tmp_path, caplog
):
    """A node must not keep a visitor's address, re-sending it forever, once the CMS has
    said no (here: the node posts for a site that is not its own)."""
    port = free_port()
    serve(port)
    spool = tmp_path / "newsletter-spool.jsonl"
    forwarder = NewsletterForwarder(
        f"http://127.0.0.1:{port}/device-api/v1/newsletter-signups", portal_token, spool
    )
    elsewhere = NewsletterSignup("visitor@example.org", "south-library", "en", "2026-1")
    with caplog.at_level("WARNING", logger="portal.node"):
        submit(forwarder, elsewhere)
    assert spool.read_text(encoding="utf-8") == ""
    assert stored(session) == []
    assert "refused it with 403" in caplog.text
    assert "visitor@example.org" not in caplog.text
