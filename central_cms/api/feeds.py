"""/feeds: the live feeds (iCal, RSS/Atom, JSON, CSV) widgets and the portal follow, with
each one's health, and "fetch now"; permissions as on the Live feeds page (anyone reads;
site editors keep their sites' feeds, the city-wide ones need staff who cover every site)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from central_cms import db
from central_cms.api.blueprint import actor, all_of, api, operation, row_or_404
from central_cms.api.schemas_parity import FeedChangeIn, FeedIn, FeedOut, FetchOut
from central_cms.api.spec import links
from central_cms.feeds.models import Feed
from central_cms.feeds.refresh import app_fetcher, refresh_feed
from central_cms.feeds.service import FeedInput, delete_feed, feed_health, save_feed
from central_cms.policy import Permission, require
from central_cms.runtime import runtime

# No link to "fetch now": a client fetches when it chooses, not as a step of creating.
FEED_STEPS = {
    "get": "get /feeds/{feed_id}",
    "update": "put /feeds/{feed_id}",
    "delete": "delete /feeds/{feed_id}",
}


def feed_json(feed: Feed) -> dict[str, Any]:
    health = feed_health(feed, runtime().clock.now())

    def when(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": feed.id,
        "name": feed.name,
        "url": feed.url,
        "kind": feed.kind,
        "site_id": feed.site_id,
        "refresh_minutes": feed.refresh_minutes,
        "max_age_hours": feed.max_age_s // 3600,
        "created_at": feed.created_at.isoformat(),
        "last_attempt_at": when(feed.last_attempt_at),
        "last_ok_at": when(feed.last_ok_at),
        "last_error": feed.last_error,
        "title": feed.title,
        "entries": feed.entry_count,
        "version": feed.version,
        "health": {"level": health.level.value, "message": health.message},
    }


def feed_input(feed_id: str, data: dict[str, Any]) -> FeedInput:
    return FeedInput(
        id=feed_id,
        name=data["name"],
        url=data["url"],
        kind=data["kind"],
        site_id=data["site_id"],
        refresh_minutes=data["refresh_minutes"],
        max_age_hours=data["max_age_hours"],
    )


def _feed(feed_id: str) -> Feed:
    return row_or_404(Feed, feed_id, f"feed {feed_id}")


@operation("GET", "/feeds")
@api.output(FeedOut(many=True))
def list_feeds() -> Any:
    return [feed_json(f) for f in all_of(select(Feed).order_by(Feed.name, Feed.id))]


@operation("POST", "/feeds", errors=(400, 422))
@api.input(FeedIn, arg_name="data")
@api.output(FeedOut, status_code=201, links=links("feed_id", FEED_STEPS))
def create_feed(data: dict[str, Any]) -> Any:
    """Register a source; the CMS fetches it within a minute."""
    session = db.session()
    feed = save_feed(session, runtime(), actor(), feed_input(data["id"], data), existing=None)
    session.commit()
    return feed_json(feed)


@operation("GET", "/feeds/<feed_id>", errors=(404,))
@api.output(FeedOut)
def get_feed(feed_id: str) -> Any:
    return feed_json(_feed(feed_id))


@operation("PUT", "/feeds/<feed_id>", errors=(400, 404, 422))
@api.input(FeedChangeIn, arg_name="data")
@api.output(FeedOut)
def update_feed(feed_id: str, data: dict[str, Any]) -> Any:
    """Change a feed's source or settings; it is fetched again at the next tick."""
    session = db.session()
    feed = _feed(feed_id)
    saved = save_feed(session, runtime(), actor(), feed_input(feed.id, data), existing=feed.id)
    session.commit()
    return feed_json(saved)


@operation("DELETE", "/feeds/<feed_id>", errors=(404,))
@api.output({}, status_code=204, description="Deleted: screens stop showing it")
def remove_feed(feed_id: str) -> Any:
    session = db.session()
    delete_feed(session, runtime(), actor(), _feed(feed_id).id)
    session.commit()
    return ""


@operation("POST", "/feeds/<feed_id>/fetch", errors=(404,))
@api.output(FetchOut)
def fetch_feed_now(feed_id: str) -> Any:
    """Fetch the source now, as "Fetch now" on the Live feeds page. A source that fails
    answers 200 with `ok` false and why: the screens keep the last good copy."""
    feed = _feed(feed_id)
    require(actor(), Permission.FEED_WRITE, site_ids=[feed.site_id] if feed.site_id else [])
    outcome = refresh_feed(db.session(), runtime(), feed, app_fetcher())
    return {
        "ok": outcome.ok,
        "changed": outcome.changed,
        "published": outcome.published,
        "error": outcome.error,
        "feed": feed_json(feed),
    }
