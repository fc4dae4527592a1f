"""The schedule: every CMS process ticks a `FeedRefresher`; the one holding the job lease
fetches the feeds that are due, each claimed with one atomic UPDATE, so several CMS
processes never fetch the same feed twice.

A good answer stores the copy; it is published when what it says changed. The same
content (a 304, or the same body) publishes nothing, so no screen redraws for it, until
the devices' copy is half the feed's `max_age_s` old: then it goes out again with a fresh
`fetched_at`, so screens never drop a source that is merely quiet. A failed answer
(unreachable, error, too big, too slow, wrong charset, malformed, or an internal
address IT has not listed) only records why, for
staff: the last good copy stays what devices and the portal show, until it is older than
the feed's `max_age_s`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from central_cms import models as m
from central_cms.feeds.addresses import FeedHosts, feed_hosts
from central_cms.feeds.decode import UndecodableFeed, decode_body
from central_cms.feeds.fetch import Fetched, FetchFailed, fetch
from central_cms.feeds.models import Feed, FeedKind
from central_cms.feeds.parsers import InvalidFeed, parse_feed
from central_cms.feeds.publish import last_published, publish_feed, same_content
from central_cms.leases import SessionJob, take_lease
from central_cms.runtime import CmsRuntime

log = logging.getLogger(__name__)

JOB = "feed-refresh"
TICK = timedelta(minutes=1)

# A feed and the hosts the CMS config lets it use (`feed_internal_hosts`): every fetcher,
# a test's too, is handed the config's rule rather than choosing its own.
Fetcher = Callable[[Feed, FeedHosts], Fetched]


def fetch_source(feed: Feed, hosts: FeedHosts) -> Fetched:
    return fetch(feed.url, hosts=hosts, etag=feed.etag, last_modified=feed.last_modified)


_FETCHER = "ds_feed_fetcher"


def use_fetcher(app: Flask, fetcher: Fetcher) -> None:
    """The app's way of fetching sources: the refresher's, and "fetch now"'s (page, API)."""
    app.extensions[_FETCHER] = fetcher


def app_fetcher() -> Fetcher:
    fetcher: Fetcher = current_app.extensions.get(_FETCHER, fetch_source)
    return fetcher


@dataclass(frozen=True)
class FeedOutcome:
    feed_id: str
    ok: bool
    changed: bool = False  # title, note or entries differ from the copy devices had
    published: bool = False  # a new copy went to the devices
    error: str | None = None


def _zone(session: Session, feed: Feed) -> tzinfo:
    site = session.get(m.Site, feed.site_id) if feed.site_id else None
    return ZoneInfo(site.timezone) if site is not None else UTC


def refresh_feed(
    session: Session, rt: CmsRuntime, feed: Feed, fetcher: Fetcher = fetch_source
) -> FeedOutcome:
    """Fetch, parse and publish one feed now (commits)."""
    now = rt.clock.now()
    feed.last_attempt_at = now
    held = last_published(feed, rt)
    note = held.note if held is not None else ""
    hosts = feed_hosts(rt.config)
    try:
        fetched = fetcher(feed, hosts)
        # iCal repeats are expanded from today on: an unchanged calendar changes by day.
        new_day = feed.last_ok_at is None or feed.last_ok_at.date() != now.date()
        stale_expansion = feed.kind == FeedKind.ICAL.value and new_day
        if fetched.not_modified and stale_expansion:
            fetched = fetcher(_unconditional(feed), hosts)
        digest = _digest(fetched)
        unchanged = fetched.not_modified or (digest == feed.body_sha256 and not stale_expansion)
        if not unchanged:
            text = decode_body(fetched.body, fetched.charset).text
            parsed = parse_feed(FeedKind(feed.kind), text, now, _zone(session, feed))
            entries = [entry.model_dump(mode="json") for entry in parsed.entries]
            feed.entries, feed.title, feed.body_sha256 = entries, parsed.title, digest
            note = parsed.note
        if fetched.etag or fetched.last_modified:
            feed.etag, feed.last_modified = fetched.etag, fetched.last_modified
    except (FetchFailed, UndecodableFeed, InvalidFeed) as error:
        return _failed(session, feed, now, str(error))
    feed.last_ok_at = now
    feed.last_error = None
    feed.failing_since = None
    changed = held is None or not same_content(feed, held, note)
    publish = changed or _keep_alive_due(feed, now)
    if publish:
        publish_feed(session, rt, feed, note)
    session.commit()
    return FeedOutcome(feed.id, ok=True, changed=changed, published=publish)


def _keep_alive_due(feed: Feed, now: datetime) -> bool:
    """The devices' copy is half its age limit old: send it again, freshly dated."""
    sent = feed.published_at
    return sent is None or now - sent >= timedelta(seconds=feed.max_age_s) / 2


def _digest(fetched: Fetched) -> str:
    """Of the body and its declared charset: the same bytes relabelled read differently."""
    return hashlib.sha256(f"{fetched.charset}\n".encode() + fetched.body).hexdigest()


def _unconditional(feed: Feed) -> Feed:
    """The same source without validators: a 304 when we must re-parse (a new day)."""
    return Feed(id=feed.id, url=feed.url, kind=feed.kind, etag="", last_modified="")


def _failed(session: Session, feed: Feed, now: datetime, reason: str) -> FeedOutcome:
    feed.last_error = reason[:1000]
    feed.failing_since = feed.failing_since or now
    session.commit()
    log.warning("feed %s: %s (keeping the copy of %s)", feed.id, reason, feed.last_ok_at)
    return FeedOutcome(feed.id, ok=False, error=reason)


def _claim(session: Session, feed: Feed, now: datetime) -> bool:
    """Take `feed` for this tick unless another process attempted it within its interval."""
    due_before = now - timedelta(minutes=feed.refresh_minutes)
    won = session.execute(
        update(Feed)
        .where(Feed.id == feed.id)
        .where(or_(Feed.last_attempt_at.is_(None), Feed.last_attempt_at <= due_before))
        .values(last_attempt_at=now)
        .returning(Feed.id)
        .execution_options(synchronize_session=False)
    ).first()
    session.commit()
    return won is not None


def refresh_due(
    session: Session, rt: CmsRuntime, holder: str, fetcher: Fetcher = fetch_source
) -> list[FeedOutcome] | None:
    """One tick: None if another process holds the lease, else what was refreshed."""
    now = rt.clock.now()
    if not take_lease(session, JOB, holder, now, TICK):
        return None
    outcomes = []
    for feed in session.scalars(select(Feed).order_by(Feed.id)).all():
        if _claim(session, feed, now):
            session.refresh(feed)
            outcomes.append(refresh_feed(session, rt, feed, fetcher))
    return outcomes


class FeedRefresher(SessionJob[list[FeedOutcome] | None]):
    """Ticks `refresh_due` every minute on a daemon thread of this process."""

    thread_name = "cms-feeds"

    def __init__(
        self, sessions: sessionmaker[Session], rt: CmsRuntime, fetcher: Fetcher = fetch_source
    ) -> None:
        super().__init__(sessions, rt, TICK)
        self._fetcher = fetcher

    def run(self, session: Session) -> list[FeedOutcome] | None:
        return refresh_due(session, self._rt, self.holder, self._fetcher)
