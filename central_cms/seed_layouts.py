"""Demo layouts and playlists for the indoor sites (issue 14), used by `seed.seed_demo`.

Leisureplex foyers show main + side + ticker + clock: the site's promotions in the main
zone, a "What's on" playlist at the side (today's classes from the site's booking
calendar, then a few slides), the city's news feed in the ticker and a clock. Library
screens show main + bottom ticker with the same news feed.

The feeds are registered here at the addresses a city would give; the demo re-points them
at its stand-in booking system and news site on every run (`seed.seed_feeds`).
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from central_cms import playlists
from central_cms.feeds.models import Feed, FeedKind
from central_cms.policy import Actor
from central_cms.runtime import CmsRuntime
from devices.protocol import ItemKind, ProfileKind, TextSlide
from devices.protocol.layouts import LayoutTemplate, Widget, WidgetKind

NEWS_FEED = "city-news"
NEWS_PATH = "/city-news.xml"  # where the demo's stand-in news site serves it


def classes_feed(site_id: str) -> str:
    """The id of a site's booking-calendar feed."""
    return f"{site_id}-classes"


def _feed(
    session: Session,
    rt: CmsRuntime,
    feed_id: str,
    name: str,
    url: str,
    kind: FeedKind,
    site_id: str | None,
) -> str:
    if session.get(Feed, feed_id) is None:
        session.add(
            Feed(
                id=feed_id,
                name=name,
                url=url,
                kind=kind.value,
                site_id=site_id,
                created_at=rt.clock.now(),
            )
        )
        session.flush()
    return feed_id


def _widget(kind: WidgetKind, seconds: float, **fields: str) -> playlists.PlaylistItemInput:
    return playlists.PlaylistItemInput(
        kind=ItemKind.WIDGET, duration_s=seconds, widget=Widget(kind=kind, **fields)
    )


def _slide(
    title: str, when: str, first: date | None = None, last: date | None = None
) -> playlists.PlaylistItemInput:
    return playlists.PlaylistItemInput(
        kind=ItemKind.TEXT,
        duration_s=10,
        text=TextSlide(title=title, when=when, shrink_to_fit=True),
        valid_from=first,
        valid_until=last,
    )


def indoor_zones(
    session: Session, rt: CmsRuntime, admin: Actor, sites: list[tuple[str, str]], today: date
) -> dict[str, tuple[dict[ProfileKind, LayoutTemplate], dict[str, str]]]:
    """Per site id: the layouts and zone playlists of its default content."""
    # City-wide: every site's widgets may show it.
    feed = _feed(
        session,
        rt,
        NEWS_FEED,
        "City news",
        f"https://news.example.org{NEWS_PATH}",
        FeedKind.RSS,
        None,
    )
    first_site = sites[0][0]

    def save(name: str, owner: str, items: list[playlists.PlaylistItemInput]) -> str:
        data = playlists.PlaylistInput(name, owner, tuple(items))
        return playlists.save(session, rt, admin, data).id

    clock = save("Clock", first_site, [_widget(WidgetKind.CLOCK, 3600)])
    news = save(
        "City news ticker", first_site, [_widget(WidgetKind.TICKER, 60, feed=feed, title="News")]
    )
    zones: dict[str, tuple[dict[ProfileKind, LayoutTemplate], dict[str, str]]] = {}
    for site_id, name in sites:
        if site_id.endswith("leisureplex"):
            classes = _feed(
                session,
                rt,
                classes_feed(site_id),
                f"{name} classes",
                f"https://bookings.example.org/{site_id}.ics",
                FeedKind.ICAL,
                site_id,
            )
            whats_on = save(
                f"What's on at {name}",
                site_id,
                [
                    _widget(WidgetKind.TIMETABLE, 30, feed=classes, title="Today's classes"),
                    _slide("Aqua aerobics", "Mon, Wed, Fri 9:30"),
                    _slide("Learn to swim", "Enrol at reception"),
                    _slide("Gym induction", "Saturdays 8:00"),
                    _slide("Pool lanes closed", "for maintenance", today + timedelta(days=3)),
                ],
            )
            zones[site_id] = (
                {ProfileKind.INDOOR: LayoutTemplate.MAIN_SIDE_TICKER_CLOCK},
                {"side": whats_on, "ticker": news, "clock": clock},
            )
        elif site_id.endswith("library"):
            zones[site_id] = ({ProfileKind.INDOOR: LayoutTemplate.MAIN_TICKER}, {"ticker": news})
    return zones
