"""What the manifest compiler reads about feeds: each named feed once, by id, with the
age limit staff set; a feed deleted since a widget named it is left out."""

from __future__ import annotations

from datetime import UTC, datetime

from central_cms.feeds.catalogue import feed_refs, feeds_for_site
from central_cms.feeds.models import Feed, FeedKind
from devices.protocol.layouts import FeedRef

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def _feed(feed_id: str, site_id: str | None, max_age_s: int = 3600) -> Feed:
    return Feed(
        id=feed_id,
        name=feed_id.replace("-", " ").title(),
        url=f"https://bookings.example.org/{feed_id}.ics",
        kind=FeedKind.ICAL.value,
        site_id=site_id,
        max_age_s=max_age_s,
        created_at=T0,
    )


def test_feed_refs_name_each_feed_once_with_its_age_limit(session, world):
    session.add_all([_feed("pool-classes", "north-pool", 7200), _feed("city-news", None, 86400)])
    session.commit()
    refs = feed_refs(session, ["pool-classes", "city-news", "pool-classes", "gone"])
    assert refs == (
        FeedRef(id="city-news", name="City News", max_age_s=86400),
        FeedRef(id="pool-classes", name="Pool Classes", max_age_s=7200),
    )
    assert feed_refs(session, []) == ()


def test_a_site_sees_its_own_and_the_city_wide_feeds(session, world):
    session.add_all(
        [
            _feed("pool-classes", "north-pool"),
            _feed("library-events", "south-library"),
            _feed("city-news", None),
        ]
    )
    session.commit()
    assert [f.id for f in feeds_for_site(session, "north-pool")] == ["city-news", "pool-classes"]
    assert [f.id for f in feeds_for_site(session, None)] == ["city-news"]
