"""Staff register a booking system's calendar and a news feed; the CMS fetches them from
a real HTTP server. A good answer becomes a signed, versioned copy for the screens; a
broken, huge, slow or wrongly encoded one keeps the last good copy and tells staff why."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from central_cms.feeds.addresses import FeedHosts
from central_cms.feeds.fetch import FetchLimits, fetch
from central_cms.feeds.models import Feed, FeedKind
from central_cms.feeds.refresh import FeedRefresher, refresh_feed
from devices.protocol import parse_signed
from devices.protocol.feeds import FeedData
from devices.protocol.topics import feed_topic
from tests.central_cms.feed_bodies import classes_ics, news_rss
from tests.central_cms.feed_source import Answer, FeedSource, serve

QUICK = FetchLimits(connect_s=0.5, total_s=2.0)


def quick_fetch(feed: Feed, hosts: FeedHosts):
    return fetch(
        feed.url, hosts=hosts, etag=feed.etag, last_modified=feed.last_modified, limits=QUICK
    )


@pytest.fixture
def source() -> Iterator[FeedSource]:
    yield from serve()


def register(session, clock, source: FeedSource, kind: FeedKind = FeedKind.ICAL) -> Feed:
    feed = Feed(
        id=f"pool-classes-{secrets.token_hex(3)}",
        name="Pool classes",
        url=source.url(),
        kind=kind.value,
        site_id="north-pool",
        max_age_s=24 * 3600,
        created_at=clock.now(),
    )
    session.add(feed)
    session.commit()
    return feed


def published(publisher, feed: Feed, rt) -> list[FeedData]:
    return [
        parse_signed(FeedData, payload, [rt.signing_key.public_key])
        for topic, payload, retain in publisher.sent
        if topic == feed_topic(feed.id) and retain
    ]


def test_this_weeks_classes_reach_the_screens_and_a_304_sends_nothing_until_the_copy_ages(
    session, rt, clock, publisher, world, source
):
    source.answer = Answer(body=classes_ics(), etag='"v1"')
    feed = register(session, clock, source)
    outcome = refresh_feed(session, rt, feed, quick_fetch)
    assert outcome.ok and outcome.changed and outcome.published
    [first] = published(publisher, feed, rt)
    assert [(e.title, e.starts_at) for e in first.entries] == [
        ("Aquarobics", datetime(2026, 12, 1, 1, tzinfo=UTC)),  # 09:00 Perth, every Tu/Th
        ("Water safety talk", datetime(2026, 12, 2, 10, tzinfo=UTC)),
        ("Aquarobics", datetime(2026, 12, 3, 1, tzinfo=UTC)),
    ]
    assert first.entries[0].location == "Café pool"
    assert first.title == "North Pool classes"

    # Every 15 minutes for most of the day the source says 304: nothing changed, so
    # nothing goes to the screens (each copy sent would redraw their timetable).
    for _ in range(4 * 12 - 1):
        clock.advance(timedelta(minutes=15))
        outcome = refresh_feed(session, rt, feed, quick_fetch)
        assert outcome.ok and not outcome.changed and not outcome.published
    assert source.requests[-1]["if-none-match"] == '"v1"'
    assert published(publisher, feed, rt) == [first]
    assert feed.last_ok_at == clock.now()  # staff see it fetched just now
    assert source.bytes_sent == len(classes_ics())  # the 304s sent no body

    # Twelve hours on, the screens' copy is half its 24-hour limit old: it goes out
    # again, the same entries freshly dated, so a quiet source never ages off screens.
    clock.advance(timedelta(minutes=15))
    outcome = refresh_feed(session, rt, feed, quick_fetch)
    assert outcome.ok and not outcome.changed and outcome.published
    second = published(publisher, feed, rt)[-1]
    assert second.version > first.version
    assert second.fetched_at == first.fetched_at + timedelta(hours=12)
    assert (second.entries, second.title) == (first.entries, first.title)


def test_a_source_that_ignores_conditional_get_and_sends_the_same_body_sends_nothing(
    session, rt, clock, publisher, world, source
):
    source.answer = Answer(body=news_rss(3), content_type="application/rss+xml")
    feed = register(session, clock, source, FeedKind.RSS)
    assert refresh_feed(session, rt, feed, quick_fetch).published
    clock.advance(timedelta(minutes=15))
    assert not refresh_feed(session, rt, feed, quick_fetch).published
    source.answer = Answer(body=news_rss(4), content_type="application/rss+xml")
    clock.advance(timedelta(minutes=15))
    outcome = refresh_feed(session, rt, feed, quick_fetch)
    assert outcome.changed and outcome.published
    assert [len(copy.entries) for copy in published(publisher, feed, rt)] == [3, 4]


BAD_ANSWERS = {
    "malformed": (
        FeedKind.RSS,
        Answer(body=news_rss(6)[:300], content_type="application/rss+xml"),
        "not well-formed",
    ),
    "50 MB": (FeedKind.ICAL, Answer(endless_mb=50), "over 2.0 MB"),
    "stalled": (FeedKind.ICAL, Answer(body=classes_ics(), stall_after=100), "stopped sending"),
    "slow": (FeedKind.ICAL, Answer(body=classes_ics(), trickle=True), "took over 2 s"),
    "wrong charset": (
        FeedKind.ICAL,
        Answer(
            body=classes_ics(extra=" \u2013 new times"),
            content_type="text/calendar; charset=iso-8859-1",
        ),
        "says its text is iso-8859-1 but sends UTF-8",
    ),
    "Latin-1 labelled UTF-8": (
        FeedKind.ICAL,
        Answer(
            body=classes_ics().decode().encode("latin-1"),  # "Café" as one byte 0xE9
            content_type="text/calendar; charset=utf-8",
        ),
        "says its text is utf-8 but byte",
    ),
    "server error": (FeedKind.ICAL, Answer(status=500, body=b"oops"), "HTTP 500"),
}


@pytest.mark.parametrize("case", sorted(BAD_ANSWERS))
def test_a_bad_answer_keeps_the_last_good_copy_and_tells_staff_why(
    session, rt, clock, publisher, world, source, case
):
    kind, bad, reason = BAD_ANSWERS[case]
    good = classes_ics() if kind is FeedKind.ICAL else news_rss(6)
    source.answer = Answer(body=good, content_type="text/calendar; charset=utf-8")
    feed = register(session, clock, source, kind)
    assert refresh_feed(session, rt, feed, quick_fetch).ok
    good_copy = feed.entries
    sent_before = len(publisher.sent)

    clock.advance(timedelta(minutes=15))
    source.answer = bad
    outcome = refresh_feed(session, rt, feed, quick_fetch)

    assert not outcome.ok
    session.expire_all()
    stored = session.get(Feed, feed.id)
    assert stored is not None
    assert reason in (stored.last_error or "")
    assert stored.entries == good_copy
    assert stored.failing_since == clock.now()
    assert len(publisher.sent) == sent_before  # nothing half-parsed was published
    if case == "50 MB":
        assert source.bytes_sent < 20 * 1024 * 1024  # the CMS hung up early


def test_a_source_down_for_a_day_is_fetched_once_per_interval_by_one_of_two_cms_processes(
    session, rt, clock, publisher, world, source, app, monkeypatch
):
    from central_cms import db as cms_db
    from central_cms.feeds import refresh

    # A lease of this test's own: a CMS another test left running on the same database
    # (real clock, real broker) would otherwise hold the shared "feed-refresh" lease.
    monkeypatch.setattr(refresh, "JOB", f"feed-refresh-{secrets.token_hex(3)}")

    source.answer = Answer(body=classes_ics())
    feed = register(session, clock, source)
    sessions = cms_db.database(app).sessions
    one, two = FeedRefresher(sessions, rt, quick_fetch), FeedRefresher(sessions, rt, quick_fetch)
    assert [o.ok for o in one.tick() or ()] == [True]
    source.answer = Answer(status=503, body=b"down for maintenance")
    for _ in range(24 * 4):  # every 15 minutes for a day, both processes tick
        clock.advance(timedelta(minutes=15))
        one.tick()
        two.tick()
    assert len(source.requests) == 1 + 24 * 4
    session.expire_all()
    stored = session.get(Feed, feed.id)
    assert stored is not None
    assert stored.last_ok_at == clock.now() - timedelta(days=1)
    assert stored.failing_since == stored.last_ok_at + timedelta(minutes=15)
    assert "HTTP 503" in (stored.last_error or "")
    assert len(published(publisher, feed, rt)) == 1


def test_quiet_then_down_for_a_day_staff_are_told_exactly_what_the_screens_still_show(
    session, rt, clock, publisher, world, source, tmp_path
):
    from central_cms.feeds.catalogue import feed_ref
    from central_cms.feeds.service import Level, feed_health
    from devices.feeds import FeedStore

    source.answer = Answer(body=classes_ics(), etag='"v1"')
    feed = register(session, clock, source)
    assert refresh_feed(session, rt, feed, quick_fetch).published
    screen = FeedStore(tmp_path / "feeds", [rt.signing_key.public_key])
    screen.use([feed_ref(feed)])
    [(_, payload, _)] = [sent for sent in publisher.sent if sent[0] == feed_topic(feed.id)]
    assert screen.accept(feed.id, payload, persist=False)
    sent_at = clock.now()

    for _ in range(10 * 4):  # ten quiet hours of 304s: nothing new goes out
        clock.advance(timedelta(minutes=15))
        assert not refresh_feed(session, rt, feed, quick_fetch).published
    source.answer = Answer(status=503, body=b"down")  # then the booking system is down
    while clock.now() < sent_at + timedelta(hours=26):
        clock.advance(timedelta(minutes=15))
        assert not refresh_feed(session, rt, feed, quick_fetch).ok
        health = feed_health(feed, clock.now())
        shown = screen.latest(feed.id, clock.now())
        # What staff read matches the screens: warned while they show the last good copy
        # (whole, never a half feed), then told they no longer show it.
        if shown is not None:
            assert shown.entries and health.level is Level.WARNING
            age = clock.now() - sent_at
            assert f"{int(age.total_seconds() // 3600)} hours old" in health.message
        else:
            assert health.level is Level.ERROR
            assert "Screens no longer show this feed" in health.message
    assert screen.latest(feed.id, sent_at + timedelta(hours=24)) is not None
    assert screen.latest(feed.id, sent_at + timedelta(hours=24, minutes=15)) is None
    assert len(published(publisher, feed, rt)) == 1
