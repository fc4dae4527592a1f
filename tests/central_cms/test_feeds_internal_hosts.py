"""A feed may not make the CMS server fetch an internal address (issue 17): real local
sources on 127.0.0.1 are refused unless `feed_internal_hosts` lists them, a redirect
from a listed source to another port is refused without touching it, and staff are told
why on the Live feeds page, in the API (422) and in the feed's health when a source
that worked stops being allowed (the last good copy stays on the screens).

This module's CMS runs with the default (no internal host); the tests that need one
say so."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from central_cms import models as m
from central_cms.feeds.addresses import LOOPBACK, FeedHosts
from central_cms.feeds.fetch import AddressRefused, FetchLimits, fetch
from central_cms.feeds.models import Feed, FeedKind
from central_cms.feeds.refresh import fetch_source, refresh_feed, use_fetcher
from central_cms.feeds.service import Level, feed_health
from tests.central_cms.feed_bodies import classes_ics
from tests.central_cms.feed_source import Answer, FeedSource, serve
from tests.central_cms.test_api_parity import token_for
from tests.central_cms.test_feeds_pages import _form, login_admin

QUICK = FetchLimits(connect_s=2, total_s=5)


@pytest.fixture
def config(config):
    return config.with_changes(feed_internal_hosts=())


@pytest.fixture
def source() -> Iterator[FeedSource]:
    yield from serve()


@pytest.fixture
def other() -> Iterator[FeedSource]:
    """Another local server: what a redirect must not reach (the database, an admin port)."""
    yield from serve()


def city_dns(host: str, port: int):
    """A resolver for which the city's names point at this machine (as a rebinding DNS
    or a careless record would): the real connector, asked to trust no name."""
    target = "127.0.0.1" if host.endswith(".city.test") else host
    return socket.getaddrinfo(target, port, type=socket.SOCK_STREAM)


def test_a_local_source_is_refused_by_default_and_fetched_once_listed(source):
    source.answer = Answer(body=classes_ics())
    with pytest.raises(AddressRefused) as refused:
        fetch(source.url(), limits=QUICK)
    assert f"127.0.0.1 is {LOOPBACK}" in str(refused.value)
    assert source.requests == []  # never connected to

    got = fetch(source.url(), hosts=FeedHosts.parse(["127.0.0.1"]), limits=QUICK)
    assert got.body == classes_ics() and len(source.requests) == 1
    by_port = FeedHosts.parse([f"127.0.0.1:{source.port}"])
    assert fetch(source.url(), hosts=by_port, limits=QUICK).body == classes_ics()


def test_a_name_that_resolves_to_this_machine_is_refused_where_it_connects(source):
    source.answer = Answer(body=classes_ics())
    url = f"http://feeds.city.test:{source.port}/classes.ics"
    with pytest.raises(AddressRefused) as refused:
        fetch(url, resolver=city_dns, limits=QUICK)
    assert f"feeds.city.test resolves to 127.0.0.1, {LOOPBACK}" in str(refused.value)
    assert source.requests == []
    listed = FeedHosts.parse(["feeds.city.test"])
    assert fetch(url, hosts=listed, resolver=city_dns, limits=QUICK).body == classes_ics()
    assert source.requests[-1]["host"] == f"feeds.city.test:{source.port}"


def test_the_old_spellings_of_127_0_0_1_do_not_get_through(source):
    source.answer = Answer(body=classes_ics())
    for spelling in ("2130706433", "0177.0.0.1", "0x7f.1", "127.1"):
        with pytest.raises(AddressRefused):
            fetch(f"http://{spelling}:{source.port}/classes.ics", limits=QUICK)
    assert source.requests == []


def test_a_redirect_from_a_listed_source_to_another_local_port_is_refused(source, other):
    listed = FeedHosts.parse([f"127.0.0.1:{source.port}"])
    other.answer = Answer(body=b"secret")
    for location, said in (
        (other.url("/admin"), f"127.0.0.1 is {LOOPBACK}"),
        (f"http://localhost:{other.port}/admin", "localhost resolves to 127.0.0.1"),
        (f"http://db.city.test:{other.port}/admin", "db.city.test resolves to 127.0.0.1"),
    ):
        source.answer = Answer(status=302, location=location)
        with pytest.raises(AddressRefused) as refused:
            fetch(source.url(), hosts=listed, resolver=city_dns, limits=QUICK)
        assert said in str(refused.value)
    assert len(source.requests) == 3 and other.requests == []
    # A redirect to a host IT listed too is followed.
    both = FeedHosts.parse([f"127.0.0.1:{source.port}", f"127.0.0.1:{other.port}"])
    source.answer = Answer(status=302, location=other.url())
    other.answer = Answer(body=classes_ics())
    assert fetch(source.url(), hosts=both, limits=QUICK).body == classes_ics()
    assert len(other.requests) == 1


def test_a_source_no_longer_allowed_keeps_its_last_good_copy_and_says_why(
    session, rt, world, source, clock
):
    source.answer = Answer(body=classes_ics())
    feed = Feed(
        id="pool-classes",
        name="Pool classes",
        url=source.url(),
        kind=FeedKind.ICAL.value,
        site_id="north-pool",
        created_at=clock.now(),
    )
    session.add(feed)
    session.commit()
    listed = replace(rt, config=rt.config.with_changes(feed_internal_hosts=("127.0.0.1",)))
    assert refresh_feed(session, listed, feed, fetch_source).ok
    kept = list(feed.entries)
    assert kept

    clock.advance(timedelta(minutes=15))
    outcome = refresh_feed(session, rt, feed, fetch_source)  # the list no longer names it
    assert not outcome.ok and outcome.error is not None
    assert f"127.0.0.1 is {LOOPBACK}" in outcome.error
    session.expire_all()
    assert feed.entries == kept
    health = feed_health(feed, clock.now())
    assert health.level is Level.WARNING
    assert "The last fetch failed: 127.0.0.1 is a loopback address" in health.message
    assert "Screens show the last good copy" in health.message
    assert len(source.requests) == 1


def test_the_feeds_page_says_which_addresses_are_refused_beside_the_address(
    client, session, rt, world
):
    token = login_admin(client, session, rt)
    answer = client.post(
        "/feeds/new", data=_form(url="http://169.254.169.254/latest/meta-data/", csrf_token=token)
    )
    assert answer.status_code == 400
    page = answer.text
    assert 'id="url-error"' in page
    assert "169.254.169.254 is a link-local address" in page
    assert "feed_internal_hosts" in page
    assert session.get(Feed, "pool-classes") is None


def test_the_api_refuses_an_internal_address_with_422_and_the_reason(
    app, client, session, rt, world, source
):
    pool = token_for(session, rt, "pool-editor", m.Role.EDITOR, ["north-pool"])
    body = {
        "id": "pool-classes",
        "name": "Pool classes",
        "url": f"http://[::ffff:127.0.0.1]:{source.port}/classes.ics",
        "kind": "ical",
        "site_id": "north-pool",
    }
    refused = client.post("/api/v1/feeds", json=body, headers=pool)
    assert refused.status_code == 422 and refused.json["field"] == "url"
    assert LOOPBACK in refused.json["message"]
    body["url"] = f"http://localhost.:{source.port}/classes.ics"
    assert client.post("/api/v1/feeds", json=body, headers=pool).status_code == 422
    # A name is judged when fetched (its DNS may change): saved, and "fetch now" says why.
    use_fetcher(
        app, lambda feed, hosts: fetch(feed.url, hosts=hosts, resolver=city_dns, limits=QUICK)
    )
    body["url"] = f"http://bookings.city.test:{source.port}/classes.ics"
    assert client.post("/api/v1/feeds", json=body, headers=pool).status_code == 201
    fetched = client.post("/api/v1/feeds/pool-classes/fetch", headers=pool)
    assert fetched.status_code == 200 and fetched.json["ok"] is False
    assert "bookings.city.test resolves to 127.0.0.1" in fetched.json["error"]
    assert fetched.json["feed"]["health"]["level"] == "error"  # never fetched
    assert source.requests == []
