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


def test_a_preview_sees_the_cms_copy_as_a_screen_would(session, world):
    from datetime import timedelta

    from central_cms.feeds.catalogue import preview_feeds

    feed = _feed("pool-classes", "north-pool", 3600)
    feed.entries = [{"title": "Aquarobics"}]
    feed.last_ok_at, feed.version = T0, 7
    session.add_all([feed, _feed("never-fetched", None)])
    session.commit()
    feeds = preview_feeds(session, ["pool-classes", "never-fetched"])
    copy = feeds.latest("pool-classes", T0 + timedelta(minutes=30))
    assert copy is not None and [e.title for e in copy.entries] == ["Aquarobics"]
    assert feeds.latest("pool-classes", T0 + timedelta(hours=2)) is None  # too old
    assert feeds.latest("never-fetched", T0) is None


def test_a_sites_splash_names_the_sites_feeds_for_whats_on_without_any_widget(
    session, rt, publisher, world
):
    from central_cms.feeds.service import FeedInput, delete_feed, save_feed
    from devices.protocol import Channel, Manifest, device_topic, parse_signed
    from testkit.staff import ADMIN

    def manifests() -> dict[str, Manifest]:
        key = rt.signing_key.public_key
        return {
            topic.split("/")[3]: parse_signed(Manifest, payload, [key])
            for topic, payload, _ in publisher.sent
            if topic.endswith("/" + Channel.MANIFEST.value) and payload
        }

    def save(feed_id: str, site_id: str | None) -> None:
        data = FeedInput(
            feed_id, feed_id.title(), f"https://example.org/{feed_id}.ics", "ical", site_id, 15, 24
        )
        save_feed(session, rt, ADMIN, data, existing=None)
        session.commit()

    publisher.sent.clear()
    save("pool-classes", "north-pool")
    save("city-news", None)
    sent = manifests()
    assert list(sent) == ["portal-north-pool"]  # no screen shows it: only the splash changes
    assert [ref.id for ref in sent["portal-north-pool"].feeds] == ["pool-classes"]
    assert device_topic("portal-north-pool", Channel.MANIFEST) in {t for t, _, _ in publisher.sent}

    publisher.sent.clear()
    delete_feed(session, rt, ADMIN, "pool-classes")
    session.commit()
    assert manifests()["portal-north-pool"].feeds == ()
