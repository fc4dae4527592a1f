"""A screen's manifest names the feeds its widgets show (id, name, age limit), so
changing or deleting a feed recompiles the screens that show it, not only the site's
splash: a deleted feed's widget leaves the screen at once, not at the next renewal."""

from __future__ import annotations

from central_cms import campaigns
from central_cms.feeds.models import Feed
from central_cms.feeds.service import FeedInput, delete_feed, save_feed
from central_cms.specs import Targets
from devices.protocol import ItemKind, ProfileKind
from devices.protocol.layouts import LayoutTemplate
from testkit.staff import ADMIN
from tests.central_cms.test_playlists import add_feed, latest, make_playlist, publish


def _news_on_the_north_pool_screen(session, rt, world) -> None:
    ticker = make_playlist(session, rt, world, "News strip", feed_id=add_feed(session))
    publish(
        session,
        rt,
        campaigns.CampaignInput(
            name="North pool screens",
            owner_site_id="north-pool",
            is_default=True,
            items=(
                campaigns.ItemInput(
                    kind=ItemKind.IMAGE, media_id=world.media["poster"], duration_s=10
                ),
            ),
            targets=Targets(sites=frozenset({"north-pool"})),
            layouts={ProfileKind.INDOOR: LayoutTemplate.MAIN_SIDE_TICKER_CLOCK},
            zone_playlists={"ticker": ticker.id},
        ),
    )


def _news_widgets(manifest) -> list[str]:
    return [
        i.widget.feed
        for i in (*manifest.items, *manifest.default_items)
        if i.widget and i.widget.feed
    ]


def test_deleting_a_feed_takes_it_and_its_widget_off_the_screens_that_showed_it(
    session, rt, world, publisher
):
    _news_on_the_north_pool_screen(session, rt, world)
    screen = latest(rt, publisher)["sig-north-pool"]
    assert [f.id for f in screen.feeds] == ["city-news"] and _news_widgets(screen) == ["city-news"]

    publisher.sent.clear()
    delete_feed(session, rt, ADMIN, "city-news")
    session.commit()
    screen = latest(rt, publisher)["sig-north-pool"]
    assert screen.feeds == () and _news_widgets(screen) == []
    assert "sig-east-hall" not in latest(rt, publisher)  # it never showed the feed


def test_changing_a_feeds_age_limit_reaches_the_screens_that_show_it(session, rt, world, publisher):
    _news_on_the_north_pool_screen(session, rt, world)
    feed = session.get(Feed, "city-news")
    assert feed is not None
    publisher.sent.clear()
    data = FeedInput("city-news", "City news", feed.url, feed.kind, None, 15, 6)
    save_feed(session, rt, ADMIN, data, existing="city-news")
    session.commit()
    (ref,) = latest(rt, publisher)["sig-north-pool"].feeds
    assert ref.max_age_s == 6 * 3600
