"""The demo's booking system serves each indoor site's week of classes; the seed registers
them as feeds, and the CMS's refresher turns them into this week's timetables."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from central_cms import db as cms_db
from central_cms import fleet
from central_cms.feeds.models import Feed
from central_cms.feeds.refresh import FeedRefresher
from central_cms.seed import TZ, seed_feeds
from digital_spaces.demo.bookings import booking_server
from testkit.staff import ADMIN


@pytest.fixture
def bookings(clock) -> Iterator[str]:
    sites = {"riverton-leisureplex": "leisureplex", "bentley-library": "library"}
    server = booking_server("127.0.0.1", sites, TZ, lambda: clock.now().date())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_the_demo_seed_registers_each_indoor_sites_classes_and_they_are_fetched(
    app, session, rt, clock, bookings
):
    for site_id, name in (("riverton-leisureplex", "Riverton"), ("bentley-library", "Bentley")):
        fleet.save_site(
            session,
            rt,
            ADMIN,
            site_id=site_id,
            name=name,
            address="",
            timezone=TZ,
            requires_approval=True,
        )
    session.commit()
    assert seed_feeds(session, rt, bookings) == [
        "riverton-leisureplex-classes",
        "bentley-library-classes",
        "city-news",
    ]
    assert seed_feeds(session, rt, bookings) == []  # a second run changes nothing

    outcomes = FeedRefresher(cms_db.database(app).sessions, rt).tick()
    assert outcomes is not None and all(o.ok for o in outcomes) and len(outcomes) == 3
    news = session.get(Feed, "city-news")
    assert news is not None and len(news.entries) == 3  # the ticker's headlines
    session.expire_all()
    pool = session.get(Feed, "riverton-leisureplex-classes")
    assert pool is not None
    # Tuesday 1 December, 08:00 in Perth: the week's classes from today on.
    titles = [entry["title"] for entry in pool.entries]
    assert titles[:3] == ["Learn to swim", "Spin class", "Aquarobics"]
    assert {"Yoga"} <= set(titles)
    assert pool.entries[0]["location"] == "Learner pool"

    assert pool.etag  # so the next fetches are conditional
