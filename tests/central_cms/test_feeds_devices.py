"""Over the real Mosquitto, a screen's feed store receives only whole, valid, signed
copies: a booking system that answers with garbage, 50 MB, nothing or the wrong charset
between two good answers never puts a half-parsed timetable on a screen, and a copy
older than the age limit is not shown."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from central_cms import db as cms_db
from central_cms.app import create_app
from central_cms.feeds.fetch import FetchLimits, fetch
from central_cms.feeds.models import Feed, FeedKind
from central_cms.feeds.refresh import refresh_feed
from central_cms.runtime import runtime
from devices.config import BrokerUrl, MqttSettings
from devices.feeds import FeedStore
from devices.link import MqttLink
from devices.protocol import SigningKey, sign
from devices.protocol.feeds import FeedData, FeedEntry
from devices.protocol.layouts import FeedRef
from devices.protocol.topics import FEEDS_WILDCARD, feed_topic
from testkit.brokers import clear_retained
from testkit.city import small_city
from tests.central_cms.feed_bodies import classes_ics
from tests.central_cms.feed_source import Answer, FeedSource, serve

QUICK = FetchLimits(connect_s=0.5, total_s=2.0)


@pytest.fixture
def source() -> Iterator[FeedSource]:
    yield from serve()


@pytest.fixture
def live_cms(config, clock, request):
    app = create_app(config, clock=clock, renewal=False)

    def stop():
        runtime(app).publisher.stop()
        cms_db.database(app).engine.dispose()

    request.addfinalizer(stop)
    return app


class Screen:
    """A device's feed store on its own MQTT link, as the agent composes them."""

    def __init__(self, folder, trusted, ref: FeedRef, now: datetime) -> None:
        self.seen_at = now  # the instant the screen reads at; the test moves it
        self.seen: list[FeedData] = []
        self._changed = threading.Condition()
        self.store = FeedStore(folder, trusted, on_change=self._record)
        self.store.use([ref])
        self._ref = ref
        settings = MqttSettings(brokers=(BrokerUrl.parse("mqtt://127.0.0.1:1883", "b"),))
        self.link = MqttLink(
            client_id=f"sig-feeds-{secrets.token_hex(3)}",
            settings=settings,
            jitter_first_connect=False,
        )
        self.link.subscribe(FEEDS_WILDCARD, self.store.on_message)
        self.link.start()

    def _record(self, feed_id: str) -> None:
        with self._changed:
            copy = self.store.latest(feed_id, self.seen_at)
            if copy is not None:
                self.seen.append(copy)
            self._changed.notify_all()

    def wait_for_versions(self, count: int) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self.seen) >= count, 10)

    def stop(self) -> None:
        self.link.stop()


def test_a_screen_gets_only_whole_valid_copies_and_stops_showing_them_after_a_day(
    live_cms, clock, source, tmp_path
):
    rt = runtime(live_cms)
    session = cms_db.database(live_cms).sessions()
    site_id = f"pool-{secrets.token_hex(3)}"
    feed_id = f"classes-{site_id}"
    screen = None
    try:
        small_city(session, rt, site_id)
        feed = Feed(
            id=feed_id,
            name="Pool classes",
            url=source.url(),
            kind=FeedKind.ICAL.value,
            site_id=site_id,
            max_age_s=24 * 3600,
            created_at=clock.now(),
        )
        session.add(feed)
        session.commit()
        ref = FeedRef(id=feed_id, name=feed.name, max_age_s=feed.max_age_s)
        screen = Screen(tmp_path / "feeds", [rt.signing_key.public_key], ref, clock.now())

        def refresh(answer: Answer) -> bool:
            source.answer = answer
            clock.advance(timedelta(minutes=15))
            screen.seen_at = clock.now()
            fetcher = lambda f, hosts: fetch(f.url, hosts=hosts, etag=f.etag, limits=QUICK)  # noqa: E731
            return refresh_feed(session, rt, feed, fetcher).ok

        assert refresh(Answer(body=classes_ics()))
        assert screen.wait_for_versions(1)
        for bad in (
            Answer(body=classes_ics()[:200], content_type="text/calendar"),
            Answer(endless_mb=50),
            Answer(body=classes_ics(), stall_after=300),
            Answer(
                body=classes_ics(extra=" \u2013 new"),
                content_type="text/calendar; charset=iso-8859-1",
            ),
        ):
            assert not refresh(bad)
        # A forged copy with a higher version and a key the screen does not trust.
        forged = FeedData(
            id=feed_id,
            version=10**15,
            fetched_at=clock.now(),
            entries=(FeedEntry(title="Pool closed forever"),),
        )
        screen.link.publish(feed_topic(feed_id), sign(forged, SigningKey.generate()), retain=True)
        assert refresh(Answer(body=classes_ics(extra=" (new times)")))
        assert screen.wait_for_versions(2)

        titles = [[e.title for e in copy.entries] for copy in screen.seen]
        assert titles == [
            ["Aquarobics", "Water safety talk", "Aquarobics"],
            ["Aquarobics (new times)", "Water safety talk", "Aquarobics (new times)"],
        ]
        assert screen.seen[0].version < screen.seen[1].version
        assert screen.store.rejected == 1  # the forgery

        last = screen.seen[1]
        # The source goes down: the screen shows the copy while it is under a day old.
        assert screen.store.latest(feed_id, last.fetched_at + timedelta(hours=23)) == last
        assert screen.store.latest(feed_id, last.fetched_at + timedelta(hours=25)) is None

        # After a reboot without the broker, the copy on disk is verified and served again.
        rebooted = FeedStore(tmp_path / "feeds", [rt.signing_key.public_key])
        rebooted.restore()
        rebooted.use([ref])
        assert rebooted.latest(feed_id, last.fetched_at) == last
    finally:
        if screen is not None:
            screen.stop()
        session.close()
        clear_retained([feed_topic(feed_id)], port=1883)
