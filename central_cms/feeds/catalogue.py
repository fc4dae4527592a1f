"""What the manifest compiler reads about feeds: a manifest's `feeds` list (FeedRef)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from central_cms.feeds.models import Feed
from devices.protocol.layouts import FeedRef


def feed_ref(feed: Feed) -> FeedRef:
    return FeedRef(id=feed.id, name=feed.name, max_age_s=feed.max_age_s)


def feed_refs(session: Session, feed_ids: Iterable[str]) -> tuple[FeedRef, ...]:
    """The FeedRefs of `feed_ids`, sorted by id (so a manifest's bytes do not depend on
    the order widgets named them) and each once. An id with no feed (deleted since a
    widget named it) is left out: the widget then says its information is unavailable."""
    wanted = sorted(set(feed_ids))
    if not wanted:
        return ()
    feeds = session.scalars(select(Feed).where(Feed.id.in_(wanted)).order_by(Feed.id))
    return tuple(feed_ref(feed) for feed in feeds)


def feeds_for_site(session: Session, site_id: str | None) -> list[Feed]:
    """The feeds a site's staff may use in widgets: the site's own and the city-wide ones
    (`site_id` None: only the city-wide), by name."""
    owner = (
        Feed.site_id.is_(None)
        if site_id is None
        else or_(Feed.site_id.is_(None), Feed.site_id == site_id)
    )
    return list(session.scalars(select(Feed).where(owner).order_by(Feed.name, Feed.id)))
